// Run as a child process by test/engine/load-memory.test.ts: loads a converted model in a fresh
// process and prints how much its peak resident memory grew, so the parent can compare it with the
// weights. A tiny model is loaded and run first, so that everything but the weights (onnxruntime's
// code pages, thread pool, allocator arenas) is in place before the first reading. With a 5th
// argument the model gets a decode session with those weights, and a decode step runs too.
import * as fs from 'node:fs';
import { Model } from '../../src/engine/model/model';
import { WeightFormat } from '../../src/engine/model/weights';

const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

(async () => {
  const [tiny, dir, cacheRoot, weights = 'fp32', decodeWeights] = process.argv.slice(2) as [string, string, string, WeightFormat?, WeightFormat?];
  const run = async (m: Model) => {
    const cache = m.newCache();
    await m.forward({ ids: [1, 2, 3, 4, 5, 6, 7, 8], cache, logits: true });
    await m.forward({ ids: [9], cache, logits: true });
  };
  const warm = await Model.load(tiny, { device: 'cpu', cacheRoot, threads: 1, weights, decodeWeights });
  await run(warm);
  const before = kb('VmRSS');
  const model = await Model.load(dir, { device: 'cpu', cacheRoot, threads: 1, weights, decodeWeights });
  await run(model);
  const { weightBytes, converted, decode } = model.info;
  console.log(JSON.stringify({ before, peak: kb('VmHWM'), weightBytes, decodeWeightBytes: decode?.weightBytes ?? 0, converted }));
  await model.dispose();
})();
