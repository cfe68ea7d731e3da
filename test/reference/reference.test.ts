// The TypeScript reference (test/helpers/reference.ts) is what the engine tests compare against, so
// it is itself held to ../shared/tools/ref_llama.py, an independent float64 torch implementation:
// logits on every family spec, dtype and the real stories260k; KVzip scores with several chunks
// and lead tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { assertClose, flatten, relL2 } from '../helpers/compare';
import { scratchDir, stories260kDir, STORIES_MISSING } from '../helpers/models';
import { PyBatch, pythonSkipReason } from '../helpers/python-ref';
import { FAMILY_SPECS, makeRandomModel, ModelSpec, VOCAB } from '../helpers/random-model';
import { RefModel } from '../helpers/reference';

const { dir: tmp } = scratchDir('reference');
const PY_SKIP = pythonSkipReason();
const stories = stories260kDir();

// float64 against float64: only summation order differs
const TOL = 1e-9;

const SPECS: Record<string, ModelSpec> = {
  ...FAMILY_SPECS,
  'llama3-F16': { ...FAMILY_SPECS.llama3, dtype: 'F16' },
  'qwen2-BF16': { ...FAMILY_SPECS.qwen2, dtype: 'BF16' },
  'qwen3-untied': { ...FAMILY_SPECS.qwen3, untied: true },
};
const dirs = Object.fromEntries(Object.entries(SPECS).map(([name, spec]) => [name, makeRandomModel(path.join(tmp, name), spec)]));

// token ids spread over the vocabulary; for stories260k (vocab 512) BOS = 1 then in-vocabulary ids
const IDS = Array.from({ length: 24 }, (_, i) => (i * 977 + 13) % VOCAB);
const STORY_IDS = [1, 403, 407, 261, 378, 275, 265, 400, 308, 285, 299, 283, 270, 379];
const positions = (ids: number[]) => ids.map((_, i) => i);

// KVzip cases: prefix (sink), context, chunk size, lead tokens per chunk
interface KvzipCase {
  dir: string;
  prefix: number[];
  ctx: number[];
  chunk: number;
  leads?: number[][];
}
const ctx = (n: number, vocab: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 379 + seed * 101 + 7) % (vocab - 3)));
const llamaCtx = ctx(20, VOCAB, 1);
const KVZIP: Record<string, KvzipCase> = {
  // three chunks, the last one short; leads as KVzip builds them: repeat prompt, previous tail, header
  'llama3 chunk 8 with leads': {
    dir: dirs.llama3,
    prefix: [4094, 17, 88],
    ctx: llamaCtx,
    chunk: 8,
    leads: [[300, 301, 4095], [302, ...llamaCtx.slice(5, 8), 4095], [4095]],
  },
  'qwen3 one chunk, no leads': { dir: dirs.qwen3, prefix: [4094, 5], ctx: ctx(16, VOCAB, 2), chunk: 16 },
  'qwen2 chunk 5 with leads': { dir: dirs.qwen2, prefix: [9], ctx: ctx(15, VOCAB, 3), chunk: 5, leads: [[1, 2], [3], [4, 5, 6]] },
};
if (stories) KVZIP['stories260k chunk 6 with leads'] = { dir: stories, prefix: [1, 403], ctx: ctx(18, 512, 4), chunk: 6, leads: [[13, 14], [15], [16, 17]] };

// one python process answers everything this file asks, started now so it overlaps the other tests
const batch = new PyBatch();
const pyLogits = Object.fromEntries(Object.entries(dirs).map(([name, dir]) => [name, batch.logits(dir, IDS)]));
const pyStories = stories ? batch.logits(stories, STORY_IDS) : null;
const pyScores = Object.fromEntries(Object.entries(KVZIP).map(([name, c]) => [name, batch.kvzip(c.dir, c.prefix, c.ctx, c.chunk, c.leads)]));
const ran = PY_SKIP ? null : batch.run();
ran?.catch(() => {}); // awaited (and reported) by each test

for (const name of Object.keys(SPECS)) {
  test(`${name}: TS reference logits == ref_llama.py`, { skip: PY_SKIP ?? false }, async (t) => {
    await ran;
    const ours = RefModel.load(dirs[name]).forward(IDS, positions(IDS)).logits;
    assertClose(t, ours, await pyLogits[name], TOL, name);
  });
}

test('stories260k: TS reference logits == ref_llama.py', { skip: PY_SKIP ?? (stories ? false : STORIES_MISSING) }, async (t) => {
  await ran;
  const ours = RefModel.load(stories!).forward(STORY_IDS, positions(STORY_IDS)).logits;
  assertClose(t, ours, await pyStories!, TOL, 'stories260k');
});

for (const [name, c] of Object.entries(KVZIP)) {
  test(`kvzip scores, ${name}: TS reference == ref_llama.py`, { skip: PY_SKIP ?? false }, async (t) => {
    await ran;
    const ours = RefModel.load(c.dir).kvzipScores(c.prefix, c.ctx, c.chunk, c.leads);
    const theirs = await pyScores[name];
    assert.equal(theirs.length, ours.length);
    assert.equal(theirs[0][0].length, c.ctx.length);
    assertClose(t, flatten(ours), flatten(theirs), TOL, name);
    // scores are probabilities, and a chunk's entries share the mass: none may be 0 or above 1
    for (const s of flatten(ours)) assert.ok(s > 0 && s <= 1, `score ${s} out of (0, 1]`);
  });
}

test('sharded checkpoints read the same weights as one file', () => {
  const spec = { ...FAMILY_SPECS.qwen2, dtype: 'BF16' as const };
  const one = makeRandomModel(path.join(tmp, 'one'), spec);
  const three = makeRandomModel(path.join(tmp, 'three'), { ...spec, shards: 3 });
  const a = RefModel.load(one).forward(IDS, positions(IDS)).logits;
  const b = RefModel.load(three).forward(IDS, positions(IDS)).logits;
  assert.deepEqual(b, a);
});

test('the llama3 spec exercises rope scaling, the qwen3 spec an explicit head_dim', (t) => {
  // without these the family tests could pass with scaling or head_dim ignored
  const plain = makeRandomModel(path.join(tmp, 'llama3-unscaled'), { ...FAMILY_SPECS.llama3, ropeScaling: undefined });
  const scaled = RefModel.load(dirs.llama3).forward(IDS, positions(IDS)).logits;
  const unscaled = RefModel.load(plain).forward(IDS, positions(IDS)).logits;
  const effect = relL2(unscaled, scaled);
  t.diagnostic(`llama3 scaling changes logits by rel L2 ${effect.toExponential(2)}`);
  assert.ok(effect > 1e-2, `rope scaling changes logits by only ${effect}`);
  const q3 = FAMILY_SPECS.qwen3;
  assert.notEqual(q3.headDim, q3.hidden / q3.heads);
});
