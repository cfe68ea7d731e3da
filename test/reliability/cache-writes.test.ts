// Writes that fail, met through the engine's own calls: a folder where a cache file should be, a
// snapshot folder the engine may not write, a full disk. Each is reported with its reason, the
// previous good cache is untouched, nothing half-written or locked stays behind, and once the fault
// is gone the next call works. test/store/store.test.ts covers the same faults at the store alone.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { EngineService } from '../../src/engine/service';
import type { EngineSettings } from '../../src/engine/worker/protocol';
import { fillDisk, indexParams, recorder, repozip, scratch, smallRepo, snapshotFolder, tmpfsUnavailable, withoutWriteAccess, withTmpfs } from './helpers';

const { dir, engine, snapshots } = scratch('cache-writes');
const service = new EngineService();
after(() => service.dispose());

const params = (root: string, settings: EngineSettings = engine) => indexParams(settings, { root, maxContextTokens: 200 });
const repos = [0, 1, 2, 3].map((v) => smallRepo(path.join(dir, `repo${v}`), v));
const fileOf = (folder: string, key: string) => path.join(folder, `${key}.rzkv`);

/** The previous good cache: built before the faults, compared byte for byte after each. */
let good = { key: '', bytes: Buffer.alloc(0) };
before(async () => {
  const r = await service.index(params(repos[0]), recorder());
  good = { key: r.key, bytes: fs.readFileSync(fileOf(snapshots, r.key)) };
});

const rejectsWith = (code: string, message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof EngineError, String((e as Error).stack));
  assert.equal(e.code, code, e.message);
  assert.match(e.message, message);
  return true;
};

function assertNothingLost(folder = snapshots, previous = good): void {
  assert.ok(fs.readFileSync(fileOf(folder, previous.key)).equals(previous.bytes), 'the previous cache is untouched');
  const { temps, locks } = snapshotFolder(folder);
  assert.deepEqual({ temps, locks }, { temps: [], locks: [] }, 'nothing half-written or locked is left');
}

test('a folder where the cache file should be: index and ask say so and leave it alone; removed as the message says, the next call builds', async () => {
  const key = (await service.index(params(repos[1]), recorder())).key;
  const file = fileOf(snapshots, key);
  fs.rmSync(file);
  fs.mkdirSync(file);
  fs.writeFileSync(path.join(file, 'notes.txt'), 'not the engine’s to delete');
  await service.index(params(repos[0]), recorder()); // the loaded cache is another one: repo1's is read from disk
  const says = new RegExp(`is not a regular file; remove it \\(repozip cache rm ${key}\\)`);
  await assert.rejects(service.index(params(repos[1]), recorder()), rejectsWith('corrupt-cache', says));
  await assert.rejects(service.ask({ ...params(repos[1]), question: 'What is add?', maxTokens: 4 }, recorder()), rejectsWith('corrupt-cache', says));
  assert.equal(fs.readFileSync(path.join(file, 'notes.txt'), 'utf8'), 'not the engine’s to delete');
  assertNothingLost();

  const rm = await repozip(['cache', 'rm', key, '--cache-dir', engine.cacheDir!]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(fs.existsSync(file), false);
  const r = await service.index(params(repos[1]), recorder());
  assert.equal(r.reused, false);
  assert.ok(fs.statSync(file).isFile());
});

test('a snapshot folder the engine may not write: an io error naming it, the previous cache intact; with the permission back the next call builds', async () => {
  const build = () => service.index(params(repos[2]), recorder());
  await withoutWriteAccess(snapshots, [dir], () => assert.rejects(build(), rejectsWith('io', /permission denied \(EACCES\)/)));
  assertNothingLost();
  assert.equal((await build()).reused, false);
});

test('a full disk (a tmpfs): an io error saying so, the previous cache intact, no leftovers; freed, the next call builds', { skip: tmpfsUnavailable() }, async () => {
  const folder = path.join(dir, 'tmpfs');
  const onTmpfs = { ...engine, snapshotDir: folder };
  await withTmpfs(folder, 1 << 20, async () => {
    const first = await service.index(params(repos[0], onTmpfs), recorder());
    const previous = { key: first.key, bytes: fs.readFileSync(fileOf(folder, first.key)) };
    const diskFull = rejectsWith('io', /the disk is full \(ENOSPC\)/);

    // room for neither the snapshot nor the prefill checkpoint
    let filler = fillDisk(folder, previous.bytes.length >> 1);
    await assert.rejects(service.index(params(repos[1], onTmpfs), recorder()), diskFull);
    assertNothingLost(folder, previous);

    // no room even for the build lock
    fs.rmSync(filler);
    filler = fillDisk(folder, 0);
    await assert.rejects(service.index(params(repos[1], onTmpfs), recorder()), diskFull);
    assertNothingLost(folder, previous);

    // room for the snapshot but not for the (larger, uncompressed) checkpoint: the checkpoint only
    // speeds up the next build, so the build succeeds and a notice says what was skipped
    fs.rmSync(filler);
    filler = fillDisk(folder, previous.bytes.length + (64 << 10));
    const ctx = recorder();
    const t0 = performance.now();
    const r = await service.index(params(repos[1], onTmpfs), ctx);
    assert.equal(r.reused, false);
    assert.ok(performance.now() - t0 < 20_000, 'no wait for a lock the failed builds left');
    assert.match(ctx.notices().join('\n'), /checkpoint.*the disk is full \(ENOSPC\)/);
    assertNothingLost(folder, previous);
    fs.rmSync(filler);
  });
});
