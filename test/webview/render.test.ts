// Model output is untrusted: these are the tricks that turn markdown into script, remote loads or
// links to places other than the web and the snapshot's files. Every output is also checked
// against an allow-list of tags and attributes, so a new kind of leak fails even if no case
// below names it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render } from '../../src/webview/render';

const FILES = new Set(['src/a.ts', 'README.md']);

const ALLOWED: Record<string, string[]> = {
  p: [],
  strong: [],
  em: [],
  s: [],
  br: [],
  hr: [],
  blockquote: [],
  ul: [],
  ol: ['start'],
  li: [],
  h1: [],
  h2: [],
  h3: [],
  h4: [],
  h5: [],
  h6: [],
  table: [],
  thead: [],
  tbody: [],
  tr: [],
  th: ['class'],
  td: ['class'],
  pre: [],
  code: ['class'],
  div: ['class'],
  span: ['class', 'aria-hidden'],
  a: ['href', 'class', 'title', 'data-path', 'data-line', 'data-column'],
  button: ['type', 'class', 'title', 'aria-label', 'data-copy', 'data-insert'],
};

/** Every tag is known, every attribute is allowed for it and quoted, hrefs are '#' or http(s). */
function assertSafe(html: string): void {
  const tags = [...html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g)];
  assert.equal(tags.length, html.split('<').length - 1, `a '<' that is not a tag: ${html}`);
  for (const [tag, , name, attrs] of tags) {
    const allowed = ALLOWED[name.toLowerCase()];
    assert.ok(allowed, `tag <${name}> in ${html}`);
    const parsed = [...attrs.matchAll(/\s([a-z-]+)="([^"]*)"/g)];
    assert.equal(parsed.map((m) => m[0]).join(''), attrs.replace(/\s*\/?$/, ''), `unparsed attributes in ${tag}`);
    for (const [, attr, value] of parsed) {
      assert.ok(allowed.includes(attr), `attribute ${attr} on <${name}> in ${html}`);
      if (attr === 'href') assert.match(value, /^(#|https?:\/\/[^\s]+)$/, `href ${value}`);
    }
    assert.doesNotMatch(tag, /\son\w+\s*=|style\s*=/i);
  }
  assert.doesNotMatch(html, /<script|<iframe|<img|<svg|<style|<object|<embed/i);
}

const anchors = (html: string) => [...html.matchAll(/<a [^>]*>/g)].map((m) => m[0]);

describe('render: untrusted markdown stays inert', () => {
  const inert: [string, string][] = [
    ['script tag', '<script>alert(1)</script>'],
    ['img onerror', '<img src=x onerror=alert(1)>'],
    ['iframe', '<iframe src="evil.html"></iframe>'],
    ['svg onload', '<svg onload=alert(1)>'],
    ['style block and attribute', '<style>body{display:none}</style><div style="color:red">x</div>'],
    ['raw anchor', '<a href="javascript:alert(1)">x</a>'],
    ['javascript: link', '[x](javascript:alert(1))'],
    ['upper-case scheme', '[x](JAVASCRIPT:alert(1))'],
    ['hex entity in scheme', '[x](java&#x73;cript:alert(1))'],
    ['decimal entity in scheme', '[x](&#106;avascript:alert(1))'],
    ['autolink', '<javascript:alert(1)>'],
    ['reference link', '[x][r]\n\n[r]: javascript:alert(1)'],
    ['reference link, collapsed', '[r][]\n\n[r]: <javascript:alert(1)>'],
    ['data: html', '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)'],
    ['vbscript:', '[x](vbscript:msgbox(1))'],
    ['file:', '[x](file:///etc/passwd)'],
    ['command:', '[x](command:workbench.action.terminal.new)'],
    ['vscode:', '[x](vscode://file/etc/passwd)'],
    ['newline inside the scheme', '[x](<java\nscript:alert(1)>)'],
    ['tab inside the scheme', '[x](<java\tscript:alert(1)>)'],
    ['leading whitespace', '[x](<  javascript:alert(1)>)'],
    ['protocol-relative', '[x](//evil.example/x)'],
    ['credentials hide the host', '[x](https://github.com@evil.example/)'],
    ['data: image', '![x](data:image/png;base64,iVBORw0KGgo=)'],
    ['unknown relative path', '[x](secrets/nope.ts)'],
    ['parent directory', '[x](../outside.ts)'],
  ];
  for (const [name, md] of inert) {
    it(name, () => {
      const { html } = render(md, FILES);
      assertSafe(html);
      assert.deepEqual(anchors(html), [], html);
    });
  }

  it('shows escaped HTML as text', () => {
    assert.match(render('<script>alert(1)</script>', FILES).html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  it('keeps a rejected link visible as text', () => {
    assert.match(render('[x](javascript:alert(1))', FILES).html, /\[x\]\(javascript:alert\(1\)\)/);
  });

  it('turns a remote image into a link, never an <img>', () => {
    const { html } = render('![diagram](https://remote.example/x.png)', FILES);
    assertSafe(html);
    assert.deepEqual(anchors(html), ['<a href="https://remote.example/x.png" class="external-link" title="https://remote.example/x.png">']);
    assert.match(html, />diagram<\/a>/);
  });

  it('renders http(s) links as external links that show their destination', () => {
    const { html } = render('[docs](https://example.com/a?b=1 "title") and <https://example.org>', FILES);
    assertSafe(html);
    assert.deepEqual(anchors(html), [
      '<a href="https://example.com/a?b=1" class="external-link" title="https://example.com/a?b=1">',
      '<a href="https://example.org" class="external-link" title="https://example.org">',
    ]);
  });

  it('cannot break out of an attribute', () => {
    for (const md of [
      '[x](https://a.example/"onmouseover="alert(1))',
      '[x](https://a.example "\\" onmouseover=\\"alert(1)")',
      '```js" onclick="alert(1)\ncode\n```',
    ]) {
      assertSafe(render(md, FILES).html);
    }
  });

  it('does not link bare domains or file names as web links', () => {
    const { html } = render('see README.md, setup.py and example.com', FILES);
    assert.deepEqual(anchors(html), ['<a href="#" class="file-link" data-path="README.md" title="Open README.md">']);
  });

  it('turns table alignment into classes, not style attributes', () => {
    const { html } = render('| a | b | c |\n|:-|:-:|-:|\n| 1 | 2 | 3 |', FILES);
    assertSafe(html);
    assert.match(html, /<th class="align-left">a<\/th>\n<th class="align-center">b<\/th>\n<th class="align-right">c<\/th>/);
  });
});

describe('render: code blocks', () => {
  it('escapes HTML in code and lists the raw code for the copy button', () => {
    const md = 'Run:\n\n```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```\n\n    indented <b>\n';
    const { html, codeBlocks } = render(md, FILES);
    assertSafe(html);
    assert.deepEqual(codeBlocks, ['<script>alert(1)</script>\n<img src=x onerror=alert(1)>', 'indented <b>']);
    assert.match(html, /<span class="code-lang">html<\/span>/);
    assert.match(html, /<code class="language-html">&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /data-copy="0"/);
    assert.match(html, /data-insert="1"/);
  });

  it('keeps only a plain language name from the info string', () => {
    const { html } = render('```c++ {linenos}\nint x;\n```\n```"><b>\nx\n```', FILES);
    assertSafe(html);
    assert.match(html, /<span class="code-lang">c\+\+<\/span>/);
    assert.match(html, /<span class="code-lang"><\/span>/);
  });

  it('does not link file names inside code blocks', () => {
    const { html } = render('```\nsrc/a.ts:3\n```', FILES);
    assert.deepEqual(anchors(html), []);
  });

  it('renders an unterminated fence while streaming', () => {
    const { html, codeBlocks } = render('```ts\nconst a = 1;', FILES);
    assertSafe(html);
    assert.deepEqual(codeBlocks, ['const a = 1;']);
  });
});
