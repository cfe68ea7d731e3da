// Incremental builds: a repository is cut into segments stored by content, so an index reports how
// many segments it reused and built, a second index builds none, and an edit to one file rebuilds
// the one segment holding it, in about that segment's own build time, leaving every other segment
// of the snapshot as it was. A repository of 100 small modules (29 segments) and a random-weight
// model of 39M parameters with 2048 positions (segments of up to 256 tokens): the fixed part of an
// index (listing, keying, checking the stored segments, the manifest) is a few tens of
// milliseconds, so against a segment's build it shows only for a model that builds a segment in
// less time than that (the 4M-parameter `recall` fixture: 35 ms, about 2x; a real model: seconds).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SegmentStores } from '../../src/engine/segments/snapshot';
import { EngineService } from '../../src/engine/service';
import { Tokenizer } from '../../src/engine/tokenizer';
import type { IndexParams } from '../../src/engine/protocol';
import { scratchDir } from '../helpers/models';
import { makeRandomModel } from '../helpers/random-model';
import { moduleRepo, modulePath, moduleText } from './segmented-repo';

const { dir, cacheRoot } = scratchDir('incremental-build');
const noop = { signal: new AbortController().signal, emit: () => {} };
const service = new EngineService();
after(() => service.dispose());

const root = moduleRepo(path.join(dir, 'repo'), 100);
const model = makeRandomModel(path.join(dir, 'model'), {
  family: 'llama',
  hidden: 512,
  intermediate: 1536,
  layers: 12,
  heads: 8,
  kvHeads: 4,
  ropeTheta: 1e4,
  dtype: 'F16',
  seed: 7,
});
const params: IndexParams = { engine: { model, device: 'cpu', cacheDir: cacheRoot }, repo: { root } };
const stores = new SegmentStores(path.join(cacheRoot, 'snapshots'));
const manifest = async (key: string) => (await stores.manifests.load(key))!;

let first: Awaited<ReturnType<EngineService['index']>>;
before(async () => {
  first = await service.index(params, noop);
});

test('an index reports its segments: all built the first time, all reused the next (unchanged, or a file touched but not changed)', async () => {
  const m = await manifest(first.key);
  const n = m.segments.length;
  assert.ok(n > 10, `${n} segments`);
  assert.deepEqual(first.segments, { total: n, reused: 0, built: n, failed: [] });
  assert.deepEqual((await stores.segments.files()).map((f) => f.key).sort(), m.segments.map((s) => s.key).sort(), 'one file per segment');

  const again = await service.index(params, noop);
  assert.deepEqual(again.segments, { total: n, reused: n, built: 0, failed: [] });
  assert.equal(again.reused, true);
  // a new mtime: the repository is listed and segmented again, and finds every segment stored
  const now = new Date();
  fs.utimesSync(path.join(root, modulePath(3)), now, now);
  const touched = await service.index(params, noop);
  assert.equal(touched.key, first.key);
  assert.deepEqual(touched.segments, { total: n, reused: n, built: 0, failed: [] });
});

test('an edit to one file rebuilds the one segment holding it, in about that segment’s build time', async () => {
  const edited = 50;
  const tok = Tokenizer.load(model);
  let before = await manifest(first.key);
  const ratios: number[] = [];
  for (const edit of [1, 2, 3, 4, 5]) {
    // the edit keeps the file's token count, so no segment boundary can move
    assert.equal(tok.encodeText(moduleText(edited, edit)).length, tok.encodeText(moduleText(edited)).length);
    fs.writeFileSync(path.join(root, modulePath(edited)), moduleText(edited, edit));

    const t0 = performance.now();
    const r = await service.index(params, noop);
    const total = performance.now() - t0;
    const n = before.segments.length;
    assert.notEqual(r.key, before.snapshotKey);
    assert.deepEqual(r.segments, { total: n, reused: n - 1, built: 1, failed: [] });

    const after = await manifest(r.key);
    const changed = after.segments.filter((s, i) => s.key !== before.segments[i].key);
    assert.equal(changed.length, 1, 'every other segment of the snapshot is the one it had');
    assert.ok(
      changed[0].pieces.some((p) => p.path === modulePath(edited)),
      'the rebuilt segment holds the edited file',
    );
    // That segment's own build (from taking its build lock to its file in place: prefill, KVzip
    // scoring, eviction, write) against the whole incremental index.
    const segment = r.timings.build;
    ratios.push(total / segment);
    console.log(
      `# incremental index ${total.toFixed(0)} ms; the rebuilt segment's own build ${segment.toFixed(0)} ms (${(total / segment).toFixed(2)}x); list ${r.timings.list.toFixed(0)} ms, segment ${r.timings.segment.toFixed(0)} ms`,
    );
    before = after;
  }
  const median = ratios.sort((a, b) => a - b)[2];
  assert.ok(median <= 1.5, `incremental index ${median.toFixed(2)}x the segment's build (median of 5 edits)`);
});
