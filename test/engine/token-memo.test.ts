// The engine process's tokenizer memo: the same ids as the tokenizer, a text asked again is not
// tokenized again, and past its bound it remembers nothing more (it never forgets what it holds,
// which is what makes it useful to a build that reads the repository in order twice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { TokenMemo } from '../../src/engine/segments/token-memo';
import { Tokenizer } from '../../src/engine/tokenizer';

const tok = Tokenizer.load(path.resolve(__dirname, '..', 'fixtures', 'tinycode'));

test('the same ids as the tokenizer; a text seen before costs no tokenizing; past the bound nothing more is remembered', () => {
  const calls: string[] = [];
  const counting = { encodeText: (t: string) => (calls.push(t), tok.encodeText(t)), specialId: (s: string) => tok.specialId(s) };
  const texts = ['export function a() {}\n', 'const b = 2;\n', 'let c = "three";\n'];
  const sizes = texts.map((t) => tok.encodeText(t).length);
  const memo = new TokenMemo(counting, sizes[0] + sizes[1]); // room for the first two
  for (const t of texts) assert.deepEqual(memo.encodeText(t), tok.encodeText(t));
  calls.length = 0;
  for (const t of texts) assert.deepEqual(memo.encodeText(t), tok.encodeText(t));
  assert.deepEqual(calls, [texts[2]], 'only the text past the bound is tokenized again');
});
