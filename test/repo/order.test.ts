import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { listFiles } from '../../src/repo/list';
import { orderFiles, stabilityOrder } from '../../src/repo/order';
import { commit, git, gitInit, tempDir, write } from './fixture';

async function order(root: string): Promise<string[]> {
  const l = await listFiles(root);
  return (await orderFiles(root, l.files, l.source)).map((f) => f.path);
}

test('git: oldest last commit first, ties by path, local changes and untracked files last', async () => {
  const root = tempDir('order');
  gitInit(root);
  for (const f of ['a.ts', 'b.ts', 'c.ts', 'ü space.ts', 'sub/z.ts']) write(root, f, `${f} v1\n`);
  commit(root, '2020-01-01T00:00:00Z');
  write(root, 'b.ts', 'b v2\n');
  write(root, 'd.ts', 'd v1\n');
  write(root, 'sub/a2.ts', 'a2 v1\n');
  commit(root, '2021-01-01T00:00:00Z');
  commit(root, '2021-06-01T00:00:00Z'); // an empty commit: no files in the log record
  write(root, 'e.ts', 'e v1\n');
  write(root, 'ü space.ts', 'v2\n');
  commit(root, '2022-01-01T00:00:00Z');
  write(root, 'a.ts', 'a changed, not staged\n');
  write(root, 's.ts', 'staged only\n');
  git(root, 'add', 's.ts');
  write(root, 'c.ts', 'c changed and staged\n');
  git(root, 'add', 'c.ts');
  write(root, 'u.ts', 'untracked\n');

  assert.deepEqual(await order(root), ['sub/z.ts', 'b.ts', 'd.ts', 'sub/a2.ts', 'e.ts', 'ü space.ts', 'a.ts', 'c.ts', 's.ts', 'u.ts']);
  // From a subdirectory the history is read relative to it.
  assert.deepEqual(await order(path.join(root, 'sub')), ['z.ts', 'a2.ts']);
});

test('git: after a commit that touched every file, older history does not matter', async () => {
  const root = tempDir('order-all');
  gitInit(root);
  write(root, 'b.ts', 'b\n');
  commit(root, '2020-01-01T00:00:00Z');
  write(root, 'a.ts', 'a\n');
  commit(root, '2021-01-01T00:00:00Z');
  write(root, 'c.ts', 'c\n');
  commit(root, '2022-01-01T00:00:00Z');
  for (const f of ['a.ts', 'b.ts', 'c.ts']) write(root, f, `// licence\n${f}\n`);
  commit(root, '2023-01-01T00:00:00Z');
  assert.deepEqual(await order(root), ['a.ts', 'b.ts', 'c.ts']);
});

test('git without commits, and folders outside git: by path', async () => {
  const fresh = tempDir('order-fresh');
  gitInit(fresh);
  for (const f of ['b.ts', 'a.ts', 'B.ts']) write(fresh, f, 'x\n');
  assert.deepEqual(await order(fresh), ['B.ts', 'a.ts', 'b.ts']);

  const plain = tempDir('order-plain');
  for (const f of ['b.ts', 'a/z.ts', 'a.ts']) write(plain, f, 'x\n');
  assert.deepEqual(await order(plain), ['a.ts', 'a/z.ts', 'b.ts']);
});

test('stabilityOrder is a pure function of the history', () => {
  const files = ['x', 'y', 'z', 'w'].map((p) => ({ path: p }));
  const history = {
    lastCommit: new Map([
      ['x', 30],
      ['y', 10],
      ['z', 10],
      ['w', 5],
    ]),
    changed: new Set(['w']),
  };
  assert.deepEqual(
    stabilityOrder(files, history).map((f) => f.path),
    ['y', 'z', 'x', 'w'],
  );
  assert.deepEqual(
    stabilityOrder(files, null).map((f) => f.path),
    ['w', 'x', 'y', 'z'],
  );
});
