// A repository of 100k tiny files, end to end through index: listed, tokenized and keyed within a
// bound, the token budget keeping the context small and saying what it left out. test/repo/scale.test.ts
// times the listing alone. (Its own file: the longest test here, run beside the others.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineService } from '../../src/engine/service';
import { write } from '../repo/fixture';
import { indexParams, recorder, scratch } from './helpers';

const { dir, engine } = scratch('huge-repo');
const service = new EngineService();
after(() => service.dispose());
/** Minutes would mean work per file that grows with the number of files. */
const BOUND_S = 120;

test('100k tiny files: listed and indexed within bounds, the budget leaves out the rest and says so', async () => {
  const root = path.join(dir, 'wide');
  // 1000 written, the rest hard links to them (one system call each)
  for (let i = 0; i < 1000; i++) write(root, `d0/f${i}.ts`, `export const v${i} = ${i};\n`);
  for (let d = 1; d < 100; d++) {
    fs.mkdirSync(path.join(root, `d${d}`));
    for (let i = 0; i < 1000; i++) fs.linkSync(path.join(root, 'd0', `f${i}.ts`), path.join(root, `d${d}`, `f${i}.ts`));
  }
  const t0 = performance.now();
  const r = await service.index(indexParams(engine, { root, maxContextTokens: 150 }), recorder());
  const seconds = (performance.now() - t0) / 1000;
  console.log(`# 100k files: indexed in ${seconds.toFixed(1)} s (list ${(r.timings.list / 1000).toFixed(1)} s, tokenize ${(r.timings.tokenize / 1000).toFixed(1)} s), ${r.files.included} included`);
  assert.ok(r.files.included > 0 && r.tokens.context <= 150);
  assert.equal(r.files.included + r.files.leftOut.length, 100_000);
  assert.ok(r.files.leftOut.every((f) => f.reason === 'budget'));
  assert.ok(seconds < BOUND_S, `${seconds} s`);
});
