// One builder per snapshot. Compressing a repository costs minutes, so when two windows (or the CLI
// and the extension) open the same snapshot, one builds and the other waits, then loads the result.
//
// The lock is a file, `<key>.lock`, created with O_EXCL and holding its owner {pid, hostname,
// started, token}. The owner touches it every few seconds; a waiter takes it over when the owner's
// pid is dead on this host or the heartbeat has stopped (another host, or a reused pid). The lock
// only saves duplicate work: correctness comes from the store's atomic rename, so in the rare race
// where two waiters break the same stale lock at once, the worst outcome is two identical builds.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledError, ioError, throwIfCancelled } from '../errors';
import { pidAlive } from '../pid';

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  started: string;
  /** Tells this acquisition apart from any other by the same pid. */
  token: string;
}

export interface BuildLockOptions {
  /** Whether the result exists already; asked once the lock is held, so a finished build is reused. */
  ready: () => Promise<boolean> | boolean;
  /** Cancels waiting (not the build: `build` watches its own signal). */
  signal?: AbortSignal;
  /** Called when another process holds the lock, once per holder. */
  onWait?: (owner: LockOwner) => void;
  /** How often the holder touches the lock. Default 5 s. */
  heartbeatMs?: number;
  /** A lock untouched this long is abandoned. Default 60 s: a busy holder's timer may run late. */
  staleMs?: number;
}

export type BuildOutcome = 'built' | 'reused';

/**
 * Runs `build` holding the lock for `key` in `dir`, unless `ready()` says the result is there by
 * the time the lock is held. Returns 'built' when this process built it, 'reused' otherwise; either
 * way the caller then loads the result. Typical use:
 *
 *   const outcome = await withBuildLock(dir, key, { ready: () => store.has(key), signal }, async () => {
 *     await store.save(await compress(), info);
 *   });
 */
export async function withBuildLock(dir: string, key: string, opts: BuildLockOptions, build: () => Promise<void>): Promise<BuildOutcome> {
  const file = path.join(dir, `${key}.lock`);
  // a folder we may not write, a full disk: the caller hears why in words, not a raw errno
  const release = await fsp
    .mkdir(dir, { recursive: true, mode: 0o700 })
    .then(() => acquire(file, opts))
    .catch((e) => {
      throw ioError(`cannot take the build lock ${file}`, e);
    });
  try {
    if (await opts.ready()) return 'reused';
    await build();
    return 'built';
  } finally {
    await release();
  }
}

interface Held {
  owner?: LockOwner; // absent while the creator has not written it yet, or when unreadable
  raw: string;
  ageMs: number;
}

async function acquire(file: string, opts: BuildLockOptions): Promise<() => Promise<void>> {
  const staleMs = opts.staleMs ?? 60_000;
  const me: LockOwner = { pid: process.pid, hostname: os.hostname(), started: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  let delay = 20;
  let announced: string | undefined;
  while (!(await tryCreate(file, me))) {
    throwIfCancelled(opts.signal, 'waiting for another build of this snapshot');
    const held = await readLock(file);
    if (!held) continue; // released in between: try again at once
    if (isStale(held, staleMs)) {
      await breakLock(file, held.raw);
      continue;
    }
    if (held.owner && held.owner.token !== announced) {
      announced = held.owner.token;
      opts.onWait?.(held.owner);
    }
    try {
      await sleep(delay, undefined, { signal: opts.signal });
    } catch {
      throw new CancelledError('waiting for another build of this snapshot');
    }
    delay = Math.min(delay * 1.5, 1000);
  }
  const beat = setInterval(() => {
    const now = new Date();
    fsp.utimes(file, now, now).catch(() => {});
  }, opts.heartbeatMs ?? 5_000);
  beat.unref();
  return async () => {
    clearInterval(beat);
    // only our own lock: if a waiter judged us dead and took over, the lock is now theirs
    const held = await readLock(file);
    if (held?.owner?.token === me.token) await fsp.rm(file, { force: true });
  };
}

async function tryCreate(file: string, me: LockOwner): Promise<boolean> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(JSON.stringify(me));
  } catch (e) {
    // an empty lock would hold every later build off until it went stale
    await fh.close().catch(() => {});
    await fsp.rm(file, { force: true });
    throw e;
  }
  await fh.close();
  return true;
}

async function readLock(file: string): Promise<Held | undefined> {
  try {
    const [raw, st] = await Promise.all([fsp.readFile(file, 'utf8'), fsp.stat(file)]);
    let owner: LockOwner | undefined;
    try {
      const o = JSON.parse(raw);
      if (Number.isInteger(o.pid) && typeof o.hostname === 'string' && typeof o.token === 'string') owner = o;
    } catch {
      // empty (being written) or damaged: judged by its age alone
    }
    return { owner, raw, ageMs: Date.now() - st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function isStale(held: Held, staleMs: number): boolean {
  if (held.ageMs > staleMs) return true;
  return held.owner !== undefined && held.owner.hostname === os.hostname() && !pidAlive(held.owner.pid);
}

/** Removes the lock if it still is the one judged stale (not a fresh one taken meanwhile). */
async function breakLock(file: string, raw: string): Promise<void> {
  const now = await readLock(file);
  if (now?.raw === raw) await fsp.rm(file, { force: true });
}
