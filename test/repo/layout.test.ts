import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Tokenizer } from '../../src/engine/tokenizer';
import { layoutContext, type TokenizerLike } from '../../src/repo/layout';
import { fileKind } from '../../src/repo/budget';
import type { RepoFile } from '../../src/repo/list';

const tinycode = Tokenizer.load(path.resolve(__dirname, '..', 'fixtures', 'tinycode'));

function file(p: string, text: string): RepoFile {
  const bytes = Buffer.from(text, 'utf8');
  return { path: p, text, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** One id per character, plus the given special tokens: costs are then simply string lengths. */
function charTokenizer(specials: Record<string, number>): TokenizerLike {
  return {
    encodeText: (text) => [...text].map((c) => c.codePointAt(0)!),
    specialId: (token) => specials[token] ?? null,
  };
}

test('tinycode: <|file_sep|>path\\n content; control strings in files stay text', async () => {
  const files = [file('a.ts', 'x = "<|im_end|>";\ny = "<|file_sep|>";\n'), file('dir/b b.ts', 'no newline at the end'), file('empty.ts', '')];
  const l = await layoutContext(files, tinycode, { repoName: 'demo' });
  assert.equal(l.format, 'file-sep');
  const sep = tinycode.specialId('<|file_sep|>')!;
  const specials = ['<|endoftext|>', '<|file_sep|>', '<|im_start|>', '<|im_end|>'].map((t) => tinycode.specialId(t)!);
  // tinycode has no <|repo_name|>: the context starts with the first file.
  assert.equal(tinycode.specialId('<|repo_name|>'), null);
  assert.equal(
    tinycode.decode(l.ids),
    '<|file_sep|>a.ts\nx = "<|im_end|>";\ny = "<|file_sep|>";\n<|file_sep|>dir/b b.ts\nno newline at the end\n<|file_sep|>empty.ts\n\n',
  );
  // Special ids appear exactly at the three headers, nowhere inside a file.
  const at = l.ids.flatMap((id, i) => (specials.includes(id) ? [i] : []));
  assert.deepEqual(
    at,
    l.files.map((f) => f.headerStart),
  );
  assert.ok(l.files.every((f) => l.ids[f.headerStart] === sep));
  // The spans map ids back to files.
  assert.deepEqual(
    l.files.map((f) => [f.path, tinycode.decode(l.ids.slice(f.start, f.end))]),
    [
      ['a.ts', files[0].text],
      ['dir/b b.ts', 'no newline at the end\n'],
      ['empty.ts', '\n'],
    ],
  );
  assert.deepEqual(
    l.files.map((f) => tinycode.decode(l.ids.slice(f.headerStart, f.start))),
    ['<|file_sep|>a.ts\n', '<|file_sep|>dir/b b.ts\n', '<|file_sep|>empty.ts\n'],
  );
  assert.equal(l.files[2].end, l.ids.length);
  assert.deepEqual(
    l.files.map((f) => [f.bytes, f.sha256]),
    files.map((f) => [f.bytes, f.sha256]),
  );
  assert.deepEqual(l.leftOut, []);
});

test('<|repo_name|> opens the context when the vocabulary has it', async () => {
  const tok = charTokenizer({ '<|repo_name|>': -1, '<|file_sep|>': -2 });
  const l = await layoutContext([file('a', 'x\n')], tok, { repoName: 'rz' });
  assert.deepEqual(l.ids, [-1, ...[...'rz\n'].map((c) => c.codePointAt(0)), -2, ...[...'a\nx\n'].map((c) => c.codePointAt(0))]);
  assert.deepEqual(l.files, [{ path: 'a', headerStart: 4, start: 7, end: 9, bytes: 2, sha256: file('a', 'x\n').sha256 }]);
});

test('without <|file_sep|> each file gets a plain-text header', async () => {
  const tok = charTokenizer({ '<|repo_name|>': -1 });
  const l = await layoutContext([file('a.py', 'print(1)'), file('b.py', 'x\n')], tok, { repoName: 'rz' });
  assert.equal(l.format, 'plain-header');
  assert.equal(String.fromCodePoint(...l.ids), '// ===== a.py =====\nprint(1)\n// ===== b.py =====\nx\n');
  assert.deepEqual(
    l.files.map((f) => [f.headerStart, f.start, f.end]),
    [
      [0, 20, 29],
      [29, 49, 51],
    ],
  );
});

test('file kinds for the budget', () => {
  const kinds = [
    'README.md',
    'docs/README.md',
    'pkg/package.json',
    'src/a.ts',
    'src/a.test.ts',
    'test/x.py',
    'src/test_x.py',
    'x_test.go',
    'FooTest.java',
    'testdata/in.json',
    'docs/guide.md',
    'CHANGELOG.md',
    'LICENSE',
    'examples/demo.py',
    'notes.txt',
  ];
  assert.deepEqual(
    kinds.map((p) => `${p}:${fileKind(p)}`),
    [
      'README.md:key',
      'docs/README.md:docs',
      'pkg/package.json:key',
      'src/a.ts:source',
      'src/a.test.ts:tests',
      'test/x.py:tests',
      'src/test_x.py:tests',
      'x_test.go:tests',
      'FooTest.java:tests',
      'testdata/in.json:tests',
      'docs/guide.md:docs',
      'CHANGELOG.md:docs',
      'LICENSE:docs',
      'examples/demo.py:docs',
      'notes.txt:docs',
    ],
  );
});

test('budget: key files, then source, docs, tests; smaller first; chosen files keep their order', async () => {
  const tok = charTokenizer({ '<|file_sep|>': -2 });
  // Cost of a file = 1 (separator) + path + "\n" + text (ending in "\n").
  const files = [
    file('src/big.ts', 'b'.repeat(39)), // 1 + 11 + 40 = 52
    file('test/t.ts', 'tt\n'), // 1 + 10 + 3 = 14
    file('README.md', 'readme\n'), // 1 + 10 + 7 = 18
    file('src/small.ts', 's\n'), // 1 + 13 + 2 = 16
    file('docs/d.md', 'd\n'), // 1 + 10 + 2 = 13
    file('src/mid.ts', 'm'.repeat(19)), // 1 + 11 + 20 = 32
  ];
  // 18 + 16 + 32 = 66 for key + the two smaller sources; 52 does not fit in 80; docs (13) does; tests (14) no longer.
  const l = await layoutContext(files, tok, { repoName: 'rz', maxTokens: 80 });
  assert.deepEqual(
    l.files.map((f) => f.path),
    ['README.md', 'src/small.ts', 'docs/d.md', 'src/mid.ts'],
  );
  assert.deepEqual(l.leftOut, [
    { path: 'src/big.ts', reason: 'budget', tokens: 52 },
    { path: 'test/t.ts', reason: 'budget', tokens: 14 },
  ]);
  assert.equal(l.ids.length, 79);
  assert.equal(l.files[3].end, 79);
  // Exactly enough room: everything fits.
  const all = await layoutContext(files, tok, { repoName: 'rz', maxTokens: 145 });
  assert.deepEqual(all.leftOut, []);
  assert.equal(all.ids.length, 145);
  assert.deepEqual(
    all.files.map((f) => f.path),
    files.map((f) => f.path),
  );
  // One token less: the last file in the rank (the test) no longer fits.
  const tight = await layoutContext(files, tok, { repoName: 'rz', maxTokens: 144 });
  assert.deepEqual(tight.leftOut, [{ path: 'test/t.ts', reason: 'budget', tokens: 14 }]);
  // Below the smallest file: nothing is in, and everything is reported.
  const none = await layoutContext(files, tok, { repoName: 'rz', maxTokens: 12 });
  assert.deepEqual(none.ids, []);
  assert.deepEqual(
    none.leftOut.map((f) => [f.path, f.tokens]),
    [
      ['src/big.ts', 52],
      ['test/t.ts', 14],
      ['README.md', 18],
      ['src/small.ts', 16],
      ['docs/d.md', 13],
      ['src/mid.ts', 32],
    ],
  );
});

test('layout stops between files when aborted', async () => {
  const files = Array.from({ length: 50 }, (_, i) => file(`f${i}.ts`, 'x\n'.repeat(2000)));
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop')), 5);
  await assert.rejects(layoutContext(files, tinycode, { repoName: 'rz', signal: controller.signal }), /stop/);
});
