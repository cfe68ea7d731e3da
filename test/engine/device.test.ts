// Device selection: `auto` says why it passed over each EP (skipped here, or failed to start), the
// model keeps that list for the CLI and the extension to show, and the KV cache lives on the device
// only where onnxruntime-node can keep outputs there (WebGPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { KvCache } from '../../src/engine/kv/cache';
import { Model } from '../../src/engine/model/model';
import { autoCandidates, cacheResidence, describeFallbacks, epUnavailable } from '../../src/engine/runtime/session';
import { ROOT, scratchDir } from '../helpers/models';

const { cacheRoot } = scratchDir('device');
const TINY = path.join(ROOT, 'test', 'fixtures', 'tinycode');

test('auto: candidates end with the CPU, every EP passed over has a reason', () => {
  const { candidates, skipped } = autoCandidates();
  assert.equal(candidates.at(-1), 'cpu');
  for (const s of skipped) {
    assert.ok(s.reason.length > 10, `${s.device}: no reason`);
    assert.ok(!candidates.includes(s.device as never), `${s.device} both skipped and tried`);
  }
  // what a user must do is in the reason
  const cuda = epUnavailable('cuda');
  if (cuda) assert.match(cuda, /install\.js --onnxruntime-node-install=cuda12/);
  assert.equal(epUnavailable('cpu'), null);
});

test('a model loaded with auto keeps why it passed over the EPs before its own', async () => {
  const model = await Model.load(TINY, { cacheRoot, device: 'auto', threads: 1 });
  try {
    const { candidates, skipped } = autoCandidates();
    assert.ok(candidates.includes(model.device as never));
    assert.deepEqual(model.info.fallbacks.slice(0, skipped.length), skipped);
    // the rest failed to start, in the order tried, each before the one that did
    const tried = model.info.fallbacks.slice(skipped.length).map((f) => f.device);
    assert.deepEqual(tried, candidates.slice(0, candidates.indexOf(model.device as never)));
    if (model.info.fallbacks.length)
      assert.match(describeFallbacks(model.device, model.info.fallbacks), new RegExp(`^running on ${model.device}; .+ not used: `));
    // the cache kind follows the EP
    assert.equal(model.newCache() instanceof KvCache, cacheResidence(model.device as never) === 'host');
  } finally {
    await model.dispose();
  }
});

test('only WebGPU keeps the cache on the device', () => {
  assert.equal(cacheResidence('webgpu'), 'device');
  for (const d of ['cpu', 'cuda', 'dml', 'coreml'] as const) assert.equal(cacheResidence(d), 'host', d);
});
