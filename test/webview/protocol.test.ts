// Everything the webview posts is untrusted; parseFromWebview accepts exact shapes only.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS, parseFromWebview } from '../../src/webview/protocol';

describe('parseFromWebview', () => {
  const valid = [
    { type: 'ready' },
    { type: 'ask', question: 'How does the cache work?' },
    { type: 'stop', turnId: 't-1_a' },
    { type: 'new-chat' },
    { type: 'open-file', path: 'src/a.ts' },
    { type: 'open-file', path: 'docs/über guide.md', line: 42, column: 7 },
    { type: 'open-file', path: '.github/workflows/ci.yml', line: 1 },
    { type: 'copy', text: '' },
    { type: 'insert', text: 'const a = 1;' },
    { type: 'open-external', url: 'https://example.com/a?b=c#d' },
    { type: 'open-external', url: 'http://localhost:8080/' },
    { type: 'build-cache' },
  ];
  for (const msg of valid) {
    it(`accepts ${JSON.stringify(msg)}`, () => {
      const parsed = parseFromWebview(msg);
      assert.deepEqual(parsed, msg);
      assert.notEqual(parsed, msg, 'a fresh object');
    });
  }

  it('drops an explicitly undefined optional field', () => {
    assert.deepEqual(parseFromWebview({ type: 'open-file', path: 'a.ts', line: undefined }), { type: 'open-file', path: 'a.ts' });
  });

  const rejected: [string, unknown][] = [
    ['null', null],
    ['a string', 'ready'],
    ['an array', [{ type: 'ready' }]],
    ['no type', { question: 'x' }],
    ['a non-string type', { type: 1 }],
    ['an unknown type', { type: 'run-command', command: 'x' }],
    ['an inherited name as type', { type: 'toString' }],
    ['__proto__ as type', JSON.parse('{"type":"__proto__"}')],
    ['an extra field', { type: 'ready', extra: 1 }],
    ['an extra field on ask', { type: 'ask', question: 'q', turnId: 'x' }],
    ['a missing field', { type: 'ask' }],
    ['a number question', { type: 'ask', question: 42 }],
    ['an empty question', { type: 'ask', question: '' }],
    ['a blank question', { type: 'ask', question: ' \n\t ' }],
    ['a NUL in the question', { type: 'ask', question: 'a\0b' }],
    ['an oversize question', { type: 'ask', question: 'x'.repeat(LIMITS.question + 1) }],
    ['a turn id with spaces', { type: 'stop', turnId: 'a b' }],
    ['an empty turn id', { type: 'stop', turnId: '' }],
    ['a numeric turn id', { type: 'stop', turnId: 3 }],
    ['an oversize copy', { type: 'copy', text: 'x'.repeat(LIMITS.text + 1) }],
    ['a non-string copy', { type: 'copy', text: { toString: () => 'x' } }],
    ['line as string', { type: 'open-file', path: 'a.ts', line: '3' }],
    ['line 0', { type: 'open-file', path: 'a.ts', line: 0 }],
    ['negative line', { type: 'open-file', path: 'a.ts', line: -1 }],
    ['fractional line', { type: 'open-file', path: 'a.ts', line: 1.5 }],
    ['NaN line', { type: 'open-file', path: 'a.ts', line: NaN }],
    ['huge line', { type: 'open-file', path: 'a.ts', line: LIMITS.line + 1 }],
    ['column 0', { type: 'open-file', path: 'a.ts', line: 1, column: 0 }],
  ];
  for (const [name, raw] of rejected) {
    it(`rejects ${name}`, () => assert.equal(parseFromWebview(raw), null));
  }

  const badPaths = [
    '',
    '../secret',
    'a/../../etc/passwd',
    'a/..',
    '..',
    './a.ts',
    'a/./b',
    'a//b',
    'a/',
    '/etc/passwd',
    '//server/share',
    'C:\\Windows\\win.ini',
    'C:/Windows/win.ini',
    'c:foo',
    '\\\\server\\share',
    'a\\..\\..\\b',
    'file:///etc/passwd',
    'vscode:x/y',
    'a\0b',
    'a\nb',
    'x'.repeat(LIMITS.path + 1),
  ];
  for (const path of badPaths) {
    it(`rejects the path ${JSON.stringify(path.slice(0, 40))}`, () => assert.equal(parseFromWebview({ type: 'open-file', path }), null));
  }

  const badUrls = [
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    'data:text/html,x',
    'file:///etc/passwd',
    'vscode://file/x',
    'command:workbench.action.quit',
    'ftp://example.com',
    '//example.com',
    'example.com',
    '/a',
    'https://user@evil.example',
    'https://a:b@evil.example',
    'https://exa mple.com',
    'https://example.com/\n',
    ' https://example.com',
    'https://',
    `https://example.com/${'x'.repeat(LIMITS.url)}`,
    42,
  ];
  for (const url of badUrls) {
    it(`rejects the url ${JSON.stringify(url).slice(0, 50)}`, () => assert.equal(parseFromWebview({ type: 'open-external', url }), null));
  }
});
