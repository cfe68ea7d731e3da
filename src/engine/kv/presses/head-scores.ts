// KVzip-head needs per-model head scores from a calibration text. They cost a prefill and a
// scoring pass, so they are computed once per (converted model, calibration context) and kept next
// to the converted graph.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRepoContext } from '../../../repo';
import { Model } from '../../model/model';
import { calibrateHeads } from './kvzip-head';

/** The calibration code shipped with repozip, laid out like any repository. */
export function calibrationDir(installRoot: string): string {
  return path.join(installRoot, 'media', 'calibration');
}

/** `maxTokens` must leave room for KVzip's pass with chunks of `chunk` (see contextLimit). */
export async function headScores(model: Model, dir: string, maxTokens: number, chunk: number, signal?: AbortSignal): Promise<Float32Array> {
  const frame = model.tokenizer.chatFrame(null);
  const { ids } = await buildRepoContext({ root: dir, tokenizer: model.tokenizer, maxTokens, signal });
  const hash = crypto.createHash('sha256').update(JSON.stringify([chunk, ids])).digest('hex').slice(0, 16);
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
