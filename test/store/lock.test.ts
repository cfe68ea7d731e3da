// The build lock: of two processes racing on one snapshot exactly one builds and both load the
// result; abandoned locks (dead pid, stopped heartbeat) are taken over; a live one is waited for,
// and the wait can be cancelled; a holder never deletes a lock that is no longer its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CancelledError } from '../../src/engine/errors';
import { LockOwner, withBuildLock } from '../../src/engine/store/lock';
import { scratchDir } from '../helpers/models';

const scratch = scratchDir('store-lock');
let dirs = 0;
const freshDir = () => path.join(scratch.dir, `d${dirs++}`);
const key = 'k'.repeat(64);
const lockOf = (dir: string) => path.join(dir, `${key}.lock`);

function writeLock(dir: string, owner: Partial<LockOwner>, ageMs = 0): string {
  fs.mkdirSync(dir, { recursive: true });
  const raw = JSON.stringify({ pid: process.pid, hostname: os.hostname(), started: new Date().toISOString(), token: 'theirs', ...owner });
  fs.writeFileSync(lockOf(dir), raw);
  const t = new Date(Date.now() - ageMs);
  fs.utimesSync(lockOf(dir), t, t);
  return raw;
}

test('two processes race on one snapshot: exactly one builds, the other waits, both load the result', async () => {
  const dir = freshDir();
  const marker = path.join(scratch.dir, 'builds.log');
  const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(__dirname, 'child.ts'), 'race', dir, key, marker]);
  const children = [run(), run()];
  // a barrier: both are started before either may take the lock
  const ready = () => fs.readdirSync(scratch.dir).filter((n) => n.startsWith('builds.log.ready.')).length;
  for (const t0 = Date.now(); ready() < 2 && Date.now() - t0 < 30_000;) await sleep(5);
  fs.writeFileSync(`${marker}.go`, '');
  const results = (await Promise.all(children)).map((r) => JSON.parse(r.stdout));
  const builders = fs.readFileSync(marker, 'utf8').trim().split('\n').map(Number);
  assert.equal(builders.length, 1, 'exactly one build');
  assert.deepEqual(results.map((r) => r.outcome).sort(), ['built', 'reused']);
  assert.deepEqual(results.find((r) => r.outcome === 'reused').waited, true, 'the other process waited for the build');
  assert.deepEqual(
    results.map((r) => r.builder),
    [builders[0], builders[0]],
    'both loaded the one build',
  );
  assert.equal(fs.existsSync(lockOf(dir)), false, 'the lock is released');
});

test('a lock whose pid is dead on this host is taken over at once', async () => {
  const dir = freshDir();
  writeLock(dir, { pid: spawnSync(process.execPath, ['-e', '']).pid });
  const waits: LockOwner[] = [];
  const t0 = Date.now();
  assert.equal(await withBuildLock(dir, key, { ready: () => false, onWait: (o) => waits.push(o) }, async () => {}), 'built');
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(waits, []);
  assert.equal(fs.existsSync(lockOf(dir)), false);
});

test('a lock whose heartbeat stopped is taken over, even with a live pid', async () => {
  const dir = freshDir();
  writeLock(dir, { pid: process.pid }, 5_000);
  assert.equal(await withBuildLock(dir, key, { ready: () => false, staleMs: 2_000 }, async () => {}), 'built');
});

test('a live lock of another host is waited for; cancelling the wait leaves it alone', async () => {
  const dir = freshDir();
  const raw = writeLock(dir, { hostname: 'elsewhere', pid: 1 });
  const ac = new AbortController();
  const waits: LockOwner[] = [];
  let built = false;
  setTimeout(() => ac.abort(), 300);
  await assert.rejects(
    withBuildLock(dir, key, { ready: () => false, signal: ac.signal, onWait: (o) => waits.push(o) }, async () => {
      built = true;
    }),
    (e: unknown) => e instanceof CancelledError && e.message === 'waiting for another build of this snapshot was cancelled',
  );
  assert.equal(built, false);
  assert.deepEqual(
    waits.map((o) => [o.hostname, o.token]),
    [['elsewhere', 'theirs']],
    'onWait once per holder',
  );
  assert.equal(fs.readFileSync(lockOf(dir), 'utf8'), raw);
});

test('the holder keeps its lock fresh; a waiter in the same process reuses the build when it is released', async () => {
  const dir = freshDir();
  let done = false;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const first = withBuildLock(dir, key, { ready: () => done, heartbeatMs: 20 }, async () => {
    await gate;
    done = true;
  });
  await sleep(50);
  const mtime0 = fs.statSync(lockOf(dir)).mtimeMs;
  const waits: LockOwner[] = [];
  let secondBuilt = false;
  const second = withBuildLock(dir, key, { ready: () => done, onWait: (o) => waits.push(o) }, async () => {
    secondBuilt = true;
  });
  await sleep(200);
  assert.ok(fs.statSync(lockOf(dir)).mtimeMs > mtime0, 'heartbeat');
  assert.deepEqual(
    waits.map((o) => o.pid),
    [process.pid],
  );
  release();
  assert.deepEqual(await Promise.all([first, second]), ['built', 'reused']);
  assert.equal(secondBuilt, false);
  assert.equal(fs.existsSync(lockOf(dir)), false);
});

test('a holder whose lock was taken over does not delete the new owner’s lock', async () => {
  const dir = freshDir();
  let raw = '';
  await withBuildLock(dir, key, { ready: () => false }, async () => {
    raw = writeLock(dir, { token: 'successor' });
  });
  assert.equal(fs.readFileSync(lockOf(dir), 'utf8'), raw);
});

test('a failed build releases the lock and reports its error', async () => {
  const dir = freshDir();
  await assert.rejects(
    withBuildLock(dir, key, { ready: () => false }, async () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(fs.existsSync(lockOf(dir)), false);
  assert.equal(await withBuildLock(dir, key, { ready: () => false }, async () => {}), 'built');
});
