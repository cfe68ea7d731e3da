// fp16 weights: the projections and the LM head as fp16 GEMMs between casts, everything else fp32.
// Held to the fp32 graph of the same model: the error is that of rounding weights and GEMM inputs
// to 11 significant bits (≈ 5e-4 each), so logits stay within 1e-2 and a trained model keeps its
// greedy continuation. The weights file holds half the bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Model } from '../../src/engine/model/model';
import { argmax, relL2 } from '../helpers/compare';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel, VOCAB } from '../helpers/random-model';

const { dir, cacheRoot } = scratchDir('fp16');
const TOL = 1e-2;

test('fp16 models: logits within 1e-2 of fp32 (every family and tinycode), greedy kept, weights halved', async (t) => {
  const ids = Array.from({ length: 24 }, (_, i) => (i * 389 + 7) % VOCAB);
  const models: [string, string][] = [...Object.entries(FAMILY_SPECS).map(([name, spec]): [string, string] => [name, makeRandomModel(path.join(dir, name), spec)]), ['tinycode', path.resolve('test/fixtures/tinycode')]];
  for (const [name, modelDir] of models) {
    const logits: Float32Array[] = [];
    const greedy: number[][] = [];
    const bytes: number[] = [];
    for (const weights of ['fp32', 'fp16'] as const) {
      const m = await Model.load(modelDir, { device: 'cpu', weights, cacheRoot, threads: 1 });
      const cache = m.newCache();
      let out = (await m.forward({ ids, cache, logits: true })).logits!;
      logits.push(out.slice());
      const toks: number[] = [];
      for (let i = 0; i < 8; i++) {
        toks.push(argmax(out));
        out = (await m.forward({ ids: [toks[i]], cache, logits: true })).logits!;
      }
      greedy.push(toks);
      bytes.push(m.info.weightBytes);
      await m.dispose();
    }
    const err = relL2(logits[1], logits[0]);
    t.diagnostic(`${name}: fp16 vs fp32 logits rel L2 ${err.toExponential(2)}; weights ${bytes[1]} vs ${bytes[0]} bytes`);
    assert.ok(err > 0, `${name}: fp16 logits identical to fp32: the fp16 path did not run`);
    assert.ok(err < TOL, `${name}: rel L2 ${err}`);
    // the RoPE tables stay fp32, so a little over half
    assert.ok(bytes[1] < 0.6 * bytes[0], `${name}: fp16 weights file ${bytes[1]} bytes, fp32 ${bytes[0]}`);
    if (name === 'tinycode') assert.deepEqual(greedy[1], greedy[0], 'a trained model keeps its greedy continuation');
  }
});
