// Re-rotating cached keys and composing segment caches, checked against the model itself: a key
// moved from p to q must be the key the graph computes at q, and every composed row must be one the
// model computes at the row's new place (or, where independence forbids that, what must still hold).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { KvCache } from '../../src/engine/kv/cache';
import { evict } from '../../src/engine/kv/compress';
import { ropeInvFreq } from '../../src/engine/model/graph';
import { Model } from '../../src/engine/model/model';
import { rng } from '../../src/engine/sampling';
import { composeRecomputed, composeSegments, Layout, positionsNeeded, SegmentCache } from '../../src/engine/segments/compose';
import { rerotateRows } from '../../src/engine/segments/rope';
import { argmax, assertClose, relL2 } from '../helpers/compare';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel, ModelSpec, VOCAB } from '../helpers/random-model';

const { dir, cacheRoot } = scratchDir('compose');

const SPECS: Record<string, ModelSpec> = {
  llama: { ...FAMILY_SPECS.llama3, ropeScaling: undefined, ropeTheta: 1e4 },
  llama3: FAMILY_SPECS.llama3, // llama3 rope scaling: a different inv_freq
  qwen3: FAMILY_SPECS.qwen3, // k RMSNorm before RoPE
};

async function withModel(name: string, fn: (model: Model) => Promise<void>): Promise<void> {
  const model = await Model.load(makeRandomModel(path.join(dir, name), SPECS[name]), { device: 'cpu', cacheRoot, threads: 1 });
  try {
    await fn(model);
  } finally {
    await model.dispose();
  }
}

const range = (a: number, n: number) => Array.from({ length: n }, (_, i) => a + i);

function randomIds(n: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(next() * (VOCAB - 8)));
}

/** A fresh host cache holding `ids` fed in one run at `positions`. */
async function prefillAt(model: Model, ids: number[], positions: number[]): Promise<KvCache> {
  const cache = model.newCache() as KvCache;
  await model.forward({ ids, positions, cache });
  return cache;
}

/** Keys or values of rows [a, b) of every head of `layers`, as one vector. */
function rows(cache: KvCache, which: 'k' | 'v', a = 0, b = Infinity, layers = range(0, cache.layers)): number[] {
  const D = cache.headDim;
  const out: number[] = [];
  for (const l of layers) {
    for (let h = 0; h < cache.kvHeads; h++) {
      const hc = cache.head(l, h);
      const data = which === 'k' ? hc.keys() : hc.values();
      for (let i = a * D; i < Math.min(b, hc.len) * D; i++) out.push(data[i]);
    }
  }
  return out;
}

for (const name of Object.keys(SPECS)) {
  test(`${name}: keys computed at p and re-rotated to q are the keys computed at q, in every layer; values are position-free`, async (t) =>
    withModel(name, async (model) => {
      const { headDim: D, ropeTheta, ropeScaling } = model.config;
      const inv = ropeInvFreq(D, ropeTheta, ropeScaling);
      const n = 40;
      const ids = randomIds(n, 7);
      // one shift for the whole block, forwards and backwards
      for (const [p, q] of [
        [0, 1500],
        [900, 3],
      ]) {
        const atP = await prefillAt(model, ids, range(p, n));
        const atQ = await prefillAt(model, ids, range(q, n));
        assert.ok(relL2(rows(atP, 'k'), rows(atQ, 'k')) > 0.1, 'the keys at p and q differ before re-rotation: the check can tell');
        for (const row of atP.heads) for (const h of row) rerotateRows(h.keys(), n, D, h.pos, range(q, n), inv);
        assertClose(t, rows(atP, 'k'), rows(atQ, 'k'), 1e-5, `${name} keys ${p} -> ${q}`);
        assertClose(t, rows(atP, 'v'), rows(atQ, 'v'), 1e-5, `${name} values at ${p} and ${q}`);
      }
      // a different shift for every row (what 'compact' does); layer 0's keys depend only on each
      // token and its position, so there any positions compare
      const next = rng(11);
      const from = range(0, n).map(() => Math.floor(next() * 2000));
      const to = range(0, n).map(() => Math.floor(next() * 2000));
      const a = await prefillAt(model, ids, from);
      const b = await prefillAt(model, ids, to);
      for (const h of a.heads[0]) rerotateRows(h.keys(), n, D, from, to, inv);
      assertClose(t, rows(a, 'k', 0, n, [0]), rows(b, 'k', 0, n, [0]), 1e-5, `${name} layer-0 keys, a shift per row`);
    }));
}

// One model for composition: qwen3 (GQA, k norm). The anchor and three segments of different lengths.
const A = 10;
const ANCHOR = randomIds(A, 21);
const SEGS = [30, 25, 28].map((n, j) => randomIds(n, 30 + j));
const base = (j: number) => A + SEGS.slice(0, j).reduce((s, ids) => s + ids.length, 0);

/** [anchor ‖ segment j] prefilled from position 0; with `ratio`, a random half (seeded per head) evicted as compressContext would. */
async function segmentCache(model: Model, j: number, ratio = 1): Promise<KvCache> {
  const ids = SEGS[j];
  const cache = await prefillAt(model, [...ANCHOR, ...ids], range(0, A + ids.length));
  if (ratio < 1) {
    const next = rng(40 + j);
    const keep = Uint8Array.from({ length: cache.layers * cache.kvHeads * ids.length }, () => (next() < ratio ? 1 : 0));
    await evict(cache, keep, A, ids.length);
  }
  return cache;
}

async function segmentCaches(model: Model, ratio = 1): Promise<(SegmentCache & { ids: number[] })[]> {
  const out: (SegmentCache & { ids: number[] })[] = [];
  for (let j = 0; j < SEGS.length; j++) out.push({ cache: await segmentCache(model, j, ratio), length: SEGS[j].length, ids: SEGS[j] });
  return out;
}

test("composing one segment with 'positions' gives back exactly its cache, gaps included", async () =>
  withModel('qwen3', async (model) => {
    const seg = await segmentCache(model, 0, 0.5);
    const { cache, spans } = composeSegments(model.config, A, [{ cache: seg, length: SEGS[0].length }], { layout: 'positions' });
    assert.ok(seg.entries() < seg.layers * seg.kvHeads * (A + SEGS[0].length), 'the segment has gaps');
    seg.heads.forEach((row, l) =>
      row.forEach((h, i) => {
        const c = cache.head(l, i);
        assert.deepEqual(c.keys(), h.keys());
        assert.deepEqual(c.values(), h.values());
        assert.deepEqual(c.pos.subarray(0, c.len), h.pos.subarray(0, h.len));
      }),
    );
    assert.equal(cache.nextPosition, seg.nextPosition);
    assert.deepEqual(spans, [{ base: A, end: A + SEGS[0].length }]);
  }));

test('two full segments: the first is the joint prefill, the second the re-rotation of its own (what independence costs is measured)', async (t) =>
  withModel('qwen3', async (model) => {
    const [n0, n1] = [SEGS[0].length, SEGS[1].length];
    const parts = [
      { cache: await segmentCache(model, 0), length: n0 },
      { cache: await segmentCache(model, 1), length: n1 },
    ];
    const { cache, spans } = composeSegments(model.config, A, parts, { layout: 'positions' });
    assert.deepEqual(spans, [
      { base: A, end: A + n0 },
      { base: A + n0, end: A + n0 + n1 },
    ]);
    assert.equal(cache.nextPosition, A + n0 + n1);
    assert.equal(positionsNeeded(A, parts, 'positions'), cache.nextPosition);
    for (const row of cache.heads) for (const h of row) assert.deepEqual(Array.from(h.pos.subarray(0, h.len)), range(0, A + n0 + n1));

    // the first segment sits where it was prefilled, and a prefill is causal: its rows are the joint prefill's
    const joint = await prefillAt(model, [...ANCHOR, ...SEGS[0], ...SEGS[1]], range(0, A + n0 + n1));
    assertClose(t, rows(cache, 'k', 0, A + n0), rows(joint, 'k', 0, A + n0), 1e-5, 'segment 1 keys vs joint prefill');
    assertClose(t, rows(cache, 'v', 0, A + n0), rows(joint, 'v', 0, A + n0), 1e-5, 'segment 1 values vs joint prefill');

    // the second: [anchor ‖ segment 2] prefilled with every position shifted by n0, so its tokens sit at
    // their composed positions and see the anchor at the distance they saw it at when stored
    const shifted = await prefillAt(model, [...ANCHOR, ...SEGS[1]], range(n0, A + n1));
    assertClose(t, rows(cache, 'k', A + n0), rows(shifted, 'k', A), 1e-5, 'segment 2 keys vs its prefill shifted to base 2');
    assertClose(t, rows(cache, 'v', A + n0), rows(shifted, 'v', A), 1e-5, 'segment 2 values vs its prefill shifted to base 2');

    // with the anchor at 0.. instead, only layer 0 (token and position alone) must agree: deeper
    // layers saw the anchor n0 positions nearer than it now is
    const placed = await prefillAt(model, [...ANCHOR, ...SEGS[1]], [...range(0, A), ...range(A + n0, n1)]);
    assertClose(
      t,
      rows(cache, 'k', A + n0, Infinity, [0]),
      rows(placed, 'k', A, Infinity, [0]),
      1e-5,
      'segment 2 layer-0 keys vs [anchor at 0 ‖ segment at base 2]',
    );
    t.diagnostic(
      `segment 2 layer-1 keys vs [anchor at 0 ‖ segment at base 2]: rel L2 ${relL2(rows(cache, 'k', A + n0, Infinity, [1]), rows(placed, 'k', A, Infinity, [1])).toExponential(2)}`,
    );
    t.diagnostic(
      `segment 2 layer-1 keys vs the joint prefill: rel L2 ${relL2(rows(cache, 'k', A + n0, Infinity, [1]), rows(joint, 'k', A + n0, Infinity, [1])).toExponential(2)}`,
    );

    const question = randomIds(6, 99);
    const composed = (await model.forward({ ids: question, cache, logits: true, append: false })).logits!;
    const full = (await model.forward({ ids: question, cache: joint, logits: true, append: false })).logits!;
    t.diagnostic(
      `question logits, composed vs joint prefill: rel L2 ${relL2(composed, full).toExponential(2)}, same argmax: ${argmax(composed) === argmax(full)}`,
    );
  }));

/** Where each layout must put head (l, h)'s rows, computed from the layouts' definitions. */
function expectedPositions(parts: SegmentCache[], l: number, h: number, layout: Layout): number[] {
  const out = range(0, A);
  for (const [j, p] of parts.entries()) {
    const stored = Array.from(p.cache.head(l, h).pos.subarray(A, p.cache.head(l, h).len));
    out.push(...(layout === 'positions' ? stored.map((q) => base(j) + q - A) : range(out.length, stored.length)));
  }
  return out;
}

for (const layout of ['positions', 'compact'] as const) {
  test(`'${layout}' on compressed segments: the layout's positions, nextPosition = positionsNeeded, values as stored, keys the model's at the new positions`, async (t) =>
    withModel('qwen3', async (model) => {
      const parts = await segmentCaches(model, 0.5);
      const { cache, spans } = composeSegments(model.config, A, parts, { layout });
      const kept = parts.map((p) => ({ length: p.length, kept: p.cache.heads.flatMap((row) => row.map((h) => h.len - A)) }));
      assert.equal(cache.nextPosition, positionsNeeded(A, kept, layout));
      const { layers: L, kvHeads: Hkv } = cache;
      for (let l = 0; l < L; l++) {
        for (let h = 0; h < Hkv; h++) {
          const c = cache.head(l, h);
          assert.deepEqual(Array.from(c.pos.subarray(0, c.len)), expectedPositions(parts, l, h, layout), `positions of head ${l}.${h}`);
          const values = [
            parts[0].cache
              .head(l, h)
              .values()
              .subarray(0, A * c.dim),
            ...parts.map((p) =>
              p.cache
                .head(l, h)
                .values()
                .subarray(A * c.dim),
            ),
          ];
          assert.deepEqual(
            Array.from(c.values()),
            values.flatMap((v) => Array.from(v)),
            `values of head ${l}.${h}`,
          );
        }
      }
      if (layout === 'positions') {
        assert.deepEqual(
          spans,
          SEGS.map((ids, j) => ({ base: base(j), end: base(j) + ids.length })),
        );
      } else {
        const lens = cache.heads.flatMap((row) => row.map((h) => h.len));
        assert.equal(cache.nextPosition, Math.max(...lens));
        assert.ok(Math.min(...lens) < cache.nextPosition, 'heads kept different counts: the per-head bases are exercised');
        // each head's run over the segments, and the hull over heads per segment
        const ends = parts.map((_, j) =>
          kept
            .slice(0, j + 1)
            .map((k) => k.kept)
            .reduce((s, k) => s.map((x, u) => x + k[u]), new Array(L * Hkv).fill(A)),
        );
        assert.deepEqual(
          spans,
          ends.map((e, j) => ({ base: Math.min(...(j === 0 ? [A] : ends[j - 1])), end: Math.max(...e) })),
        );
      }
      // layer 0: feed each head's kept tokens at the positions this layout gave them
      for (let h = 0; h < Hkv; h++) {
        const ids = [...ANCHOR, ...parts.flatMap((p, j) => Array.from(p.cache.head(0, h).pos.subarray(A, p.cache.head(0, h).len), (q) => SEGS[j][q - A]))];
        const ref = await prefillAt(model, ids, Array.from(cache.head(0, h).pos.subarray(0, cache.head(0, h).len)));
        assertClose(t, cache.head(0, h).keys(), ref.head(0, h).keys(), 1e-5, `${layout} layer-0 head ${h} keys vs the model at the new positions`);
      }
    }));
}

test('EPIC: the first tokens of each later segment are the model fed them over the composed prefix; every other row as plain composition', async (t) =>
  withModel('qwen3', async (model) => {
    const first = 4;
    const parts = await segmentCaches(model, 0.5);
    const epic = await composeRecomputed(model, A, parts, first);
    const plain = composeSegments(model.config, A, parts, { layout: 'positions' });
    assert.deepEqual(epic.spans, plain.spans);
    const D = epic.cache.headDim;
    const recomputed = (l: number, h: number, r: number) => {
      const q = epic.cache.head(l, h).pos[r];
      return parts.some((_, j) => j > 0 && q >= base(j) && q < base(j) + first);
    };
    // rows outside the recomputed ranges (segment 1 entirely) are untouched
    epic.cache.heads.forEach((row, l) =>
      row.forEach((e, h) => {
        const p = plain.cache.head(l, h);
        assert.deepEqual(e.pos.subarray(0, e.len), p.pos.subarray(0, p.len));
        for (let r = 0; r < e.len; r++)
          if (!recomputed(l, h, r)) assert.deepEqual(e.keys().subarray(r * D, (r + 1) * D), p.keys().subarray(r * D, (r + 1) * D));
      }),
    );
    for (let j = 1; j < parts.length; j++) {
      const prefix = await composeRecomputed(model, A, parts.slice(0, j), first);
      const ref = await prefix.cache.clone();
      await model.forward({ ids: SEGS[j].slice(0, first), positions: range(base(j), first), cache: ref });
      const got: { k: number[]; v: number[]; deepK: number[]; plainDeepK: number[] } = { k: [], v: [], deepK: [], plainDeepK: [] };
      const want: { k: number[]; v: number[] } = { k: [], v: [] };
      epic.cache.heads.forEach((row, l) =>
        row.forEach((e, h) => {
          const p0 = prefix.cache.head(l, h).len;
          for (let r = 0; r < e.len; r++) {
            const t0 = e.pos[r] - base(j);
            if (t0 < 0 || t0 >= first) continue;
            const slice = (a: Float32Array, i: number) => Array.from(a.subarray(i * D, (i + 1) * D));
            got.k.push(...slice(e.keys(), r));
            got.v.push(...slice(e.values(), r));
            if (l > 0) {
              got.deepK.push(...slice(e.keys(), r));
              got.plainDeepK.push(...slice(plain.cache.head(l, h).keys(), r));
            }
            want.k.push(...slice(ref.head(l, h).keys(), p0 + t0));
            want.v.push(...slice(ref.head(l, h).values(), p0 + t0));
          }
        }),
      );
      assert.ok(got.k.length > 0, `segment ${j + 1} kept some of its first ${first} tokens`);
      assertClose(t, got.k, want.k, 1e-6, `segment ${j + 1} recomputed keys vs the model over the composed prefix`);
      assertClose(t, got.v, want.v, 1e-6, `segment ${j + 1} recomputed values vs the model over the composed prefix`);
      // past layer 0 a recomputed row saw the earlier segments: it is not the stored one (the check above can tell)
      const moved = relL2(got.deepK, got.plainDeepK);
      t.diagnostic(`segment ${j + 1}: recomputed vs stored layer-1 keys, rel L2 ${moved.toExponential(2)}`);
      assert.ok(moved > 1e-3);
    }
  }));

test('bad input: no segment, a row beyond its segment, compact planning without kept counts', async () =>
  withModel('qwen3', async (model) => {
    const seg = await segmentCache(model, 0);
    const bad = (e: unknown) => e instanceof EngineError && e.code === 'bad-input';
    assert.throws(() => composeSegments(model.config, A, [], { layout: 'positions' }), bad);
    assert.throws(
      () => composeSegments(model.config, A, [{ cache: seg, length: 5 }], { layout: 'compact' }),
      (e: unknown) => bad(e) && /outside its 5 tokens/.test((e as Error).message),
    );
    assert.throws(() => positionsNeeded(A, [{ length: 5 }], 'compact'), bad);
  }));
