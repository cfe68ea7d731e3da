// Real repositories in temporary folders under test/.tmp (ignored by the project's own git, so a
// folder without its own .git is listed by the walk, as a non-git folder would be).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const TMP = path.resolve(__dirname, '..', '.tmp');

/** A fresh empty folder; removed when the process exits. */
export function tempDir(name: string): string {
  fs.mkdirSync(TMP, { recursive: true });
  const dir = fs.mkdtempSync(path.join(TMP, `${name}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a file, creating its folders. */
export function write(root: string, rel: string, content: string | Uint8Array): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

export function symlink(root: string, rel: string, target: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.symlinkSync(target, path.join(root, rel));
}

// Independent of the machine's git configuration (signing, hooks, default branch, identity).
const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};

export function git(root: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: root, env: GIT_ENV, encoding: 'utf8' });
}

export function gitInit(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  git(root, 'init', '-q', '-b', 'main');
}

/** Commits everything (or only `paths`) with author and committer date `date` (ISO 8601). */
export function commit(root: string, date: string, paths: string[] = ['-A']): void {
  git(root, 'add', ...paths);
  execFileSync('git', ['commit', '-q', '--allow-empty', '-m', `at ${date}`], {
    cwd: root,
    env: { ...GIT_ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
  });
}
