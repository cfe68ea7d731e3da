// Which files of a folder make up "the repository". Inside a git work tree git itself answers
// (tracked + untracked-but-not-ignored: what the user sees in `git status`); elsewhere walk.ts
// applies the .gitignore files the same way. Then the user's include/exclude patterns, then each
// path is read and judged by file.ts and skip.ts, one at a time in short time slices.
//
// Include/exclude syntax: both are lists of .gitignore patterns matched against the path from the
// root with "/" separators, case-sensitively (`*.ts`, `src/`, `/docs/**/*.md`, `!src/keep.ts`). A
// path is listed when `include` is empty or matches it, and `exclude` does not.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Ignore } from 'ignore';
import { inspect, type RepoFile } from './file';
import { runGit, splitNul } from './git';
import { gitignorePatterns } from './patterns';
import type { SkippedFile } from './skip';
import { timeSlices } from './slices';
import { walkPaths } from './walk';

export type { RepoFile } from './file';

export interface ListOptions {
  include?: readonly string[];
  exclude?: readonly string[];
  /** Files above this size are skipped unread. Default 1 MiB. */
  maxFileBytes?: number;
  signal?: AbortSignal;
  /** The paths to judge, from candidatePaths() with the same options: one walk serves statFingerprint and listFiles. */
  candidates?: Candidates;
}

/** The paths a listing judges (filtered by include/exclude, sorted), and who decided which are ignored. */
export interface Candidates {
  source: 'git' | 'walk';
  paths: string[];
}

export interface Listing {
  /** Who decided what is ignored: git (inside a work tree) or the .gitignore walk. */
  source: 'git' | 'walk';
  /** Sorted by path. */
  files: RepoFile[];
  /** Sorted by path. */
  skipped: SkippedFile[];
}

export const DEFAULT_MAX_FILE_BYTES = 1 << 20;

/** Code-unit order: the same on every machine (localeCompare is not). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The user's include/exclude patterns; null when there are none (the common case costs nothing). */
function userFilter(include: readonly string[], exclude: readonly string[]): { keeps(p: string): boolean; prunes(dir: string): boolean } | null {
  if (include.length === 0 && exclude.length === 0) return null;
  const inc: Ignore | null = include.length > 0 ? gitignorePatterns(include) : null;
  const exc = gitignorePatterns(exclude);
  return {
    keeps: (p) => !exc.ignores(p) && (inc === null || inc.ignores(p)),
    // A folder whose whole content is excluded need not be walked.
    prunes: (dir) => exc.ignores(`${dir}/`),
  };
}

/**
 * Paths from git when `root` is in a work tree and not itself ignored there (a project folder in
 * a home directory managed as a dotfiles repository is ignored by it: walk it instead). `git
 * check-ignore -q .` answers both at once: exit 1 = in a work tree and not ignored, 0 = ignored,
 * 128 = not a work tree. Returns null when git should not, or cannot, be used.
 */
async function gitPaths(root: string, signal?: AbortSignal): Promise<string[] | null> {
  if (!mayBeInWorkTree(root)) return null; // starting git costs ~10 ms a process: not twice per listing for nothing
  try {
    // -c: tracked, including files deleted in the work tree (file.ts drops those); -o
    // --exclude-standard: untracked and not ignored. Untracked nested repositories come back as
    // "dir/", submodules as their folder. Unmerged paths appear once per stage, hence the Set.
    // Both at once: the listing is only used when check-ignore allows it.
    const [check, r] = await Promise.all([
      runGit(root, ['check-ignore', '-q', '.'], signal),
      runGit(root, ['ls-files', '-z', '-c', '-o', '--exclude-standard'], signal),
    ]);
    return check.code === 1 && r.code === 0 ? [...new Set(splitNul(r.stdout))] : null;
  } catch (e) {
    signal?.throwIfAborted();
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // git is not installed
    throw e;
  }
}

/** False only when git could not see a work tree here: no `.git` in `root` or above, and no GIT_DIR / GIT_WORK_TREE. */
function mayBeInWorkTree(root: string): boolean {
  if (process.env.GIT_DIR || process.env.GIT_WORK_TREE) return true;
  let dir: string;
  try {
    dir = fs.realpathSync.native(root);
  } catch {
    return true; // let git say what is wrong with it
  }
  for (;;) {
    if (fs.existsSync(path.join(dir, '.git'))) return true;
    const up = path.dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

/** The paths a listing with these options judges; pass them as `candidates` to walk the repository once. */
export async function candidatePaths(root: string, opts: ListOptions = {}): Promise<Candidates> {
  if (opts.candidates) return opts.candidates;
  const filter = userFilter(opts.include ?? [], opts.exclude ?? []);
  const fromGit = await gitPaths(root, opts.signal);
  const all = fromGit ?? (await walkPaths(root, (dir) => filter?.prunes(dir) ?? false, opts.signal));
  return { source: fromGit ? 'git' : 'walk', paths: (filter ? all.filter((p) => filter.keeps(p)) : all).sort(comparePaths) };
}

/**
 * A cheap fingerprint of what `listFiles` would read: the candidate paths and each one's stat
 * (size, change times, inode), without opening a file. Equal fingerprints mean nothing was edited,
 * added or removed since (git's own index works the same way), so a caller may reuse what it
 * derived from the last full listing instead of reading and hashing every file again.
 */
export async function statFingerprint(root: string, opts: ListOptions = {}): Promise<string> {
  const { paths } = await candidatePaths(root, opts);
  const h = createHash('sha256').update(`${opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES}\0`);
  const pause = timeSlices(opts.signal);
  for (const p of paths) {
    await pause();
    h.update(statLine(`${root}/${p}`, p));
  }
  return h.digest('hex');
}

/**
 * One path's part of the fingerprint. What stat() cannot follow (a symlink loop) counts by its link,
 * what cannot be read at all by that fact: the listing skips both, and must not fail on them here.
 */
function statLine(abs: string, p: string): string {
  for (const stat of [fs.statSync, fs.lstatSync]) {
    try {
      const st = stat(abs, { bigint: true, throwIfNoEntry: false });
      return st ? `${p}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.ino}\0` : `${p}\0-\0`;
    } catch {
      // try the next
    }
  }
  return `${p}\0!\0`;
}

/** Lists the repository at `root`: the files that go into the context, and the ones skipped with their reasons. */
export async function listFiles(root: string, opts: ListOptions = {}): Promise<Listing> {
  const files: RepoFile[] = [];
  const rest = await judgePaths(root, opts, (f) => files.push(f));
  return { ...rest, files };
}

/** A listed file without its text: what a listing of a large repository keeps (readListed() reads it again). */
export type ListedFile = Omit<RepoFile, 'text'>;

/** As listFiles, but each file's text is dropped once hashed: memory grows by a path and a hash a file, not by the code. */
export async function listHashes(root: string, opts: ListOptions = {}): Promise<Omit<Listing, 'files'> & { files: ListedFile[] }> {
  const files: ListedFile[] = [];
  const rest = await judgePaths(root, opts, ({ path: p, bytes, sha256 }) => files.push({ path: p, bytes, sha256 }));
  return { ...rest, files };
}

/**
 * The files of a listHashes() listing with their texts, read again one at a time in the listing's
 * order. A file that no longer has the listed content throws ChangedError: what was keyed by the
 * listing would not be what is read.
 */
export async function* readListed(root: string, files: readonly ListedFile[], opts: ListOptions = {}): AsyncGenerator<RepoFile> {
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const realRoot = fs.realpathSync.native(root);
  for (const f of files) {
    const r = inspect(root, realRoot, f.path, maxBytes);
    if (r === null || !('file' in r) || r.file.sha256 !== f.sha256) throw new ChangedError(f.path);
    yield r.file;
  }
}

/** A file changed between the listing and a later read of it. */
export class ChangedError extends Error {
  constructor(readonly path: string) {
    super(`${path} changed while the repository was being indexed`);
  }
}

/** Reads and judges every candidate path; `take` receives each included file, in path order. */
async function judgePaths(root: string, opts: ListOptions, take: (f: RepoFile) => void): Promise<Omit<Listing, 'files'>> {
  const { signal } = opts;
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const realRoot = fs.realpathSync.native(root);
  const { source, paths: listed } = await candidatePaths(root, opts);

  const pause = timeSlices(signal);
  const skipped: SkippedFile[] = [];
  for (const p of listed) {
    await pause();
    const r = inspect(root, realRoot, p, maxBytes);
    if (r === null) continue;
    if ('file' in r) take(r.file);
    else skipped.push(r.skipped);
  }
  // An untracked nested repository was sorted as "dir/" and is reported as "dir".
  return { source, skipped: skipped.sort((a, b) => comparePaths(a.path, b.path)) };
}
