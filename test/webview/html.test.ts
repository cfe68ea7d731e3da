// The webview document: a strict CSP, one nonce-carrying script, no inline code, no remote URLs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chatHtml, makeNonce } from '../../src/webview/html';

const ASSETS = {
  cspSource: 'vscode-webview-resource:',
  nonce: 'abc123',
  scriptUri: 'vscode-webview-resource://ext/media/chat.js',
  styleUri: 'vscode-webview-resource://ext/media/chat.css',
  codiconUri: 'vscode-webview-resource://ext/media/codicon.css',
};

function csp(html: string): Map<string, string[]> {
  const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]*)">/g)];
  assert.equal(metas.length, 1);
  const policy = metas[0][1].replace(/&#39;|&apos;/g, "'");
  return new Map(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([name, ...values]) => [name, values]),
  );
}

const tags = (html: string) => [...html.matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0]);

describe('chat webview HTML', () => {
  const html = chatHtml(ASSETS);

  it('sets a strict content security policy', () => {
    assert.deepEqual(
      csp(html),
      new Map([
        ['default-src', ["'none'"]],
        ['script-src', ["'nonce-abc123'"]],
        ['style-src', ['vscode-webview-resource:']],
        ['font-src', ['vscode-webview-resource:']],
        ['img-src', ['vscode-webview-resource:', 'data:']],
        ['base-uri', ["'none'"]],
        ['form-action', ["'none'"]],
      ]),
    );
    assert.doesNotMatch(html, /unsafe-inline|unsafe-eval|https?:/);
  });

  it('has exactly one script, external and carrying the nonce', () => {
    const scripts = tags(html).filter((t) => /^<script\b/i.test(t));
    assert.deepEqual(scripts, [`<script nonce="abc123" src="${ASSETS.scriptUri}">`]);
    assert.match(html, /<script [^>]*><\/script>/, 'no inline script body');
  });

  it('has no inline event handlers or styles', () => {
    for (const t of tags(html)) assert.doesNotMatch(t, /\son\w+\s*=|\sstyle\s*=/i, t);
    assert.doesNotMatch(html, /<style|javascript:/i);
  });

  it('loads only the given extension files', () => {
    const urls = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(urls.sort(), [ASSETS.codiconUri, ASSETS.scriptUri, ASSETS.styleUri].sort());
  });

  it('escapes what it is given', () => {
    const evil = chatHtml({ ...ASSETS, scriptUri: 'x"><script>alert(1)</script>', nonce: 'n"' });
    assert.equal(tags(evil).filter((t) => /^<script\b/i.test(t)).length, 1);
    assert.match(evil, /src="x&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
  });
});

describe('makeNonce', () => {
  it('gives 128 random bits as hex, different every time', () => {
    const nonces = new Set(Array.from({ length: 100 }, makeNonce));
    assert.equal(nonces.size, 100);
    for (const n of nonces) assert.match(n, /^[0-9a-f]{32}$/);
  });
});
