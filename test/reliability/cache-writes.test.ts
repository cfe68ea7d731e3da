// Writes that fail, met through the engine's own calls: a folder where a segment file should be, a
// segment or manifest folder the engine may not write, a full disk. A fault of one segment (the
// folder in its way) is reported with its files and the others stay usable; a fault every segment
// would meet stops the build with its reason. Either way the previous good cache is untouched,
// nothing half-written or locked stays behind, and once the fault is gone the next call works.
// test/store/store.test.ts covers the same faults at the store alone.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { EngineService } from '../../src/engine/service';
import type { EngineSettings } from '../../src/engine/protocol';
import { write } from '../repo/fixture';
import {
  fillDisk,
  indexParams,
  manifestOf,
  recorder,
  repozip,
  scratch,
  segmentFile,
  smallRepo,
  snapshotFolder,
  tmpfsUnavailable,
  withoutWriteAccess,
  withTmpfs,
} from './helpers';

const { dir, engine, snapshots } = scratch('cache-writes');
const service = new EngineService();
after(() => service.dispose());

const params = (root: string, settings: EngineSettings = engine) => indexParams(settings, { root });
const repos = [0, 1, 2, 3].map((v) => smallRepo(path.join(dir, `repo${v}`), v));

/** Every file of a snapshot folder, byte for byte: built before the faults, compared after each. */
const contents = (folder: string) =>
  new Map(
    fs
      .readdirSync(folder, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [path.join(e.parentPath, e.name), fs.readFileSync(path.join(e.parentPath, e.name))]),
  );
let good = new Map<string, Buffer>();
before(async () => {
  await service.index(params(repos[0]), recorder());
  good = contents(snapshots);
});

const rejectsWith = (code: string, message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof EngineError, String((e as Error).stack));
  assert.equal(e.code, code, e.message);
  assert.match(e.message, message);
  return true;
};

function assertNothingLost(folder = snapshots, previous = good): void {
  for (const [file, bytes] of previous) assert.ok(fs.readFileSync(file).equals(bytes), `${file} is untouched`);
  const { temps, locks } = snapshotFolder(folder);
  assert.deepEqual({ temps, locks }, { temps: [], locks: [] }, 'nothing half-written or locked is left');
}

test('a folder where a segment file should be: index reports that segment with its files, the others answer; removed as the message says, the next index builds it', async () => {
  const first = await service.index(params(repos[1]), recorder());
  const m = await manifestOf(snapshots, first.key);
  const own = m.segments.find((s) => s.pieces.some((p) => p.path === 'src/main.ts'))!; // repo1's alone: not in `good`
  const files = [...new Set(own.pieces.map((p) => p.path))];
  const file = segmentFile(snapshots, own.key);
  fs.rmSync(file);
  fs.mkdirSync(file);
  fs.writeFileSync(path.join(file, 'notes.txt'), 'not the engine’s to delete');

  const says = new RegExp(`is not a regular file; remove it \\(repozip cache rm ${own.key}\\)`);
  const ctx = recorder();
  const r = await service.index(params(repos[1]), ctx);
  assert.deepEqual({ ...r.segments, failed: undefined }, { total: m.segments.length, reused: m.segments.length - 1, built: 0, failed: undefined });
  assert.equal(r.segments.failed.length, 1);
  assert.deepEqual(r.segments.failed[0].files, files);
  assert.match(r.segments.failed[0].message, says);
  assert.match(ctx.notices().join('\n'), new RegExp(`the segment holding ${files.join(', ')} could not be built, so answers will not see it`));

  const asked = recorder();
  const answer = await service.ask({ ...params(repos[1]), question: 'What is add?', maxTokens: 4 }, asked);
  assert.ok(answer.tokens > 0, 'the other segments answer');
  assert.match(asked.notices().join('\n'), new RegExp(`1 segment\\(s\\) could not be built, so this answer does not see ${files.join(', ')}`));
  assert.ok(files.every((f) => !answer.context.files.includes(f) || m.segments.some((s) => s !== own && s.pieces.some((p) => p.path === f))));
  assert.equal(fs.readFileSync(path.join(file, 'notes.txt'), 'utf8'), 'not the engine’s to delete');
  assertNothingLost();

  const rm = await repozip(['cache', 'rm', own.key, '--cache-dir', engine.cacheDir!]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(fs.existsSync(file), false);
  const again = await service.index(params(repos[1]), recorder());
  assert.deepEqual(again.segments, { total: m.segments.length, reused: m.segments.length - 1, built: 1, failed: [] });
  assert.ok(fs.statSync(file).isFile());
});

test('a folder in the way of the only segment: index and ask fail saying so, nothing is written', async () => {
  const root = path.join(dir, 'one');
  write(root, 'a.ts', 'export const one = 1;\n');
  const built = await service.index(params(root, { ...engine, snapshotDir: path.join(dir, 'learn') }), recorder());
  const [seg] = (await manifestOf(path.join(dir, 'learn'), built.key)).segments;
  fs.mkdirSync(segmentFile(snapshots, seg.key), { recursive: true });
  const says = new RegExp(`is not a regular file; remove it \\(repozip cache rm ${seg.key}\\)`);
  await assert.rejects(service.index(params(root), recorder()), rejectsWith('corrupt-cache', says));
  await assert.rejects(service.ask({ ...params(root), question: 'What is one?', maxTokens: 4 }, recorder()), rejectsWith('corrupt-cache', says));
  assert.ok(!snapshotFolder(snapshots).manifests.includes(built.key), 'no manifest of a snapshot with nothing to answer from');
  fs.rmSync(segmentFile(snapshots, seg.key), { recursive: true });
  assertNothingLost();
});

for (const [sub, repo] of [
  ['segments', repos[2]],
  ['manifests', repos[3]],
]) {
  test(`a ${sub} folder the engine may not write: an io error naming it, the previous cache intact; with the permission back the next call builds`, async () => {
    const build = () => service.index(params(repo), recorder());
    await withoutWriteAccess(path.join(snapshots, sub), [dir], () =>
      assert.rejects(build(), rejectsWith('io', new RegExp(`${sub}.*permission denied \\(EACCES\\)`))),
    );
    assertNothingLost();
    assert.equal((await build()).segments.built, 1, 'its own segment (the others are shared with the previous cache)');
  });
}

test(
  'a full disk (a tmpfs): an io error saying so, the previous cache intact, no leftovers; what was written is kept; freed, the next call builds the rest',
  { skip: tmpfsUnavailable() },
  async () => {
    const folder = path.join(dir, 'tmpfs');
    const onTmpfs = { ...engine, snapshotDir: folder };
    await withTmpfs(folder, 1 << 20, async () => {
      await service.index(params(repos[0], onTmpfs), recorder());
      const previous = contents(folder);
      const diskFull = rejectsWith('io', /the disk is full \(ENOSPC\)/);

      // no room even for the build's record or a lock
      let filler = fillDisk(folder, 0);
      await assert.rejects(service.index(params(repos[3], onTmpfs), recorder()), diskFull);
      assertNothingLost(folder, previous);

      // room for the first of three segments, not the second
      const other = path.join(dir, 'other');
      for (const name of ['alpha', 'beta', 'gamma']) write(other, `lib/${name}.py`, `def ${name}(x):\n    return x + 1\n`.repeat(8)); // a segment each
      const learn = path.join(dir, 'learn-other');
      const m = await manifestOf(learn, (await service.index(params(other, { ...engine, snapshotDir: learn }), recorder())).key);
      assert.equal(m.segments.length, 3);
      const [first, second] = m.segments.map((s) => fs.statSync(segmentFile(learn, s.key)).size);
      fs.rmSync(filler);
      filler = fillDisk(folder, first + (second >> 1));
      const t0 = performance.now();
      await assert.rejects(service.index(params(other, onTmpfs), recorder()), diskFull);
      assert.ok(performance.now() - t0 < 20_000, 'no wait for a lock a failed build left');
      assertNothingLost(folder, previous);
      assert.ok(snapshotFolder(folder).segments.includes(m.segments[0].key), 'the first segment was written');

      fs.rmSync(filler);
      const r = await service.index(params(other, onTmpfs), recorder());
      assert.deepEqual(r.segments, { total: 3, reused: 1, built: 2, failed: [] }, 'the segment written before the disk filled is reused');
    });
  },
);
