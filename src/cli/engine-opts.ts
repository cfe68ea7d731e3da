// Options every model-running command shares: which model, on which device, with which weights.
import {
  chooseModel,
  describeFallbacks,
  deviceClass,
  DEVICES,
  EngineError,
  LoadOptions,
  Model,
  WEIGHT_CHOICES,
  WeightChoice,
  weightsNotice,
  type Device,
} from '../engine';
import { drawBar } from './progress-bar';
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
  const weights = (v.weights ?? 'auto') as WeightChoice;
  if (!WEIGHT_CHOICES.includes(weights)) throw new EngineError('bad-input', `--weights must be one of ${WEIGHT_CHOICES.join(', ')}`);
  const threads = v.threads === undefined ? undefined : Number(v.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) throw new EngineError('bad-input', '--threads must be a whole number');
  return { device, weights, threads, cacheRoot: v['cache-dir'] };
}

/** The model `--model` names (a folder or a hub id, downloaded if needed), or the default one. */
export async function loadModel(v: ModelFlags, signal?: AbortSignal): Promise<Model> {
  const opts = loadOptions(v);
  const chosen = await chooseModel(v.model, deviceClass(opts.device ?? 'auto'), {
    signal,
    onProgress: process.stderr.isTTY ? (p) => drawBar(process.stderr, p) : undefined,
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  if (chosen.fallbackReason)
    process.stderr.write(`repozip: ${chosen.fallbackReason}; using the bundled tiny demo model instead (its answers are not useful: pass --model)\n`);
  const model = await Model.load(chosen.dir, opts);
  if (model.info.reconverted) process.stderr.write(`repozip: ${model.info.reconverted}\n`);
  if (model.info.fallbacks.length) process.stderr.write(`repozip: ${describeFallbacks(model.device, model.info.fallbacks)}\n`);
  const notice = weightsNotice(model.info);
  if (notice) process.stderr.write(`repozip: ${notice.message}\n`);
  return model;
}
