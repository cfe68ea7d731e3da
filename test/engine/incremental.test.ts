// The KV cache across calls: chunked prefill and token-by-token decoding give the logits of one pass
// from scratch; after per-head eviction (every (layer, KV head) with its own past length) new tokens
// continue at the original positions and attend exactly to what was kept; explicit positions are
// honoured. The references are the TS float64 model (with evicted entries masked out) and the
// engine's own one-pass logits.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Cache } from '../../src/engine/kv/cache';
import { Model } from '../../src/engine/model/model';
import { assertClose, relL2 } from '../helpers/compare';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel, VOCAB } from '../helpers/random-model';
import { RefKv, RefModel } from '../helpers/reference';

const { dir: tmp, cacheRoot } = scratchDir('incremental');
const TOL = 1e-4; // float32 engine vs float64 reference
const SELF_TOL = 1e-5; // float32 engine vs itself, summed in another order

const models = new Map<string, Promise<{ model: Model; ref: RefModel }>>();
/** One engine model and its reference per family spec, loaded once for the file. */
function load(name: string) {
  if (!models.has(name)) {
    const dir = makeRandomModel(path.join(tmp, name), FAMILY_SPECS[name]);
    models.set(
      name,
      Model.load(dir, { cacheRoot, threads: 1 }).then((model) => ({ model, ref: RefModel.load(dir) })),
    );
  }
  return models.get(name)!;
}
after(async () => {
  for (const m of models.values()) await (await m).model.dispose();
});

const IDS = Array.from({ length: 40 }, (_, i) => (i * 2731 + 57) % VOCAB);
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const rows = (r: Float64Array[]) => r.flatMap((x) => Array.from(x));

/** Asserts the engine's cache holds the reference's post-RoPE K/V rows, at the given positions. */
async function assertCacheMatches(cache: Cache, kv: RefKv, positions: number[][][]) {
  const host = await cache.toHost();
  for (let l = 0; l < host.layers; l++) {
    for (let h = 0; h < host.kvHeads; h++) {
      const head = host.head(l, h);
      assert.deepEqual(Array.from(head.pos.subarray(0, head.len)), positions[l][h], `positions of (${l}, ${h})`);
      assert.ok(relL2(head.keys(), rows(kv[l][h].k)) <= TOL, `keys of (${l}, ${h})`);
      assert.ok(relL2(head.values(), rows(kv[l][h].v)) <= TOL, `values of (${l}, ${h})`);
    }
  }
}

test('chunked prefill then token-by-token decoding == one pass from scratch', async (t) => {
  const { model, ref } = await load('llama3');
  const cache = model.newCache();
  let at = 0;
  for (const end of [13, 29, 35, 36, 37, 38, 39, 40]) {
    const step = await model.forward({ ids: IDS.slice(at, end), cache, logits: true });
    const fresh = await model.forward({ ids: IDS.slice(0, end), cache: model.newCache(), logits: true });
    assertClose(t, step.logits!, fresh.logits!, SELF_TOL, `${end} tokens: incremental vs one engine pass`);
    assertClose(t, step.logits!, ref.forward(IDS.slice(0, end), range(0, end)).logits, TOL, `${end} tokens: incremental vs reference`);
    at = end;
  }
  assert.equal(cache.nextPosition, IDS.length);
  const { kv } = ref.forward(IDS, range(0, IDS.length));
  const all = range(0, IDS.length);
  await assertCacheMatches(
    cache,
    kv,
    kv.map((layer) => layer.map(() => all)),
  );
});

/** Kept cache indices per (layer, KV head): a different share for each head, from a fixed seed. */
function keepPlan(layers: number, kvHeads: number, n: number, emptyHead?: [number, number]): number[][][] {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return range(0, layers).map((l) =>
    range(0, kvHeads).map((h) => {
      if (emptyHead && emptyHead[0] === l && emptyHead[1] === h) return [];
      const share = 0.2 + (0.75 * (l * kvHeads + h)) / Math.max(1, layers * kvHeads - 1);
      const kept = range(0, n).filter(() => rand() < share);
      return kept.length ? kept : [n - 1];
    }),
  );
}

/**
 * Prefills n tokens, evicts per `plan`, then feeds 3 tokens at once and 2 one by one at the original
 * positions n.., each compared with the reference masking out the evicted entries.
 */
async function evictedContinuation(t: import('node:test').TestContext, name: string, plan: number[][][], n: number) {
  const { model, ref } = await load(name);
  const cache = model.newCache();
  await model.forward({ ids: IDS.slice(0, 20), cache });
  await model.forward({ ids: IDS.slice(20, n), cache });
  await cache.retain(plan);
  assert.equal(cache.nextPosition, n, 'eviction must not move the next position');
  t.diagnostic(`kept per (layer, head): ${JSON.stringify(plan.map((layer) => layer.map((k) => k.length)))} of ${n}`);

  const keptSets = plan.map((layer) => layer.map((k) => new Set(k)));
  const exclude = (l: number, h: number, i: number) => i < n && !keptSets[l][h].has(i);
  let past = ref.forward(IDS.slice(0, n), range(0, n)).kv;
  let at = n;
  for (const end of [n + 3, n + 4, n + 5]) {
    const ids = IDS.slice(at, end);
    const { logits } = await model.forward({ ids, cache, logits: true });
    const masked = ref.forward(ids, range(at, end), { past, exclude });
    assertClose(t, logits!, masked.logits, TOL, `after ${end - n} new tokens: engine vs masked reference`);
    // the comparison must see the eviction: the unevicted cache gives other logits
    const full = ref.forward(ids, range(at, end), { past }).logits;
    assert.ok(relL2(logits!, full) > 1e-3, 'evicted and full caches give the same logits');
    past = masked.kv;
    at = end;
  }
  const kept = plan.map((layer) => layer.map((k) => [...k, ...range(n, at)]));
  const keptRows = past.map((layer, l) => layer.map((hk, h) => ({ k: kept[l][h].map((i) => hk.k[i]), v: kept[l][h].map((i) => hk.v[i]) })));
  await assertCacheMatches(cache, keptRows, kept);
}

for (const name of ['llama3', 'qwen2']) {
  test(`${name}: per-head eviction, then new tokens at the original positions == masked reference`, async (t) => {
    const { model } = await load(name);
    const plan = keepPlan(model.config.numLayers, model.config.numKvHeads, 32);
    assert.ok(new Set(plan.flat().map((k) => k.length)).size > 1, 'the plan must give heads different lengths');
    await evictedContinuation(t, name, plan, 32);
  });
}

test('a (layer, head) whose whole past is evicted', async (t) => {
  const { model } = await load('llama3');
  await evictedContinuation(t, 'llama3', keepPlan(model.config.numLayers, model.config.numKvHeads, 32, [1, 0]), 32);
});

test('explicit, non-contiguous positions are honoured', async (t) => {
  const { model, ref } = await load('llama3');
  const positions = [0, 1, 2, 7, 8, 9, 30, 31, 100, 101, 102, 500];
  const ids = IDS.slice(0, positions.length);
  const cache = model.newCache();
  const first = await model.forward({ ids, positions, cache, logits: true });
  const expected = ref.forward(ids, positions);
  assertClose(t, first.logits!, expected.logits, TOL, 'gapped prefill vs reference');
  assert.ok(relL2(first.logits!, ref.forward(ids, range(0, ids.length)).logits) > 1e-3, 'positions made no difference');
  assert.equal(cache.nextPosition, 501);

  // continue at explicit positions, then at the default one (after the largest position seen)
  const more = await model.forward({ ids: [IDS[20], IDS[21]], positions: [900, 901], cache, logits: true });
  const refMore = ref.forward([IDS[20], IDS[21]], [900, 901], { past: expected.kv });
  assertClose(t, more.logits!, refMore.logits, TOL, 'explicit continuation vs reference');
  const next = await model.forward({ ids: [IDS[22]], cache, logits: true });
  const refNext = ref.forward([IDS[22]], [902], { past: refMore.kv });
  assertClose(t, next.logits!, refNext.logits, TOL, 'default position after explicit ones vs reference');
  const all = [...positions, 900, 901, 902];
  await assertCacheMatches(
    cache,
    refNext.kv,
    refNext.kv.map((layer) => layer.map(() => all)),
  );
});
