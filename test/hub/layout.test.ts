// Hub ids, and listing a cache that other tools filled too (nested refs, copies, partial files).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../../src/engine/errors';
import { listCachedModels, parseHubId } from '../../src/engine/hub/layout';
import { tempDir } from './fakeHub';

test('hub ids: org/name with an optional @revision; anything else is refused', () => {
  assert.deepEqual(parseHubId('Qwen/Qwen2.5-Coder-1.5B-Instruct'), { repo: 'Qwen/Qwen2.5-Coder-1.5B-Instruct', revision: 'main' });
  assert.deepEqual(parseHubId('HuggingFaceTB/SmolLM2-360M-Instruct@v1.0'), { repo: 'HuggingFaceTB/SmolLM2-360M-Instruct', revision: 'v1.0' });
  assert.deepEqual(parseHubId('a/b@refs/pr/1'), { repo: 'a/b', revision: 'refs/pr/1' });
  for (const bad of ['gpt2', 'a/b/c', '../a/b', 'a--b/c', 'a/b@', 'a/b@../../etc', 'a/b@/abs', 'a b/c']) {
    assert.throws(
      () => parseHubId(bad),
      (e: unknown) => e instanceof EngineError && e.code === 'bad-input',
      bad,
    );
  }
});

test('listCachedModels: revisions with their refs, completeness, size of blobs and copies', (t) => {
  const cache = tempDir(t);
  const repo = path.join(cache, 'models--org--name');
  const [c1, c2] = ['1'.repeat(40), '2'.repeat(40)];
  const write = (rel: string, data: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
    fs.writeFileSync(path.join(repo, rel), data);
  };
  // c1: complete, linked to blobs; c2: real files (a cache made without symlinks), no weights yet.
  for (const [name, blob] of [
    ['config.json', 'a'],
    ['tokenizer.json', 'b'],
    ['tokenizer_config.json', 'c'],
    ['model.safetensors', 'd'],
  ]) {
    write(`blobs/${blob}`, blob.repeat(10));
    fs.mkdirSync(path.join(repo, 'snapshots', c1), { recursive: true });
    fs.symlinkSync(`../../blobs/${blob}`, path.join(repo, 'snapshots', c1, name));
  }
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) write(`snapshots/${c2}/${name}`, 'xxxxx');
  write('blobs/e.incomplete', '123');
  write('refs/main', c1);
  write('refs/refs/pr/1', c2);
  fs.mkdirSync(path.join(cache, 'datasets--org--data')); // not a model

  assert.deepEqual(listCachedModels(cache), [
    {
      id: 'org/name',
      path: repo,
      sizeOnDisk: 4 * 10 + 3 + 3 * 5,
      revisions: [
        { commit: c1, refs: ['main'], path: path.join(repo, 'snapshots', c1), complete: true },
        { commit: c2, refs: ['refs/pr/1'], path: path.join(repo, 'snapshots', c2), complete: false },
      ],
    },
  ]);
  assert.deepEqual(listCachedModels(path.join(cache, 'absent')), []);
});
