// Listing a folder that is not in a git work tree, with git's own .gitignore rules: a deeper
// .gitignore overrides a shallower one, within a file the last matching pattern wins, `!`
// re-includes, and nothing below an ignored folder is visited (so, as in git, a negation cannot
// re-include a file there). `.git` is always skipped; a nested project's folder is walked like
// any other, with its own .gitignore. Symlinks are returned, never followed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Ignore } from 'ignore';
import { gitignorePatterns } from './patterns';

/** The rules of one .gitignore and the folder prefix ("" or "dir/") they are relative to. */
type Level = { prefix: string; rules: Ignore };

function ignored(levels: readonly Level[], p: string): boolean {
  for (let i = levels.length - 1; i >= 0; i--) {
    const r = levels[i].rules.test(p.slice(levels[i].prefix.length));
    if (r.ignored || r.unignored) return r.ignored;
  }
  return false;
}

/** Paths of everything but folders, "/"-separated from `root`; `prunes(dir)` skips a folder. */
export async function walkPaths(root: string, prunes: (dir: string) => boolean, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, levels: readonly Level[]): Promise<void> => {
    signal?.throwIfAborted();
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(path.join(root, dir), { withFileTypes: true });
    } catch {
      return; // an unreadable folder: nothing in it can be listed
    }
    const prefix = dir === '' ? '' : `${dir}/`;
    if (entries.some((e) => e.name === '.gitignore' && e.isFile())) {
      const text = await fs.promises.readFile(path.join(root, dir, '.gitignore'), 'utf8').catch(() => '');
      levels = [...levels, { prefix, rules: gitignorePatterns(text) }];
    }
    for (const e of entries) {
      if (e.name === '.git') continue;
      const p = prefix + e.name;
      if (e.isDirectory()) {
        if (!ignored(levels, `${p}/`) && !prunes(p)) await visit(p, levels);
      } else if (!ignored(levels, p)) {
        out.push(p);
      }
    }
  };
  await visit('', []);
  return out;
}
