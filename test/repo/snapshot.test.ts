import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '../../src/engine/tokenizer';
import { buildRepoContext, type RepoContext } from '../../src/repo/index';
import { canonicalJson, snapshotKey, type SnapshotParts } from '../../src/repo/snapshot';
import { commit, gitInit, tempDir, write } from './fixture';

const tinycode = Tokenizer.load(path.resolve(__dirname, '..', 'fixtures', 'tinycode'));

function parts(ctx: RepoContext, over: Partial<SnapshotParts> = {}): SnapshotParts {
  return {
    files: ctx.files,
    repoName: ctx.repoName,
    modelId: 'tinycode',
    modelFingerprint: 'sha256:model',
    tokenizerFingerprint: 'sha256:tokenizer',
    promptFormat: ctx.promptFormat,
    kvzip: { ratio: 0.3, chunk: 2000, press: 'kvzip', budget: 'global' },
    ...over,
  };
}

/** Two clones of one repository, in different folders, written at different times. */
function twoCopies(): [string, string] {
  const a = path.join(tempDir('snap-a'), 'proj');
  gitInit(a);
  write(a, 'README.md', '# proj\n');
  write(a, 'src/a.ts', 'export const a = 1;\n');
  commit(a, '2020-01-01T00:00:00Z');
  write(a, 'src/b.ts', 'export const b = 2;\n');
  commit(a, '2021-01-01T00:00:00Z');
  write(a, 'notes.txt', 'untracked\n');
  const b = path.join(tempDir('snap-b'), 'proj');
  fs.cpSync(a, b, { recursive: true });
  for (const f of ['README.md', 'src/a.ts', 'src/b.ts', 'notes.txt']) fs.utimesSync(path.join(b, f), 12345, 67890);
  return [a, b];
}

test('the same repository in two folders with other mtimes has the same key; any change gives a new one', async () => {
  const [a, b] = twoCopies();
  const ca = await buildRepoContext({ root: a, tokenizer: tinycode });
  const cb = await buildRepoContext({ root: b, tokenizer: tinycode });
  assert.deepEqual(
    ca.files.map((f) => f.path),
    ['README.md', 'src/a.ts', 'src/b.ts', 'notes.txt'],
  );
  assert.deepEqual(cb.ids, ca.ids);
  const key = snapshotKey(parts(ca));
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(snapshotKey(parts(cb)), key);
  // Key order inside the settings does not matter.
  assert.equal(snapshotKey(parts(ca, { kvzip: { budget: 'global', press: 'kvzip', chunk: 2000, ratio: 0.3 } })), key);

  const keys = new Set([key]);
  const changed = (k: string) => {
    assert.ok(!keys.has(k), 'a change must give a new key');
    keys.add(k);
  };
  write(b, 'src/a.ts', 'export const a = 2;\n'); // one byte
  changed(snapshotKey(parts(await buildRepoContext({ root: b, tokenizer: tinycode }))));
  write(b, 'src/a.ts', 'export const a = 1;\n');
  assert.equal(snapshotKey(parts(await buildRepoContext({ root: b, tokenizer: tinycode }))), key);
  fs.renameSync(path.join(b, 'notes.txt'), path.join(b, 'notes2.txt')); // a path
  changed(snapshotKey(parts(await buildRepoContext({ root: b, tokenizer: tinycode }))));
  changed(snapshotKey(parts(ca, { modelFingerprint: 'sha256:other' })));
  changed(snapshotKey(parts(ca, { modelId: 'other' })));
  changed(snapshotKey(parts(ca, { tokenizerFingerprint: 'sha256:other' })));
  changed(snapshotKey(parts(ca, { promptFormat: 'plain-header/1' })));
  changed(snapshotKey(parts(ca, { repoName: 'other' })));
  changed(snapshotKey(parts(ca, { kvzip: { ratio: 0.31, chunk: 2000, press: 'kvzip', budget: 'global' } })));
  changed(snapshotKey(parts(ca, { kvzip: { ratio: 0.3, chunk: 2000, press: 'kvzip', budget: 'per-head' } })));
  changed(snapshotKey(parts(ca, { files: [...ca.files].reverse() }))); // the order
  changed(snapshotKey(parts(ca, { files: ca.files.slice(1) }))); // one file fewer
});

test('canonicalJson sorts keys at every depth and refuses what JSON cannot carry', () => {
  assert.equal(canonicalJson({ b: [1, { d: null, c: 'x' }], a: -0 }), '{"a":0,"b":[1,{"c":"x","d":null}]}');
  assert.throws(() => canonicalJson({ r: NaN }), TypeError);
  assert.throws(() => canonicalJson({ r: undefined } as never), TypeError);
});
