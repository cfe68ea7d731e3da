// One listed path → a repository file or a skip with its reason. A small regular file costs four
// system calls (open, fstat, read, close); its size is known before a byte of it is read, and no
// read goes past maxFileBytes + 1.
//
// The calls are synchronous on purpose: per file, libuv's thread pool costs about three times the
// CPU of the system calls themselves (measured: 100k files, 1.4 s synchronous vs 4.3 s through
// callbacks with 32 in flight, on 2 cores), and listing is CPU-bound. list.ts runs them in short
// time slices, so the event loop (and an abort) still gets a turn every few milliseconds.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeText, skipByName, type Skip, type SkippedFile } from './skip';

export interface RepoFile {
  /** From the root, "/"-separated. */
  path: string;
  text: string;
  /** Size in bytes (UTF-8). */
  bytes: number;
  /** sha256 hex of the bytes. */
  sha256: string;
}

export type Inspected = { file: RepoFile } | { skipped: SkippedFile } | null;

// O_NOFOLLOW: opening a symlink fails (ELOOP; EMLINK on FreeBSD), so links take the checked path
// below without an lstat for every plain file. O_NONBLOCK: opening a FIFO does not wait for a
// writer. Platforms without O_NOFOLLOW (Windows) lstat first instead.
const NOFOLLOW: number | undefined = fs.constants.O_NOFOLLOW;
const OPEN_FLAGS = fs.constants.O_RDONLY | (NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

const errorCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

type Content = Omit<RepoFile, 'path'>;

/**
 * Decides one path from `git ls-files` or the walk ("dir/" = an untracked nested repository);
 * null when it no longer exists (a tracked file deleted in the work tree). `realRoot` is the
 * root with its symlinks resolved.
 */
export function inspect(root: string, realRoot: string, listed: string, maxBytes: number): Inspected {
  const p = listed.endsWith('/') ? listed.slice(0, -1) : listed;
  const abs = path.join(root, p);
  const directory: Skip = { reason: 'nested-repo', detail: listed.endsWith('/') ? 'untracked nested git repository' : 'git submodule' };
  try {
    const fd = openNoFollow(abs);
    const content = fd !== null ? readOpen(fd, p, maxBytes, directory) : readLink(abs, realRoot, p, maxBytes);
    return 'text' in content ? { file: { path: p, ...content } } : { skipped: { path: p, ...content } };
  } catch (e) {
    if (errorCode(e) === 'EISDIR') return { skipped: { path: p, ...directory } }; // Windows cannot open a folder
    // Files vanish and permissions change while we list: report it rather than fail the listing.
    return errorCode(e) === 'ENOENT' ? null : { skipped: { path: p, reason: 'unreadable', detail: errorCode(e) } };
  }
}

/** A descriptor, or null when `abs` is a symlink. */
function openNoFollow(abs: string): number | null {
  if (NOFOLLOW === undefined && fs.lstatSync(abs).isSymbolicLink()) return null;
  try {
    return fs.openSync(abs, OPEN_FLAGS);
  } catch (e) {
    if (errorCode(e) === 'ELOOP' || errorCode(e) === 'EMLINK') return null;
    throw e;
  }
}

/** A symlink: followed only when it resolves to a file inside the root. */
function readLink(abs: string, realRoot: string, p: string, maxBytes: number): Content | Skip {
  const target = fs.readlinkSync(abs);
  let real: string;
  try {
    real = fs.realpathSync.native(abs);
  } catch (e) {
    if (errorCode(e) === 'ELOOP') return { reason: 'symlink-loop', detail: `-> ${target}` };
    if (errorCode(e) === 'ENOENT') return { reason: 'unreadable', detail: `dangling symlink -> ${target}` };
    throw e;
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return { reason: 'symlink-outside', detail: `-> ${target}` };
  return readOpen(fs.openSync(real, OPEN_FLAGS), p, maxBytes, { reason: 'not-a-file', detail: `symlink to a directory -> ${target}` });
}

/** Classifies and reads an open descriptor, and closes it. `directory` is what a folder is here. */
function readOpen(fd: number, p: string, maxBytes: number, directory: Skip): Content | Skip {
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) return directory;
    const byName = skipByName(p);
    if (byName) return byName;
    if (!st.isFile()) return { reason: 'not-a-file', detail: 'not a regular file' };
    if (st.size > maxBytes) return { reason: 'too-large', detail: `${st.size} bytes > maxFileBytes ${maxBytes}` };
    const bytes = readBounded(fd, st.size, maxBytes);
    if (bytes === null) return { reason: 'too-large', detail: `grew past maxFileBytes ${maxBytes} while being read` };
    const decoded = decodeText(bytes);
    if (!('text' in decoded)) return decoded;
    return { text: decoded.text, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The file's bytes, or null once more than `limit` have been read. One read when the size is as
 * fstat said; a file that grew since is read on, never past `limit + 1` bytes.
 */
function readBounded(fd: number, size: number, limit: number): Buffer | null {
  let buf = Buffer.allocUnsafe(Math.min(size, limit) + 1);
  let got = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, got, buf.length - got, got);
    got += n;
    if (n === 0 || got === size) return buf.subarray(0, got);
    if (got === buf.length) {
      if (got > limit) return null;
      const bigger = Buffer.allocUnsafe(Math.min(2 * got, limit + 1));
      buf.copy(bigger, 0, 0, got);
      buf = bigger;
    }
  }
}
