// An answer is bounded by the model's window as well as by maxTokens: when the composed context
// leaves fewer positions than the tokens asked for, generation stops at the last position with
// stop 'window' (the README's first command met "position 1024 is outside the model's 1024
// positions" on the demo model, whose answers rarely end by themselves).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { generate } from '../../src/engine/generate';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';

const TINY = path.resolve('test/fixtures/tinycode');
const { cacheRoot } = scratchDir('generate');

test("an answer that reaches the end of the model's positions stops there with stop 'window', one token per position left", async () => {
  const model = await Model.load(TINY, { device: 'cpu', weights: 'fp32', cacheRoot, threads: 1 });
  try {
    const positions = model.config.maxPositions;
    const prompt = Array.from({ length: positions - 20 }, (_, i) => 5 + ((i * 37) % 900));
    // no EOS: only the window or maxTokens can end it
    const out = await generate(model, model.newCache(), prompt, { maxTokens: 100, stopIds: [] });
    assert.equal(out.stop, 'window');
    assert.equal(out.ids.length, 21, '20 positions fed back, and the token sampled after the last');
    const short = await generate(model, model.newCache(), prompt, { maxTokens: 21, stopIds: [] });
    assert.equal(short.stop, 'max-tokens', 'exactly the room asked for is maxTokens, not the window');
    assert.deepEqual(short.ids, out.ids);
  } finally {
    await model.dispose();
  }
});
