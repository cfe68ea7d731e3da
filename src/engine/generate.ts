// Prefill and decoding. Long inputs are fed in runs the chunk scheduler sizes (chunks.ts); between
// runs the AbortSignal is checked. That bounds both memory and cancel latency.
import { ChunkSizer, yieldToLoop } from './chunks';
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

/** Feeds `ids` into the cache in chunks; returns the last position's logits when asked. */
export async function prefill(model: Model, cache: Cache, ids: number[], opts: PrefillOptions = {}): Promise<Float32Array | undefined> {
  const sizer = new ChunkSizer(opts.maxChunk, opts.targetMs);
  let logits: Float32Array | undefined;
  for (let i = 0; i < ids.length;) {
    throwIfCancelled(opts.signal, 'prefill');
    const { tokens: n, out } = await sizer.run(cache, ids.length - i, (n) =>
      model.forward({ ids: ids.slice(i, i + n), cache, logits: i + n === ids.length && opts.logits }),
    );
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

/** 'window': the model's positions ran out before maxTokens (the composed context left less room). */
export type StopReason = 'eos' | 'stop-string' | 'max-tokens' | 'window';

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
  // the window bounds an answer as maxTokens does: a sampled token is fed back only while a position
  // is left, and the last one needs none
  const room = model.config.maxPositions - cache.nextPosition + 1;
  const maxTokens = Math.min(opts.maxTokens, room);
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
  while (ids.length < maxTokens) {
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
    if (ids.length === maxTokens) {
      if (maxTokens < opts.maxTokens) stop = 'window';
      break;
    }
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
