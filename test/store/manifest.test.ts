// Manifests are written a segment line at a time and read either whole (a question) or line by line
// (index, gc, status: keys, tokens and failures only). Both reads must agree with what was written,
// both must refuse the same damage, and a manifest being written must not be visible before it is
// complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Manifest, ManifestStore, summarize } from '../../src/engine/segments/manifest';
import { scratchDir } from '../helpers/models';
import { manifestFor } from './fixture';

const { dir } = scratchDir('manifest');
let n = 0;
const fresh = () => new ManifestStore(path.join(dir, String(n++)));
const key = (c: string) => c.repeat(64);

/** A manifest of `count` segments with term lists long enough that the writer flushes several times, one segment failed. */
function large(count: number): Manifest {
  const m = manifestFor(
    key('a'),
    '/repo',
    Array.from({ length: count }, (_, i) => i.toString(16).padStart(64, '0')),
  );
  m.segments.forEach((s, i) => {
    s.terms = Array.from({ length: 60 }, (_, j): [string, number] => [`term${i}x${j}`, j + 1]);
    s.kept = [i, i + 1, i + 2];
    s.tokens = 100 + (i % 7);
  });
  m.segments[7].failed = 'a folder in the way';
  return m;
}

test('written line by line, read back whole and as a summary: the same manifest, the same keys, tokens and failures', async () => {
  const store = fresh();
  const m = large(3000); // about 4 MB of lines: several flushes
  await store.save(m);
  assert.ok(fs.statSync(store.pathOf(m.snapshotKey)).size > 2 << 20);
  const whole = await store.load(m.snapshotKey);
  assert.deepEqual(whole, m);
  const sum = await store.summary(m.snapshotKey);
  assert.deepEqual(sum, summarize(m));
  assert.deepEqual(
    sum!.keys,
    m.segments.map((s) => s.key),
  );
  assert.equal(
    sum!.tokens,
    m.segments.reduce((t, s) => t + s.tokens, 0),
  );
  assert.deepEqual(sum!.failed, [{ files: ['src/f7.ts'], message: 'a folder in the way' }]);
  const [listed] = await store.list();
  assert.deepEqual(listed.manifest, sum);
});

test('a manifest being written is invisible until committed; a discarded one leaves nothing', async () => {
  const store = fresh();
  const { segments, ...head } = large(10);
  const w = await store.create(head);
  for (const s of segments.slice(0, 5)) await w.add(s);
  assert.equal(await store.load(head.snapshotKey), undefined);
  assert.deepEqual(await store.scan(), []);
  for (const s of segments.slice(5)) await w.add(s);
  await w.commit();
  assert.deepEqual((await store.load(head.snapshotKey))!.segments, segments);

  const other = await store.create({ ...head, snapshotKey: key('b') });
  await other.add(segments[0]);
  await other.discard();
  assert.deepEqual(fs.readdirSync(store.dir), [`${head.snapshotKey}.json`]);
});

// Each damage at a place the line-by-line reader meets differently: the checksum line, the head,
// a segment line in the middle, the end.
const DAMAGE: Record<string, { damage: (text: string) => string; says: RegExp }> = {
  'a segment line changed': { damage: (t) => t.replace('"term5x3",4', '"term5x3",5'), says: /checksum mismatch/ },
  'the head changed': { damage: (t) => t.replace('"repoName":"repo"', '"repoName":"repp"'), says: /checksum mismatch/ },
  'the last newline cut': { damage: (t) => t.slice(0, -1), says: /checksum mismatch/ },
  'cut inside a line': { damage: (t) => t.slice(0, t.length - 100), says: /checksum mismatch/ },
  'a line added': { damage: (t) => `${t}{}\n`, says: /checksum mismatch/ },
  'no checksum line': { damage: (t) => t.slice(65), says: /not a manifest \(no checksum line\)/ },
};

for (const [name, { damage, says }] of Object.entries(DAMAGE)) {
  for (const read of ['load', 'summary'] as const) {
    test(`${name}: ${read} refuses it, deletes the file and says why`, async () => {
      const store = fresh();
      const m = large(50);
      await store.save(m);
      const file = store.pathOf(m.snapshotKey);
      fs.writeFileSync(file, damage(fs.readFileSync(file, 'utf8')));
      const said: string[] = [];
      assert.equal(await store[read](m.snapshotKey, (why) => said.push(why)), undefined);
      assert.equal(said.length, 1);
      assert.match(said[0], says);
      assert.ok(!fs.existsSync(file));
    });
  }
}
