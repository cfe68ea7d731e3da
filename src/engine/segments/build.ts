// One segment → one compressed cache. The segment is prefilled after the anchor, scored by its own
// KVzip reconstruction, selected and evicted exactly as a single context would be (kv/compress.ts),
// and stored under a key made of everything that decides its bytes. That key is what makes an
// edit rebuild only its segment and lets identical segments be shared between snapshots, branches
// and machines.
import { createHash } from 'node:crypto';
import { canonicalJson, idsHash } from '../../repo';
import { compressContext } from '../kv/compress';
import { KvCache } from '../kv/cache';
import { Press } from '../kv/press';
import { BudgetMode } from '../kv/select';
import { Model } from '../model/model';
import { KvDtype } from '../store/format';

/** Bumped when what a segment's cache holds, or how its key is formed, changes. */
export const SEGMENT_FORMAT = 1;

/** Every setting besides the tokens that decides a segment's compressed bytes. */
export interface CompressionSettings {
  press: Press;
  ratio: number;
  budgetMode: BudgetMode;
  dtype: KvDtype;
  /** KVzip's reconstruction chunk. */
  chunk: number;
}

export function segmentKey(modelFingerprint: string, anchor: readonly number[], ids: ArrayLike<number>, s: CompressionSettings): string {
  const parts = {
    format: SEGMENT_FORMAT,
    modelFingerprint,
    anchor: [...anchor],
    press: s.press.name,
    ratio: s.ratio,
    budgetMode: s.budgetMode,
    dtype: s.dtype,
    chunk: s.chunk,
    ids: idsHash(ids),
  };
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

export interface BuiltSegment {
  /** On the host: anchor rows, then the segment's kept rows at their original positions. */
  cache: KvCache;
  prefillMs: number;
  scoreMs: number;
}

/** Prefill [anchor ‖ ids], score, select and evict; `postfix` closes the turn before KVzip's repeat prompt. */
export async function buildSegment(
  model: Model,
  anchor: number[],
  ids: number[],
  postfix: number[],
  s: CompressionSettings,
  opts: { signal?: AbortSignal; onProgress?: (phase: 'prefill' | 'score', done: number, total: number) => void } = {},
): Promise<BuiltSegment> {
  const res = await compressContext(model, anchor, ids, postfix, {
    press: s.press,
    ratio: s.ratio,
    mode: s.budgetMode,
    signal: opts.signal,
    onProgress: opts.onProgress,
  });
  let host: KvCache;
  try {
    host = await res.cache.toHost();
  } finally {
    if (!(res.cache instanceof KvCache)) res.cache.dispose(); // a device cache: the host copy is what is stored
  }
  return { cache: host, prefillMs: res.prefillMs, scoreMs: res.scoreMs };
}
