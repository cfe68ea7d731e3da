// A long prefill stops within a second of cancel. onnxruntime cannot interrupt a run, so the engine
// sizes its chunks to take a fraction of a second each and checks the signal between them; this
// measures the promise on a model big enough that the whole prefill takes several seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { CancelledError } from '../../src/engine/errors';
import { prefill } from '../../src/engine/generate';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';
import { makeRandomModel } from '../helpers/random-model';

const { dir, cacheRoot } = scratchDir('cancel');

// The cancel bound means something only when more than a second of work is left when the user
// cancels, so the model grows (more layers) until the whole prefill takes this long on this machine.
const LONG_MS = 2500;
const ids = Array.from({ length: 2000 }, (_, i) => (i * 97) % 4000);

async function timedModel(layers: number): Promise<{ model: Model; fullMs: number }> {
  const modelDir = makeRandomModel(path.join(dir, `mid-${layers}`), {
    family: 'qwen2',
    hidden: 512,
    intermediate: 1536,
    layers,
    heads: 8,
    kvHeads: 2,
    ropeTheta: 1e4,
    seed: 5,
  });
  const model = await Model.load(modelDir, { device: 'cpu', cacheRoot });
  const full = performance.now();
  await prefill(model, model.newCache(), ids);
  return { model, fullMs: performance.now() - full };
}

test('a long prefill stops within 1 s of cancel, and the model works afterwards', async (t) => {
  let { model, fullMs } = await timedModel(8);
  if (fullMs < LONG_MS) {
    // a fast machine: prefill time grows in proportion to the layers
    await model.dispose();
    ({ model, fullMs } = await timedModel(Math.min(64, Math.ceil((8 * LONG_MS * 1.2) / fullMs))));
  }
  try {
    // the user cancels at `cancelAt`; a run in progress holds the thread until it ends, so the
    // latency counts from that moment, not from when the abort handler got to run
    const ac = new AbortController();
    const delay = Math.min(500, fullMs / 4);
    const cancelAt = performance.now() + delay;
    const timer = setTimeout(() => ac.abort(), delay);
    await assert.rejects(prefill(model, model.newCache(), ids, { signal: ac.signal }), CancelledError);
    clearTimeout(timer);
    const lag = performance.now() - cancelAt;
    t.diagnostic(
      `whole prefill ${fullMs.toFixed(0)} ms on ${model.config.numLayers} layers; cancelled ${delay.toFixed(0)} ms in, stopped ${lag.toFixed(0)} ms later`,
    );
    assert.ok(fullMs - delay > 1500, `more than the 1 s bound must be left to run when cancel comes (${fullMs} ms in all)`);
    assert.ok(lag < 1000, `stopped ${lag} ms after cancel`);
    // the same model answers afterwards
    const out = await model.forward({ ids: ids.slice(0, 8), cache: model.newCache(), logits: true });
    assert.equal(out.logits!.length, model.config.vocabSize);
  } finally {
    await model.dispose();
  }
});
