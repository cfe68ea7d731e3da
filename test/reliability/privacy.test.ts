// What the engine derives from a repository stays private and goes when asked: segments, manifests
// and everything beside them are readable by their owner only, clearing a repository and
// `repozip cache rm` delete from the disk (a segment another snapshot still names stays), and one
// workspace's cache folder never serves another's snapshots.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineService } from '../../src/engine/service';
import { indexParams, recorder, repozip, scratch, smallRepo, snapshotFolder } from './helpers';

const { dir, engine, snapshots } = scratch('privacy');
const service = new EngineService();
after(() => service.dispose());
// two variants: they share every segment but the one holding src/main.ts
const repos = [0, 1].map((v) => smallRepo(path.join(dir, `repo${v}`), v));
const files = () =>
  (fs.readdirSync(snapshots, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(snapshots, path.join(e.parentPath, e.name)))
    .sort();

/** Paths under `root` (itself included) whose mode is not 0700 for a folder or 0600 for a file. */
function notPrivate(root: string): string[] {
  const all = ['.', ...(fs.readdirSync(root, { recursive: true }) as string[])];
  return all.flatMap((rel) => {
    const st = fs.lstatSync(path.join(root, rel));
    const mode = st.mode & 0o777;
    return mode === (st.isDirectory() ? 0o700 : 0o600) ? [] : [`${rel} ${mode.toString(8)}`];
  });
}

test('segments, manifests and the per-repository memo: folders 0700, files 0600', async () => {
  for (const root of repos) await service.index(indexParams(engine, { root }), recorder());
  const { manifests, segments } = snapshotFolder(snapshots);
  assert.deepEqual([manifests.length, segments.length], [2, 4]);
  assert.deepEqual(notPrivate(snapshots), []);
  assert.deepEqual(notPrivate(path.join(engine.cacheDir!, 'repos')), []);
});

test("clearing a repository (the editor's Clear Repository Cache) deletes its snapshots and the segments only they named, nobody else's", async () => {
  const before = files();
  const r = await service.clear(indexParams(engine, { root: repos[0] }));
  assert.equal(r.removed, 1);
  // its manifest and the segment of its own src/main.ts; the shared segments are repo1's too
  const gone = before.filter((f) => !files().includes(f));
  assert.equal(gone.length, 2, `deleted: ${gone}`);
  assert.deepEqual(gone.map((f) => path.dirname(f)).sort(), ['manifests', 'segments']);
  assert.equal((await service.status(indexParams(engine, { root: repos[0] }))).state, 'none');
  assert.equal((await service.status(indexParams(engine, { root: repos[1] }))).state, 'ready');
  const again = await service.index(indexParams(engine, { root: repos[1] }), recorder());
  assert.equal(again.segments.built, 0, "repo1's segments are all there");
});

test('repozip cache rm <key> and rm --all delete from the disk: files gone, nothing of the repository left', async () => {
  await service.index(indexParams(engine, { root: repos[0] }), recorder());
  const [key] = snapshotFolder(snapshots).manifests;
  const segmentsBefore = snapshotFolder(snapshots).segments;
  const one = await repozip(['cache', 'rm', key.slice(0, 12), '--cache-dir', engine.cacheDir!]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(fs.existsSync(path.join(snapshots, 'manifests', `${key}.json`)), false);
  assert.equal(snapshotFolder(snapshots).manifests.length, 1);
  assert.equal(snapshotFolder(snapshots).segments.length, segmentsBefore.length - 1, 'its own segment went, the shared ones stay');

  const all = await repozip(['cache', 'rm', '--all', '--cache-dir', engine.cacheDir!]);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(files(), []);
});

test("two workspaces' cache folders do not see each other's snapshots", async () => {
  const root = repos[0];
  // as the extension sets it up: one model cache, one snapshot folder per workspace; and the CLI's: one cache root each
  const places = [
    [
      { ...engine, snapshotDir: path.join(dir, 'ws-a') },
      { ...engine, snapshotDir: path.join(dir, 'ws-b') },
    ],
    [
      { ...engine, cacheDir: path.join(dir, 'root-a') },
      { ...engine, cacheDir: path.join(dir, 'root-b') },
    ],
  ];
  for (const [a, b] of places) {
    const built = await service.index(indexParams(a, { root }), recorder());
    assert.equal(built.reused, false);
    assert.equal((await service.status(indexParams(b, { root }))).state, 'none', 'b does not see a');
    const again = await service.index(indexParams(b, { root }), recorder());
    assert.equal(again.key, built.key, 'the same snapshot…');
    assert.equal(again.reused, false, '…built again in b');
    assert.equal((await service.status(indexParams(a, { root }))).state, 'ready', 'a keeps its own');
  }
});
