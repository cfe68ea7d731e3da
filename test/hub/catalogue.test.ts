// The catalogue's numbers, checked against the models' published sizes and models.md §2.2.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { test } from 'node:test';
import { catalogue, defaultEntry, installRoot } from '../../src/engine/hub/catalogue';
import { isComplete } from '../../src/engine/hub/files';
import { formatBytes, formatDuration } from '../../src/engine/hub/format';
import { tempDir } from './fakeHub';

const root = path.resolve(__dirname, '../..');

test('parameter counts computed from the shapes match the model cards, KV bytes/token match models.md', () => {
  // [published parameters (model card / hub page), fp16 KV bytes per token (models.md §2.2)]
  const expected: Record<string, [number, number]> = {
    'Qwen/Qwen2.5-Coder-1.5B-Instruct': [1.54e9, 28672],
    'Qwen/Qwen2.5-Coder-0.5B-Instruct': [0.494e9, 12288],
    'Qwen/Qwen2.5-Coder-3B-Instruct': [3.09e9, 36864],
    'Qwen/Qwen3-0.6B': [0.596e9, 114688],
    'HuggingFaceTB/SmolLM2-360M-Instruct': [362e6, 40960],
    'meta-llama/Llama-3.2-1B-Instruct': [1.24e9, 32768],
    tinycode: [1.3e6, 1024],
  };
  const entries = catalogue(root);
  assert.deepEqual(entries.map((e) => e.id).sort(), Object.keys(expected).sort());
  for (const e of entries) {
    const [params, kv] = expected[e.id];
    assert.ok(Math.abs(e.parameters / params - 1) < 0.01, `${e.id}: ${e.parameters} parameters`);
    assert.equal(e.kvBytesPerToken, kv, e.id);
  }
  const byId = Object.fromEntries(entries.map((e) => [e.id, e]));
  assert.equal(byId['Qwen/Qwen2.5-Coder-1.5B-Instruct'].maxPositions, 32768);
  assert.equal(byId['meta-llama/Llama-3.2-1B-Instruct'].gated, true);
  assert.equal(entries.filter((e) => e.gated).length, 1);
});

test('defaults per device class, and the bundled model resolved under the install root', (t) => {
  const entries = catalogue(root);
  assert.equal(defaultEntry(entries, 'gpu').id, 'Qwen/Qwen2.5-Coder-1.5B-Instruct');
  assert.equal(defaultEntry(entries, 'cpu').id, 'Qwen/Qwen2.5-Coder-0.5B-Instruct');
  const tiny = entries.find((e) => e.id === 'tinycode')!;
  assert.equal(tiny.spec, path.join(root, 'test/fixtures/tinycode'));
  assert.ok(isComplete(tiny.spec));
  assert.equal(installRoot(), root);
  assert.ok(!catalogue(tempDir(t)).some((e) => e.id === 'tinycode'), 'listed only where it is installed');
});

test('byte sizes and durations read the way people say them', () => {
  assert.deepEqual([512, 28672, 12288, 5251536, 3087428608].map(formatBytes), ['512 B', '28 KiB', '12 KiB', '5.0 MiB', '2.9 GiB']);
  assert.deepEqual([5, 137, 7384].map(formatDuration), ['5s', '2m17s', '2h03m']);
});
