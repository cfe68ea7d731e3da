// The files repozip needs from a model repository: the config, the tokenizer and safetensors
// weights, either one file or an index plus the shards it names. Everything else a repository
// holds (READMEs, other weight formats, ONNX exports) is never downloaded.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors';

export const CONFIG = 'config.json';
export const REQUIRED_FILES = [CONFIG, 'tokenizer.json', 'tokenizer_config.json'];
export const OPTIONAL_FILES = ['generation_config.json'];
export const WEIGHTS = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

/** The shard files a model.safetensors.index.json names, each once, in first-mention order. */
export function shardNames(indexText: string, where: string): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(indexText) as { weight_map?: unknown }).weight_map;
  } catch (e) {
    throw new EngineError('bad-model', `${where} is not valid JSON: ${(e as Error).message}`);
  }
  if (!map || typeof map !== 'object') throw new EngineError('bad-model', `${where} has no weight_map`);
  const names = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const n of names) {
    if (typeof n !== 'string' || !isRepoPath(n)) throw new EngineError('bad-model', `${where} names a shard "${String(n)}" outside the repository`);
  }
  return names as string[];
}

/** A file name from a repository is joined onto cache paths: it must stay inside them. */
export function isRepoPath(name: string): boolean {
  return name !== '' && !name.includes('\\') && !path.posix.isAbsolute(name) && name.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** The needed files a model folder lacks (a shard list when it is sharded); empty when complete. */
export function missingFiles(dir: string): string[] {
  const has = (f: string) => fs.existsSync(path.join(dir, f)); // follows symlinks: a dangling one counts as missing
  const missing = REQUIRED_FILES.filter((f) => !has(f));
  if (has(WEIGHTS_INDEX)) {
    const index = path.join(dir, WEIGHTS_INDEX);
    missing.push(...shardNames(fs.readFileSync(index, 'utf8'), index).filter((f) => !has(f)));
  } else if (!has(WEIGHTS)) {
    missing.push(WEIGHTS);
  }
  return missing;
}

/** Whether a model folder holds everything; false too when its shard index is unreadable. */
export function isComplete(dir: string): boolean {
  try {
    return missingFiles(dir).length === 0;
  } catch {
    return false;
  }
}
