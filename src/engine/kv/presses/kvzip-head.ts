// KVzip-head: context-independent head importance. KVzip scores are computed once per model on a
// calibration text; a head's score is the largest score any of its entries got. At compression
// time every entry of a head gets its head's score, so the global top-k keeps or drops whole heads
// and no per-context scoring pass is needed.
import { Model } from '../../model/model';
import { prefillContext } from '../compress';
import { emptyGrid, Press, PressContext } from '../press';
import { BudgetMode } from '../select';
import { KVzipPress } from './kvzip';

/** Per-(layer, KV head) importance from a calibration context: [L*Hkv]. */
export async function calibrateHeads(model: Model, prefix: number[], calibration: number[], postfix: number[], chunk: number, signal?: AbortSignal): Promise<Float32Array> {
  const { cache } = await prefillContext(model, prefix, calibration, { signal });
  const grid = await new KVzipPress(chunk).score({ model, cache, prefixLength: prefix.length, contextIds: calibration, postfix, signal });
  const heads = new Float32Array(grid.layers * grid.kvHeads);
  heads.fill(-Infinity);
  for (let u = 0; u < heads.length; u++) for (let i = 0; i < grid.length; i++) heads[u] = Math.max(heads[u], grid.data[u * grid.length + i]);
  return heads;
}

export class KVzipHeadPress implements Press {
  readonly name = 'kvzip-head';
  readonly needsPrefillStats = false;
  /** Whole heads kept or dropped: a per-head floor would keep the first entries of dropped heads. */
  readonly budget: BudgetMode = 'global';

  constructor(readonly headScores: Float32Array) {}

  async score(ctx: PressContext) {
    const grid = emptyGrid(ctx);
    for (let u = 0; u < grid.layers * grid.kvHeads; u++) grid.data.fill(this.headScores[u], u * grid.length, (u + 1) * grid.length);
    return grid;
  }
}
