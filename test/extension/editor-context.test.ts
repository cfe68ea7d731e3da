// What the editor adds to a question: the active workspace file, the selection (bounded), and for a
// hover the symbol's files, its own first, bounded in count and in the time the providers take.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import test from 'node:test';
import { editorContext, LocationLike, SELECTION_CHARS, SYMBOL_FILES, symbolFiles, workspacePath } from '../../src/extension/editorContext';

const WS = path.resolve('/ws');
const at = (...parts: string[]) => path.join(WS, ...parts);

/** An editor on `file` (a path under the workspace unless absolute) with `selected` selected. */
function editor(file: string, selected = '', scheme = 'file') {
  return {
    document: { uri: { scheme, fsPath: path.isAbsolute(file) ? file : at(...file.split('/')) }, getText: (range: { text: string }) => range.text },
    selection: { text: selected, isEmpty: selected === '' },
  };
}

const loc = (file: string): LocationLike => ({ uri: { fsPath: at(...file.split('/')) } });
const link = (file: string): LocationLike => ({ targetUri: { fsPath: at(...file.split('/')) } });

test('workspace paths: relative, "/"-separated, nothing outside the folder', () => {
  assert.equal(workspacePath(WS, at('src', 'a.ts')), 'src/a.ts');
  for (const outside of [WS, path.resolve('/other/a.ts'), path.resolve('/ws-sibling/a.ts')]) assert.equal(workspacePath(WS, outside), undefined, outside);
});

test('every question carries the active workspace file and the selection, bounded', () => {
  assert.deepEqual(editorContext(WS, editor('src/a.ts', 'const x = 1;')), { activeFile: 'src/a.ts', selection: 'const x = 1;' });
  assert.deepEqual(editorContext(WS, editor('src/a.ts')), { activeFile: 'src/a.ts' }, 'no selection, no empty field');
  assert.deepEqual(editorContext(WS, editor('src/a.ts', '  \n ')), { activeFile: 'src/a.ts' }, 'a blank selection says nothing');
  const long = 'x'.repeat(SELECTION_CHARS * 3);
  assert.equal(editorContext(WS, editor('src/a.ts', long))!.selection, long.slice(0, SELECTION_CHARS));
  // an editor on a file outside the workspace, or on no file at all: only its selection counts
  assert.deepEqual(editorContext(WS, editor(path.resolve('/etc/hosts'), 'localhost')), { selection: 'localhost' });
  assert.deepEqual(editorContext(WS, editor('Untitled-1', 'draft', 'untitled')), { selection: 'draft' });
  assert.deepEqual(editorContext(undefined, editor('src/a.ts', 'q')), { selection: 'q' }, 'no folder open');
  assert.equal(editorContext(WS, undefined), undefined, 'no editor: no context at all');
});

test("a hover's symbol files go along, at most SYMBOL_FILES", () => {
  const many = Array.from({ length: SYMBOL_FILES + 5 }, (_, i) => `src/f${i}.ts`);
  assert.deepEqual(editorContext(WS, undefined, ['src/a.ts', 'src/b.ts']), { symbolFiles: ['src/a.ts', 'src/b.ts'] });
  assert.deepEqual(editorContext(WS, editor('src/a.ts'), many)!.symbolFiles, many.slice(0, SYMBOL_FILES));
});

test('symbol files: its own first, then definitions, then references, each once, workspace files only', async () => {
  const files = await symbolFiles(WS, 'src/use.ts', {
    definitions: async () => [link('src/def.ts'), loc('src/use.ts')],
    references: async () => [
      loc('src/use.ts'),
      loc('src/b.ts'),
      loc('src/def.ts'),
      { uri: { fsPath: path.resolve('/usr/lib/node/lib.d.ts') } },
      loc('src/c.ts'),
    ],
  });
  assert.deepEqual(files, ['src/use.ts', 'src/def.ts', 'src/b.ts', 'src/c.ts']);
  const refs = Array.from({ length: 50 }, (_, i) => loc(`src/r${i}.ts`));
  const capped = await symbolFiles(WS, 'src/use.ts', { definitions: async () => undefined, references: async () => refs });
  assert.equal(capped.length, SYMBOL_FILES);
  assert.equal(capped[0], 'src/use.ts');
});

test('a slow or failing provider costs at most the time bound and counts as having found nothing', async () => {
  const t0 = Date.now();
  const never = () => new Promise<LocationLike[]>(() => {}); // a language server that never answers
  const files = await symbolFiles(WS, 'src/use.ts', { definitions: never, references: async () => [loc('src/b.ts')] }, 50);
  assert.ok(Date.now() - t0 < 1_000, `${Date.now() - t0} ms`);
  assert.deepEqual(files, ['src/use.ts', 'src/b.ts']);
  const failing = await symbolFiles(
    WS,
    'src/use.ts',
    { definitions: () => Promise.reject(new Error('no language server')), references: () => Promise.reject(new Error('x')) },
    50,
  );
  assert.deepEqual(failing, ['src/use.ts']);
});
