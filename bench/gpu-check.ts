// The GPU check: what the engine does on a machine with a GPU, in one run inside a time budget.
// Generates a random-weight model of a real shape there (never all-zero: see shapes.ts), loads it on
// the GPU (`auto`: CUDA when its provider libraries are installed, else WebGPU over Vulkan; weights
// as `auto` picks them there, fp16, unless --weights says otherwise), and for
// each context length prints prefill tokens/s, KVzip scoring time against prefill, decode ms/token
// over the full cache and over the cache compressed to `ratio`, and what crossing the bus costs. A
// context whose estimated time does not fit in the budget left is skipped, saying so.
//
//   node --import tsx bench/gpu-check.ts --dir /tmp/gpu-check --shape mini --contexts 2048
//   (bench/gpu-check.sh runs the bundled form, gpu-check.js, on the GPU machine)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { prefill } from '../src/engine/generate';
import { evict } from '../src/engine/kv/compress';
import { KVZIP_CHUNK, KVzipPress } from '../src/engine/kv/presses/kvzip';
import { selectKeep } from '../src/engine/kv/select';
import { Model } from '../src/engine/model/model';
import { WeightChoice } from '../src/engine/model/choose-weights';
import type { Device } from '../src/engine/devices';
import { decodeMs, randomIds } from './measure';
import { Shape, shapeModel, SHAPES } from './shapes';

const { values: v } = parseArgs({
  options: {
    dir: { type: 'string' },
    shape: { type: 'string', default: '1.5b' },
    contexts: { type: 'string', default: '8192,32768' },
    ratio: { type: 'string', default: '0.3' },
    device: { type: 'string', default: 'auto' },
    weights: { type: 'string', default: 'auto' },
    tokenizer: { type: 'string' },
    budget: { type: 'string', default: '450' },
    json: { type: 'string' },
  },
});

/** A small Qwen2-like shape for a software driver (lavapipe), where the real ones take hours. */
const MINI: Shape = { name: 'mini (Qwen2-like)', hidden: 256, intermediate: 704, layers: 4, heads: 4, kvHeads: 2, vocab: 4096, maxPositions: 4096 };
const t0 = performance.now();
const deadline = t0 + Number(v.budget) * 1000;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const gb = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);
const say = (s: string) => console.log(s);
const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
};

async function main() {
  if (!v.dir) throw new Error('--dir WORK (where the model and its conversion go) is required');
  const contexts = v.contexts!.split(',').map(Number);
  const ratio = Number(v.ratio);
  const base = v.shape === 'mini' ? MINI : SHAPES[v.shape!];
  if (!base) throw new Error(`--shape must be mini or one of ${Object.keys(SHAPES).join(', ')}`);
  // room for a KVzip pass after the longest context: it re-feeds a chunk after a lead
  const shape = { ...base, maxPositions: Math.max(base.maxPositions, Math.max(...contexts) + KVZIP_CHUNK + 256) };
  const [dir, genMs] = await timed(async () => shapeModel(v.dir!, `${v.shape}-p${shape.maxPositions}`, { shape, tokenizerDir: v.tokenizer }));
  const [model, loadMs] = await timed(() =>
    Model.load(dir, { device: v.device as Device, weights: v.weights as WeightChoice, cacheRoot: path.join(v.dir!, 'cache') }),
  );
  if (model.device === 'cpu' && v.shape !== 'mini')
    throw new Error(
      `no GPU EP started (${model.info.fallbacks.map((f) => `${f.device}: ${f.reason}`).join('; ')}); this shape on the CPU would outrun the budget`,
    );
  const resident = model.deviceOps ? 'on the device' : 'on the host (copied to the device and back every run)';
  say(
    `model: random ${shape.name} shape, ${model.info.weights} weights ${gb(model.info.weightBytes)}; generated in ${secs(genMs)}, converted and loaded in ${secs(loadMs)}`,
  );
  say(`EP: ${model.device}; KV cache ${resident}`);
  for (const f of model.info.fallbacks) say(`  ${f.device} not used: ${f.reason}`);
  const { numLayers: L, numKvHeads: Hkv, headDim: D } = model.config;
  const rowBytes = 2 * D * 4; // K and V, fp32
  const rows: Record<string, unknown>[] = [];
  let last: { n: number; ms: number } | null = null;
  for (const n of contexts) {
    // prefill and scoring grow faster than n (attention); n^1.5 from the last point is the estimate
    const estimate = last ? last.ms * (n / last.n) ** 1.5 : 0;
    if (performance.now() + estimate > deadline) {
      say(`context ${n}: skipped, about ${secs(estimate)} estimated and ${secs(deadline - performance.now())} left in the budget`);
      rows.push({ n, skipped: true, estimateMs: estimate });
      continue;
    }
    const tn = performance.now();
    const ids = randomIds(n, shape.vocab);
    const cache = model.newCache();
    const [, prefillMs] = await timed(() => prefill(model, cache, ids, { targetMs: 1e9 }));
    const [grid, scoreMs] = await timed(() => new KVzipPress().score({ model, cache, prefixLength: 0, contextIds: ids, postfix: [] }));
    const fullMs = await decodeMs(model, cache);
    const fullBytes = cache.entries() * rowBytes;
    // what a host-resident cache (the CUDA/DML path) moves every step, and saving a snapshot reads back
    const [host, readbackMs] = await timed(() => cache.toHost());
    const [up, uploadMs] = await timed(() => model.residentCache(host));
    if (up !== host) up.dispose();
    const [, evictMs] = await timed(() => evict(cache, selectKeep(grid, ratio), 0, n));
    const compressedMs = await decodeMs(model, cache);
    const keptBytes = cache.entries() * rowBytes;
    cache.dispose();
    const row = {
      n,
      prefillTokS: (n * 1000) / prefillMs,
      prefillMs,
      scoreMs,
      scoreOverPrefill: scoreMs / prefillMs,
      decodeFullMs: fullMs,
      decodeCompressedMs: compressedMs,
      ratio,
      fullBytes,
      keptBytes,
      readbackMs,
      uploadMs,
      evictMs,
    };
    rows.push(row);
    last = { n, ms: performance.now() - tn };
    say(`context ${n}:`);
    say(`  prefill ${row.prefillTokS.toFixed(0)} tokens/s (${secs(prefillMs)}); KVzip scoring ${secs(scoreMs)} = ${row.scoreOverPrefill.toFixed(2)}× prefill`);
    say(
      `  decode ${fullMs.toFixed(1)} ms/token over the full cache (${gb(fullBytes)}), ${compressedMs.toFixed(1)} ms/token at ratio ${ratio} (${gb(keptBytes)}); speed-up ${(fullMs / compressedMs).toFixed(2)}×; eviction ${evictMs.toFixed(0)} ms`,
    );
    say(
      `  the full cache read back in ${readbackMs.toFixed(0)} ms (saving a snapshot), uploaded in ${uploadMs.toFixed(0)} ms (what a host-resident cache, CUDA's or DML's, copies every step)`,
    );
  }
  say(`${L} layers × ${Hkv} KV heads × ${D} head dim; total ${secs(performance.now() - t0)}`);
  if (v.json)
    fs.writeFileSync(
      v.json,
      JSON.stringify(
        { shape, device: model.device, fallbacks: model.info.fallbacks, weights: model.info.weights, weightBytes: model.info.weightBytes, genMs, loadMs, rows },
        null,
        1,
      ),
    );
  await model.dispose();
}

main().catch((e) => {
  console.error(`gpu-check: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
