// A repository whose context comes out empty: the message says what was skipped (by reason, the
// first few files with their details, counts) and what the token budget left out (each file's cost,
// smallest first, and the budget), on real listings and layouts. Before: "no file of X could be
// included (0 skipped)" when every file was larger than the budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { buildRepoContext, emptyContextMessage, type TokenizerLike } from '../../src/repo';
import { tempDir, write } from '../repo/fixture';

/** One id per character, no special tokens (plain headers): a file costs its header and its length. */
const chars: TokenizerLike = { encodeText: (text) => [...text].map((c) => c.codePointAt(0)!), specialId: () => null };

async function context(files: Record<string, string>, opts: { maxTokens?: number; maxFileBytes?: number } = {}) {
  const root = tempDir('empty-context');
  for (const [rel, content] of Object.entries(files)) write(root, rel, content);
  return buildRepoContext({ root, tokenizer: chars, ...opts });
}

test('every file larger than the budget: each one is named with its cost, smallest first, and the budget', async () => {
  const repo = await context({ 'src/big.ts': 'x'.repeat(500), 'README.md': 'y'.repeat(200), 'src/mid.ts': 'z'.repeat(300) }, { maxTokens: 100 });
  assert.equal(repo.ids.length, 0);
  const cost = Object.fromEntries(repo.leftOut.map((f) => [f.path, f.tokens]));
  assert.ok(cost['README.md'] > 200 && cost['README.md'] < cost['src/mid.ts'] && cost['src/mid.ts'] < cost['src/big.ts'], JSON.stringify(cost));
  assert.equal(
    emptyContextMessage('/r', repo, repo.leftOut, 100),
    `no file of /r could be included: 3 files left out by the 100-token budget, the smallest needing ${cost['README.md']} tokens (README.md: ${cost['README.md']} tokens, src/mid.ts: ${cost['src/mid.ts']} tokens, src/big.ts: ${cost['src/big.ts']} tokens)`,
  );
});

test('every file skipped: counted by reason, the commonest first, the first three named with their details', async () => {
  const repo = await context(
    { 'dist/a.js': 'a', 'dist/b.js': 'b', 'dist/c.js': 'c', 'dist/d.js': 'd', 'dist/e.js': 'e', 'logo.png': 'png', 'data.json': 'j'.repeat(2000) },
    { maxFileBytes: 1000 },
  );
  assert.equal(repo.ids.length, 0);
  assert.equal(
    emptyContextMessage('/r', repo, repo.leftOut),
    'no file of /r could be included: 7 files skipped — ' +
      '5 generated (dist/a.js: in a dist/ folder, dist/b.js: in a dist/ folder, dist/c.js: in a dist/ folder and 2 more), ' +
      '1 binary (logo.png: extension .png), 1 too-large (data.json: 2000 bytes > maxFileBytes 1000)',
  );
});

test('some skipped, the rest left out by a budget the caller does not state: both are said', async () => {
  const repo = await context({ 'yarn.lock': 'lock', 'main.py': 'p'.repeat(50) }, { maxTokens: 10 });
  assert.equal(repo.ids.length, 0);
  const [main] = repo.leftOut;
  assert.equal(
    emptyContextMessage('/r', repo, repo.leftOut),
    `no file of /r could be included: 1 file skipped — 1 lock-file (yarn.lock); 1 file left out by the token budget, the smallest needing ${main.tokens} tokens (main.py: ${main.tokens} tokens)`,
  );
});

test('nothing listed at all: said so, with where files go missing', async () => {
  const repo = await context({});
  assert.equal(
    emptyContextMessage(path.join('/', 'r'), repo, repo.leftOut),
    'no file of /r could be included: it lists no file (an empty folder, or every file ignored by .gitignore or the include/exclude settings)',
  );
});

test('a skipped file without details is named by its path alone', () => {
  assert.equal(
    emptyContextMessage('/r', { skipped: [{ path: 'x.bin', reason: 'binary' }] }, []),
    'no file of /r could be included: 1 file skipped — 1 binary (x.bin)',
  );
});
