// Damaged manifests met through the engine's own calls. A manifest is the small file that names a
// snapshot's segments; it carries its own checksum. A damaged one is noticed before it is used,
// said in a notice, deleted and written again from the segments on disk: no segment is rebuilt or
// even rewritten. A folder in its way is reported and left alone until `repozip cache rm` removes it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { MANIFEST_VERSION } from '../../src/engine/segments/manifest';
import { EngineService } from '../../src/engine/service';
import { indexParams, manifestOf, recorder, repozip, scratch, segmentFile, smallRepo } from './helpers';

const { dir, engine, snapshots } = scratch('manifests');
const service = new EngineService();
after(() => service.dispose());

const params = indexParams(engine, { root: smallRepo(path.join(dir, 'repo')) });
const other = indexParams(engine, { root: smallRepo(path.join(dir, 'other'), 1) });
const fileOf = (key: string) => path.join(snapshots, 'manifests', `${key}.json`);
let key = '';
let good = '';
let otherKey = '';
/** Each segment file's inode: a segment written again would have a new one. */
let inodes: number[] = [];
const inodesNow = async () => (await manifestOf(snapshots, key)).segments.map((s) => fs.statSync(segmentFile(snapshots, s.key)).ino);
before(async () => {
  key = (await service.index(params, recorder())).key;
  otherKey = (await service.index(other, recorder())).key;
  good = fs.readFileSync(fileOf(key), 'utf8');
  inodes = await inodesNow();
});

/** A manifest body with a valid checksum line. */
const signed = (body: string) => `${createHash('sha256').update(body).digest('hex')}\n${body}`;
const FAULTS: Record<string, { damage: (good: string) => string; says: RegExp }> = {
  'a byte changed': { damage: (g) => g.replace(`"version":${MANIFEST_VERSION}`, `"version":${MANIFEST_VERSION + 1}`), says: /checksum mismatch/ },
  'truncated to half': { damage: (g) => g.slice(0, g.length >> 1), says: /checksum mismatch/ },
  'zero-length': { damage: () => '', says: /not a manifest \(no checksum line\)/ },
  'another format version, checksum and all': {
    damage: (g) => signed(g.slice(65).replace(`"version":${MANIFEST_VERSION}`, '"version":9')),
    says: new RegExp(`manifest version 9, this repozip reads ${MANIFEST_VERSION}`),
  },
  "another snapshot's manifest": { damage: () => fs.readFileSync(fileOf(otherKey), 'utf8'), says: /the file holds snapshot/ },
};

for (const [name, { damage, says }] of Object.entries(FAULTS)) {
  test(`manifest ${name}: index notices it, says so and writes it again, no segment rebuilt`, async () => {
    fs.writeFileSync(fileOf(key), damage(good));
    const ctx = recorder();
    const r = await service.index(params, ctx);
    assert.equal(r.key, key);
    assert.deepEqual(r.segments, { total: inodes.length, reused: inodes.length, built: 0, failed: [] });
    const notices = ctx.notices();
    assert.equal(notices.length, 1, notices.join(' | '));
    assert.ok(notices[0].startsWith(fileOf(key)), notices[0]);
    assert.match(notices[0], says);
    assert.match(notices[0], /the file was deleted; it is written again$/);
    assert.equal(JSON.parse(fs.readFileSync(fileOf(key), 'utf8').split('\n')[1]).snapshotKey, key, 'written again'); // the head line
    assert.deepEqual(await inodesNow(), inodes, 'no segment written again');
  });
}

test('a damaged manifest met by ask: noticed, written again, answered', async () => {
  fs.writeFileSync(fileOf(key), 'garbage');
  const ctx = recorder();
  const r = await service.ask({ ...params, question: 'What does add do?', maxTokens: 4 }, ctx);
  assert.ok(r.tokens > 0);
  assert.match(ctx.notices().join('\n'), /not a manifest \(no checksum line\); the file was deleted; it is written again/);
  assert.deepEqual(await inodesNow(), inodes);
});

test('a folder where the manifest should be: index says so and leaves it alone; removed with cache rm as the message says, the next index builds', async () => {
  fs.rmSync(fileOf(key));
  fs.mkdirSync(fileOf(key));
  fs.writeFileSync(path.join(fileOf(key), 'notes.txt'), 'not the engine’s to delete');
  await assert.rejects(service.index(params, recorder()), (e: unknown) => {
    assert.ok(e instanceof EngineError && e.code === 'corrupt-cache', String(e));
    assert.equal(e.message, `${fileOf(key)} is not a regular file; remove it (repozip cache rm ${key})`);
    return true;
  });
  assert.ok(fs.existsSync(path.join(fileOf(key), 'notes.txt')));
  const rm = await repozip(['cache', 'rm', key, '--cache-dir', engine.cacheDir!]);
  assert.equal(rm.code, 0, rm.stderr);
  const r = await service.index(params, recorder());
  assert.equal(r.key, key);
  assert.ok(fs.statSync(fileOf(key)).isFile());
  assert.equal(r.segments.reused + r.segments.built, r.segments.total);
});
