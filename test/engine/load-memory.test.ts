// Loading a model must not hold its weights twice: the converted weights are memory-mapped from
// their external-data file, and onnxruntime's packed copy of the fp32 MatMul weights replaces the
// mapped pages rather than adding to them. fp16 weights get an fp32 copy (onnxruntime's CPU kernels
// compute in fp32): the memory estimate counts it, and onnxruntime's repacking of int8 (1.5x its file). Measured in a fresh process (Linux: /proc's VmHWM).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { residentWeights } from '../../src/engine/memory';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel } from '../helpers/random-model';

const { dir, cacheRoot } = scratchDir('load-memory');
const CHILD = path.join(__dirname, '..', 'helpers', 'load-rss.ts');

test(
  'peak memory of loading a model and running it: fp32 well under twice its weights, fp16 and int8 within the estimate',
  { skip: process.platform !== 'linux' && 'reads /proc/self/status' },
  async (t) => {
    // ~80 MB of fp32 weights: far above the noise of a process's own growth
    const model = makeRandomModel(path.join(dir, 'm'), {
      family: 'llama',
      hidden: 512,
      intermediate: 1536,
      layers: 6,
      heads: 8,
      kvHeads: 2,
      ropeTheta: 1e4,
      dtype: 'F16',
      seed: 11,
    });
    const tiny = makeRandomModel(path.join(dir, 'tiny'), FAMILY_SPECS.llama3);
    for (const weights of ['fp32', 'fp16', 'int8'] as const) {
      for (const m of [tiny, model]) await (await Model.load(m, { device: 'cpu', cacheRoot, threads: 1, weights })).dispose(); // converted once, here
      const r = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', CHILD, tiny, model, cacheRoot, weights], { encoding: 'utf8' }));
      const growth = (r.peak - r.before) / r.weightBytes;
      t.diagnostic(
        `${weights}: weights ${(r.weightBytes / 2 ** 20).toFixed(1)} MiB; peak grew by ${((r.peak - r.before) / 2 ** 20).toFixed(1)} MiB = ${growth.toFixed(2)}× the weights file (estimate ${residentWeights(1, weights)}×)`,
      );
      assert.equal(r.converted, false, 'the child reuses the conversion');
      assert.ok(r.weightBytes > { fp32: 60, fp16: 30, int8: 15 }[weights] * 2 ** 20, `weights ${r.weightBytes}`);
      // the memory check before a build must not underestimate what the weights take
      assert.ok(growth < residentWeights(1, weights), `loading grew the peak by ${growth.toFixed(2)}× the weights file`);
      if (weights === 'fp32') assert.ok(growth < 1.5, `fp32 loading grew the peak by ${growth.toFixed(2)}× the weights`);
    }
  },
);
