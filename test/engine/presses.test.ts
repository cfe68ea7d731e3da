// Every registered press, run end to end on a small random-weight model (kvpress's default_presses
// test): each builds from the registry under its own id, scores a grid shaped like the context with
// no NaN, and the shared selection and eviction keep exactly the requested share whatever the press.
// A press added to the registry is run here without touching this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { calibrateHeads } from '../../src/engine/calibration';
import { compressContext } from '../../src/engine/kv/compress';
import { makePress, PRESSES } from '../../src/engine/kv/presses';
import { CHUNK_LENGTH } from '../../src/engine/kv/presses/chunked';
import { isScaffold, SCAFFOLD_FACTOR } from '../../src/engine/kv/presses/scaffold';
import { Model } from '../../src/engine/model/model';
import { rng } from '../../src/engine/sampling';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel, VOCAB } from '../helpers/random-model';

const { dir, cacheRoot } = scratchDir('presses');

test('every registered press scores a well-formed grid and selection keeps exactly the requested share', async () => {
  const model = await Model.load(makeRandomModel(path.join(dir, 'qwen2'), FAMILY_SPECS.qwen2), { device: 'cpu', cacheRoot, threads: 1 });
  try {
    const next = rng(12);
    const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(next() * (VOCAB - 8)));
    const [prefix, context, postfix] = [ids(4), ids(90), ids(2)];
    // chunk 32: KVzip's passes (and the calibration's) cover the context in three chunks, the last one short
    const chunk = 32;
    const { numLayers: layers, numKvHeads: kvHeads } = model.config;
    const headScores = await calibrateHeads(model, prefix, ids(60), postfix, chunk);
    assert.equal(headScores.length, layers * kvHeads);
    assert.ok(headScores.every(Number.isFinite), 'calibrated head scores are finite');

    for (const entry of PRESSES) {
      for (const ratio of [0.1, 0.45]) {
        const press = makePress(entry.id, { chunk, seed: 5, headScores });
        assert.equal(press.name, entry.id, 'a press reports the id it is registered under (benchmark rows, settings)');
        const res = await compressContext(model, prefix, context, postfix, { press, ratio });
        const what = `${entry.id} at ${ratio}`;
        const { scores } = res;
        assert.deepEqual(
          [scores.layers, scores.kvHeads, scores.length, scores.data.length],
          [layers, kvHeads, context.length, layers * kvHeads * context.length],
          what,
        );
        // +Infinity is how a press says "always keep" (StreamingLLM's sinks, SnapKV's window)
        assert.ok(
          scores.data.every((s) => Number.isFinite(s) || s === Infinity),
          `${what}: a score is NaN or -Infinity`,
        );
        assert.ok(
          scores.data.some((s) => s !== scores.data[0]),
          `${what}: every entry scored the same`,
        );
        assert.equal(res.total, scores.data.length, what);
        assert.equal(res.kept, Math.round(ratio * res.total), what);
        assert.equal(
          res.keep.reduce((a, b) => a + b, 0),
          res.kept,
          what,
        );
        // eviction left each head its prefix and exactly its kept entries
        let rows = 0;
        for (let l = 0; l < layers; l++) for (let h = 0; h < kvHeads; h++) rows += res.cache.length(l, h) - prefix.length;
        assert.equal(rows, res.kept, `${what}: rows left in the cache`);
        res.cache.dispose();
      }
    }
  } finally {
    await model.dispose();
  }
});

test('kvzip-code: a token of whitespace and punctuation only scores half what KVzip gives it; every other token the same', async () => {
  assert.deepEqual(['    ', '\n', '):', ',', '{', 'foo', ' x', '0', 'é', ''].map(isScaffold), [true, true, true, true, true, false, false, false, false, true]);
  const model = await Model.load(makeRandomModel(path.join(dir, 'qwen2-code'), FAMILY_SPECS.qwen2), { device: 'cpu', cacheRoot, threads: 1 });
  try {
    const tok = model.tokenizer;
    const prefix = tok.encodeText('repo');
    const context = tok.encodeText('def scale(x, y):\n    return (x * y) + 3;\n\nclass Box:\n    pass\n');
    const scored = async (id: string) => (await compressContext(model, prefix, context, [], { press: makePress(id, { chunk: 16 }), ratio: 0.5 })).scores;
    const [plain, code] = [await scored('kvzip'), await scored('kvzip-code')];
    const scaffold = context.map((id) => isScaffold(tok.decode([id])));
    assert.ok(scaffold.some((s) => s) && scaffold.some((s) => !s), 'the context has both kinds of tokens');
    for (let u = 0; u < plain.layers * plain.kvHeads; u++)
      for (let i = 0; i < plain.length; i++) {
        const at = u * plain.length + i;
        assert.equal(code.data[at], scaffold[i] ? Math.fround(plain.data[at] * SCAFFOLD_FACTOR) : plain.data[at], `head ${u}, token ${i}`);
      }
  } finally {
    await model.dispose();
  }
});

test('kvzip-chunk: each aligned run of CHUNK_LENGTH entries scores its KVzip mean, so selection keeps whole runs', async () => {
  const model = await Model.load(makeRandomModel(path.join(dir, 'qwen2-chunk'), FAMILY_SPECS.qwen2), { device: 'cpu', cacheRoot, threads: 1 });
  try {
    const next = rng(31);
    const ids = (n: number) => Array.from({ length: n }, () => 3 + Math.floor(next() * (VOCAB - 8)));
    // 2.5 chunks: the last one short
    const [prefix, context] = [ids(3), ids(2 * CHUNK_LENGTH + CHUNK_LENGTH / 2)];
    const run = async (id: string) => compressContext(model, prefix, context, [], { press: makePress(id, { chunk: 16 }), ratio: 0.4 });
    const [plain, chunked] = [await run('kvzip'), await run('kvzip-chunk')];
    const n = context.length;
    const units = plain.scores.layers * plain.scores.kvHeads;
    let partial = 0;
    for (let u = 0; u < units; u++) {
      for (let c0 = 0; c0 < n; c0 += CHUNK_LENGTH) {
        const c1 = Math.min(n, c0 + CHUNK_LENGTH);
        let mean = 0;
        for (let i = c0; i < c1; i++) mean += plain.scores.data[u * n + i] / (c1 - c0);
        const kept = new Set<number>();
        for (let i = c0; i < c1; i++) {
          assert.ok(Math.abs(chunked.scores.data[u * n + i] - mean) <= 1e-6 * Math.abs(mean) + 1e-9, `head ${u}, entry ${i}: the chunk's mean`);
          kept.add(chunked.keep[u * n + i]);
        }
        if (kept.size > 1) partial++;
      }
    }
    // a run is cut only where a top-k's threshold falls inside it: once per head's floor, once for the global rest
    assert.ok(partial <= units + 1, `${partial} runs kept in part`);
    assert.notDeepEqual(chunked.keep, plain.keep, 'the runs are not what KVzip alone keeps');
    plain.cache.dispose();
    chunked.cache.dispose();
  } finally {
    await model.dispose();
  }
});
