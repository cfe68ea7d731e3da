// KVzip's fidelity on a model that really recalls from its context (the recall fixture, trained by
// tools/fixture/) over a repository it never saw. The benchmark only means something when the full
// cache recalls far above the no-context floor, so that is asserted first, at issue B's bar (token
// accuracy >= 0.5; issue J's 0.8 / 0.5 exact match is not reached yet). Then what this fixture shows:
// KVzip at 30 % beats every query-agnostic baseline. Not asserted, because this 8-KV-head model does
// not show it (BENCHMARKS.md measures and explains): KVzip keeping >= 90 % of the full accuracy at 30 %
// (75 % here), and winning at 20 %.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRepoContext } from '../../src/repo';
import { evalRecall, RecallReport } from '../../src/engine/eval/recall';
import { makePress } from '../../src/engine/kv/presses';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';

const MODEL = path.resolve('test/fixtures/recall');
const REPO = path.resolve('test/fixtures/heldout-jwt');
const { cacheRoot } = scratchDir('fidelity');
const BASELINES = ['snapkv', 'pyramidkv', 'h2o', 'streaming', 'knorm', 'random'];

let report: RecallReport | undefined;
async function run(): Promise<RecallReport> {
  if (report) return report;
  const model = await Model.load(MODEL, { device: 'cpu', cacheRoot, threads: 1 });
  try {
    const frame = model.tokenizer.chatFrame(null);
    const repo = await buildRepoContext({ root: REPO, tokenizer: model.tokenizer, maxTokens: 1450 });
    report = await evalRecall(model, frame.prefix, repo.ids, repo.files, frame.postfix, {
      // chunk 512: with 2048 positions, a ~1400-token context and its reconstruction pass must fit
      presses: [makePress('kvzip', { chunk: 512 }), ...BASELINES.map((n) => makePress(n))],
      ratios: [1, 0.3, 0.2],
      queries: 50,
      seed: 1,
      promptTokens: 32,
      targetTokens: 16,
    });
    return report;
  } finally {
    await model.dispose();
  }
}

const skip = fs.existsSync(path.join(MODEL, 'model.safetensors')) ? false : `the recall fixture is not in ${MODEL} yet (tools/fixture/ trains it)`;
const row = (r: RecallReport, press: string, ratio: number) => r.rows.find((x) => x.press === press && x.ratio === ratio)!;

test('the fixture recalls from its context: full cache far above the no-context floor', { skip }, async (t) => {
  const r = await run();
  t.diagnostic(`context ${r.contextTokens} tokens, ${r.queries} queries; full: token accuracy ${r.full.tokenAccuracy.toFixed(3)}, exact ${r.full.exactMatch.toFixed(3)}; no context: ${r.noContext.tokenAccuracy.toFixed(3)}, ${r.noContext.exactMatch.toFixed(3)}`);
  assert.ok(r.contextTokens >= 1000, `context of ${r.contextTokens} tokens`);
  assert.ok(r.full.tokenAccuracy >= 0.5, `full-cache token accuracy ${r.full.tokenAccuracy}`);
  assert.ok(r.noContext.tokenAccuracy <= 0.3, `no-context floor ${r.noContext.tokenAccuracy}`);
  assert.ok(r.full.tokenAccuracy >= 3 * r.noContext.tokenAccuracy, `full ${r.full.tokenAccuracy} is not far above the floor ${r.noContext.tokenAccuracy}`);
  assert.ok(r.full.exactMatch > 0, 'some continuations are recalled exactly');
});

test('ratio 1.0 reproduces the full cache exactly, and the kept ratio is exact', { skip }, async () => {
  const r = await run();
  for (const p of ['kvzip', ...BASELINES]) {
    assert.equal(row(r, p, 1).tokenAccuracy, r.full.tokenAccuracy, p);
    assert.equal(row(r, p, 1).exactMatch, r.full.exactMatch, p);
    for (const ratio of [0.3, 0.2]) assert.ok(Math.abs(row(r, p, ratio).keptRatio - ratio) < 1e-3, `${p} kept ${row(r, p, ratio).keptRatio} at ${ratio}`);
  }
});

test('KVzip at 0.3 beats every baseline', { skip }, async (t) => {
  const r = await run();
  for (const ratio of [0.3, 0.2]) t.diagnostic(`${ratio}: ${['kvzip', ...BASELINES].map((p) => `${p} ${row(r, p, ratio).tokenAccuracy.toFixed(3)}/${row(r, p, ratio).exactMatch.toFixed(3)}`).join(', ')}`);
  const kz = row(r, 'kvzip', 0.3);
  for (const b of BASELINES) {
    assert.ok(kz.tokenAccuracy > row(r, b, 0.3).tokenAccuracy, `token accuracy at 0.3: kvzip ${kz.tokenAccuracy} vs ${b} ${row(r, b, 0.3).tokenAccuracy}`);
    assert.ok(kz.exactMatch >= row(r, b, 0.3).exactMatch, `exact match at 0.3: kvzip ${kz.exactMatch} vs ${b} ${row(r, b, 0.3).exactMatch}`);
  }
});
