// Damaged segment files met through the engine's own calls. test/store/corrupt.test.ts covers every
// defect byte by byte at the store; here each kind is met by `index` and by `ask`. An index that
// writes a manifest reads the header of every segment it names, stored ones too (the manifest
// records what each kept): a defect there is noticed, said in a notice, the file deleted and that
// segment built again. (An index of a snapshot whose manifest exists only checks that its segment
// files are there.) `ask` reads every segment it loads whole: any defect fails the question with the
// file and the defect named, the file is deleted, and the next `index` builds that segment alone.
// No other snapshot's file is touched.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import type { ManifestSegment } from '../../src/engine/segments/manifest';
import { EngineService } from '../../src/engine/service';
import { indexParams, manifestOf, recorder, scratch, segmentFile, smallRepo, snapshotFolder } from './helpers';

const { dir, engine, snapshots } = scratch('cache-files');
const service = new EngineService();
after(() => service.dispose());

const params = (root: string) => indexParams(engine, { root });
// A and B differ in src/main.ts only: they share every segment but the one holding it
const repoA = smallRepo(path.join(dir, 'a'));
const repoB = smallRepo(path.join(dir, 'b'), 1);

let keyA = '';
let segA = ''; // the segment of A's src/main.ts: A's alone
let segB = ''; // B's
let shared = ''; // a segment of A that B (and every other variant) names too
let total = 0;
/** Every file of B's snapshot (manifest and segments), byte for byte. */
let filesB: Map<string, Buffer>;
let goodA = Buffer.alloc(0);
let goodShared = Buffer.alloc(0);
const holdsMain = (s: ManifestSegment) => s.pieces.some((p) => p.path === 'src/main.ts');
const snapshotFiles = async (key: string) => {
  const m = await manifestOf(snapshots, key);
  const files = [path.join(snapshots, 'manifests', `${key}.json`), ...m.segments.map((s) => segmentFile(snapshots, s.key))];
  return new Map(files.map((f) => [f, fs.readFileSync(f)]));
};
before(async () => {
  const a = await service.index(params(repoA), recorder());
  keyA = a.key;
  total = a.segments.total;
  const keyB = (await service.index(params(repoB), recorder())).key;
  const [mA, mB] = [await manifestOf(snapshots, keyA), await manifestOf(snapshots, keyB)];
  [segA, segB] = [mA.segments.find(holdsMain)!.key, mB.segments.find(holdsMain)!.key];
  shared = mA.segments.find((s) => !holdsMain(s))!.key;
  assert.notEqual(segA, segB);
  assert.ok(mB.segments.some((s) => s.key === shared));
  filesB = await snapshotFiles(keyB);
  goodA = fs.readFileSync(segmentFile(snapshots, segA));
  goodShared = fs.readFileSync(segmentFile(snapshots, shared));
});

const flip = (b: Buffer, at: number) => ((b[at] ^= 0x10), b);
const headerEnd = (b: Buffer) => 16 + b.readUInt32LE(12);

/** Each fault: what it does to A's segment file, what the report must say, and whether index (reading headers) sees it. */
const FAULTS: Record<string, { damage: (good: Buffer) => Buffer; says: RegExp; header: boolean }> = {
  'truncated to half': { damage: (g) => g.subarray(0, g.length >> 1), says: /truncated/, header: true },
  'zero-length': { damage: () => Buffer.alloc(0), says: /truncated: 0 bytes/, header: true },
  'another format version': { damage: (g) => (g.writeUInt32LE(99, 8), g), says: /format version 99/, header: true },
  "another segment's file": { damage: () => fs.readFileSync(segmentFile(snapshots, segB)), says: /holds snapshot/, header: true },
  'a bit flipped in the header': { damage: (g) => flip(g, headerEnd(g) - 40), says: /header|checksum mismatch/, header: false },
  'a bit flipped in the middle': { damage: (g) => flip(g, g.length >> 1), says: /checksum mismatch/, header: false },
  'a bit flipped at the end': { damage: (g) => flip(g, g.length - 1), says: /end marker is missing/, header: false },
};

/** Puts a damaged file in place of `seg`, with the engine's composed cache moved to B so that A's segments are read from disk. */
async function damage(seg: string, good: Buffer, how: (good: Buffer) => Buffer): Promise<void> {
  await service.ask({ ...params(repoB), question: 'x', maxTokens: 1 }, recorder());
  fs.writeFileSync(segmentFile(snapshots, seg), how(Buffer.from(good)));
}

let variant = 2;
for (const [name, { damage: how, says, header }] of Object.entries(FAULTS)) {
  if (header) {
    test(`segment file ${name}: an index that reuses it notices it, says so and builds it again`, async () => {
      await damage(shared, goodShared, how);
      // another variant: a new snapshot, naming the damaged segment and one of its own
      const ctx = recorder();
      const r = await service.index(params(smallRepo(path.join(dir, `v${variant}`), variant++)), ctx);
      assert.deepEqual(r.segments, { total, reused: total - 2, built: 2, failed: [] });
      const notices = ctx.notices();
      assert.equal(notices.length, 1, notices.join(' | '));
      assert.ok(notices[0].startsWith(segmentFile(snapshots, shared)), notices[0]);
      assert.match(notices[0], says);
      assert.match(notices[0], /the file was deleted and is built again$/);
      const answer = await service.ask({ ...params(repoA), question: 'What does add do?', maxTokens: 4 }, recorder());
      assert.ok(answer.tokens > 0, 'A answers from the rebuilt segment');
    });
  }

  test(`segment file ${name}: ask notices it, fails naming the file and the defect, deletes it; the next index builds it alone`, async () => {
    await damage(segA, goodA, how);
    const ctx = recorder();
    await assert.rejects(service.ask({ ...params(repoA), question: 'Where is mul?', maxTokens: 4 }, ctx), (e: unknown) => {
      assert.ok(e instanceof EngineError && e.code === 'corrupt-cache', String(e));
      assert.ok(e.message.startsWith(segmentFile(snapshots, segA)), e.message);
      assert.match(e.message, says);
      assert.match(e.message, /the file was deleted$/);
      return true;
    });
    assert.match(ctx.notices().join('\n'), /rebuild the cache \(repozip index\) to build it again/);
    assert.ok(!snapshotFolder(snapshots).segments.includes(segA), 'deleted');

    const r = await service.index(params(repoA), recorder());
    assert.deepEqual(r.segments, { total, reused: total - 1, built: 1, failed: [] });
    for (const [file, bytes] of filesB)
      assert.ok(file.endsWith(`${shared}.rzkv`) || fs.readFileSync(file).equals(bytes), `B's ${path.basename(file)} is untouched`);
    const answer = await service.ask({ ...params(repoA), question: 'What does add do?', maxTokens: 4 }, recorder());
    assert.equal(answer.cacheReused, true);
    assert.ok(answer.tokens > 0);
  });
}
