// The machine's limits, measured through onnxruntime itself: fp32 GEMM rate (what prefill can
// reach), int4 MatMulNBits rate at one row and at a chunk, and memory read bandwidth (what decode
// can reach: every weight byte is read once per token).
import * as ort from 'onnxruntime-node';
import { Graph, MS } from '../src/engine/onnx/builder';
import { QUANT_BLOCK, quantize } from '../src/engine/model/weights';
import { rng } from '../src/engine/sampling';

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function timeRuns(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, reps: number): Promise<number> {
  await session.run(feeds); // warm-up: prepacking, allocation
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t);
  }
  return median(ms);
}

function randomFloats(n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => next() - 0.5);
}

const opts = (threads: number): ort.InferenceSession.SessionOptions => ({
  executionProviders: ['cpu'],
  intraOpNumThreads: threads,
  extra: { session: { 'intra_op.allow_spinning': '0' } },
});

/** GFLOP/s of x[m,k] @ W[k,n] in fp32. */
export async function gemmRate(m: number, k: number, n: number, threads: number, reps = 9): Promise<number> {
  const g = new Graph('gemm');
  const x = g.input('x', 'float', [m, k]);
  g.output('y', g.op('MatMul', [x, g.inline('w', 'float', [k, n], new Uint8Array(randomFloats(k * n, 1).buffer))]), 'float', [m, n]);
  const s = await ort.InferenceSession.create(g.encode('bench'), opts(threads));
  const ms = await timeRuns(s, { x: new ort.Tensor('float32', randomFloats(m * k, 2), [m, k]) }, reps);
  await s.release();
  return (2 * m * k * n) / (ms * 1e6);
}

/** GFLOP/s of x[m,k] @ W[k,n] with W in MatMulNBits `bits`-bit blocks of 32 (int8 compute, the engine's setting). */
export async function nbitsRate(bits: 4 | 8, m: number, k: number, n: number, threads: number, reps = 5): Promise<number> {
  const g = new Graph('nbits');
  const x = g.input('x', 'float', [m, k]);
  const q = quantize(randomFloats(n * k, 3), n, k, bits);
  const blocks = Math.ceil(k / QUANT_BLOCK);
  const b = g.inline('b', 'uint8', [n, blocks, (QUANT_BLOCK * bits) / 8], q.packed);
  const sc = g.inline('s', 'float', [n, blocks], new Uint8Array(q.scales.buffer));
  const zp = g.inline('z', 'uint8', [n, q.zeros.length / n], q.zeros);
  g.output('y', g.op('MatMulNBits', [x, b, sc, zp], { K: k, N: n, bits, block_size: QUANT_BLOCK, accuracy_level: 4 }, { domain: MS }), 'float', [m, n]);
  const s = await ort.InferenceSession.create(g.encode('bench'), opts(threads));
  const ms = await timeRuns(s, { x: new ort.Tensor('float32', randomFloats(m * k, 4), [m, k]) }, reps);
  await s.release();
  return (2 * m * k * n) / (ms * 1e6);
}

/** GB/s of reading a large buffer once (a ReduceSum over 256 MB). */
export async function readBandwidth(threads: number, reps = 5): Promise<number> {
  const n = 64 * 1024 * 1024;
  const g = new Graph('bw');
  const x = g.input('x', 'float', [n]);
  g.output('y', g.op('ReduceSum', [x], { keepdims: 0 }), 'float', []);
  const s = await ort.InferenceSession.create(g.encode('bench'), opts(threads));
  const ms = await timeRuns(s, { x: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]) }, reps);
  await s.release();
  return (n * 4) / (ms * 1e6);
}
