// kill -9 of the real engine process while it converts a model (graphs/<digest>.tmp-…/weights.bin
// half written): the half-built conversion is never taken for a complete one, the next call starts
// a new process that converts again and indexes, and the dead converter's folder is gone after that
// start. Damaged and truncated conversions are test/engine/model-integrity.test.ts, at Model.load.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineClient } from '../../src/engine/worker/client';
import { makeRandomModel } from '../helpers/random-model';
import { alive, indexParams, scratch, smallRepo, startClient } from './helpers';

const { dir, engine } = scratch('model-conversion');
let client: EngineClient;
let crashes: string[];
before(async () => ({ client, crashes } = await startClient()));
after(() => client.dispose());

// ~28 MB of fp32 weights written in ~60 pieces: the kill lands mid-file
const model = makeRandomModel(path.join(dir, 'model'), {
  family: 'llama',
  hidden: 256,
  intermediate: 768,
  layers: 8,
  heads: 8,
  kvHeads: 2,
  ropeTheta: 1e4,
  seed: 7,
});
const graphs = path.join(engine.cacheDir!, 'graphs');
const TEMP = /\.tmp-\d+-[0-9a-f]+$/;

/** Calls `kill` at the first write to a conversion's weights.bin in a temporary folder of `graphs` (inotify). */
function whenWeightsWritten(kill: () => void): () => void {
  fs.mkdirSync(graphs, { recursive: true, mode: 0o700 });
  const watchers: fs.FSWatcher[] = [];
  let fired = false;
  watchers.push(
    fs.watch(graphs, (_, name) => {
      if (!name || !TEMP.test(name) || watchers.length > 1) return;
      watchers.push(
        fs.watch(path.join(graphs, name), (__, file) => {
          if (fired || file !== 'weights.bin') return;
          fired = true;
          kill();
        }),
      );
    }),
  );
  return () => watchers.forEach((w) => w.close());
}

test('kill -9 while converting the model: the half-built conversion is not used; the next call converts again, indexes and removes it', async () => {
  const params = indexParams({ ...engine, model }, { root: smallRepo(path.join(dir, 'repo')) });
  const { pid } = await client.call('ping', {});
  // why: the kill is sent when this process hears the write, while the engine writes on; at the
  // lowest priority it waits for this process
  os.setPriority(pid, 19);
  const unwatch = whenWeightsWritten(() => process.kill(pid, 'SIGKILL'));
  try {
    await assert.rejects(client.call('index', params), { code: 'engine-crashed' });
  } finally {
    unwatch();
  }
  assert.equal(alive(pid), false);
  assert.match(crashes.at(-1)!, /killed \(SIGKILL\)/);
  const left = fs.readdirSync(graphs);
  assert.equal(left.length, 1, `only the killed converter's temporary folder: ${left}`);
  assert.match(left[0], TEMP);
  assert.ok(!fs.existsSync(path.join(graphs, left[0], 'done')), 'killed before its completion marker');
  const partial = fs.statSync(path.join(graphs, left[0], 'weights.bin')).size;

  const next = await client.call('index', params);
  assert.notEqual(client.pid, pid, 'a new engine process');
  assert.equal(next.reused, false);
  const names = fs.readdirSync(graphs);
  assert.deepEqual(
    names.filter((n) => TEMP.test(n)),
    [],
    `the dead converter's folder is gone: ${names}`,
  );
  const final = left[0].replace(TEMP, '');
  // beside the fp32 conversion renamed into place, auto's int8 set for decode steps
  assert.deepEqual(names.sort(), [final, final.replace(/-fp32$/, '-int8-step')].sort(), 'the conversion renamed into place is the new one');
  const marker = JSON.parse(fs.readFileSync(path.join(graphs, final, 'done'), 'utf8'));
  assert.equal(marker.files['weights.bin'].bytes, fs.statSync(path.join(graphs, final, 'weights.bin')).size);
  assert.ok(partial < marker.files['weights.bin'].bytes, `the killed one was cut mid-file (${partial} of ${marker.files['weights.bin'].bytes} bytes)`);
});
