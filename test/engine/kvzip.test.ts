// KVzip beyond the parity of its scores on random models (parity.test.ts): the CLI contract
// (`debug kvzip-scores` prints scores and the exact lead ids, and ref_llama.py recomputes the same
// scores from them) on the real stories260k model with several chunks; exact selection; and the
// bad inputs a user can give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { evalRecall } from '../../src/engine/eval/recall';
import { makePress, PRESS_NAMES } from '../../src/engine/kv/presses';
import { KVzipHeadPress } from '../../src/engine/kv/presses/kvzip-head';
import { PressContext } from '../../src/engine/kv/press';
import { BUDGET_MODES, pyramidBudgets, SAFEGUARD, selectKeep } from '../../src/engine/kv/select';
import { Model } from '../../src/engine/model/model';
import { rng } from '../../src/engine/sampling';
import { assertClose, flatten } from '../helpers/compare';
import { scratchDir, stories260kDir, STORIES_MISSING } from '../helpers/models';
import { PyBatch, pythonSkipReason } from '../helpers/python-ref';
import { FAMILY_SPECS, makeRandomModel } from '../helpers/random-model';
import { RefModel } from '../helpers/reference';

const { dir, cacheRoot } = scratchDir('kvzip');
const stories = stories260kDir();
const CLI = path.resolve('dist/cli.js');
/** A CLI command on `model` (CPU, this file's cache), its --json output parsed. */
const cliJson = (model: string, ...args: string[]): unknown =>
  JSON.parse(execFileSync(process.execPath, [CLI, ...args, '--model', model, '--device', 'cpu', '--cache-dir', cacheRoot, '--json'], { encoding: 'utf8' }));

test(
  'stories260k: `debug kvzip-scores` == ref_llama.py fed the printed chunk leads (4 chunks, GQA)',
  { skip: !stories ? STORIES_MISSING : (pythonSkipReason() ?? false) },
  async (t) => {
    const next = rng(3);
    const context = Array.from({ length: 90 }, () => 3 + Math.floor(next() * 509));
    const out = cliJson(stories!, 'debug', 'kvzip-scores', '--prefix-ids', '1,403,407', '--context-ids', context.join(','), '--chunk', '25') as {
      scores: number[][][];
      chunk_leads: number[][];
    };
    assert.equal(out.chunk_leads.length, 4);
    assert.deepEqual([out.scores.length, out.scores[0].length, out.scores[0][0].length], [5, 4, 90]);
    const py = new PyBatch();
    const ref = py.kvzip(stories!, [1, 403, 407], context, 25, out.chunk_leads);
    await py.run();
    assertClose(t, flatten(out.scores), flatten(await ref), 1e-3, 'stories260k KVzip scores vs ref_llama.py');
  },
);

test("`debug kvzip-scores --plus` == the TS reference's KVzip+ fed the printed chunk leads (tinycode, 3 chunks, GQA)", async (t) => {
  const model = path.resolve('test/fixtures/tinycode');
  const next = rng(5);
  const context = Array.from({ length: 40 }, () => 3 + Math.floor(next() * 4000));
  const out = cliJson(model, 'debug', 'kvzip-scores', '--prefix-ids', '4094,17', '--context-ids', context.join(','), '--chunk', '16', '--plus') as {
    scores: number[][][];
    chunk_leads: number[][];
  };
  assert.equal(out.chunk_leads.length, 3);
  assertClose(
    t,
    flatten(out.scores),
    flatten(RefModel.load(model).kvzipScores([4094, 17], context, 16, out.chunk_leads, true)),
    1e-3,
    'tinycode KVzip+ scores vs TS reference',
  );
});

test('selection keeps exactly round(ratio * entries) per budget unit, ties broken by index', () => {
  const layers = 3;
  const kvHeads = 2;
  const length = 50;
  const next = rng(9);
  // quantised scores: many ties
  const data = Float32Array.from({ length: layers * kvHeads * length }, () => Math.floor(next() * 7));
  for (const mode of BUDGET_MODES.filter((m) => m !== 'pyramid' && m !== 'safeguard')) {
    for (const ratio of [1, 0.5, 0.3, 0.1, 0.01]) {
      const keep = selectKeep({ layers, kvHeads, length, data }, ratio, mode);
      const units = mode === 'global' ? 1 : mode === 'layer-uniform' ? layers : layers * kvHeads;
      const per = data.length / units;
      for (let u = 0; u < units; u++) {
        const slice = keep.subarray(u * per, (u + 1) * per);
        assert.equal(
          slice.reduce((a, b) => a + b, 0),
          Math.round(ratio * per),
          `${mode} ${ratio} unit ${u}`,
        );
        // everything kept scores at least as high as everything dropped
        let minKept = Infinity;
        let maxDropped = -Infinity;
        for (let i = 0; i < per; i++) {
          const s = data[u * per + i];
          if (slice[i]) minKept = Math.min(minKept, s);
          else maxDropped = Math.max(maxDropped, s);
        }
        assert.ok(minKept >= maxDropped, `${mode} ${ratio}: kept ${minKept} < dropped ${maxDropped}`);
      }
    }
  }
});

test('the safeguard budget: exact total, every head its floor of best entries, the rest by one global top-k', () => {
  const layers = 4;
  const kvHeads = 2;
  const length = 200;
  const next = rng(11);
  // layer 3 scores on a far larger scale, as the recall fixture's copy heads do: a plain global
  // top-k gives the lower layers nothing
  const data = Float32Array.from({ length: layers * kvHeads * length }, (_, i) => Math.floor(next() * 50) * (i >= 3 * kvHeads * length ? 100 : 1));
  for (const ratio of [1, 0.5, 0.3, 0.2, 0.05]) {
    const grid = { layers, kvHeads, length, data };
    const keep = selectKeep(grid, ratio, 'safeguard');
    assert.equal(
      keep.reduce((a, b) => a + b, 0),
      Math.round(ratio * data.length),
      `total at ${ratio}`,
    );
    const floor = Math.floor(SAFEGUARD * ratio * length);
    const plain = selectKeep(grid, ratio, 'global');
    for (let u = 0; u < layers * kvHeads; u++) {
      const head = keep.subarray(u * length, (u + 1) * length);
      assert.ok(head.reduce((a, b) => a + b, 0) >= floor, `${ratio}: head ${u} keeps less than its floor ${floor}`);
      // the floor holds the head's best entries: nothing dropped outscores the floor's weakest
      const ranked = Array.from(data.subarray(u * length, (u + 1) * length)).sort((a, b) => b - a);
      for (let i = 0; i < length; i++)
        if (!head[i]) assert.ok(floor === 0 || data[u * length + i] <= ranked[floor - 1], `${ratio}: head ${u} dropped ${data[u * length + i]}`);
    }
    // the lower layers are empty under the plain global budget at 0.2, not under the safeguard
    if (ratio === 0.2) {
      assert.equal(
        plain.subarray(0, 3 * kvHeads * length).reduce((a, b) => a + b, 0),
        0,
        'the plain global top-k starves layers 0-2 here',
      );
      assert.ok(keep.subarray(0, 3 * kvHeads * length).reduce((a, b) => a + b, 0) >= 3 * kvHeads * floor);
    }
  }
});

test('KVzip-head keeps or drops whole heads whatever the default budget', async () => {
  const press = new KVzipHeadPress(Float32Array.from([0.3, 0.9, 0.1, 0.7]));
  const ctx = { model: { config: { numLayers: 2, numKvHeads: 2 } }, contextIds: new Array(100).fill(5) } as unknown as PressContext;
  const keep = selectKeep(await press.score(ctx), 0.5, press.budget);
  const kept = [0, 1, 2, 3].map((u) => keep.subarray(u * 100, (u + 1) * 100).reduce((a, b) => a + b, 0));
  assert.deepEqual(kept, [0, 100, 0, 100]);
});

test("PyramidKV's budget: exact total, falling linearly with depth (2 - 1/20 down to 1/20 of the mean), saturated layers filled", () => {
  const layers = 6;
  const kvHeads = 2;
  const length = 40;
  const unit = kvHeads * length;
  const next = rng(4);
  const data = Float32Array.from({ length: layers * unit }, () => next());
  for (const ratio of [1, 0.8, 0.5, 0.3, 0.1]) {
    const keep = selectKeep({ layers, kvHeads, length, data }, ratio, 'pyramid');
    const counts = Array.from({ length: layers }, (_, l) => keep.subarray(l * unit, (l + 1) * unit).reduce((a, b) => a + b, 0));
    assert.equal(
      counts.reduce((a, b) => a + b),
      Math.round(ratio * data.length),
      `total at ${ratio}`,
    );
    for (let l = 1; l < layers; l++) assert.ok(counts[l] <= counts[l - 1], `${ratio}: layer ${l} keeps ${counts[l]} > layer ${l - 1} ${counts[l - 1]}`);
    assert.ok(counts.every((c) => c <= unit));
  }
  // below saturation the schedule is PyramidKV's straight line
  const budgets = pyramidBudgets(layers, unit, Math.round(0.3 * layers * unit));
  for (let l = 0; l < layers; l++) {
    const w = 2 - 1 / 20 - ((2 - 2 / 20) * l) / (layers - 1);
    assert.ok(Math.abs(budgets[l] - 0.3 * unit * w) <= 1, `layer ${l}: ${budgets[l]} vs ${0.3 * unit * w}`);
  }
  // at 0.8 the bottom layers would exceed their entries: they are full, the rest share what is left
  const full = pyramidBudgets(layers, unit, Math.round(0.8 * layers * unit));
  assert.equal(full[0], unit);
  assert.equal(
    full.reduce((a, b) => a + b),
    Math.round(0.8 * layers * unit),
  );
});

test('bad input: ratio outside (0, 1], an empty context, a context beyond the positions', async () => {
  const grid = { layers: 1, kvHeads: 1, length: 4, data: new Float32Array(4) };
  for (const bad of [0, -0.1, 1.5, NaN])
    assert.throws(
      () => selectKeep(grid, bad),
      (e: unknown) => e instanceof EngineError && e.code === 'bad-input' && /ratio must be in \(0, 1\]/.test(e.message),
    );

  const model = await Model.load(path.resolve('test/fixtures/tinycode'), { device: 'cpu', cacheRoot, threads: 1 });
  try {
    const opts = { presses: [makePress('kvzip')], ratios: [0.3], queries: 2, seed: 1, promptTokens: 4, targetTokens: 2 };
    await assert.rejects(evalRecall(model, [], [], [], [], opts), /the context is empty/);
    await assert.rejects(evalRecall(model, [], [1, 2, 3], [], [], { ...opts, ratios: [2] }), /ratio must be in \(0, 1\]/);
    const tooLong = Array.from({ length: model.config.maxPositions + 8 }, (_, i) => 10 + (i % 3000));
    await assert.rejects(
      model.forward({ ids: tooLong, cache: model.newCache() }),
      (e: unknown) => e instanceof EngineError && /outside the model's 1024 positions/.test(e.message),
    );
  } finally {
    await model.dispose();
  }
  const cli = (args: string[]) => {
    try {
      execFileSync(process.execPath, [CLI, ...args, '--json'], { encoding: 'utf8' });
      return null;
    } catch (e) {
      return JSON.parse((e as { stdout: string }).stdout).error as { code: string; message: string };
    }
  };
  const tiny = ['--model', path.resolve('test/fixtures/tinycode'), '--device', 'cpu', '--cache-dir', cacheRoot];
  assert.match(
    cli(['eval', 'recall', '--repo', path.resolve('test/fixtures/heldout-jwt'), ...tiny, '--max-context', '5000'])!.message,
    /does not fit the model's 1024 positions/,
  );
  assert.match(cli(['index', path.resolve('test/fixtures/heldout-jwt'), ...tiny, '--ratio', '1.5'])!.message, /--ratio must be a number in/);
  assert.match(cli(['debug', 'kvzip-scores', ...tiny, '--context-ids', ''])!.message, /--context-ids needs at least one token id/);
  assert.match(
    cli(['eval', 'recall', '--repo', path.resolve('test/fixtures/heldout-jwt'), ...tiny, '--presses', 'kvzip@nope'])!.message,
    /unknown budget mode "nope" \(known: global, safeguard/,
  );
});

test('`eval recall` with every press runs to the end when the context fills the positions (KVzip-head calibrates with the given chunk); `--presses none` measures the full cache alone', () => {
  // 2048 positions, chunk 512: the context and the calibration text may take ~1500 tokens, which a
  // pass with the default 2000-token chunk (re-feeding all of them) would not fit
  const model = makeRandomModel(path.join(dir, 'llama3'), FAMILY_SPECS.llama3);
  /** `repozip eval recall` on the held-out PyJWT files with this model, plus `extra`. */
  const recallCli = (...extra: string[]) =>
    cliJson(model, 'eval', 'recall', '--repo', path.resolve('test/fixtures/heldout-jwt'), '--chunk', '512', '--queries', '4', ...extra) as {
      rows: { press: string; ratio: number; tokenAccuracy: number; keptRatio: number }[];
      full: { tokenAccuracy: number };
    };
  const out = recallCli('--ratios', '1,0.3');
  assert.deepEqual([...new Set(out.rows.map((r) => r.press))], PRESS_NAMES, 'every registered press, in the registry order');
  for (const r of out.rows) {
    if (r.ratio === 1) assert.equal(r.tokenAccuracy, out.full.tokenAccuracy, r.press);
    else assert.ok(Math.abs(r.keptRatio - 0.3) < 1e-3, `${r.press} kept ${r.keptRatio}`);
  }
  const bare = recallCli('--presses', 'none');
  assert.deepEqual(bare.rows, [], '--presses none: no press rows');
  assert.equal(bare.full.tokenAccuracy, out.full.tokenAccuracy, 'the same full-cache answers');
});
