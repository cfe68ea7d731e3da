// Files edited while an index runs. A build lists the repository (hashing each file, keeping no
// text), then reads every file again to cut it into segments, twice: a file whose content is no
// longer the listed one at either read is noticed, the repository is listed again and the build
// goes on, reusing what it already stored; a file that keeps changing ends the index with a clear
// message after three tries, and what was built stays for the next index.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { EngineService } from '../../src/engine/service';
import type { EngineEvent } from '../../src/engine/protocol';
import { write } from '../repo/fixture';
import { indexParams, recorder, scratch, smallRepo } from './helpers';

const { dir, engine: withAuto } = scratch('changing-files');
// fp32 whatever the machine's memory: with auto, an int8 decode set would add its own notice
const engine = { ...withAuto, weights: 'fp32' as const };
const service = new EngineService();
after(() => service.dispose());

/** A context whose `onSegment` runs at each "segments" progress event (the build's second read). */
function editing(onSegment: (done: number) => void) {
  const ctx = recorder();
  const emit = ctx.emit;
  ctx.emit = (e: EngineEvent) => {
    emit(e);
    if (e.kind === 'progress' && e.phase === 'segments') onSegment(e.done);
  };
  return ctx;
}

test('a file edited while its repository is being built: noticed, listed again, built from its new content', async () => {
  const root = smallRepo(path.join(dir, 'once'));
  write(root, 'zz/last.ts', 'export const n = 0;\n'); // the last file in path order: read after the first segment is done
  const file = path.join(root, 'zz/last.ts');
  let edited = false;
  const ctx = editing((done) => {
    if (done === 0 && !edited) {
      fs.appendFileSync(file, '\nexport const edited = 1;\n');
      edited = true;
    }
  });
  const r = await service.index(indexParams(engine, { root }), ctx);
  assert.ok(edited);
  assert.deepEqual(ctx.notices(), ['zz/last.ts changed while the repository was being indexed; listing it again']);
  // the snapshot is the edited repository's: indexing it again finds it whole
  const again = await service.index(indexParams(engine, { root }), recorder());
  assert.equal(again.key, r.key);
  assert.equal(again.segments.built, 0);
  assert.equal(r.segments.failed.length, 0);
});

test('a file that keeps changing: three tries, then a clear message; what was built is reused by the next index', async () => {
  const root = smallRepo(path.join(dir, 'always'));
  write(root, 'zz/last.ts', 'export const n = 0;\n'); // the last file in path order: read after the others' segments
  let n = 0;
  const ctx = editing(() => fs.writeFileSync(path.join(root, 'zz/last.ts'), `export const n = ${++n};\n`));
  await assert.rejects(service.index(indexParams(engine, { root }), ctx), (e: EngineError) => {
    assert.equal(e.code, 'bad-input');
    assert.match(e.message, /^zz\/last\.ts changed while the repository was being indexed, 3 times in a row: index again once it is saved$/);
    return true;
  });
  assert.equal(ctx.notices().length, 2);
  const r = await service.index(indexParams(engine, { root }), recorder());
  assert.ok(r.segments.reused > 0, `segments stored by the failed tries are reused: ${JSON.stringify(r.segments)}`);
});
