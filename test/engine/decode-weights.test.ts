// Two weight sets, one cache: prefill and scoring run the fp32 session, single-token steps the int8
// one, both over the same host KvCache. Held to models that have only one set: the dual model's
// prefill must be fp32's exactly, its steps int8's exactly (on the same cache contents), and its
// greedy answer fp32's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { generate } from '../../src/engine/generate';
import { KvCache } from '../../src/engine/kv/cache';
import { Model } from '../../src/engine/model/model';
import { relL2 } from '../helpers/compare';
import { scratchDir } from '../helpers/models';

const TINY = path.resolve('test/fixtures/tinycode');
const { cacheRoot } = scratchDir('decode-weights');

test('fp32 prefill + int8 decode session: prefill is fp32, steps are int8 on the shared cache, greedy tokens match fp32', async (t) => {
  const load = (weights: 'fp32' | 'int8', decodeWeights?: 'int8') => Model.load(TINY, { device: 'cpu', weights, decodeWeights, cacheRoot, threads: 1 });
  const [dual, fp32, int8] = [await load('fp32', 'int8'), await load('fp32'), await load('int8')];
  try {
    assert.equal(dual.info.weights, 'fp32');
    assert.equal(dual.info.decode?.weights, 'int8');
    assert.ok(dual.info.decode!.weightBytes < 0.55 * dual.info.weightBytes, 'the decode set is the smaller one');
    assert.equal(fp32.info.decode, undefined);

    const prompt = dual.tokenizer.encodeText('def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n');
    const cache = dual.newCache() as KvCache;
    const prefilled = (await dual.forward({ ids: prompt, cache, logits: true })).logits!.slice();
    const ref = fp32.newCache();
    assert.deepEqual(prefilled, (await fp32.forward({ ids: prompt, cache: ref, logits: true })).logits, 'prefill runs the fp32 weights');

    // one step on the same cache contents, through each model
    const step = async (m: Model) => {
      const mark = cache.mark();
      const out = (await m.forward({ ids: [prompt[0]], cache, logits: true })).logits!.slice();
      cache.rollback(mark);
      return out;
    };
    const [d, f, q] = [await step(dual), await step(fp32), await step(int8)];
    assert.deepEqual(d, q, 'a decode step runs the int8 weights');
    const err = relL2(d, f);
    t.diagnostic(`decode step: int8 vs fp32 logits rel L2 ${err.toExponential(2)}`);
    assert.ok(err > 0 && err < 0.01, `int8 step vs fp32 step: rel L2 ${err}`);

    // a whole answer: the dual model's greedy tokens are fp32's
    const opts = { maxTokens: 16, stopIds: [] };
    const a = await generate(dual, dual.newCache(), prompt, opts);
    const b = await generate(fp32, fp32.newCache(), prompt, opts);
    t.diagnostic(`greedy: ${a.ids.join(',')}`);
    assert.equal(a.ids.length, 16);
    assert.deepEqual(a.ids, b.ids);
  } finally {
    for (const m of [dual, fp32, int8]) await m.dispose();
  }
});

test('scoring and statistics passes of one token stay on the fp32 session', async () => {
  const dual = await Model.load(TINY, { device: 'cpu', weights: 'fp32', decodeWeights: 'int8', cacheRoot, threads: 1 });
  const fp32 = await Model.load(TINY, { device: 'cpu', weights: 'fp32', cacheRoot, threads: 1 });
  try {
    const ids = [5, 17, 99, 3, 250, 41, 8, 77];
    const run = async (m: Model) => {
      const cache = m.newCache();
      await m.forward({ ids, cache });
      return (await m.forward({ ids: [12], cache, logits: true, colsum: { row0: 0 } })).logits;
    };
    assert.deepEqual(await run(dual), await run(fp32));
  } finally {
    await dual.dispose();
    await fp32.dispose();
  }
});

// The decode session's workers spin between ops (runtime/session.ts: a step is thousands of small
// ops); the spin must end soon after the last step, or an idle editor would keep a core busy.
test('after decoding, the spinning decode session goes quiet: under 15 % of one core in the next 2 s', async (t) => {
  const dual = await Model.load(TINY, { device: 'cpu', weights: 'fp32', decodeWeights: 'int8', cacheRoot, threads: 2 });
  try {
    const cache = dual.newCache();
    await dual.forward({ ids: dual.tokenizer.encodeText('def add(a, b):\n    return a + b\n'), cache });
    for (let i = 0; i < 32; i++) await dual.forward({ ids: [5 + i], cache, logits: true });
    await new Promise((r) => setTimeout(r, 200));
    const before = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 2000));
    const used = process.cpuUsage(before);
    const ms = (used.user + used.system) / 1000;
    t.diagnostic(`CPU in 2 s of idle after 32 steps: ${ms.toFixed(0)} ms`);
    assert.ok(ms < 300, `${ms.toFixed(0)} ms of CPU in 2 s of idle`);
  } finally {
    await dual.dispose();
  }
});
