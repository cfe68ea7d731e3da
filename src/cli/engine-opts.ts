// Options every model-running command shares: which model, on which device, with which weights.
import { DEVICES, Device } from '../engine/runtime/session';
import { EngineError } from '../engine/errors';
import { LoadOptions, Model } from '../engine/model/model';
import { Options } from './args';

export const modelOptions = {
  model: { type: 'string' },
  device: { type: 'string' },
  weights: { type: 'string' },
  threads: { type: 'string' },
  'cache-dir': { type: 'string' },
  json: { type: 'boolean' },
} satisfies Options;

export interface ModelFlags {
  model?: string;
  device?: string;
  weights?: string;
  threads?: string;
  'cache-dir'?: string;
}

export function loadOptions(v: ModelFlags): LoadOptions {
  const device = (v.device ?? 'auto') as Device;
  if (!DEVICES.includes(device)) throw new EngineError('bad-input', `--device must be one of ${DEVICES.join(', ')}`);
  const weights = v.weights ?? 'fp32';
  if (weights !== 'fp32' && weights !== 'int4') throw new EngineError('bad-input', '--weights must be fp32 or int4');
  const threads = v.threads === undefined ? undefined : Number(v.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) throw new EngineError('bad-input', '--threads must be a whole number');
  return { device, weights, threads, cacheRoot: v['cache-dir'] };
}

export async function loadModel(v: ModelFlags): Promise<Model> {
  if (!v.model) throw new EngineError('bad-input', '--model DIR is required');
  return Model.load(v.model, loadOptions(v));
}
