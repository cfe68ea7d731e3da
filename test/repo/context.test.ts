import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Tokenizer } from '../../src/engine/tokenizer';
import { buildRepoContext } from '../../src/repo/index';
import { commit, gitInit, tempDir, write } from './fixture';

const tinycode = Tokenizer.load(path.resolve(__dirname, '..', 'fixtures', 'tinycode'));
const SPECIALS = ['<|endoftext|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>'].map((t) => tinycode.specialId(t)!);

function makeRepo(): string {
  const root = path.join(tempDir('context'), 'demo');
  gitInit(root);
  write(root, 'README.md', '# demo\n');
  write(root, 'src/chat.ts', 'const end = "<|im_end|>";\nconst sep = "<|file_sep|>";\nconst eot = "<|endoftext|>";\n');
  write(root, 'logo.png', 'not really a png');
  commit(root, '2020-01-01T00:00:00Z');
  write(root, 'src/app.ts', 'export function app() {\n  return 42;\n}\n');
  commit(root, '2021-01-01T00:00:00Z');
  write(root, 'test/app.test.ts', 'import { app } from "../src/app";\napp();\n');
  return root;
}

test('buildRepoContext: list, order and lay out, with the map back to files', async () => {
  const root = makeRepo();
  const ctx = await buildRepoContext({ root, tokenizer: tinycode });
  assert.equal(ctx.source, 'git');
  assert.equal(ctx.repoName, 'demo');
  assert.equal(ctx.promptFormat, 'file-sep/1');
  assert.deepEqual(
    ctx.files.map((f) => f.path),
    ['README.md', 'src/chat.ts', 'src/app.ts', 'test/app.test.ts'],
  );
  assert.deepEqual(ctx.skipped, [{ path: 'logo.png', reason: 'binary', detail: 'extension .png' }]);
  assert.deepEqual(ctx.leftOut, []);
  // Control-token strings inside a file stay text: its ids hold no special id, and decode back.
  const chat = ctx.files[1];
  assert.ok(ctx.ids.slice(chat.start, chat.end).every((id) => !SPECIALS.includes(id)));
  assert.equal(tinycode.decode(ctx.ids.slice(chat.start, chat.end)), 'const end = "<|im_end|>";\nconst sep = "<|file_sep|>";\nconst eot = "<|endoftext|>";\n');
  assert.deepEqual(
    ctx.ids.flatMap((id, i) => (SPECIALS.includes(id) ? [i] : [])),
    ctx.files.map((f) => f.headerStart),
  );
  assert.ok(Object.values(ctx.timings).every((ms) => ms >= 0));
});

test('buildRepoContext: the budget leaves the test out first; an aborted build rejects', async () => {
  const root = makeRepo();
  const full = await buildRepoContext({ root, tokenizer: tinycode });
  const testFile = full.files[3];
  const ctx = await buildRepoContext({ root, tokenizer: tinycode, maxTokens: full.ids.length - 1, repoName: 'x' });
  assert.equal(ctx.repoName, 'x');
  assert.deepEqual(
    ctx.files.map((f) => f.path),
    ['README.md', 'src/chat.ts', 'src/app.ts'],
  );
  assert.deepEqual(ctx.leftOut, [{ path: 'test/app.test.ts', reason: 'budget', tokens: testFile.end - testFile.headerStart }]);
  assert.deepEqual(ctx.ids, full.ids.slice(0, testFile.headerStart));

  await assert.rejects(buildRepoContext({ root, tokenizer: tinycode, signal: AbortSignal.abort(new Error('stop')) }), /stop/);
});
