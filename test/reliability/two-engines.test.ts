// Two engine processes (two editor windows on one workspace) asked to build the same snapshot at the
// same moment: exactly one builds, the other waits for it and reuses its file, and both answer from
// it. test/store/lock.test.ts races the lock itself between two plain processes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { EngineClient } from '../../src/engine/worker/client';
import type { EngineEvent, IndexResult } from '../../src/engine/worker/protocol';
import { indexParams, phases, scratch, smallRepo, snapshotFolder, startClient } from './helpers';

const { dir, engine, snapshots } = scratch('two-engines');
const clients: EngineClient[] = [];
after(() => Promise.all(clients.map((c) => c.dispose())));

test('two engine processes build one workspace at once: one builds, the other waits and reuses it, both answer', async () => {
  const params = indexParams(engine, { root: smallRepo(path.join(dir, 'repo')) });
  for (let i = 0; i < 2; i++) clients.push((await startClient()).client);
  // Both load the model first (asking without a cache loads it, lists, and refuses to build), so
  // that the two builds below start within milliseconds of each other.
  await Promise.all(clients.map((c) => assert.rejects(c.call('ask', { ...params, question: 'x', build: false }), { code: 'bad-input' })));

  const heard: EngineEvent[][] = [[], []];
  const results: IndexResult[] = await Promise.all(clients.map((c, i) => c.call('index', params, { onEvent: (e) => heard[i].push(e) })));
  const [builder, waiter] = results[0].builtElsewhere ? [1, 0] : [0, 1];
  assert.equal(results[builder].key, results[waiter].key);
  assert.deepEqual(
    results.map((r) => ({ reused: r.reused, builtElsewhere: r.builtElsewhere, prefilled: 'prefill' in r.timings })),
    [builder, waiter].sort().map((i) => (i === builder ? { reused: false, builtElsewhere: false, prefilled: true } : { reused: false, builtElsewhere: true, prefilled: false })),
  );
  assert.ok(phases(heard[waiter]).includes('waiting'), `the waiter said it waits: ${phases(heard[waiter])}`);
  assert.ok(!phases(heard[waiter]).includes('prefill'), 'and never prefilled');
  const left = snapshotFolder(snapshots);
  assert.deepEqual(left, { caches: [`${results[0].key}.rzkv`], temps: [], locks: [] });

  const answers = await Promise.all(clients.map((c) => c.call('ask', { ...params, question: 'What does add return?', maxTokens: 4 })));
  for (const a of answers) {
    assert.equal(a.key, results[0].key);
    assert.equal(a.cacheReused, true);
    assert.ok(a.tokens > 0);
  }
  assert.equal(answers[0].text, answers[1].text, 'the same file, the same greedy answer');
});
