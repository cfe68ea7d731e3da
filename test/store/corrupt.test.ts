// Damaged cache files, each loaded through the store: every one is detected before use, reported
// as corrupt-cache with a message that names the defect, and deleted so the next start rebuilds
// (except what the store did not write itself, like a directory, which it leaves for the user).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { SnapshotStore } from '../../src/engine/store/store';
import { scratchDir } from '../helpers/models';
import { SMALL, snapshotCache, snapshotInfo } from './fixture';

const store = new SnapshotStore(path.join(scratchDir('store-corrupt').dir, 'snapshots'));
const info = snapshotInfo(SMALL);
const key = info.snapshotKey;
const file = store.pathOf(key);
const expect = { modelFingerprint: info.modelFingerprint, shape: { layers: SMALL.layers, kvHeads: SMALL.kvHeads, headDim: SMALL.headDim } };

const good = (async () => {
  await store.save(snapshotCache(SMALL), info);
  return fs.readFileSync(file);
})();

// Offsets into the good file: [16, dataStart) is the JSON header, then 2×3 bitmaps of 5 bytes.
const headerLength = (b: Buffer) => b.readUInt32LE(12);
const dataStart = (b: Buffer) => 16 + headerLength(b);

/** Recomputes the checksum, so that only the defect under test remains. */
function reseal(b: Buffer): Buffer {
  createHash('sha256')
    .update(b.subarray(0, b.length - 40))
    .digest()
    .copy(b, b.length - 40);
  return b;
}

/** Replaces the JSON header (any length) and reseals. */
function replaceHeader(b: Buffer, text: string): Buffer {
  const json = Buffer.from(text);
  const pre = Buffer.from(b.subarray(0, 16));
  pre.writeUInt32LE(json.length, 12);
  return reseal(Buffer.concat([pre, json, b.subarray(dataStart(b))]));
}

function editHeader(b: Buffer, edit: (h: Record<string, any>) => void): Buffer {
  const h = JSON.parse(b.subarray(16, dataStart(b)).toString('utf8'));
  edit(h);
  return replaceHeader(b, JSON.stringify(h));
}

const flip = (b: Buffer, at: number, bit = 0) => ((b[at] ^= 1 << bit), b);
const at = (b: Buffer, text: string) => b.indexOf(text, 16);

async function assertRejected(bytes: Buffer, message: RegExp, opts: { expect?: typeof expect } = {}): Promise<void> {
  fs.writeFileSync(file, bytes);
  await assert.rejects(store.load(key, opts.expect ?? expect), (e: unknown) => {
    assert.ok(e instanceof EngineError, String(e));
    assert.equal(e.code, 'corrupt-cache');
    assert.match(e.message, message);
    assert.match(e.message, /; the file was deleted$/);
    return true;
  });
  assert.equal(fs.existsSync(file), false, 'a corrupt file must not stay to be loaded again');
}

const cases: [string, (g: Buffer) => Buffer, RegExp][] = [
  ['zero-length file', () => Buffer.alloc(0), /truncated: 0 bytes, a cache file has at least 56/],
  ['cut inside the magic', (g) => g.subarray(0, 7), /truncated: 7 bytes/],
  ['cut inside the header', (g) => g.subarray(0, 16 + 60), /truncated: the header is \d+ bytes but the file has 76/],
  ['cut after the header', (g) => g.subarray(0, dataStart(g)), /truncated: the header is \d+ bytes but the file has \d+/],
  ['cut inside the bitmaps', (g) => g.subarray(0, dataStart(g) + 13), /truncated: the header is \d+ bytes but the file has \d+/],
  ['cut inside the first rows', (g) => g.subarray(0, dataStart(g) + 30 + 100), /truncated: the header describes \d+ bytes, the file has \d+/],
  ['cut inside the rows', (g) => g.subarray(0, Math.floor(g.length * 0.7)), /truncated: the header describes/],
  ['cut inside the checksum', (g) => g.subarray(0, g.length - 20), /truncated: the header describes/],
  ['last byte missing', (g) => g.subarray(0, g.length - 1), /truncated: the header describes (\d+) bytes, the file has \d+/],
  ['trailing bytes', (g) => Buffer.concat([g, Buffer.from('x')]), /trailing bytes: the header describes/],
  ['wrong magic', (g) => Buffer.concat([Buffer.from('PK\x03\x04'), g.subarray(4)]), /not a repozip cache file \(magic "PK\\u0003\\u0004SNAP"\)/],
  ['newer format version', (g) => (g.writeUInt32LE(2, 8), g), /format version 2, this build reads version 1/],
  ['header length beyond the file', (g) => (g.writeUInt32LE(0xffffffff, 12), g), /truncated: the header is 4294967295 bytes/],
  ['bit flip in the header: JSON syntax', (g) => flip(g, 16, 1), /the header is not valid JSON/],
  ['bit flip in the header: a field value', (g) => flip(g, at(g, '"dtype":"fp16"') + 12), /header field dtype must be fp16 or int8, got "fp17"/],
  ['bit flip in the header: meta text', (g) => flip(g, at(g, 'binary') + 1), /checksum mismatch: the file was damaged after it was written/],
  [
    'bit flip in the header: invalid UTF-8',
    (g) => flip(g, at(g, 'ünïcode') + 1, 6),
    /the header is not valid JSON \(The encoded data was not valid for encoding utf-8\)/,
  ],
  ['bit flip in a bitmap', (g) => flip(g, dataStart(g) + 17, 3), /layer 1 head 0: the header counts 15 kept rows, the bitmap 16/],
  ['bit flip in the middle of the rows', (g) => flip(g, Math.floor(g.length / 2), 5), /checksum mismatch/],
  ['bit flip in the last row byte', (g) => flip(g, g.length - 41), /checksum mismatch/],
  ['bit flip in the checksum', (g) => flip(g, g.length - 30), /checksum mismatch/],
  ['bit flip in the end marker', (g) => flip(g, g.length - 1), /the end marker is missing/],
  [
    'header count disagrees with its bitmap',
    (g) => reseal(flip(g, dataStart(g) + 5 * 4 + 1, 2)),
    /layer 1 head 1: the header counts 37 kept rows, the bitmap 36/,
  ],
  ['bitmap marks tokens past the context', (g) => reseal(flip(g, dataStart(g) + 5 * 5 - 1, 6)), /layer 1 head 1: the bitmap marks tokens past the context/],
  ['count above the context length', (g) => editHeader(g, (h) => (h.kept[0][1] = 38)), /header field kept must be 2 × 3 counts in \[0, 37\]/],
  [
    'nextPosition before the end of the context',
    (g) => editHeader(g, (h) => (h.nextPosition = 41)),
    /header field nextPosition must be a whole number ≥ 42, got 41/,
  ],
  ['file map past the context', (g) => editHeader(g, (h) => (h.files[2].end = 38)), /header field files\[2\] must be \{path, headerStart ≤ start ≤ end ≤ 37\}/],
  ['prefix ids of the wrong length', (g) => editHeader(g, (h) => h.prefixIds.pop()), /header field prefixIds must be 5 token ids/],
  ['shape field missing', (g) => editHeader(g, (h) => delete h.shape.headDim), /header field shape.headDim must be a positive integer, got undefined/],
  ['header is an array', (g) => replaceHeader(g, '[]'), /the header is not a JSON object/],
];

for (const [name, damage, message] of cases) {
  test(`corrupt: ${name}`, async () => {
    await assertRejected(damage(Buffer.from(await good)), message);
  });
}

test('a file made for another model is refused', async () => {
  await assertRejected(Buffer.from(await good), /made for model fingerprint f{64}, expected 0{64}/, {
    expect: { ...expect, modelFingerprint: '0'.repeat(64) },
  });
});

test('a file made for another shape is refused', async () => {
  await assertRejected(Buffer.from(await good), /shape is 2 layers × 3 KV heads × 16, expected 2 × 2 × 16/, {
    expect: { ...expect, shape: { ...expect.shape, kvHeads: 2 } },
  });
});

test("another snapshot's file renamed to this key is refused", async () => {
  const other = snapshotInfo(SMALL, { snapshotKey: 'b'.repeat(64) });
  await store.save(snapshotCache(SMALL), other);
  await assertRejected(fs.readFileSync(store.pathOf(other.snapshotKey)), new RegExp(`holds snapshot b{64}, not ${key}`));
  assert.ok(await store.load(other.snapshotKey, expect), 'the other snapshot itself still loads');
});

test('a directory where the file should be: load reports it, save fails cleanly, neither deletes it', async () => {
  fs.rmSync(file, { force: true });
  fs.mkdirSync(file);
  fs.writeFileSync(path.join(file, 'user-data'), 'x');
  await assert.rejects(
    store.load(key, expect),
    (e: unknown) =>
      e instanceof EngineError && e.code === 'corrupt-cache' && /is not a regular file; remove it \(repozip cache rm [0-9a-f]{64}\)$/.test(e.message),
  );
  await assert.rejects(
    store.save(snapshotCache(SMALL), info),
    (e: unknown) => e instanceof EngineError && /^cannot write .*\.rzkv: a directory is in the way \(EISDIR\)$/.test(e.message),
  );
  assert.ok(fs.existsSync(path.join(file, 'user-data')));
  assert.deepEqual(
    fs.readdirSync(store.dir).filter((n) => n.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
  assert.equal(await store.remove(key), true);
  assert.equal(fs.existsSync(file), false);
});

test('after any of these, a fresh save loads again', async () => {
  await store.save(snapshotCache(SMALL), info);
  const got = await store.load(key, expect);
  assert.equal(got?.header.snapshotKey, key);
});
