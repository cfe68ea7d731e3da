// The identity of a compressed cache: everything that decides its bytes, and nothing else. Two
// machines with the same files, model and settings compute the same key (so a cache can be shared
// or moved), and any change that could alter the cache gives a new key (so a stale cache is never
// used). Hence no absolute paths and no mtimes here, and one canonical JSON form: object keys
// sorted, arrays in their order, numbers as JavaScript prints them (the same on every platform).
import { createHash } from 'node:crypto';

/** Bumped whenever the cache file layout or its meaning changes; old caches then simply miss. */
export const CACHE_FORMAT_VERSION = 1;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SnapshotParts {
  /** The included files in context order: path from the root and sha256 of the content. */
  files: readonly { path: string; sha256: string }[];
  /** Written into the context by the repository format (layout.ts). */
  repoName: string;
  modelId: string;
  /** Fingerprint of the model's files (weights, config), computed by the caller. */
  modelFingerprint: string;
  tokenizerFingerprint: string;
  /** Prompt/layout format and its version, e.g. "file-sep/1". */
  promptFormat: string;
  /** KVzip settings (ratio, chunk size, press, budget mode...), opaque here. */
  kvzip: Json;
}

/** JSON with sorted object keys; throws on values JSON cannot carry exactly (NaN, undefined, functions). */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`snapshot value ${value} is not finite`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  throw new TypeError(`snapshot value of type ${typeof value} is not JSON`);
}

/** sha256 hex of the canonical form of `parts` plus CACHE_FORMAT_VERSION. */
export function snapshotKey(parts: SnapshotParts): string {
  const doc: Json = {
    cacheFormat: CACHE_FORMAT_VERSION,
    files: parts.files.map((f) => [f.path, f.sha256]),
    repoName: parts.repoName,
    modelId: parts.modelId,
    modelFingerprint: parts.modelFingerprint,
    tokenizerFingerprint: parts.tokenizerFingerprint,
    promptFormat: parts.promptFormat,
    kvzip: parts.kvzip,
  };
  return createHash('sha256').update(canonicalJson(doc)).digest('hex');
}
