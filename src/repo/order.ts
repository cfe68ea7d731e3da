// The order of files in the context. A compressed cache is keyed by the whole token sequence, but
// the prefill behind it can be reused up to the first changed token, so the files least likely to
// change go first and an edit late in the sequence leaves a long shared prefix.
//
// The rule, which depends only on what every clone of the repository sees (never on mtimes):
//   1. committed files without local changes, by the committer time of the last commit that
//      touched them, oldest first (the first commit that names them in `git log` order);
//   2. then files with uncommitted changes (staged or not), untracked files and, in a repository
//      without commits, every file;
//   ties, and everything outside git, by path (code-unit order).
// One exception to "every clone": a shallow clone's boundary commit looks as if it added every
// file it holds, so a shallow clone orders those files by path at that commit's time.
import { comparePaths } from './list';
import { runGit, spawnGit, splitNul } from './git';

export interface History {
  /** Committer time (seconds) of the last commit that touched each path. */
  lastCommit: ReadonlyMap<string, number>;
  /** Paths with uncommitted changes against HEAD, staged or not. */
  changed: ReadonlySet<string>;
}

/** Sorts `files` by the rule above; `history` null means "not a git repository": by path. */
export function stabilityOrder<T extends { path: string }>(files: readonly T[], history: History | null): T[] {
  const time = (p: string): number => (history === null || history.changed.has(p) ? Infinity : (history.lastCommit.get(p) ?? Infinity));
  return files
    .map((f) => ({ f, t: time(f.path) }))
    .sort((a, b) => (a.t !== b.t ? (a.t < b.t ? -1 : 1) : comparePaths(a.f.path, b.f.path)))
    .map((x) => x.f);
}

/**
 * One `git log` pass for the commit times of `paths` (relative to `root`, which may be a
 * subdirectory of the work tree), one `git diff` for the local changes and one `git ls-files`
 * for what is tracked. The log is read as a stream and stopped once every tracked path has been
 * seen: after a commit that touched every file (a reformat, a licence header) nothing older is read.
 */
export async function readHistory(root: string, paths: readonly string[], signal?: AbortSignal): Promise<History> {
  const [tracked, changed] = await Promise.all([
    runGit(root, ['ls-files', '-z'], signal),
    runGit(root, ['diff', '--no-color', '--name-only', '-z', '--no-renames', '--relative', 'HEAD', '--', '.'], signal),
  ]);
  const trackedSet = new Set(splitNul(tracked.stdout));
  const lastCommit = await commitTimes(root, new Set(paths.filter((p) => trackedSet.has(p))), signal);
  // Without HEAD (a repository without commits) the diff fails: nothing is committed, nothing differs.
  return { lastCommit, changed: new Set(changed.code === 0 ? splitNul(changed.stdout) : []) };
}

// `git log -z --format=%x01%ct --name-only` writes, per commit: "\x01<time>\0", then its paths
// each followed by "\0", the first of them preceded by "\n" (commits without files, such as
// merges, have none).
function commitTimes(root: string, wanted: ReadonlySet<string>, signal?: AbortSignal): Promise<Map<string, number>> {
  const args = ['log', '-z', '--no-color', '--format=%x01%ct', '--name-only', '--no-renames', '--relative', '--', '.'];
  return new Promise((resolve, reject) => {
    const times = new Map<string, number>();
    const child = spawnGit(root, args, signal);
    let pending: Buffer = Buffer.alloc(0);
    let time = 0;
    let afterHeader = false;
    let done = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (done) return;
      const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      let from = 0;
      for (let at = buf.indexOf(0, from); at >= 0; from = at + 1, at = buf.indexOf(0, from)) {
        if (buf[from] === 0x01) {
          time = Number(buf.toString('latin1', from + 1, at));
          afterHeader = true;
          continue;
        }
        const p = buf.toString('utf8', afterHeader && buf[from] === 0x0a ? from + 1 : from, at);
        afterHeader = false;
        if (wanted.has(p) && !times.has(p)) times.set(p, time);
      }
      pending = buf.subarray(from);
      if (times.size === wanted.size) {
        done = true;
        child.kill();
      }
    });
    child.stderr.resume();
    child.on('error', reject);
    // A failed log (no commits yet, not a repository) simply leaves paths without times.
    child.on('close', () => resolve(times));
  });
}

/** The context order for a listing: from git history when it came from git, else by path. */
export async function orderFiles<T extends { path: string }>(root: string, files: readonly T[], source: 'git' | 'walk', signal?: AbortSignal): Promise<T[]> {
  const history =
    source === 'git'
      ? await readHistory(
          root,
          files.map((f) => f.path),
          signal,
        )
      : null;
  return stabilityOrder(files, history);
}
