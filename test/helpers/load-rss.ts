// Run as a child process by test/engine/load-memory.test.ts: loads a converted model in a fresh
// process and prints how much its peak resident memory grew, so the parent can compare it with the
// weights. A tiny model is loaded and run first, so that everything but the weights (onnxruntime's
// code pages, thread pool, allocator arenas) is in place before the first reading.
import * as fs from 'node:fs';
import { Model } from '../../src/engine/model/model';
import { WeightFormat } from '../../src/engine/model/weights';

const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

(async () => {
  const [tiny, dir, cacheRoot, weights = 'fp32'] = process.argv.slice(2) as [string, string, string, WeightFormat?];
  const warm = await Model.load(tiny, { device: 'cpu', cacheRoot, threads: 1, weights });
  await warm.forward({ ids: [1, 2, 3, 4, 5, 6, 7, 8], cache: warm.newCache(), logits: true });
  const before = kb('VmRSS');
  const model = await Model.load(dir, { device: 'cpu', cacheRoot, threads: 1, weights });
  await model.forward({ ids: [1, 2, 3, 4, 5, 6, 7, 8], cache: model.newCache(), logits: true });
  console.log(JSON.stringify({ before, peak: kb('VmHWM'), weightBytes: model.info.weightBytes, converted: model.info.converted }));
  await model.dispose();
})();
