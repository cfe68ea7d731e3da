// The snapshot file format in memory: what goes in comes out (positions and lengths exactly, rows
// within the dtype's rounding), the sizes meet the budget, and the encoder refuses caches that are
// not snapshots instead of writing something the decoder would misread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../src/engine/errors';
import { KvCache } from '../../src/engine/kv/cache';
import { ByteSource, decodeSnapshot, encodeSnapshot, KvDtype, SnapshotInfo } from '../../src/engine/store/format';
import { f16ToF32, f32ToF16 } from '../../src/engine/tensor/half';
import { CacheSpec, SMALL, snapshotCache, snapshotInfo } from './fixture';

const bytesOf = (cache: KvCache, info: SnapshotInfo, dtype?: KvDtype) => Buffer.concat([...encodeSnapshot(cache, info, dtype).chunks]);
const source = (b: Uint8Array): ByteSource => ({ size: b.length, read: async (into, offset) => into.set(b.subarray(offset, offset + into.length)) });
const roundTrip = (cache: KvCache, info: SnapshotInfo, dtype?: KvDtype) =>
  decodeSnapshot(source(bytesOf(cache, info, dtype)), { snapshotKey: info.snapshotKey });

function assertSameLayout(got: KvCache, want: KvCache): void {
  assert.deepEqual([got.layers, got.kvHeads, got.headDim, got.nextPosition], [want.layers, want.kvHeads, want.headDim, want.nextPosition]);
  for (let l = 0; l < want.layers; l++) {
    for (let h = 0; h < want.kvHeads; h++) {
      const [a, b] = [got.head(l, h), want.head(l, h)];
      assert.equal(a.len, b.len, `layer ${l} head ${h} length`);
      assert.deepEqual(a.pos.subarray(0, a.len), b.pos.subarray(0, b.len), `layer ${l} head ${h} positions`);
    }
  }
}

test('the fixture is ragged: heads keep nothing, everything, and some with holes', () => {
  const cache = snapshotCache(SMALL);
  const kept = cache.heads.flat().map((h) => h.len - SMALL.prefix);
  assert.ok(kept.includes(0) && kept.includes(SMALL.context) && kept.some((k) => k > 0 && k < SMALL.context), `kept ${kept}`);
  assert.equal(
    kept.reduce((a, b) => a + b),
    Math.round(SMALL.ratio * SMALL.layers * SMALL.kvHeads * SMALL.context),
  );
});

for (const spec of [SMALL, { ...SMALL, prefix: 0, context: 64, skew: 0, seed: 2 }, { ...SMALL, ratio: 1, context: 1 }] as CacheSpec[]) {
  test(`fp16 round trip: positions, lengths and header exact, rows rounded to nearest fp16 (prefix ${spec.prefix}, context ${spec.context}, ratio ${spec.ratio})`, async () => {
    const cache = snapshotCache(spec);
    const info = snapshotInfo(spec);
    const { cache: got, header } = await roundTrip(cache, info);
    assertSameLayout(got, cache);
    for (let l = 0; l < cache.layers; l++) {
      for (let h = 0; h < cache.kvHeads; h++) {
        const [a, b] = [got.head(l, h), cache.head(l, h)];
        assert.deepEqual(a.keys(), f16ToF32(f32ToF16(b.keys())));
        assert.deepEqual(a.values(), f16ToF32(f32ToF16(b.values())));
        for (let i = 0; i < b.keys().length; i++) assert.ok(Math.abs(a.keys()[i] - b.keys()[i]) <= Math.abs(b.keys()[i]) * 2 ** -11 + 2 ** -25);
      }
    }
    assert.deepEqual(header.files, info.files);
    assert.deepEqual(header.meta, info.meta);
    assert.deepEqual(header.prefixIds, info.prefixIds);
    assert.deepEqual(
      header.kept,
      cache.heads.map((row) => row.map((hd) => hd.len - spec.prefix)),
    );
    assert.deepEqual(
      [
        header.snapshotKey,
        header.modelId,
        header.modelFingerprint,
        header.press,
        header.ratio,
        header.budgetMode,
        header.dtype,
        header.prefixLength,
        header.contextLength,
        header.nextPosition,
      ],
      [
        info.snapshotKey,
        info.modelId,
        info.modelFingerprint,
        info.press,
        info.ratio,
        info.budgetMode,
        'fp16',
        spec.prefix,
        spec.context,
        spec.prefix + spec.context,
      ],
    );
    assert.deepEqual(header.shape, { layers: spec.layers, kvHeads: spec.kvHeads, headDim: spec.headDim });
    assert.ok(Math.abs(Date.parse(header.createdAt) - Date.now()) < 60_000);
  });
}

test('int8 round trip: layout exact, every value within half a step of its row scale', async () => {
  const cache = snapshotCache(SMALL);
  const D = SMALL.headDim;
  cache.head(0, 0).k.fill(0, 0, D); // an all-zero row has scale 0
  // a tiny row: its scale is an fp16 subnormal, where rounding to nearest could push |q| past 127
  for (let i = D; i < 2 * D; i++) cache.head(0, 0).k[i] = (((i * 37) % 19) - 9) * 1.3e-7;
  const { cache: got, header } = await roundTrip(cache, snapshotInfo(SMALL), 'int8');
  assert.equal(header.dtype, 'int8');
  assertSameLayout(got, cache);
  let worst = 0;
  for (let l = 0; l < cache.layers; l++) {
    for (let h = 0; h < cache.kvHeads; h++) {
      for (const t of ['keys', 'values'] as const) {
        const [a, b] = [got.head(l, h)[t](), cache.head(l, h)[t]()];
        for (let r = 0; r < b.length / D; r++) {
          const row = b.subarray(r * D, (r + 1) * D);
          const max = Math.max(...row.map(Math.abs));
          for (let i = 0; i < D; i++) {
            const err = Math.abs(a[r * D + i] - row[i]);
            worst = Math.max(worst, err / max || 0);
            // step = max/127 rounded up to an fp16 (at most 2^-10 more, or one subnormal step 2^-24):
            // error ≤ step/2, plus fp32 rounding
            const step = Math.max((max / 127) * (1 + 2 ** -10), max / 127 + 2 ** -24);
            assert.ok(err <= step / 2 + Math.abs(row[i]) * 2 ** -23, `layer ${l} head ${h} ${t} row ${r}: error ${err}, row max ${max}`);
          }
        }
      }
    }
  }
  assert.deepEqual(got.head(0, 0).keys().subarray(0, D), new Float32Array(D));
  assert.ok(worst > 1 / 1000, `int8 must actually round (worst relative error ${worst})`);
});

test('sizes at ratio 0.3 (L=24, Hkv=2, D=64, n=4000, prefix 20): fp16 ≤ 0.32×, int8 ≤ 0.17× the full fp16 cache', async (t) => {
  const spec: CacheSpec = { layers: 24, kvHeads: 2, headDim: 64, prefix: 20, context: 4000, ratio: 0.3, skew: 0.01 };
  const cache = snapshotCache(spec);
  const info = snapshotInfo(spec);
  const full = spec.context * spec.layers * spec.kvHeads * 2 * spec.headDim * 2;
  const lens = cache.heads.flat().map((h) => h.len - spec.prefix);
  t.diagnostic(`kept context rows per head: min ${Math.min(...lens)}, max ${Math.max(...lens)}`);
  for (const [dtype, limit] of [
    ['fp16', 0.32],
    ['int8', 0.17],
  ] as const) {
    const bytes = bytesOf(cache, info, dtype).length;
    const line = `${dtype}: ${bytes} bytes = ${(bytes / full).toFixed(4)} × full fp16 (${full} bytes)`;
    t.diagnostic(line);
    assert.ok(bytes / full <= limit, line);
  }
  assert.ok(Math.max(...lens) > Math.min(...lens), 'heads should keep different counts');
});

const rejects = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof EngineError && e.code === 'bad-input' && re.test(e.message));

test('the encoder refuses what is not a snapshot, before producing a byte', () => {
  const info = snapshotInfo(SMALL);
  const withQuestion = snapshotCache(SMALL);
  withQuestion.appendPresent(new Float32Array(SMALL.layers * 2 * SMALL.kvHeads * SMALL.headDim), [SMALL.prefix + SMALL.context]);
  rejects(() => encodeSnapshot(withQuestion, info), /layer 0 head 0: row \d+ has position 42; a snapshot holds/);

  const noPrefix = snapshotCache(SMALL);
  noPrefix.head(1, 2).retain([0, 1]);
  rejects(() => encodeSnapshot(noPrefix, info), /layer 1 head 2 lacks prefix rows \(2 < 5\)/);

  const shuffled = snapshotCache(SMALL);
  shuffled.head(1, 1).pos[SMALL.prefix + 1] = shuffled.head(1, 1).pos[SMALL.prefix]; // a fully kept head
  rejects(() => encodeSnapshot(shuffled, info), /layer 1 head 1: row 6 has position 5;/);

  rejects(() => encodeSnapshot(snapshotCache(SMALL), { ...info, ratio: 0 }), /header field ratio must be a number in \(0, 1\], got 0/);
  rejects(() => encodeSnapshot(snapshotCache(SMALL), { ...info, files: [{ path: 'a', headerStart: 0, start: 2, end: 99 }] }), /files\[0\] must be/);
  rejects(() => encodeSnapshot(snapshotCache(SMALL), { ...info, meta: { n: 1n } }), /BigInt/);
});

test('values fp16 or int8 cannot hold are refused, not written as inf', () => {
  const info = snapshotInfo(SMALL);
  const big = snapshotCache(SMALL);
  big.head(1, 1).v[3] = 70000;
  assert.throws(() => [...encodeSnapshot(big, info).chunks], /layer 1 head 1: a value is not finite in fp16/);
  assert.doesNotThrow(() => [...encodeSnapshot(big, info, 'int8').chunks]);
  const nan = snapshotCache(SMALL);
  nan.head(0, 1).k[0] = NaN;
  assert.throws(() => [...encodeSnapshot(nan, info, 'int8').chunks], /layer 0 head 1: a value is too large for an int8 cache/);
});
