// WebGPU against the CPU path (and the float64 reference), for every family: logits over a chunked
// prefill and decode steps with the cache on the device, the device cache read back, KVzip scores,
// decoding over a per-head evicted cache (evicted on the device by gather, and uploaded after an
// eviction on the host), and int4 and fp16 weights. Every WebGPU session is created with forbidCpuFallback:
// a node the WebGPU EP cannot run fails the load instead of running silently on the CPU.
import { after, test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Cache } from '../../src/engine/kv/cache';
import { prefillContext } from '../../src/engine/kv/compress';
import { KVzipPress } from '../../src/engine/kv/presses/kvzip';
import { Model } from '../../src/engine/model/model';
import { WeightFormat } from '../../src/engine/model/weights';
import { argmax, assertClose, relL2 } from '../helpers/compare';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel, VOCAB } from '../helpers/random-model';
import { RefModel } from '../helpers/reference';
import { WEBGPU_SKIP } from './webgpu';

const { dir: tmp, cacheRoot } = scratchDir('gpu-parity');
// fp32 on both sides, summed in other orders: lavapipe measures ≤ 1e-6 (see the diagnostics); a
// GPU's fused multiply-adds and reduction trees stay well inside 1e-5
const TOL = 1e-5;
const REF_TOL = 1e-4; // against the float64 reference, as test/engine holds the CPU path
// int4: both sides dequantise the same weights, but the CPU EP (accuracy_level 4) also quantises
// the activations to int8 and WebGPU need not; lavapipe measures 1.5e-2 here
const INT4_TOL = 3e-2;
// fp16: both sides round the same GEMM inputs to fp16; the sums differ in order and (CPU) precision
const FP16_TOL = 1e-2;

const IDS = Array.from({ length: 40 }, (_, i) => (i * 2731 + 57) % VOCAB);

interface Pair {
  cpu: Model;
  gpu: Model;
  dir: string;
}
const loaded = new Map<string, Promise<Pair>>();
function load(name: string, weights: WeightFormat = 'fp32'): Promise<Pair> {
  const key = `${name}-${weights}`;
  if (!loaded.has(key)) {
    const dir = makeRandomModel(path.join(tmp, name), FAMILY_SPECS[name]);
    const pair = (async () => ({
      dir,
      cpu: await Model.load(dir, { cacheRoot, threads: 1, weights }),
      gpu: await Model.load(dir, { cacheRoot, device: 'webgpu', weights, forbidCpuFallback: true }),
    }))();
    loaded.set(key, pair);
  }
  return loaded.get(key)!;
}
after(async () => {
  for (const p of loaded.values()) {
    const { cpu, gpu } = await p;
    await cpu.dispose();
    await gpu.dispose();
  }
});

/** Feeds the same tokens to both caches (chunks of `split`) and compares the logits. */
async function step(
  t: TestContext,
  { cpu, gpu }: Pair,
  cc: Cache,
  gc: Cache,
  ids: number[],
  what: string,
  tol = TOL,
): Promise<{ c: Float32Array; g: Float32Array }> {
  const c = (await cpu.forward({ ids, cache: cc, logits: true })).logits!;
  const g = (await gpu.forward({ ids, cache: gc, logits: true })).logits!;
  assertClose(t, g, c, tol, `${what}: WebGPU vs CPU`);
  return { c, g };
}

/** The device cache, read back, holds the CPU cache's rows and positions. */
async function assertSameCache(t: TestContext, gc: Cache, cc: Cache): Promise<void> {
  const [g, c] = [await gc.toHost(), await cc.toHost()];
  assert.equal(g.nextPosition, c.nextPosition);
  for (let l = 0; l < c.layers; l++) {
    for (let h = 0; h < c.kvHeads; h++) {
      const [x, y] = [g.head(l, h), c.head(l, h)];
      assert.deepEqual(Array.from(x.pos.subarray(0, x.len)), Array.from(y.pos.subarray(0, y.len)), `positions of (${l}, ${h})`);
      if (y.len === 0) continue;
      assertClose(t, x.keys(), y.keys(), TOL, `keys of (${l}, ${h})`);
      assertClose(t, x.values(), y.values(), TOL, `values of (${l}, ${h})`);
    }
  }
}

for (const name of Object.keys(FAMILY_SPECS)) {
  test(`${name}: WebGPU logits == CPU over a chunked prefill and decoding; the device cache reads back equal`, { skip: WEBGPU_SKIP }, async (t) => {
    const pair = await load(name);
    assert.equal(pair.gpu.device, 'webgpu');
    const [cc, gc] = [pair.cpu.newCache(), pair.gpu.newCache()];
    await step(t, pair, cc, gc, IDS.slice(0, 16), 'prefill 0-16 (empty past)');
    const { g } = await step(t, pair, cc, gc, IDS.slice(16, 24), 'prefill 16-24');
    assertClose(
      t,
      g,
      RefModel.load(pair.dir).forward(
        IDS.slice(0, 24),
        IDS.slice(0, 24).map((_, i) => i),
      ).logits,
      REF_TOL,
      'WebGPU vs float64 reference',
    );
    for (let i = 24; i < 27; i++) await step(t, pair, cc, gc, [IDS[i]], `decode at ${i}`);
    await assertSameCache(t, gc, cc);
    gc.dispose();
  });
}

for (const name of ['llama3', 'qwen3']) {
  test(`${name}: KVzip and KVzip+ scores on WebGPU == CPU`, { skip: WEBGPU_SKIP }, async (t) => {
    const { cpu, gpu } = await load(name);
    const prefix = IDS.slice(0, 3);
    const context = IDS.slice(3, 23);
    const score = async (model: Model, plus: boolean) => {
      const { cache } = await prefillContext(model, prefix, context, { maxChunk: 8 });
      // chunks of 8, fed in sub-chunks: the pass's own keys come from the cache, as on the device
      const grid = await new KVzipPress(8, plus).score({ model, cache, prefixLength: prefix.length, contextIds: context, postfix: [4095] });
      assert.equal(cache.length(0, 0), prefix.length + context.length, 'scoring passes leave the cache as it was');
      cache.dispose();
      return grid.data;
    };
    assertClose(t, await score(gpu, false), await score(cpu, false), TOL, 'KVzip scores');
    assertClose(t, await score(gpu, true), await score(cpu, true), TOL, 'KVzip+ scores');
  });
}

test('attention statistics for H2O and SnapKV (colsum) on WebGPU == CPU', { skip: WEBGPU_SKIP }, async (t) => {
  const { cpu, gpu } = await load('qwen2');
  const stats = async (model: Model) => {
    const { cache, stats } = await prefillContext(model, IDS.slice(0, 3), IDS.slice(3, 35), { stats: true, window: 8, maxChunk: 8 });
    cache.dispose();
    return stats!;
  };
  const [g, c] = [await stats(gpu), await stats(cpu)];
  assertClose(t, g.received, c.received, TOL, 'attention received');
  assertClose(t, g.window, c.window, TOL, 'attention from the observation window');
});

/** Kept rows per (layer, KV head): a different share for each head, one head emptied. */
function keepPlan(layers: number, kvHeads: number, n: number): number[][][] {
  let seed = 777;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: layers }, (_, l) =>
    Array.from({ length: kvHeads }, (_, h) => {
      if (l === 1 && h === 0) return [];
      const share = 0.2 + (0.7 * (l * kvHeads + h)) / Math.max(1, layers * kvHeads - 1);
      return Array.from({ length: n }, (_, i) => i).filter(() => rand() < share);
    }),
  );
}

for (const name of ['qwen2', 'mistral']) {
  test(`${name}: decoding over a per-head evicted cache on WebGPU == CPU (gathered on the device, or uploaded)`, { skip: WEBGPU_SKIP }, async (t) => {
    const pair = await load(name);
    const { numLayers: L, numKvHeads: Hkv } = pair.cpu.config;
    const [cc, gc] = [pair.cpu.newCache(), pair.gpu.newCache()];
    await step(t, pair, cc, gc, IDS.slice(0, 32), 'prefill');
    const plan = keepPlan(L, Hkv, 32);
    await cc.retain(plan);
    await gc.retain(plan);
    const uploaded = await pair.gpu.residentCache(await (await cc.clone()).toHost());
    await assertSameCache(t, gc, cc);
    for (const [at, end] of [
      [32, 35],
      [35, 36],
      [36, 37],
    ]) {
      const ids = IDS.slice(at, end);
      const expected = (await pair.cpu.forward({ ids, cache: cc, logits: true })).logits!;
      for (const [cache, how] of [
        [gc, 'gathered'],
        [uploaded, 'uploaded'],
      ] as const) {
        const got = (await pair.gpu.forward({ ids, cache, logits: true })).logits!;
        assertClose(t, got, expected, TOL, `${how} cache, tokens ${at}-${end}: WebGPU vs CPU`);
      }
    }
    await assertSameCache(t, uploaded, cc);
    gc.dispose();
    uploaded.dispose();
  });
}

// int4 (MatMulNBits) and fp16 (fp16 GEMMs between casts): WebGPU must be about as close to fp32 as
// the CPU is (int4: within 1.2x of the CPU's error). fp16 on the CPU rounds only the GEMM inputs and
// sums in fp32, so WebGPU's fp16 sums may go further, up to the fp16 tolerance.
for (const [weights, family, tol, factor, floor] of [
  ['int4', 'llama3', INT4_TOL, 1.2, 0],
  ['fp16', 'qwen2', FP16_TOL, 2, FP16_TOL],
] as const) {
  test(`${weights} weights on WebGPU: as close to fp32 as ${weights} on the CPU`, { skip: WEBGPU_SKIP }, async (t) => {
    const pair = await load(family, weights);
    const fp32 = (await load(family)).cpu;
    const [cc, gc] = [pair.cpu.newCache(), pair.gpu.newCache()];
    const { c, g } = await step(t, pair, cc, gc, IDS.slice(0, 24), `${weights} prefill`, tol);
    const exact = (await fp32.forward({ ids: IDS.slice(0, 24), cache: fp32.newCache(), logits: true })).logits!;
    const cpuErr = relL2(c, exact);
    assertClose(
      t,
      g,
      exact,
      Number(Math.max(floor, factor * cpuErr).toPrecision(2)),
      `${weights} WebGPU vs fp32 (${weights} CPU vs fp32: ${cpuErr.toExponential(2)})`,
    );
    assert.equal(argmax(g), argmax(c), 'the same next token');
    await step(t, pair, cc, gc, [IDS[24]], `${weights} decode`, tol);
    gc.dispose();
  });
}
