// Phases of the engine, timed one at a time on a loaded model: prefill, KVzip scoring, decoding over
// full and compressed caches. Peak memory per phase from the kernel's high-water mark, reset before
// each phase (/proc/self/clear_refs), so a phase's peak is its own.
import * as fs from 'node:fs';
import { prefill } from '../src/engine/generate';
import { Cache } from '../src/engine/kv/cache';
import { evict } from '../src/engine/kv/compress';
import { KVzipPress } from '../src/engine/kv/presses/kvzip';
import { RandomPress } from '../src/engine/kv/presses/baselines';
import { selectKeep } from '../src/engine/kv/select';
import { Model } from '../src/engine/model/model';
import { rng } from '../src/engine/sampling';

export function resetPeak(): void {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux: peaks then cover the whole run
  }
}

/** Peak resident memory since the last reset, in bytes. */
export function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

export function randomIds(n: number, vocab: number, seed = 7): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => Math.floor(next() * Math.min(vocab, 150000)));
}

export interface Timed<T> {
  ms: number;
  peakBytes: number;
  value: T;
}

export async function timed<T>(f: () => Promise<T>): Promise<Timed<T>> {
  resetPeak();
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, peakBytes: peakRss(), value };
}

export async function prefillTimed(model: Model, ids: number[]): Promise<Timed<Cache>> {
  return timed(async () => {
    const cache = model.newCache();
    await prefill(model, cache, ids, { targetMs: 1e9 }); // largest chunks: this measures throughput
    return cache;
  });
}

export async function scoringTimed(model: Model, cache: Cache, ids: number[]) {
  return timed(() => new KVzipPress().score({ model, cache, prefixLength: 0, contextIds: ids, postfix: [] }));
}

/** ms per decode step on `cache` (rolled back afterwards), median of `steps`. */
export async function decodeMs(model: Model, cache: Cache, steps = 12): Promise<number> {
  const mark = cache.mark();
  const ms: number[] = [];
  await model.forward({ ids: [11], cache, logits: true }); // warm-up
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await model.forward({ ids: [13 + i], cache, logits: true });
    ms.push(performance.now() - t);
  }
  cache.rollback(mark);
  return ms.sort((a, b) => a - b)[steps >> 1];
}

/** A copy of `full` keeping `ratio` of the context entries (random choice: decode cost depends on counts only). */
export async function compressed(model: Model, full: Cache, contextIds: number[], ratio: number): Promise<Cache> {
  const grid = await new RandomPress(1).score({ model, cache: full, prefixLength: 0, contextIds, postfix: [] });
  const c = await full.clone();
  await evict(c, selectKeep(grid, ratio), 0, contextIds.length);
  return c;
}

/** Cuts every head back to its first `n` rows, as if only n tokens had been fed. */
export async function truncate(cache: Cache, n: number): Promise<void> {
  const first = Array.from({ length: n }, (_, i) => i);
  await cache.retain(Array.from({ length: cache.layers }, () => Array.from({ length: cache.kvHeads }, () => first)));
  cache.nextPosition = n;
}
