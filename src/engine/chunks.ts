// The chunk scheduler every long input goes through (prefill, KVzip's passes). onnxruntime's run()
// blocks the thread it runs on, so an input is fed in runs sized to take a fraction of a second
// each; between runs the event loop turns (a cancel message can arrive). Its own file because both
// generation and compression (kv/) feed the model this way, and kv/ sits below generation.
/** The longest run: it bounds activation memory (see memory.ts). */
export const MAX_CHUNK = 512;
/** What one run should take: short enough for a prompt cancel, long enough for efficient GEMMs. */
const TARGET_MS = 400;

/** Runs the chunk sizer fits its cost model to: recent enough to follow the growing cache. */
const RUNS_FITTED = 6;

/** What the sizer reads of a cache: any Cache is one; kept structural so this file needs nothing of kv/. */
interface CacheSize {
  entries(): number;
}

export const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Adapts the chunk length so each run takes about `targetMs`: fast models get long chunks (better
 * GEMM efficiency), slow ones short chunks (prompt cancellation). A run also has a fixed cost that
 * grows with the cache (feeding the past in, copying it to the present: measured ~300 ms at 8K
 * cached tokens on Qwen2.5-Coder-0.5B, 2 cores), so a run's time is modelled as
 * c + a·past + b·tokens, fitted over the recent runs, and a chunk is never so short that its fixed
 * part (c + a·past) exceeds a quarter of it. A per-token average alone would give long contexts
 * ever shorter chunks, each mostly overhead (scoring at 4K ran 5× slower than prefill that way).
 */
export class ChunkSizer {
  private readonly runs: { tokens: number; past: number; ms: number }[] = [];
  private model: { c: number; a: number; b: number } | null = null;

  constructor(
    private readonly maxChunk = MAX_CHUNK,
    private readonly targetMs = TARGET_MS,
    private readonly minChunk = 16,
  ) {}

  /** Tokens for the next run, on top of `past` cached entries (over all heads: any unit will do, used consistently). */
  next(remaining: number, past: number): number {
    let ideal = 64;
    if (this.model) {
      const { c, a, b } = this.model;
      const fixed = c + a * past;
      ideal = Math.max((this.targetMs - fixed) / b, (3 * fixed) / b);
    }
    return Math.min(remaining, this.maxChunk, Math.max(this.minChunk, Math.round(ideal)));
  }

  /**
   * Runs `f` on the next chunk of at most `remaining` tokens over `cache`, sized and timed here, so
   * that every caller feeds the model the same way; returns the chunk's length and f's result.
   */
  async run<T>(cache: CacheSize, remaining: number, f: (tokens: number) => Promise<T>): Promise<{ tokens: number; out: T }> {
    const past = cache.entries();
    const tokens = this.next(remaining, past);
    const t = performance.now();
    const out = await f(tokens);
    this.record(tokens, past, performance.now() - t);
    return { tokens, out };
  }

  record(tokens: number, past: number, ms: number): void {
    this.runs.push({ tokens, past, ms });
    if (this.runs.length > RUNS_FITTED) this.runs.shift();
    // until the runs tell the fixed part from the per-token one: the last fit, or at first all per token
    this.model = fitRuns(this.runs) ?? this.model ?? { c: 0, a: 0, b: ms / tokens };
  }
}

/** Least squares of ms = c + a·past + b·tokens; null when the runs cannot tell the terms apart or the fit is not physical. */
function fitRuns(runs: { tokens: number; past: number; ms: number }[]): { c: number; a: number; b: number } | null {
  if (runs.length < 4) return null;
  // normal equations over centred data: [Spp Spt; Spt Stt] [a b]' = [Spm Stm]
  const mean = (f: (r: (typeof runs)[0]) => number) => runs.reduce((n, r) => n + f(r), 0) / runs.length;
  const mp = mean((r) => r.past);
  const mt = mean((r) => r.tokens);
  const mm = mean((r) => r.ms);
  let spp = 0;
  let stt = 0;
  let spt = 0;
  let spm = 0;
  let stm = 0;
  for (const r of runs) {
    const p = r.past - mp;
    const t = r.tokens - mt;
    const m = r.ms - mm;
    spp += p * p;
    stt += t * t;
    spt += p * t;
    spm += p * m;
    stm += t * m;
  }
  const det = spp * stt - spt * spt;
  if (!(det > 1e-9 * spp * stt) || stt === 0) return null;
  const a = (spm * stt - stm * spt) / det;
  const b = (stm * spp - spm * spt) / det;
  const c = mm - a * mp - b * mt;
  // noise can give a slightly negative intercept; a very negative one means the fit is wrong
  return b > 0 && a >= 0 && c >= -0.5 * b * mt ? { c: Math.max(0, c), a, b } : null;
}
