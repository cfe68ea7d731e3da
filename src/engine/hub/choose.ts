// Which model a run uses. A user who names none gets the catalogue's default for their device,
// downloaded on first use; when that cannot be had (offline, no network, hub down) the bundled
// tiny model takes over, and the caller is told why so it can say so plainly.
import { EngineError } from '../errors';
import { BUNDLED_ID, catalogue, defaultEntry, DeviceClass } from './catalogue';
import { PullOptions, resolveModel } from './download';

export interface ChosenModel {
  dir: string;
  /** The id or folder the user named, or the default's id. */
  id: string;
  /** Set when the bundled model stands in for the default: why the default could not be had. */
  fallbackReason?: string;
}

export async function chooseModel(spec: string | undefined, device: DeviceClass, opts: PullOptions = {}): Promise<ChosenModel> {
  if (spec) return { dir: await resolveModel(spec, opts), id: spec };
  const entries = catalogue();
  const wanted = defaultEntry(entries, device);
  try {
    return { dir: await resolveModel(wanted.spec, opts), id: wanted.id };
  } catch (e) {
    if (e instanceof EngineError && e.code === 'cancelled') throw e;
    const bundled = entries.find((x) => x.id === BUNDLED_ID);
    if (!bundled) throw e;
    const reason = `${wanted.id} could not be loaded (${(e as Error).message.split('\n')[0]})`;
    return { dir: bundled.spec, id: BUNDLED_ID, fallbackReason: reason };
  }
}
