// Which weights a model runs with when the user leaves it to us (`auto`). fp32 is exact and gives
// the fastest prefill on the CPU (MLAS fp32 GEMM 326 GFLOP/s against int4 MatMulNBits' 244 here,
// BENCHMARKS.md), and prefill + KVzip scoring are most of a build; int4 halves decode time and
// takes 0.3x the memory. So: fp32 while it fits with room to spare, int4 when it would crowd the
// machine. On the CPU onnxruntime keeps a packed copy of fp32 MatMul weights beside the mapped
// file, so fp32 is counted twice. GPU providers take fp16: their GEMMs run fastest in it and it
// halves the weights in GPU memory (which Node cannot see); on the CPU fp16 is only slower (onnxruntime's
// x64 MatMul took 2.4x the fp32 time, measured, and it keeps an fp32 copy of the weights as well), so
// auto never picks it there.
//
// Decoding reads every weight once per token, so it runs at the speed of memory, not of the GEMMs:
// with fp32 chosen, auto adds a second session over the same graph and KV cache with int8 weights
// (MatMulNBits, 8 bits) for single-token steps, when both sets fit the same share of memory.
import { availableMemory } from '../free-memory';
import { ModelConfig } from './config';
import { parameterCount } from './parameters';
import { WeightFormat } from './weights';
import type { Device } from '../devices';

export type WeightChoice = WeightFormat | 'auto';
export const WEIGHT_CHOICES: readonly WeightChoice[] = ['auto', 'fp32', 'fp16', 'int8', 'int4'];

/** `auto` takes int4 on the CPU when fp32 (with its packed copy) would need more than this share of the available memory. */
const FP32_SHARE = 0.5;
/**
 * Resident bytes per parameter of the int8 decode set: its file holds 8-bit weights with an fp32
 * scale and a zero point per 32 (1.16 bytes) and the fp16 embedding table (Qwen2.5-0.5B: 1.7 bytes
 * a parameter in all); loading grew the peak 1.5x the file (test/engine/load-memory.test.ts).
 */
const INT8_BYTES = 2.5;

export interface WeightDecision {
  weights: WeightFormat;
  /** Weights of a second session for single-token decode steps over the same cache (CPU only). */
  decode?: WeightFormat;
  /** Why, in words, when `auto` decided (shown by the CLI and the extension). */
  why?: string;
}

/**
 * What the user is told about what auto chose: a warning when the model runs other weights than fp32
 * (int4 changes its answers), information when only the answer tokens run int8 (their logits move
 * by ~1e-2, recall by < 0.01); nothing for plain fp32, which anyone expects.
 */
export function weightsNotice(info: {
  weights: WeightFormat;
  decode?: { weights: WeightFormat };
  weightsWhy?: string;
}): { message: string; level?: 'info' } | undefined {
  if (!info.weightsWhy) return undefined;
  if (info.weights !== 'fp32') return { message: info.weightsWhy };
  return info.decode && { message: info.weightsWhy, level: 'info' };
}

const gb = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GB`;

export function chooseWeights(choice: WeightChoice, config: ModelConfig, device: Exclude<Device, 'auto'>, available = availableMemory()): WeightDecision {
  if (choice !== 'auto') return { weights: choice };
  if (device !== 'cpu') return { weights: 'fp16', why: `auto: fp16 weights on ${device} (fp16 GEMMs; attention and the KV cache in fp32)` };
  const params = parameterCount(config);
  const need = 2 * 4 * params;
  const withDecode = need + INT8_BYTES * params;
  if (withDecode <= FP32_SHARE * available)
    return {
      weights: 'fp32',
      decode: 'int8',
      why: `auto: fp32 weights, int8 for decoding (${gb(withDecode)} with onnxruntime's packed copy; ${gb(available)} available)`,
    };
  if (need <= FP32_SHARE * available)
    return { weights: 'fp32', why: `auto: fp32 weights (${gb(need)} with onnxruntime's packed copy; ${gb(available)} available)` };
  return {
    weights: 'int4',
    why: `auto: int4 weights, since fp32 would need ${gb(need)} with onnxruntime's packed copy, more than half of the ${gb(available)} available`,
  };
}
