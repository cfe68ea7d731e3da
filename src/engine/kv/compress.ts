// Compressing a context: prefill it once (gathering attention statistics when a press reads them),
// score it with a press, select with a budget, evict. The prefix (system prompt / chat header) is
// never scored and never evicted; it is the attention sink every question relies on.
import { throwIfCancelled } from '../errors';
import { ChunkSizer, yieldToLoop } from '../chunks';
import { Model } from '../model/model';
import { Cache } from './cache';
import { PrefillStats, Press, PressContext } from './press';
import { BudgetMode, checkRatio, ScoreGrid, selectKeep } from './select';

export const SNAPKV_WINDOW = 32;

export interface PrefillResult {
  cache: Cache;
  stats?: PrefillStats;
  ms: number;
}

/**
 * Prefills prefix ‖ context into a new cache. With `stats`, every run also returns the attention
 * each key received, summed into `received`; the last `window` context tokens run on their own so
 * their attention is the SnapKV observation window.
 */
export async function prefillContext(
  model: Model,
  prefix: number[],
  context: number[],
  opts: {
    stats?: boolean;
    window?: number;
    signal?: AbortSignal;
    onProgress?: (done: number, total: number) => void;
    maxChunk?: number;
  } = {},
): Promise<PrefillResult> {
  const t0 = performance.now();
  const ids = [...prefix, ...context];
  const cache = model.newCache();
  const units = model.config.numLayers * model.config.numKvHeads;
  const total = ids.length;
  const window = Math.min(opts.window ?? SNAPKV_WINDOW, context.length);
  const stats: PrefillStats | undefined = opts.stats
    ? { received: new Float32Array(units * total), window: new Float32Array(units * total), windowSize: window }
    : undefined;
  const sizer = new ChunkSizer(opts.maxChunk);
  try {
    for (let i = 0; i < total;) {
      throwIfCancelled(opts.signal, 'prefill');
      const windowStart = total - window;
      const { tokens: n, out } = await sizer.run(cache, (stats && i < windowStart ? windowStart : total) - i, (n) =>
        model.forward({ ids: ids.slice(i, i + n), cache, colsum: stats ? { row0: 0 } : undefined }),
      );
      if (stats) {
        const keys = i + n; // keys visible to this run: everything before it plus itself
        const into = i >= windowStart ? [stats.received, stats.window] : [stats.received];
        for (const dst of into) for (let u = 0; u < units; u++) for (let j = 0; j < keys; j++) dst[u * total + j] += out.colsum![u * keys + j];
      }
      i += n;
      opts.onProgress?.(i, total);
      await yieldToLoop();
    }
  } catch (e) {
    cache.dispose(); // GPU memory is not the garbage collector's
    throw e;
  }
  return { cache, stats, ms: performance.now() - t0 };
}

/** Rows each head keeps: the prefix, the context entries marked in `keep` ([L][Hkv][n]), and anything after the context. */
export function keptRows(cache: Cache, keep: Uint8Array, prefixLength: number, contextLength: number): number[][][] {
  return Array.from({ length: cache.layers }, (_, l) =>
    Array.from({ length: cache.kvHeads }, (_, h) => {
      const base = (l * cache.kvHeads + h) * contextLength;
      const kept: number[] = [];
      for (let i = 0; i < prefixLength; i++) kept.push(i);
      for (let i = 0; i < contextLength; i++) if (keep[base + i]) kept.push(prefixLength + i);
      // entries past the context (a question already asked) are not the press's to judge
      for (let i = prefixLength + contextLength; i < cache.length(l, h); i++) kept.push(i);
      return kept;
    }),
  );
}

/** Keeps, in every head, the prefix and the context entries marked in `keep`. */
export async function evict(cache: Cache, keep: Uint8Array, prefixLength: number, contextLength: number): Promise<void> {
  await cache.retain(keptRows(cache, keep, prefixLength, contextLength));
}

export interface CompressResult {
  /** On the model's side (the device for WebGPU). */
  cache: Cache;
  scores: ScoreGrid;
  keep: Uint8Array;
  kept: number;
  total: number;
  prefillMs: number;
  scoreMs: number;
}

/** Prefill, score, select, evict: the whole compression of one context. */
export async function compressContext(
  model: Model,
  prefix: number[],
  context: number[],
  postfix: number[],
  opts: {
    press: Press;
    ratio: number;
    mode?: BudgetMode;
    signal?: AbortSignal;
    onProgress?: (phase: 'prefill' | 'score', done: number, total: number) => void;
  },
): Promise<CompressResult> {
  checkRatio(opts.ratio);
  let pre: PrefillResult | undefined;
  try {
    pre = await prefillContext(model, prefix, context, {
      stats: opts.press.needsPrefillStats,
      signal: opts.signal,
      onProgress: (d, t) => opts.onProgress?.('prefill', d, t),
    });
    const ctx: PressContext = {
      model,
      cache: pre.cache,
      prefixLength: prefix.length,
      contextIds: context,
      postfix,
      stats: pre.stats,
      signal: opts.signal,
      onProgress: (d, t) => opts.onProgress?.('score', d, t),
    };
    const t = performance.now();
    const scores = await opts.press.score(ctx);
    const scoreMs = performance.now() - t;
    const keep = selectKeep(scores, opts.ratio, opts.press.budget ?? opts.mode);
    await evict(pre.cache, keep, prefix.length, context.length);
    let kept = 0;
    for (const k of keep) kept += k;
    return { cache: pre.cache, scores, keep, kept, total: keep.length, prefillMs: pre.ms, scoreMs };
  } catch (e) {
    pre?.cache.dispose(); // a cancelled build frees its GPU memory now
    throw e;
  }
}
