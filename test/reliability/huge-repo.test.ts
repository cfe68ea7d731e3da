// Big inputs end to end. 100k tiny files: listed, tokenized and cut into segments within a bound
// (building 100k files' segments is model work that grows with the code, not what is measured here).
// A 200 KB source file: included, cut into pieces at line boundaries that tile it, each piece's
// line range in the manifest, and answered from. test/repo/scale.test.ts times the listing alone.
// (Their own file: the longest tests here, run beside the others.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Model } from '../../src/engine/model/model';
import { modelFingerprint } from '../../src/engine/model/convert';
import { planRepo, planSegments } from '../../src/engine/segments/plan';
import { EngineService } from '../../src/engine/service';
import { resolveRepo } from '../../src/engine/settings';
import { Tokenizer } from '../../src/engine/tokenizer';
import { write } from '../repo/fixture';
import { indexParams, manifestOf, recorder, scratch, TINY } from './helpers';

const { dir, engine, snapshots } = scratch('huge-repo');
const service = new EngineService();
after(() => service.dispose());
/** Minutes would mean work per file that grows with the number of files. */
const BOUND_S = 120;

test('100k tiny files: listed and cut into segments within bounds, every file in exactly one piece', async (t) => {
  const root = path.join(dir, 'wide');
  // 1000 written, the rest hard links to them (one system call each)
  for (let i = 0; i < 1000; i++) write(root, `d0/f${i}.ts`, `export const v${i} = ${i};\n`);
  for (let d = 1; d < 100; d++) {
    fs.mkdirSync(path.join(root, `d${d}`));
    for (let i = 0; i < 1000; i++) fs.linkSync(path.join(root, 'd0', `f${i}.ts`), path.join(root, `d${d}`, `f${i}.ts`));
  }
  const model = await Model.load(TINY, { device: 'cpu', cacheRoot: engine.cacheDir });
  t.after(() => model.dispose());
  const t0 = performance.now();
  const s = resolveRepo({ root }, model.config);
  const plan = await planRepo(model, 'tinycode', modelFingerprint(model.dir, engine.cacheDir!), s);
  const listed = performance.now();
  const pieces: string[] = [];
  let segments = 0;
  for await (const seg of planSegments(plan, s, { tokenizer: model.tokenizer })) {
    segments++;
    assert.ok(seg.ids.length <= s.segmentTokens);
    for (const p of seg.pieces) pieces.push(p.path);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `# 100k files: planned in ${seconds.toFixed(1)} s (list ${((listed - t0) / 1000).toFixed(1)} s, segment ${((performance.now() - listed) / 1000).toFixed(1)} s), ${segments} segments`,
  );
  assert.equal(plan.listing.length, 100_000);
  assert.equal(pieces.length, 100_000, 'no file split, none left out');
  assert.equal(new Set(pieces).size, 100_000);
  assert.ok(seconds < BOUND_S, `${seconds} s`);
});

test('a 200 KB source file: included, split at line boundaries into pieces that tile it, their line ranges in the manifest; answered from', async () => {
  const root = path.join(dir, 'big');
  const parts: string[] = [];
  for (let i = 0; parts.join('').length < 200_000; i++)
    parts.push(`export function handler${i}(input: string): string {\n  const value = input.trim() + "${i}";\n  return value.toUpperCase();\n}\n\n`);
  const text = parts.join('');
  write(root, 'src/big.ts', text);
  write(root, 'README.md', '# big\n\nOne large module of handlers.\n');
  // the largest segments tinycode's positions allow with KVzip's pass: the fewest to build
  const params = indexParams(engine, { root, segmentTokens: 480 });
  const t0 = performance.now();
  const r = await service.index(params, recorder());
  console.log(`# 200 KB file: ${r.tokens.context} tokens, ${r.segments.total} segments built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.deepEqual(r.files.skipped, []);
  assert.equal(r.segments.built, r.segments.total);

  const m = await manifestOf(snapshots, r.key);
  const pieces = m.segments.flatMap((s) => s.pieces).filter((p) => p.path === 'src/big.ts');
  const lines = text.split('\n').slice(0, -1); // the file ends in a newline
  assert.ok(pieces.length > 1 && pieces.every((p) => p.split));
  assert.equal(pieces[0].firstLine, 1);
  assert.equal(pieces.at(-1)!.lastLine, lines.length);
  const tok = Tokenizer.load(TINY);
  for (const [i, p] of pieces.entries()) {
    if (i > 0) assert.equal(p.firstLine, pieces[i - 1].lastLine + 1, `piece ${i} follows piece ${i - 1}`);
    const content = lines.slice(p.firstLine - 1, p.lastLine).join('\n') + '\n';
    assert.equal(p.end - p.start, tok.encodeText(content).length, `piece ${i} holds lines ${p.firstLine}-${p.lastLine}, nothing else`);
  }

  const answer = await service.ask({ ...params, question: 'What does handler1234 return?', maxTokens: 4 }, recorder());
  assert.ok(answer.tokens > 0);
  assert.notEqual(answer.context.mode, 'all', 'the file is larger than the model positions: a choice of its pieces');
  assert.ok(answer.context.segments < answer.context.totalSegments);
  assert.ok(answer.context.files.includes('src/big.ts'));
});
