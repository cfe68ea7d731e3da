// A press scores the context's KV entries; selection and eviction are shared (kvpress's design).
// Presses are query-agnostic: they see the context, never the questions.
import { Cache } from './cache';
import { BudgetMode, ScoreGrid } from './select';
import { Model } from '../model/model';

/** Attention statistics gathered while prefilling, for presses that read prefill attention. */
export interface PrefillStats {
  /** [L*Hkv, prefix+context]: attention each key received, summed over all prefill queries. */
  received: Float32Array;
  /** [L*Hkv, prefix+context]: the same, summed over the last `window` context queries only. */
  window: Float32Array;
  windowSize: number;
}

export interface PressContext {
  model: Model;
  /** The full cache after prefill: every head holds prefix + context. */
  cache: Cache;
  prefixLength: number;
  contextIds: number[];
  /** Closes the user turn and opens the assistant's (empty for template-less models). */
  postfix: number[];
  stats?: PrefillStats;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface Press {
  readonly name: string;
  /** Whether prefill must gather attention statistics for this press. */
  readonly needsPrefillStats: boolean;
  /** The budget shape the method is defined with (PyramidKV's pyramid); otherwise the caller's mode applies. */
  readonly budget?: BudgetMode;
  score(ctx: PressContext): Promise<ScoreGrid>;
}

/** A grid of zeros shaped like the context of `ctx`. */
export function emptyGrid(ctx: PressContext): ScoreGrid {
  const { numLayers: layers, numKvHeads: kvHeads } = ctx.model.config;
  const length = ctx.contextIds.length;
  return { layers, kvHeads, length, data: new Float32Array(layers * kvHeads * length) };
}

/** Copies the context columns of a [L*Hkv, prefix+context] statistic into a grid. */
export function contextColumns(ctx: PressContext, stat: Float32Array): ScoreGrid {
  const grid = emptyGrid(ctx);
  const n = grid.length;
  const total = ctx.prefixLength + n;
  for (let u = 0; u < grid.layers * grid.kvHeads; u++) grid.data.set(stat.subarray(u * total + ctx.prefixLength, (u + 1) * total), u * n);
  return grid;
}
