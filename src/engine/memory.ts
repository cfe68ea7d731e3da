// Refusing work that would exhaust memory before starting it, with a way out: swapping a laptop to
// death or being killed by the OOM killer halfway through a 20-minute build is worse than a clear
// "this needs 9 GB, you have 6; try a budget of 12k tokens".
import { EngineError } from './errors';
import { availableMemory } from './free-memory';
import { ModelConfig } from './model/config';
import { WeightFormat } from './model/weights';

export interface MemoryEstimate {
  weights: number;
  kv: number;
  activations: number;
  total: number;
}

/**
 * Bytes the weights take while running, from the size of the converted file, with room: on a CPU
 * onnxruntime keeps a packed fp32 copy of fp32 MatMul weights (measured: the peak grows 1.2x the
 * file, the copy replacing the mapped pages) and an fp32 copy of fp16 ones (measured 3.3x the fp16
 * file); int4 is read in place; int8's peak grew 1.5x its file, onnxruntime repacking it
 * (test/engine/load-memory.test.ts).
 */
export function residentWeights(weightBytes: number, weights: WeightFormat): number {
  return weightBytes * { fp32: 2, fp16: 3.5, int8: 2, int4: 1 }[weights];
}

/** A model's weight files (Model.info): the main set, and the decode session's when it has one. */
export interface WeightSets {
  weights: WeightFormat;
  weightBytes: number;
  decode?: { weights: WeightFormat; weightBytes: number };
}

const residentSets = (w: WeightSets) => residentWeights(w.weightBytes, w.weights) + (w.decode ? residentWeights(w.decode.weightBytes, w.decode.weights) : 0);

/**
 * Peak bytes of prefilling (and KVzip-scoring) `tokens` context tokens in chunks of `chunk`:
 * the weights (residentWeights), the fp32 cache with its growth slack, and the largest chunk's
 * intermediates (the attention logits of one head dominate: G*chunk rows over the whole past, a
 * few live copies).
 */
export function estimatePeak(c: ModelConfig, sets: WeightSets, tokens: number, chunk: number): MemoryEstimate {
  const G = c.numHeads / c.numKvHeads;
  const kv = 1.5 * tokens * c.numLayers * c.numKvHeads * 2 * c.headDim * 4;
  const attention = 4 * G * chunk * (tokens + chunk) * 4;
  const mlp = 4 * chunk * (c.hiddenSize + 3 * c.intermediateSize) * 4;
  const activations = attention + mlp;
  const weights = residentSets(sets);
  const runtime = 300 * 1024 * 1024; // node, onnxruntime, tokenizer
  return { weights, kv, activations, total: weights + kv + activations + runtime };
}

const GB = 1024 ** 3;

/** Throws `out-of-memory` with a smaller segment size that would fit, when the estimate exceeds what is available. */
export function checkMemory(c: ModelConfig, sets: WeightSets, tokens: number, chunk: number, available = availableMemory()): MemoryEstimate {
  const est = estimatePeak(c, sets, tokens, chunk);
  const int4Helps = sets.weights !== 'int4';
  if (est.total <= available * 0.9) return est;
  let fits = tokens;
  while (fits > 256 && estimatePeak(c, sets, fits, chunk).total > available * 0.9) fits = Math.floor(fits * 0.8);
  const hint =
    fits > 256 && estimatePeak(c, sets, fits, chunk).total <= available * 0.9
      ? `set segmentTokens to about ${fits}${int4Helps ? ', or use int4 weights' : ''}`
      : `use a smaller model${int4Helps ? ' or int4 weights' : ''}`;
  throw new EngineError(
    'out-of-memory',
    `building this cache needs about ${(est.total / GB).toFixed(1)} GB (weights ${(est.weights / GB).toFixed(1)}, KV ${(est.kv / GB).toFixed(1)}, activations ${(est.activations / GB).toFixed(1)}) but only ${(available / GB).toFixed(1)} GB are available: ${hint}`,
  );
}
