// Two engine processes (two editor windows on one workspace) asked to build the same snapshot at the
// same moment: every segment is built exactly once, by one of them, while the other waits for it and
// reuses its file; both write the same manifest and answer from the same segments.
// test/store/lock.test.ts races the lock itself between two plain processes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { EngineClient } from '../../src/engine/worker/client';
import type { EngineEvent, IndexResult } from '../../src/engine/protocol';
import { indexParams, phases, scratch, smallRepo, snapshotFolder, startClient } from './helpers';

const { dir, engine, snapshots } = scratch('two-engines');
const clients: EngineClient[] = [];
after(() => Promise.all(clients.map((c) => c.dispose())));

test('two engine processes build one workspace at once: each segment is built once, the other process waits and reuses it, both answer', async () => {
  const params = indexParams(engine, { root: smallRepo(path.join(dir, 'repo')) });
  for (let i = 0; i < 2; i++) clients.push((await startClient()).client);
  // Both load the model first (asking without a cache loads it, lists, and refuses to build), so
  // that the two builds below start within milliseconds of each other.
  await Promise.all(clients.map((c) => assert.rejects(c.call('ask', { ...params, question: 'x', build: false }), { code: 'bad-input' })));

  const heard: EngineEvent[][] = [[], []];
  const results: IndexResult[] = await Promise.all(clients.map((c, i) => c.call('index', params, { onEvent: (e) => heard[i].push(e) })));
  assert.equal(results[0].key, results[1].key);
  const total = results[0].segments.total;
  console.log(`# segments built: ${results.map((r) => r.segments.built).join(' + ')} of ${total}`);
  assert.equal(results[0].segments.built + results[1].segments.built, total, 'each segment built once');
  for (const r of results) assert.deepEqual(r.segments, { total, reused: total - r.segments.built, built: r.segments.built, failed: [] });
  assert.ok(
    heard.some((h) => phases(h).includes('waiting')),
    `one waited for the other: ${heard.map(phases).join(' | ')}`,
  );
  const left = snapshotFolder(snapshots);
  assert.deepEqual({ ...left, segments: left.segments.length }, { manifests: [results[0].key], segments: total, temps: [], locks: [], pending: [] });

  const answers = await Promise.all(clients.map((c) => c.call('ask', { ...params, question: 'What does add return?', maxTokens: 4 })));
  for (const a of answers) {
    assert.equal(a.key, results[0].key);
    assert.equal(a.cacheReused, true);
    assert.ok(a.tokens > 0);
  }
  assert.equal(answers[0].text, answers[1].text, 'the same files, the same greedy answer');
});
