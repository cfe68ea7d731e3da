// The snapshot store on a real file system: atomic saves that leave the previous file intact when
// the disk is full, the directory is not writable or the writer is killed; permissions; listing,
// removal, LRU eviction and the cleanup of abandoned temporary files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError } from '../../src/engine/errors';
import { SnapshotStore } from '../../src/engine/store/store';
import { scratchDir } from '../helpers/models';
import { CacheSpec, SMALL, snapshotCache, snapshotInfo } from './fixture';

const scratch = scratchDir('store');
let stores = 0;
/** A fresh store in a folder that does not exist yet. */
const freshStore = () => new SnapshotStore(path.join(scratch.dir, `s${stores++}`, 'snapshots'));
const tempFiles = (store: SnapshotStore) => fs.readdirSync(store.dir).filter((n) => n.endsWith('.tmp'));
const keyOf = (c: string) => c.repeat(64);
const mode = (p: string) => fs.statSync(p).mode & 0o777;
/** A pid that no process has: one that has just exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

async function saveWithMeta(store: SnapshotStore, key: string, meta: Record<string, unknown>, spec: CacheSpec = SMALL) {
  return store.save(snapshotCache(spec), snapshotInfo(spec, { snapshotKey: key, meta }));
}

async function metaOf(store: SnapshotStore, key: string) {
  return (await store.load(key))?.header.meta;
}

const writeError = (code: string) => (e: unknown) =>
  e instanceof EngineError && e.code === 'io' && new RegExp(`^cannot write .*\\.rzkv: .* \\(${code}\\)$`).test(e.message);

test('save then load: the folder is 0700, the file 0600, a miss is undefined, has() follows', async () => {
  const store = freshStore();
  const key = keyOf('a');
  assert.equal(await store.load(key), undefined);
  assert.equal(await store.has(key), false);
  const saved = await saveWithMeta(store, key, { v: 1 });
  assert.equal(saved.path, path.join(store.dir, `${key}.rzkv`));
  assert.equal(saved.bytes, fs.statSync(saved.path).size);
  assert.equal(mode(store.dir), 0o700);
  assert.equal(mode(saved.path), 0o600);
  assert.equal(await store.has(key), true);
  assert.deepEqual(await metaOf(store, key), { v: 1 });
  assert.deepEqual(tempFiles(store), []);
});

test('a second save replaces the first whole', async () => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, { v: 1 });
  await saveWithMeta(store, key, { v: 2 }, { ...SMALL, context: 50 });
  const got = await store.load(key);
  assert.deepEqual(got?.header.meta, { v: 2 });
  assert.equal(got?.header.contextLength, 50);
  assert.deepEqual(fs.readdirSync(store.dir), [`${key}.rzkv`]);
});

test('a reader that opened the old file keeps reading it whole while a new one is saved', async () => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, { v: 1 });
  const before = fs.readFileSync(store.pathOf(key));
  const fd = fs.openSync(store.pathOf(key), 'r');
  try {
    await saveWithMeta(store, key, { v: 2 }, { ...SMALL, context: 80 });
    const seen = Buffer.alloc(before.length + 1);
    assert.equal(fs.readSync(fd, seen, 0, seen.length, 0), before.length);
    assert.ok(seen.subarray(0, before.length).equals(before));
  } finally {
    fs.closeSync(fd);
  }
  assert.deepEqual(await metaOf(store, key), { v: 2 });
});

test('keys that are not plain file names are refused', async () => {
  const store = freshStore();
  for (const key of ['', '../x', 'a/b', 'a.rzkv', 'k'.repeat(129)]) {
    await assert.rejects(
      async () => store.load(key),
      (e: unknown) => e instanceof EngineError && e.code === 'bad-input' && /must be 1-128 letters, digits/.test(e.message),
    );
  }
});

test('disk full (injected ENOSPC after the first chunks): clear error, previous file intact, no temp file', async (t) => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, { v: 1 });
  const probe = await fsp.open(path.join(scratch.dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe);
  await probe.close();
  const write = proto.write;
  let calls = 0;
  t.mock.method(proto, 'write', function (this: fsp.FileHandle, ...args: unknown[]) {
    if (++calls > 3) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    return write.apply(this, args);
  });
  await assert.rejects(saveWithMeta(store, key, { v: 2 }), writeError('ENOSPC'));
  t.mock.restoreAll();
  assert.ok(calls > 3, 'the failure happened mid-file');
  assert.deepEqual(tempFiles(store), []);
  assert.deepEqual(await metaOf(store, key), { v: 1 });
});

test('a cache the encoder refuses mid-file (fp16 overflow in the last head): previous file intact, no temp file', async () => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, { v: 1 });
  const cache = snapshotCache(SMALL);
  cache.head(SMALL.layers - 1, SMALL.kvHeads - 1).v[0] = 1e6;
  await assert.rejects(
    store.save(cache, snapshotInfo(SMALL, { snapshotKey: key })),
    (e: unknown) => e instanceof EngineError && e.code === 'bad-input' && /layer 1 head 2: a value is not finite in fp16/.test(e.message),
  );
  assert.deepEqual(tempFiles(store), []);
  assert.deepEqual(await metaOf(store, key), { v: 1 });
});

test('an I/O error while reading (injected EIO) is reported but does not condemn the file', async (t) => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, { v: 1 });
  const probe = await fsp.open(store.pathOf(key), 'r');
  const proto = Object.getPrototypeOf(probe);
  await probe.close();
  t.mock.method(proto, 'read', () => Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })));
  await assert.rejects(
    store.load(key),
    (e: unknown) => e instanceof EngineError && e.code === 'corrupt-cache' && /^cannot read .*\.rzkv: EIO: i\/o error, read$/.test(e.message),
  );
  t.mock.restoreAll();
  assert.deepEqual(await metaOf(store, key), { v: 1 });
});

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = path.join(scratch.dir, 'mount-probe');
  fs.mkdirSync(probe);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  }
})();

test(
  'disk full for real (a 512 KiB tmpfs): clear error, previous file intact, no temp file',
  { skip: !canMount && 'mounting a tmpfs needs root' },
  async () => {
    const dir = path.join(scratch.dir, 'tmpfs');
    fs.mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', dir]);
    try {
      const store = new SnapshotStore(dir);
      const key = keyOf('a');
      await saveWithMeta(store, key, { v: 1 });
      await assert.rejects(
        saveWithMeta(store, key, { v: 2 }, { layers: 4, kvHeads: 2, headDim: 64, prefix: 5, context: 2000, ratio: 1 }),
        writeError('ENOSPC'),
      );
      assert.deepEqual(tempFiles(store), []);
      assert.deepEqual(await metaOf(store, key), { v: 1 });
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  },
);

// Root ignores permission bits, so as root the save runs with the effective uid of "nobody".
test('no write permission on the folder: clear error, previous file intact, no temp file', async () => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, { v: 1 });
  const asRoot = process.getuid?.() === 0;
  fs.chmodSync(scratch.dir, 0o711);
  fs.chmodSync(store.dir, 0o555);
  if (asRoot) process.seteuid!(65534);
  try {
    await assert.rejects(saveWithMeta(store, key, { v: 2 }), writeError('EACCES'));
  } finally {
    if (asRoot) process.seteuid!(0);
    fs.chmodSync(store.dir, 0o700);
    fs.chmodSync(scratch.dir, 0o700);
  }
  assert.deepEqual(tempFiles(store), []);
  assert.deepEqual(await metaOf(store, key), { v: 1 });
});

test('a file where the folder should be: clear error', async () => {
  const blocked = path.join(scratch.dir, 'blocked');
  fs.writeFileSync(blocked, 'not a folder');
  const store = new SnapshotStore(path.join(blocked, 'snapshots'));
  await assert.rejects(saveWithMeta(store, keyOf('a'), {}), writeError('ENOTDIR'));
});

test('kill -9 mid-write: the previous file still loads, the temp file goes at the next cleanupStale()', async () => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, { v: 1 });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'child.ts'), 'write', store.dir, key], { stdio: 'inherit' });
  const exited = new Promise((resolve) => child.on('exit', (_, signal) => resolve(signal)));
  let partial = '';
  for (const t0 = Date.now(); !partial && Date.now() - t0 < 30_000; await sleep(2)) {
    partial = tempFiles(store).find((n) => fs.statSync(path.join(store.dir, n), { throwIfNoEntry: false })?.size! > 1 << 20) ?? '';
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.ok(partial, 'the child should have been caught mid-write');
  const left = fs.statSync(path.join(store.dir, partial)).size;
  assert.ok(left < 24 * 2 * 3008 * 256, `the temp file is partial (${left} bytes)`);
  assert.deepEqual(await metaOf(store, key), { v: 1 });
  assert.deepEqual(await store.cleanupStale(), [partial]);
  assert.deepEqual(fs.readdirSync(store.dir), [`${key}.rzkv`]);
});

test('cleanupStale removes temp files of dead writers and old ones, nothing else', async () => {
  const store = freshStore();
  const key = keyOf('a');
  await saveWithMeta(store, key, {});
  const names = {
    dead: `${key}.rzkv.${deadPid()}.0a1b.tmp`,
    live: `${key}.rzkv.${process.pid}.2c3d.tmp`,
    old: `${key}.rzkv.${process.pid}.4e5f.tmp`,
    other: 'notes.tmp',
  };
  for (const n of Object.values(names)) fs.writeFileSync(path.join(store.dir, n), 'x');
  const longAgo = new Date(Date.now() - 11 * 60_000);
  fs.utimesSync(path.join(store.dir, names.old), longAgo, longAgo);
  assert.deepEqual((await store.cleanupStale()).sort(), [names.dead, names.old].sort());
  assert.deepEqual(fs.readdirSync(store.dir).sort(), [`${key}.rzkv`, names.live, names.other].sort());
});

test('files: newest first, with sizes and last use; a damaged file is listed too (it is judged when loaded); temp and lock files are not', async () => {
  const store = freshStore();
  assert.deepEqual(await store.files(), [], 'a store that does not exist yet is empty');
  await saveWithMeta(store, keyOf('a'), {});
  await saveWithMeta(store, keyOf('b'), {});
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(store.pathOf(keyOf('a')), past, past);
  fs.writeFileSync(store.pathOf(keyOf('c')), 'garbage');
  fs.utimesSync(store.pathOf(keyOf('c')), new Date(0), new Date(0));
  fs.writeFileSync(path.join(store.dir, `${keyOf('d')}.rzkv.1.ab.tmp`), '');
  fs.writeFileSync(path.join(store.dir, `${keyOf('d')}.lock`), '{}');
  fs.mkdirSync(store.pathOf(keyOf('e')));
  const list = await store.files();
  assert.deepEqual(
    list.map((e) => e.key),
    [keyOf('b'), keyOf('a'), keyOf('c')],
  );
  assert.equal(list[1].lastUsed.getTime(), past.getTime());
  assert.equal(list[0].bytes, fs.statSync(store.pathOf(keyOf('b'))).size);
});

test('remove deletes a snapshot and says whether there was one', async () => {
  const store = freshStore();
  await saveWithMeta(store, keyOf('a'), {});
  assert.equal(await store.remove(keyOf('a')), true);
  assert.equal(await store.remove(keyOf('a')), false);
  assert.equal(await store.has(keyOf('a')), false);
});
