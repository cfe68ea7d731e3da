// fp16 weights: the projections and the LM head as fp16 GEMMs between casts, everything else fp32.
// Held to the fp32 graph of the same model: the error is that of rounding weights and GEMM inputs
// to 11 significant bits (≈ 5e-4 each), so logits stay within 1e-2 and a trained model keeps its
// greedy continuation. The weights file holds half the bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { relL2 } from '../helpers/compare';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel, VOCAB } from '../helpers/random-model';
import { runWithWeights } from '../helpers/weight-formats';

const { dir, cacheRoot } = scratchDir('fp16');
const TOL = 1e-2;

test('fp16 models: logits within 1e-2 of fp32 (every family and tinycode), greedy kept, weights halved', async (t) => {
  const ids = Array.from({ length: 24 }, (_, i) => (i * 389 + 7) % VOCAB);
  const models: [string, string][] = [
    ...Object.entries(FAMILY_SPECS).map(([name, spec]): [string, string] => [name, makeRandomModel(path.join(dir, name), spec)]),
    ['tinycode', path.resolve('test/fixtures/tinycode')],
  ];
  for (const [name, modelDir] of models) {
    const [fp32, fp16] = [await runWithWeights(modelDir, 'fp32', ids, cacheRoot), await runWithWeights(modelDir, 'fp16', ids, cacheRoot)];
    const err = relL2(fp16.logits, fp32.logits);
    t.diagnostic(`${name}: fp16 vs fp32 logits rel L2 ${err.toExponential(2)}; weights ${fp16.weightBytes} vs ${fp32.weightBytes} bytes`);
    assert.ok(err > 0, `${name}: fp16 logits identical to fp32: the fp16 path did not run`);
    assert.ok(err < TOL, `${name}: rel L2 ${err}`);
    // the RoPE tables stay fp32, so a little over half
    assert.ok(fp16.weightBytes < 0.6 * fp32.weightBytes, `${name}: fp16 weights file ${fp16.weightBytes} bytes, fp32 ${fp32.weightBytes}`);
    if (name === 'tinycode') assert.deepEqual(fp16.greedy, fp32.greedy, 'a trained model keeps its greedy continuation');
  }
});
