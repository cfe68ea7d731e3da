// Turning scores into an eviction: which context entries each (layer, KV head) keeps.
// KVzip's main setting is one global budget over all layers and heads ("pair", non-uniform); the
// uniform modes exist to compare against (the paper's Fig. 16). Selection is an exact top-k on fp32
// scores with a deterministic tie-break (lower flat index wins), so the realised ratio is exact.
// `pyramid` is PyramidKV's shape (more entries in lower layers), used by that baseline.
// `safeguard` is the global budget with AdaKV's safeguard (arXiv 2407.11550, kvpress's
// alpha_safeguard): every head first keeps its best SAFEGUARD share of a uniform budget, the rest is
// one global top-k. On a model whose heads score on different scales a plain global top-k can leave
// whole layers empty (measured on the recall fixture, BENCHMARKS.md), which the model then misses.
import { EngineError } from '../errors';

export type BudgetMode = 'global' | 'safeguard' | 'layer-uniform' | 'head-uniform' | 'pyramid';
export const BUDGET_MODES: BudgetMode[] = ['global', 'safeguard', 'layer-uniform', 'head-uniform', 'pyramid'];

/** The share of a head's uniform budget it keeps whatever the others score (AdaKV's default). */
export const SAFEGUARD = 0.2;
/** What repozip compresses with unless told otherwise (BENCHMARKS.md: fidelity). */
export const DEFAULT_BUDGET: BudgetMode = 'safeguard';

/** PyramidKV's beta: the top layer keeps 1/beta of the average budget, the bottom layer the rest of 2x. */
const PYRAMID_BETA = 20;

/** Scores of every context entry, laid out [layer][kvHead][position] in one array. */
export interface ScoreGrid {
  layers: number;
  kvHeads: number;
  length: number;
  data: Float32Array;
}

export function checkRatio(ratio: number): void {
  if (!(ratio > 0 && ratio <= 1)) throw new EngineError('bad-input', `ratio must be in (0, 1] (the fraction of KV entries kept), got ${ratio}`);
}

/**
 * Marks the `k` largest of data[lo..hi) (ties: lower index first) in `keep`.
 * Quickselect on a copy finds the threshold in O(n); one pass then takes everything above it and
 * as many entries equal to it as the budget still allows, in index order.
 */
function topK(data: Float32Array, lo: number, hi: number, k: number, keep: Uint8Array): void {
  if (k <= 0) return;
  if (k >= hi - lo) {
    keep.fill(1, lo, hi);
    return;
  }
  const thr = kthLargest(data.slice(lo, hi), k);
  let above = 0;
  for (let i = lo; i < hi; i++) if (data[i] > thr) above++;
  let ties = k - above;
  for (let i = lo; i < hi; i++) {
    if (data[i] > thr) keep[i] = 1;
    else if (data[i] === thr && ties > 0) ((keep[i] = 1), ties--);
  }
}

/** The k-th largest value of `a` (1-based), rearranging `a`. */
function kthLargest(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/**
 * Entries each layer keeps under PyramidKV's linear schedule, summing to exactly `total`: layer l's
 * weight falls linearly from 2 - 1/beta to 1/beta (mean 1); a layer that would exceed its `length`
 * entries is filled and the scale of the others found by bisection (water-filling), then the
 * cumulative budget is rounded so the counts add up exactly.
 */
export function pyramidBudgets(layers: number, length: number, total: number): number[] {
  const lo = 1 / PYRAMID_BETA;
  const w = Array.from({ length: layers }, (_, l) => (layers === 1 ? 1 : 2 - lo - ((2 - 2 * lo) * l) / (layers - 1)));
  const sum = (scale: number) => w.reduce((a, x) => a + Math.min(length, x * scale), 0);
  let a = 0;
  let b = length / lo;
  for (let i = 0; i < 100; i++) {
    const m = (a + b) / 2;
    if (sum(m) < total) a = m;
    else b = m;
  }
  let cum = 0;
  let prev = 0;
  return w.map((x) => {
    cum += Math.min(length, x * b);
    const next = Math.min(total, Math.round(cum));
    const k = next - prev;
    prev = next;
    return k;
  });
}

/** Keep-mask over the grid with exactly round(ratio * count) entries (per budget unit in the uniform modes). */
export function selectKeep(grid: ScoreGrid, ratio: number, mode: BudgetMode = DEFAULT_BUDGET): Uint8Array {
  checkRatio(ratio);
  const { layers, kvHeads, length, data } = grid;
  const keep = new Uint8Array(data.length);
  if (mode === 'global') topK(data, 0, data.length, Math.round(ratio * data.length), keep);
  else if (mode === 'safeguard') {
    const floor = Math.floor(SAFEGUARD * ratio * length);
    for (let u = 0; u < layers * kvHeads; u++) topK(data, u * length, (u + 1) * length, floor, keep);
    // the rest of the budget: one global top-k over what the floors did not take
    const rest = data.slice();
    for (let i = 0; i < rest.length; i++) if (keep[i]) rest[i] = -Infinity;
    topK(rest, 0, rest.length, Math.round(ratio * data.length) - floor * layers * kvHeads, keep);
  } else if (mode === 'layer-uniform') {
    const unit = kvHeads * length;
    for (let l = 0; l < layers; l++) topK(data, l * unit, (l + 1) * unit, Math.round(ratio * unit), keep);
  } else if (mode === 'pyramid') {
    const unit = kvHeads * length;
    const budgets = pyramidBudgets(layers, unit, Math.round(ratio * data.length));
    for (let l = 0; l < layers; l++) topK(data, l * unit, (l + 1) * unit, budgets[l], keep);
  } else {
    for (let u = 0; u < layers * kvHeads; u++) topK(data, u * length, (u + 1) * length, Math.round(ratio * length), keep);
  }
  return keep;
}
