// The context line under an answer: counts, the best files first, every file behind it, and links
// only to snapshot files, made as an answer's are.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contextHtml, SUMMARY_FILES } from '../../src/webview/context';
import { formatContext } from '../../src/webview/format';
import type { AnswerContext } from '../../src/webview/protocol';

const FILES = new Set(['src/engine/service.ts', 'src/repo/__init__.py', 'src/a.ts', 'README.md', 'we`ird.ts', '<img src=x>.ts']);
const CONTEXT: AnswerContext = {
  mode: 'select',
  segments: 6,
  totalSegments: 41,
  files: ['src/engine/service.ts', 'src/repo/__init__.py', 'src/a.ts', 'README.md', 'gone.ts'],
};

const text = (html: string) =>
  html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const part = (html: string, tag: string) => new RegExp(`<${tag}[^>]*>(.*)</${tag}>`, 's').exec(html)?.[1] ?? '';
const linked = (html: string) =>
  [...html.matchAll(/<a href="#" class="file-link" data-path="([^"]*)"/g)].map((m) => m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>'));

describe('the context line', () => {
  it('counts the segments, names the best files first and links them', () => {
    const html = contextHtml(CONTEXT, FILES);
    const summary = part(html, 'summary');
    assert.equal(text(summary), 'context: 6 of 41 segments — src/engine/service.ts, src/repo/__init__.py, src/a.ts, …');
    assert.deepEqual(linked(summary), CONTEXT.files.slice(0, SUMMARY_FILES));
    assert.match(html, /<summary title="The segments ranked best for this question/);
  });

  it('opens onto every file; a file no longer in the snapshot is named, not linked', () => {
    const list = part(contextHtml(CONTEXT, FILES), 'ul');
    assert.deepEqual(
      [...list.matchAll(/<li>(.*?)<\/li>/g)].map((m) => text(m[1])),
      CONTEXT.files,
    );
    assert.deepEqual(linked(list), CONTEXT.files.slice(0, 4));
    assert.match(list, /<li><code>gone\.ts<\/code><\/li>/);
  });

  it('no ellipsis when every file is named; no list without files; the mode says what was loaded', () => {
    const all = contextHtml({ mode: 'all', segments: 1, totalSegments: 1, files: ['src/a.ts'] }, FILES);
    assert.equal(text(part(all, 'summary')), 'context: 1 of 1 segment — src/a.ts');
    assert.match(all, /title="The whole repository was loaded/);
    const none = contextHtml({ mode: 'compact', segments: 0, totalSegments: 3, files: [] }, FILES);
    assert.equal(text(none), 'context: 0 of 3 segments');
    assert.doesNotMatch(none, /<ul>/);
    assert.match(none, /title="[^"]*packed closer/);
  });

  it('file names stay inert text: markup escaped, backticks and underscores literal', () => {
    const html = contextHtml({ mode: 'select', segments: 2, totalSegments: 9, files: ['<img src=x>.ts', 'we`ird.ts', 'src/repo/__init__.py'] }, FILES);
    assert.doesNotMatch(html, /<img|<strong|<em/);
    assert.deepEqual(linked(part(html, 'summary')), ['<img src=x>.ts', 'we`ird.ts', 'src/repo/__init__.py']);
    const tags = new Set([...html.matchAll(/<\/?([a-z]+)/g)].map((m) => m[1]));
    assert.deepEqual([...tags].sort(), ['a', 'code', 'li', 'summary', 'ul']);
  });

  it('formats the count', () => {
    assert.equal(formatContext(CONTEXT), 'context: 6 of 41 segments');
  });
});
