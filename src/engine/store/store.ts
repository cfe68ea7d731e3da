// A directory of compressed snapshots, one file per snapshot key: `<key>.rzkv`. A file appears
// only complete (written to a temporary name, fsynced, renamed), is used only after full
// validation, and is deleted when it fails it, so the caller rebuilds instead of answering from
// garbage. There is no index to go wrong: the directory listing is the index, a file's mtime is its
// last use (touched on every load), and its header says everything else.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { describeIo, EngineError, ioError, throwIfCancelled } from '../errors';
import { Cache, KvCache } from '../kv/cache';
import { defaultCacheRoot } from '../model/convert';
import { ByteSource, CacheHeader, decodeSnapshot, encodeSnapshot, Expect, KvDtype, readHeader, SnapshotInfo } from './format';
import { pidAlive } from '../pid';

export const SNAPSHOT_EXT = '.rzkv';
export const DEFAULT_BUDGET_BYTES = 4 * 1024 ** 3;
/** A temporary file this much older than its last write is abandoned even if its pid lives (pid reuse). */
export const STALE_TEMP_MS = 10 * 60_000;

// `<file name>.<pid>.<random>.tmp` (a snapshot's, or a manifest's `<key>.json`): the pid says
// whether its writer still lives.
const TEMP = /^.+\.(\d+)\.[0-9a-f]+\.tmp$/;
// Keys become file names: nothing that could escape the directory or upset a file system.
const KEY = /^[A-Za-z0-9_-]{1,128}$/;

/** Snapshots live next to the converted graphs, in their own folder. */
export function defaultSnapshotDir(root = defaultCacheRoot()): string {
  return path.join(root, 'snapshots');
}

export interface SnapshotEntry {
  key: string;
  bytes: number;
  lastUsed: Date;
}

export class SnapshotStore {
  constructor(readonly dir: string) {}

  pathOf(key: string): string {
    if (!KEY.test(key)) throw new EngineError('bad-input', `snapshot key ${JSON.stringify(key)} must be 1-128 letters, digits, "-" or "_"`);
    return path.join(this.dir, key + SNAPSHOT_EXT);
  }

  /**
   * Writes a snapshot atomically: a crash at any point leaves the previous file for the key intact.
   * `signal` stops the write between chunks, and before the rename (a large cache takes a while).
   */
  async save(cache: Cache, info: SnapshotInfo, dtype: KvDtype = 'fp16', signal?: AbortSignal): Promise<{ path: string; bytes: number; header: CacheHeader }> {
    const file = this.pathOf(info.snapshotKey);
    const { header, chunks } = encodeSnapshot(await cache.toHost(), info, dtype); // a device cache is read back once
    const tmp = this.tempPath(info.snapshotKey);
    let fh: fsp.FileHandle | undefined;
    let bytes = 0;
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      fh = await fsp.open(tmp, 'wx', 0o600);
      for (const chunk of chunks) {
        throwIfCancelled(signal, 'writing the cache');
        for (let done = 0; done < chunk.length;) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
        bytes += chunk.length;
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      throwIfCancelled(signal, 'writing the cache');
      await fsp.rename(tmp, file);
    } catch (e) {
      await fh?.close().catch(() => {});
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw ioError(`cannot write ${file}`, e);
    }
    await syncDir(this.dir);
    return { path: file, bytes, header };
  }

  /** A temporary name for writing the file of `key` (cleanupStale deletes it once its writer is gone). */
  tempPath(key: string): string {
    return `${this.pathOf(key)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  }

  /**
   * Puts a file written elsewhere (a download, at tempPath(key)) in place as the snapshot for
   * `key`, once it passes every check load() makes; one that fails is deleted and `corrupt-cache`
   * thrown, so nothing unverified is ever at a key's path.
   */
  async adopt(tmp: string, key: string, expect: Omit<Expect, 'snapshotKey'> = {}): Promise<void> {
    const fh = await fsp.open(tmp, 'r');
    let problem: unknown;
    try {
      await decodeSnapshot(fileSource(fh, (await fh.stat()).size), { ...expect, snapshotKey: key });
    } catch (e) {
      problem = e;
    } finally {
      await fh.close();
    }
    if (problem !== undefined) {
      await fsp.rm(tmp, { force: true });
      throw problem instanceof EngineError ? problem : new EngineError('corrupt-cache', `cannot read ${tmp}: ${describeIo(problem)}`);
    }
    await fsp.rename(tmp, this.pathOf(key)).catch((e) => {
      throw ioError(`cannot write ${this.pathOf(key)}`, e);
    });
    await syncDir(this.dir);
  }

  /**
   * The snapshot for `key`, fully validated, or undefined when there is none. A file that fails
   * validation is deleted and reported as `corrupt-cache`: the caller rebuilds.
   */
  async load(key: string, expect: Omit<Expect, 'snapshotKey'> = {}): Promise<{ cache: KvCache; header: CacheHeader } | undefined> {
    const file = this.pathOf(key);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new EngineError('corrupt-cache', `cannot read ${file}: ${describeIo(e)}`);
    }
    let st: Stats | undefined;
    let problem: string;
    try {
      st = await fh.stat();
      if (st.isFile()) {
        const result = await decodeSnapshot(fileSource(fh, st.size), { ...expect, snapshotKey: key });
        const now = new Date();
        await fsp.utimes(file, now, now).catch(() => {}); // the last use, for gc; a read-only store still loads
        return result;
      }
      problem = `${file} is not a regular file; remove it (repozip cache rm ${key})`;
    } catch (e) {
      // only a failed validation condemns the file; an I/O or memory error says nothing about it
      if (!(e instanceof EngineError)) throw new EngineError('corrupt-cache', `cannot read ${file}: ${describeIo(e)}`);
      problem = e.message;
    } finally {
      await fh.close();
    }
    if (!st?.isFile()) throw new EngineError('corrupt-cache', problem);
    // Delete only the file judged: a writer may have renamed a good one into place meanwhile.
    const current = await fsp.stat(file).catch(() => undefined);
    const same = current?.ino === st.ino && current.dev === st.dev;
    const deleted =
      same &&
      (await fsp.rm(file, { force: true }).then(
        () => true,
        () => false,
      ));
    throw new EngineError('corrupt-cache', `${file}: ${problem}${deleted ? '; the file was deleted' : ''}`);
  }

  // has, occupied and header are asked of every segment of a snapshot at each index: done
  // synchronously, a stat or a header of a few KB costs a tenth of a round trip through the thread
  // pool. The store runs in the engine process and the CLI, never on the extension host.
  async has(key: string): Promise<boolean> {
    return fs.statSync(this.pathOf(key), { throwIfNoEntry: false })?.isFile() ?? false;
  }

  /** Whether anything at all is at the key's path: a snapshot, or something in its way (a folder). */
  async occupied(key: string): Promise<boolean> {
    return fs.lstatSync(this.pathOf(key), { throwIfNoEntry: false }) !== undefined;
  }

  /** The header of the file for `key` (checked, but not the rows); undefined when there is none. */
  async header(key: string): Promise<CacheHeader | undefined> {
    let fd: number;
    try {
      fd = fs.openSync(this.pathOf(key), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      return (await readHeader(syncSource(fd, fs.fstatSync(fd).size))).header;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Deletes a snapshot (whatever is at its path); false when there was none. */
  async remove(key: string): Promise<boolean> {
    const existed = await this.occupied(key);
    await fsp.rm(this.pathOf(key), { recursive: true, force: true });
    return existed;
  }

  /** Deletes temporary files left by killed writers; returns their names. Run once at start. */
  cleanupStale(maxAgeMs = STALE_TEMP_MS): Promise<string[]> {
    return removeStaleTemps(this.dir, maxAgeMs);
  }

  /** Snapshot files by last use, newest first, with their sizes; no file is opened. */
  async files(): Promise<SnapshotEntry[]> {
    const out: SnapshotEntry[] = [];
    for (const name of await namesIn(this.dir)) {
      const key = name.slice(0, -SNAPSHOT_EXT.length);
      if (!name.endsWith(SNAPSHOT_EXT) || !KEY.test(key)) continue;
      const st = await fsp.stat(path.join(this.dir, name)).catch(() => undefined);
      if (st?.isFile()) out.push({ key, bytes: st.size, lastUsed: st.mtime });
    }
    return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
  }
}

/** Deletes the temporary files in `dir` whose writer died, or that are older than `maxAgeMs`; returns their names. */
export async function removeStaleTemps(dir: string, maxAgeMs = STALE_TEMP_MS): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await namesIn(dir)) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) continue;
    if (pidAlive(Number(m[1])) && Date.now() - st.mtimeMs < maxAgeMs) continue;
    await fsp.rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return fs.readdirSync(dir); // see has(): in the engine process, sync is the cheaper wait
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(`cannot list ${dir}`, e);
  }
}

/** Makes a rename survive a power cut; best effort (Windows cannot open a directory). */
async function syncDir(dir: string): Promise<void> {
  const d = await fsp.open(dir, 'r').catch(() => undefined);
  await d
    ?.sync()
    .catch(() => {})
    .finally(() => d.close());
}

function syncSource(fd: number, size: number): ByteSource {
  return {
    size,
    async read(into, offset) {
      for (let done = 0; done < into.length;) {
        const bytesRead = fs.readSync(fd, into, done, into.length - done, offset + done);
        if (bytesRead === 0) throw new EngineError('corrupt-cache', 'the file shrank while it was read');
        done += bytesRead;
      }
    },
  };
}

function fileSource(fh: fsp.FileHandle, size: number): ByteSource {
  return {
    size,
    async read(into, offset) {
      for (let done = 0; done < into.length;) {
        const { bytesRead } = await fh.read(into, done, into.length - done, offset + done);
        if (bytesRead === 0) throw new EngineError('corrupt-cache', 'the file shrank while it was read');
        done += bytesRead;
      }
    },
  };
}
