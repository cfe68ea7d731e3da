// File references become links only when they name a snapshot file.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findFileRefs, parseFileRef, resolver } from '../../src/webview/links';
import { render } from '../../src/webview/render';

const FILES = new Set([
  'src/a.ts',
  'src/engine/model/graph.ts',
  'lib/my-file.v2.test.ts',
  'docs/über-guide.md',
  'src/日本語/ファイル.ts',
  'pkg/__init__.py',
  'web/index.ts',
  'api/index.ts',
  'index.ts',
  'scripts/build',
  '.github/workflows/ci.yml',
  'dir with space/x.ts',
]);
const resolve = resolver(FILES);

/** The file links in rendered markdown, as [text, path, line, column]. */
function links(md: string): [string, string, string?, string?][] {
  return [
    ...render(md, FILES).html.matchAll(/<a href="#" class="file-link" data-path="([^"]*)"[^>]*?(?: data-line="(\d+)")?(?: data-column="(\d+)")?>(.*?)<\/a>/g),
  ].map(([, path, line, column, text]) => [text, path, line, column].filter((x) => x !== undefined) as [string, string, string?, string?]);
}

describe('file references', () => {
  it('parses line and column suffixes', () => {
    assert.deepEqual(parseFileRef('src/a.ts', resolve), { path: 'src/a.ts' });
    assert.deepEqual(parseFileRef('src/a.ts:42', resolve), { path: 'src/a.ts', line: 42 });
    assert.deepEqual(parseFileRef('src/a.ts:42:7', resolve), { path: 'src/a.ts', line: 42, column: 7 });
    assert.deepEqual(parseFileRef('src/a.ts:10-20', resolve), { path: 'src/a.ts', line: 10 });
    assert.deepEqual(parseFileRef('src/a.ts#L42', resolve), { path: 'src/a.ts', line: 42 });
    assert.deepEqual(parseFileRef('src/a.ts#L42C3', resolve), { path: 'src/a.ts', line: 42, column: 3 });
    assert.deepEqual(parseFileRef('src/a.ts#L10-L20', resolve), { path: 'src/a.ts', line: 10 });
    assert.deepEqual(parseFileRef('src/a.ts:0', resolve), { path: 'src/a.ts' });
  });

  it('resolves exact, rooted and uniquely shortened paths, nothing else', () => {
    assert.equal(resolve('src/a.ts'), 'src/a.ts');
    assert.equal(resolve('./src/a.ts'), 'src/a.ts');
    assert.equal(resolve('/src/a.ts'), 'src/a.ts');
    assert.equal(resolve('model/graph.ts'), 'src/engine/model/graph.ts');
    assert.equal(resolve('graph.ts'), 'src/engine/model/graph.ts');
    assert.equal(resolve('index.ts'), 'index.ts', 'an exact path wins over shortened ones');
    assert.equal(resolve('ngine/model/graph.ts'), undefined, 'only whole segments');
    assert.equal(resolve('src/b.ts'), undefined);
    assert.equal(resolve('../src/a.ts'), undefined);
  });

  it('leaves an ambiguous shortened path unlinked', () => {
    const r = resolver(new Set(['web/index.ts', 'api/index.ts']));
    assert.equal(r('index.ts'), undefined);
    assert.equal(r('web/index.ts'), 'web/index.ts');
  });

  it('finds references in prose, without trailing punctuation', () => {
    const text = 'See src/a.ts:42, then (src/engine/model/graph.ts). Also "docs/über-guide.md".';
    assert.deepEqual(
      findFileRefs(text, resolve).map((f) => text.slice(f.start, f.end)),
      ['src/a.ts:42', 'src/engine/model/graph.ts', 'docs/über-guide.md'],
    );
  });
});

describe('file links in rendered answers', () => {
  it('links exact paths with :line, :line:col and #Lnn, in prose and inline code', () => {
    assert.deepEqual(links('Open src/a.ts:42 or `src/engine/model/graph.ts#L10` or src/a.ts:3:9.'), [
      ['src/a.ts:42', 'src/a.ts', '42'],
      ['<code>src/engine/model/graph.ts#L10</code>', 'src/engine/model/graph.ts', '10'],
      ['src/a.ts:3:9', 'src/a.ts', '3', '9'],
    ]);
  });

  it('leaves paths that are not in the snapshot as text', () => {
    assert.deepEqual(links('src/b.ts, `src/missing.ts:4`, lib/my-file.ts and src/a.tsx'), []);
  });

  it('links paths with dots, dashes, underscores and non-ASCII names', () => {
    assert.deepEqual(links('lib/my-file.v2.test.ts docs/über-guide.md src/日本語/ファイル.ts .github/workflows/ci.yml pkg/__init__.py'), [
      ['lib/my-file.v2.test.ts', 'lib/my-file.v2.test.ts'],
      ['docs/über-guide.md', 'docs/über-guide.md'],
      ['src/日本語/ファイル.ts', 'src/日本語/ファイル.ts'],
      ['.github/workflows/ci.yml', '.github/workflows/ci.yml'],
      ['pkg/__init__.py', 'pkg/__init__.py'],
    ]);
  });

  it('links paths inside emphasis and inline code with spaces', () => {
    assert.deepEqual(links('**src/a.ts** and `dir with space/x.ts`'), [
      ['src/a.ts', 'src/a.ts'],
      ['<code>dir with space/x.ts</code>', 'dir with space/x.ts'],
    ]);
  });

  it('keeps emphasis that is not part of a path', () => {
    assert.match(render('the __init__ method in pkg/__init__.py', FILES).html, /the <strong>init<\/strong> method in <a /);
  });

  it('needs a slash or an extension in prose, not in inline code', () => {
    assert.deepEqual(links('run build, or `build`'), [['<code>build</code>', 'scripts/build']]);
  });

  it('links markdown links to snapshot files', () => {
    assert.deepEqual(links('[the graph](src/engine/model/graph.ts#L7) [über](docs/über-guide.md)'), [
      ['the graph', 'src/engine/model/graph.ts', '7'],
      ['über', 'docs/über-guide.md'],
    ]);
  });

  it('does not nest a file link inside a web link', () => {
    const { html } = render('[src/a.ts](https://example.com/a)', FILES);
    assert.equal(html.match(/<a /g)?.length, 1);
    assert.match(html, /class="external-link"/);
  });
});
