// KVzip-head's head scores: KVzip's scores on a calibration text, reduced to one per (layer, KV head).
// They cost a prefill and a scoring pass, so they are computed once per (converted model,
// calibration context) and kept next to the converted graph. Calibration reads a repository, which
// a press never does (it scores what it is given), so it sits here above kv/ and hands the press
// its scores (the registry's `headScores`).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRepoContext } from '../repo';
import { prefillContext } from './kv/compress';
import { KVzipPress } from './kv/presses/kvzip';
import { Model } from './model/model';

/** The calibration code shipped with repozip, laid out like any repository. */
export function calibrationDir(installRoot: string): string {
  return path.join(installRoot, 'media', 'calibration');
}

/** Per-(layer, KV head) importance from a calibration context: [L*Hkv], each head's largest entry score. */
export async function calibrateHeads(
  model: Model,
  prefix: number[],
  calibration: number[],
  postfix: number[],
  chunk: number,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const { cache } = await prefillContext(model, prefix, calibration, { signal });
  const grid = await new KVzipPress(chunk).score({ model, cache, prefixLength: prefix.length, contextIds: calibration, postfix, signal });
  const heads = new Float32Array(grid.layers * grid.kvHeads);
  heads.fill(-Infinity);
  for (let u = 0; u < heads.length; u++) for (let i = 0; i < grid.length; i++) heads[u] = Math.max(heads[u], grid.data[u * grid.length + i]);
  return heads;
}

/** Head scores from the repository at `dir`, cached. `maxTokens` must leave room for KVzip's pass
 *  with chunks of `chunk` (see contextLimit). */
export async function headScores(model: Model, dir: string, maxTokens: number, chunk: number, signal?: AbortSignal): Promise<Float32Array> {
  const frame = model.tokenizer.chatFrame(null);
  const { ids } = await buildRepoContext({ root: dir, tokenizer: model.tokenizer, maxTokens, signal });
  const hash = crypto
    .createHash('sha256')
    .update(JSON.stringify([chunk, ids]))
    .digest('hex')
    .slice(0, 16);
  const file = path.join(model.info.graphDir, `head-scores-${hash}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8')) as number[];
    if (cached.length === model.config.numLayers * model.config.numKvHeads) return Float32Array.from(cached);
  } catch {
    // not computed yet, or unreadable: compute
  }
  const scores = await calibrateHeads(model, frame.prefix, ids, frame.postfix, chunk, signal);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(Array.from(scores)), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return scores;
}
