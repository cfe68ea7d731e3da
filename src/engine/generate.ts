// Prefill and decoding. onnxruntime's run() blocks the thread it runs on, so long inputs are fed in
// chunks sized to take a fraction of a second each; between chunks the event loop turns (a cancel
// message can arrive) and the AbortSignal is checked. That bounds both memory and cancel latency.
import { throwIfCancelled } from './errors';
import { Cache } from './kv/cache';
import { Model } from './model/model';
import { GREEDY, Sampler, SamplingOptions } from './sampling';
import { StreamDecoder } from './tokenizer';

export interface PrefillOptions {
  signal?: AbortSignal;
  /** Largest number of tokens per run (memory bound); runs also aim at `targetMs` each. */
  maxChunk?: number;
  targetMs?: number;
  onProgress?: (done: number, total: number) => void;
  /** Ask for the last position's logits. */
  logits?: boolean;
}

/** The longest run: it bounds activation memory (see memory.ts). */
export const MAX_CHUNK = 512;
/** What one run should take: short enough for a prompt cancel, long enough for efficient GEMMs. */
export const TARGET_MS = 400;

/** Runs the chunk sizer fits its cost model to: recent enough to follow the growing cache. */
const RUNS_FITTED = 6;

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
  async run<T>(cache: Cache, remaining: number, f: (tokens: number) => Promise<T>): Promise<{ tokens: number; out: T }> {
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

/** Feeds `ids` into the cache in chunks; returns the last position's logits when asked. */
export async function prefill(model: Model, cache: Cache, ids: number[], opts: PrefillOptions = {}): Promise<Float32Array | undefined> {
  const sizer = new ChunkSizer(opts.maxChunk, opts.targetMs);
  let logits: Float32Array | undefined;
  for (let i = 0; i < ids.length; ) {
    throwIfCancelled(opts.signal, 'prefill');
    const { tokens: n, out } = await sizer.run(cache, ids.length - i, (n) => model.forward({ ids: ids.slice(i, i + n), cache, logits: i + n === ids.length && opts.logits }));
    if (i + n === ids.length) logits = out.logits;
    i += n;
    opts.onProgress?.(i, ids.length);
    await yieldToLoop();
  }
  return logits;
}

export interface GenerateOptions extends PrefillOptions {
  maxTokens: number;
  sampling?: SamplingOptions;
  /** Generation ends when the decoded text contains one of these (it is cut off there). */
  stopStrings?: string[];
  /** Token ids that end generation (default: the model's EOS ids). */
  stopIds?: number[];
  onText?: (delta: string) => void;
}

export type StopReason = 'eos' | 'stop-string' | 'max-tokens';

export interface Generation {
  text: string;
  ids: number[];
  stop: StopReason;
  promptTokens: number;
  /** Milliseconds from the call to the first generated token. */
  firstTokenMs: number;
  prefillMs: number;
  decodeMsPerToken: number;
}

/** Prefills the prompt on top of `cache` and decodes an answer, streaming text deltas. */
export async function generate(model: Model, cache: Cache, prompt: number[], opts: GenerateOptions): Promise<Generation> {
  const t0 = performance.now();
  const stopIds = new Set(opts.stopIds ?? model.config.eosTokenIds);
  const sampler = new Sampler(opts.sampling ?? GREEDY);
  const decoder = new StreamDecoder(model.tokenizer, prompt);
  let logits = await prefill(model, cache, prompt, { ...opts, logits: true });
  const prefillMs = performance.now() - t0;
  const ids: number[] = [];
  let stop: StopReason = 'max-tokens';
  let firstTokenMs = 0;
  let emitted = 0; // characters of decoder.text already streamed
  const emit = (upTo: number) => {
    if (upTo > emitted) opts.onText?.(decoder.text.slice(emitted, upTo));
    emitted = Math.max(emitted, upTo);
  };
  let end = -1; // where a stop string cut the text
  const tDecode = performance.now();
  while (ids.length < opts.maxTokens) {
    throwIfCancelled(opts.signal, 'generation');
    const id = sampler.sample(logits!);
    if (ids.length === 0) firstTokenMs = performance.now() - t0;
    if (stopIds.has(id)) {
      stop = 'eos';
      break;
    }
    ids.push(id);
    decoder.push(id);
    end = firstStop(decoder.text, opts.stopStrings);
    if (end >= 0) {
      stop = 'stop-string';
      break;
    }
    // hold back a tail that may be the start of a stop string
    emit(decoder.text.length - pendingStop(decoder.text, opts.stopStrings));
    if (ids.length === opts.maxTokens) break;
    logits = (await model.forward({ ids: [id], cache, logits: true })).logits;
    await yieldToLoop();
  }
  const text = end >= 0 ? decoder.text.slice(0, end) : decoder.text;
  emit(text.length);
  const decodeMs = performance.now() - tDecode;
  return { text, ids, stop, promptTokens: prompt.length, firstTokenMs, prefillMs, decodeMsPerToken: ids.length > 1 ? decodeMs / (ids.length - 1) : 0 };
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
function pendingStop(text: string, stops: string[] | undefined): number {
  let n = 0;
  for (const s of stops ?? []) for (let k = Math.min(s.length - 1, text.length); k > n; k--) if (text.endsWith(s.slice(0, k))) n = k;
  return n;
}

function firstStop(text: string, stops: string[] | undefined): number {
  let at = -1;
  for (const s of stops ?? []) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}
