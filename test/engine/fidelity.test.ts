// KVzip's fidelity on a model that really recalls from its context (the recall fixture, trained by
// tools/fixture/) over a repository it never saw. The benchmark only means something when the full
// cache recalls far above the no-context floor, so that is asserted first, at issue J's bar (token
// accuracy >= 0.8, exact match >= 0.5, floor <= 0.3; `npm run bench:fidelity -- --presses none` measures it on
// every held-out package). Then issue B's claims, with
// repozip's budget (global top-k with AdaKV's per-head safeguard, the product's default): KVzip at
// 30 % keeps >= 90 % of the full cache's exact matches, and beats every query-agnostic baseline at
// 30 % and 20 %. The paper's plain global top-k is run too: on this 8-KV-head model it starves
// layers 0-2 (BENCHMARKS.md measures why), which is what the safeguard is for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRepoContext } from '../../src/repo';
import { evalRecall, RecallReport } from '../../src/engine/eval/recall';
import { makePress, withBudget } from '../../src/engine/kv/presses';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';

const MODEL = path.resolve('test/fixtures/recall');
const REPO = path.resolve('test/fixtures/heldout-jwt');
const { cacheRoot } = scratchDir('fidelity');
const BASELINES = ['snapkv', 'pyramidkv', 'h2o', 'streaming', 'knorm', 'random'];

let report: RecallReport | undefined;
/** The benchmark: KVzip and every baseline under repozip's 'safeguard' budget, and KVzip under the paper's plain 'global' one. */
async function run(): Promise<RecallReport> {
  if (report) return report;
  const model = await Model.load(MODEL, { device: 'cpu', cacheRoot, threads: 1 });
  try {
    const frame = model.tokenizer.chatFrame(null);
    const repo = await buildRepoContext({ root: REPO, tokenizer: model.tokenizer, maxTokens: 1450 });
    // chunk 512: with 2048 positions, a ~1400-token context and its reconstruction pass must fit
    const kvzip = makePress('kvzip', { chunk: 512 });
    report = await evalRecall(model, frame.prefix, repo.ids, repo.files, frame.postfix, {
      presses: [kvzip, withBudget(kvzip, 'global'), ...BASELINES.map((n) => makePress(n))],
      ratios: [1, 0.3, 0.2],
      queries: 50,
      seed: 1,
      promptTokens: 32,
      targetTokens: 16,
      mode: 'safeguard',
    });
    return report;
  } finally {
    await model.dispose();
  }
}

const skip = fs.existsSync(path.join(MODEL, 'model.safetensors')) ? false : `the recall fixture is not in ${MODEL} yet (tools/fixture/ trains it)`;
const row = (r: RecallReport, press: string, ratio: number) => r.rows.find((x) => x.press === press && x.ratio === ratio)!;

test("the fixture recalls from its context at issue J's bar: full cache far above the no-context floor", { skip }, async (t) => {
  const r = await run();
  t.diagnostic(
    `context ${r.contextTokens} tokens, ${r.queries} queries; full: token accuracy ${r.full.tokenAccuracy.toFixed(3)}, exact ${r.full.exactMatch.toFixed(3)}; no context: ${r.noContext.tokenAccuracy.toFixed(3)}, ${r.noContext.exactMatch.toFixed(3)}`,
  );
  assert.ok(r.contextTokens >= 1000, `context of ${r.contextTokens} tokens`);
  assert.ok(r.full.tokenAccuracy >= 0.8, `full-cache token accuracy ${r.full.tokenAccuracy}`);
  assert.ok(r.full.exactMatch >= 0.5, `full-cache exact match ${r.full.exactMatch}`);
  assert.ok(r.noContext.tokenAccuracy <= 0.3, `no-context floor ${r.noContext.tokenAccuracy}`);
  assert.ok(r.full.tokenAccuracy >= 3 * r.noContext.tokenAccuracy, `full ${r.full.tokenAccuracy} is not far above the floor ${r.noContext.tokenAccuracy}`);
});

test('ratio 1.0 reproduces the full cache exactly, and the kept ratio is exact', { skip }, async () => {
  const r = await run();
  for (const p of ['kvzip', 'kvzip@global', ...BASELINES]) {
    assert.equal(row(r, p, 1).tokenAccuracy, r.full.tokenAccuracy, p);
    assert.equal(row(r, p, 1).exactMatch, r.full.exactMatch, p);
    for (const ratio of [0.3, 0.2]) assert.ok(Math.abs(row(r, p, ratio).keptRatio - ratio) < 1e-3, `${p} kept ${row(r, p, ratio).keptRatio} at ${ratio}`);
  }
});

test('KVzip at 0.3 keeps >= 90 % of the exact matches and beats every baseline at 0.3 and 0.2', { skip }, async (t) => {
  const r = await run();
  for (const ratio of [0.3, 0.2])
    t.diagnostic(
      `${ratio}: ${['kvzip', ...BASELINES].map((p) => `${p} ${row(r, p, ratio).tokenAccuracy.toFixed(3)}/${row(r, p, ratio).exactMatch.toFixed(3)}`).join(', ')}`,
    );
  const at30 = row(r, 'kvzip', 0.3);
  assert.ok(at30.exactMatch >= 0.9 * r.full.exactMatch, `exact match at 0.3: ${at30.exactMatch} vs full ${r.full.exactMatch}`);
  for (const ratio of [0.3, 0.2]) {
    const kz = row(r, 'kvzip', ratio);
    for (const b of BASELINES) {
      assert.ok(
        kz.tokenAccuracy > row(r, b, ratio).tokenAccuracy,
        `token accuracy at ${ratio}: kvzip ${kz.tokenAccuracy} vs ${b} ${row(r, b, ratio).tokenAccuracy}`,
      );
      assert.ok(kz.exactMatch >= row(r, b, ratio).exactMatch, `exact match at ${ratio}: kvzip ${kz.exactMatch} vs ${b} ${row(r, b, ratio).exactMatch}`);
    }
  }
});

test("the safeguard is why: KVzip's plain global top-k recalls less at 0.3 and 0.2", { skip }, async (t) => {
  const r = await run();
  for (const ratio of [0.3, 0.2]) {
    const [g, p] = [row(r, 'kvzip', ratio), row(r, 'kvzip@global', ratio)];
    t.diagnostic(
      `${ratio}: safeguard ${g.tokenAccuracy.toFixed(3)}/${g.exactMatch.toFixed(3)}, global ${p.tokenAccuracy.toFixed(3)}/${p.exactMatch.toFixed(3)}`,
    );
    assert.ok(g.tokenAccuracy > p.tokenAccuracy, `at ${ratio}: safeguard ${g.tokenAccuracy} vs global ${p.tokenAccuracy}`);
  }
});
