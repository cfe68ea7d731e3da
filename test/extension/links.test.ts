// Which paths a panel link may open: only files inside the workspace folder, symlinks followed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { openablePath } from '../../src/extension/links';
import { symlink, tempDir, write } from '../repo/fixture';

test('links open files inside the workspace folder only', () => {
  const ws = tempDir('links-ws');
  const outside = tempDir('links-outside');
  write(ws, 'src/a.ts', 'export const a = 1;\n');
  write(ws, 'weird name/ü.md', '# hi\n');
  write(outside, 'secret.txt', 'password\n');
  symlink(ws, 'src/escape.txt', path.join(outside, 'secret.txt'));
  symlink(ws, 'linkdir', outside);
  symlink(ws, 'src/inner.ts', path.join(ws, 'src', 'a.ts'));

  assert.equal(openablePath('src/a.ts', ws), path.join(ws, 'src', 'a.ts'));
  assert.equal(openablePath('weird name/ü.md', ws), path.join(ws, 'weird name', 'ü.md'));
  assert.equal(openablePath('src/inner.ts', ws), path.join(ws, 'src', 'inner.ts'), 'a symlink within the folder is fine');
  for (const bad of [
    'src/escape.txt',
    'linkdir/secret.txt',
    '../links-outside/secret.txt',
    '/etc/passwd',
    'src/../../x',
    'src\\a.ts',
    'C:/x',
    'file:///etc/passwd',
    '',
    'src/missing.ts',
    42,
    undefined,
  ]) {
    assert.equal(openablePath(bad, ws), undefined, String(bad));
  }
  assert.ok(fs.existsSync(path.join(ws, 'src', 'escape.txt')), 'the escaping link exists: it is refused, not missing');
});
