// Garbage collection of segments: snapshots (manifests) are removed, never segments one by one, and
// then every segment that no manifest and no running build names goes. A segment two snapshots share
// outlives the removal of one of them.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { collectGarbage, removeRepository, removeSnapshots } from '../../src/engine/segments/gc';
import { SegmentStores } from '../../src/engine/segments/snapshot';
import { scratchDir } from '../helpers/models';
import { manifestFor, SMALL, snapshotCache, snapshotInfo } from './fixture';

const { dir } = scratchDir('segment-gc');
let n = 0;
const key = (c: string) => c.repeat(64);
const onDisk = (stores: SegmentStores) =>
  fs
    .readdirSync(stores.segments.dir)
    .map((f) => f.slice(0, 1))
    .sort()
    .join('');

/** A fresh store with segments `segs` (one letter each) and snapshots naming them, oldest first. */
async function store(segs: string, snapshots: Record<string, { root?: string; segs: string }>): Promise<SegmentStores> {
  const stores = new SegmentStores(path.join(dir, String(n++)));
  for (const s of segs) await stores.segments.save(snapshotCache(SMALL), snapshotInfo(SMALL, { snapshotKey: key(s) }));
  let age = Object.keys(snapshots).length;
  for (const [name, m] of Object.entries(snapshots)) {
    await stores.manifests.save(manifestFor(key(name), m.root ?? '/repo', [...m.segs].map(key)));
    const t = new Date(Date.now() - 1000 * age--);
    fs.utimesSync(stores.manifests.pathOf(key(name)), t, t);
  }
  return stores;
}
/** Bytes of one segment (all are the same fixture cache). */
let bytes = 0;
before(async () => {
  const stores = await store('1', {});
  bytes = fs.statSync(stores.segments.pathOf(key('1'))).size;
});
const size = () => bytes;

test('a segment no snapshot names is collected; the named ones stay', async () => {
  const stores = await store('123', { a: { segs: '12' } });
  const r = await collectGarbage(stores, Infinity);
  assert.deepEqual(r, { removed: 0, keys: [], segments: 1, bytes: size(), left: 2 * size() });
  assert.equal(onDisk(stores), '12');
});

test('a segment two snapshots share outlives the removal of one, and goes with the second', async () => {
  const stores = await store('123', { a: { segs: '12' }, b: { segs: '23' } });
  let r = await removeSnapshots(stores, [key('a')]);
  assert.deepEqual({ ...r, bytes: undefined }, { removed: 1, keys: [key('a')], segments: 1, bytes: undefined, left: 2 * size() });
  assert.equal(onDisk(stores), '23');
  r = await removeSnapshots(stores, [key('b')]);
  assert.equal(r.segments, 2);
  assert.equal(onDisk(stores), '');
  assert.deepEqual(fs.readdirSync(stores.manifests.dir), []);
});

test('over the budget, the least recently used snapshots go first, never a kept one; a shared segment stays while named', async () => {
  // a (oldest) names 1 2, b names 2 3, c (newest) names 4
  const stores = await store('1234', { a: { segs: '12' }, b: { segs: '23' }, c: { segs: '4' } });
  let r = await collectGarbage(stores, 3 * size());
  assert.deepEqual(r.keys, [key('a')], 'one snapshot was enough');
  assert.equal(onDisk(stores), '234');
  r = await collectGarbage(stores, 0, [key('b')]);
  assert.deepEqual(r.keys, [key('c')], 'b is kept whatever the budget');
  assert.deepEqual({ segments: r.segments, left: r.left }, { segments: 1, left: 2 * size() });
  assert.equal(onDisk(stores), '23');
});

test("a running build's record protects the segments it wrote before its manifest exists; a dead builder's does not", async () => {
  const stores = await store('12', {});
  await stores.manifests.savePending(key('e'), [key('1')]); // this process: alive
  fs.writeFileSync(stores.manifests.pathOf(key('f')) + '.pending', JSON.stringify({ pid: 999_999_999, segments: [key('2')] }));
  const r = await collectGarbage(stores, Infinity);
  assert.equal(r.segments, 1);
  assert.equal(onDisk(stores), '1');
  assert.deepEqual(fs.readdirSync(stores.manifests.dir), [`${key('e')}.json.pending`], "the dead builder's record is gone");
  await stores.manifests.removePending(key('e'));
  assert.equal((await collectGarbage(stores, Infinity)).segments, 1);
});

test("clearing a repository removes its snapshots and the segments only they name, not another repository's", async () => {
  const stores = await store('123', { a: { root: '/one', segs: '12' }, b: { root: '/one', segs: '2' }, c: { root: '/two', segs: '23' } });
  const r = await removeRepository(stores, '/one');
  assert.deepEqual([r.removed, r.segments], [2, 1]);
  assert.equal(onDisk(stores), '23');
  assert.deepEqual(
    (await stores.manifests.list()).map((e) => e.manifest.root),
    ['/two'],
  );
});
