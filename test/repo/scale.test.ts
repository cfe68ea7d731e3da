import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as path from 'node:path';
import { listFiles } from '../../src/repo/list';
import { tempDir, write } from './fixture';

const DIRS = 100;
const PER_DIR = 1000;

/** 100k tiny files: 1000 written, the rest hard links to them (one system call each). */
function makeHugeTree(): string {
  const root = tempDir('scale');
  write(root, '.gitignore', '*.log\n');
  for (let d = 0; d < DIRS; d++) fs.mkdirSync(path.join(root, `d${d}`));
  for (let i = 0; i < PER_DIR; i++) fs.writeFileSync(path.join(root, 'd0', `f${i}.ts`), `export const v${i} = ${i};\n`);
  for (let d = 1; d < DIRS; d++) {
    for (let i = 0; i < PER_DIR; i++) fs.linkSync(path.join(root, 'd0', `f${i}.ts`), path.join(root, `d${d}`, `f${i}.ts`));
  }
  return root;
}

test('100k tiny files are listed in seconds, and an abort stops the listing early', async () => {
  const root = makeHugeTree();
  let t = performance.now();
  const l = await listFiles(root);
  const seconds = (performance.now() - t) / 1000;
  console.log(`# listed ${l.files.length} files in ${seconds.toFixed(1)} s`);
  assert.equal(l.source, 'walk');
  assert.equal(l.files.length, DIRS * PER_DIR + 1);
  assert.deepEqual(l.skipped, []);
  assert.ok(seconds < 20, `listing took ${seconds} s`);

  const controller = new AbortController();
  t = performance.now();
  setTimeout(() => controller.abort(new Error('stop')), 100);
  await assert.rejects(listFiles(root, { signal: controller.signal }), /stop/);
  assert.ok(performance.now() - t < seconds * 500, 'an aborted listing stops well before the end');
});

test('a 200 MB file is skipped as too large without being read', async (t) => {
  const root = tempDir('scale-huge');
  write(root, 'small.ts', 'export {};\n');
  fs.closeSync(fs.openSync(path.join(root, 'huge.txt'), 'w'));
  fs.truncateSync(path.join(root, 'huge.txt'), 200 * 1024 * 1024); // sparse: no disk, no time

  let requested = 0;
  const readSync = fs.readSync as (...args: unknown[]) => number;
  t.mock.method(fs, 'readSync', (...args: unknown[]) => {
    requested += args[3] as number; // readSync(fd, buffer, offset, length, position)
    return readSync(...args);
  });
  const l = await listFiles(root);
  assert.deepEqual(
    l.files.map((f) => f.path),
    ['small.ts'],
  );
  assert.deepEqual(l.skipped, [{ path: 'huge.txt', reason: 'too-large', detail: '209715200 bytes > maxFileBytes 1048576' }]);
  assert.equal(requested, 'export {};\n'.length + 1, 'only small.ts was read');
});
