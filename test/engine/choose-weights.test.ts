// --weights auto: fp32 while it (with onnxruntime's packed copy) takes at most half of the available
// memory, with an int8 set for decoding when that fits too, int4 beyond; GPU providers take fp16; an
// explicit choice is never second-guessed. Then a real load under a memory limit that fp32 would
// crowd converts and runs int4 and says why, and one with room runs fp32 with an int8 decode session and
// says so too, as information (a warning only where the answers change: int4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { chooseWeights, weightsNotice } from '../../src/engine/model/choose-weights';
import { readConfig } from '../../src/engine/model/config';
import { parameterCount } from '../../src/engine/model/parameters';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';

const TINY = path.resolve('test/fixtures/tinycode');
const { cacheRoot } = scratchDir('choose-weights');

test('the rule: on the CPU fp32 (+ int8 decoding) up to half of the available memory (fp32 counted twice), then int4; fp16 on a GPU', () => {
  const config = readConfig(TINY);
  const need = 2 * 4 * parameterCount(config);
  const withDecode = need + 2.5 * parameterCount(config);
  assert.equal(chooseWeights('auto', config, 'cpu', 2 * need).weights, 'fp32');
  const roomy = chooseWeights('auto', config, 'cpu', 2 * withDecode);
  assert.equal(roomy.weights, 'fp32');
  assert.equal(roomy.decode, 'int8');
  assert.match(roomy.why!, /auto: fp32 weights, int8 for decoding/);
  // fp32 fits, both sets do not: fp32 alone
  assert.equal(chooseWeights('auto', config, 'cpu', 2 * withDecode - 1).weights, 'fp32');
  assert.equal(chooseWeights('auto', config, 'cpu', 2 * withDecode - 1).decode, undefined);
  const tight = chooseWeights('auto', config, 'cpu', 2 * need - 1);
  assert.equal(tight.weights, 'int4');
  assert.match(tight.why!, /auto: int4 weights, since fp32 would need [\d.]+ GB with onnxruntime's packed copy, more than half of the [\d.]+ GB available/);
  const gpu = chooseWeights('auto', config, 'webgpu', 1);
  assert.equal(gpu.weights, 'fp16');
  assert.match(gpu.why!, /auto: fp16 weights on webgpu/);
  assert.deepEqual(chooseWeights('fp16', config, 'cpu', 1e12), { weights: 'fp16' });
  assert.deepEqual(chooseWeights('fp32', config, 'cpu', 1), { weights: 'fp32' });
  assert.deepEqual(chooseWeights('int4', config, 'cpu', 1e12), { weights: 'int4' });
});

test('a load with auto under a tight memory limit runs int4 and says why; with room, fp32 with int8 decoding', async () => {
  const before = process.env.REPOZIP_MEMORY_LIMIT;
  try {
    process.env.REPOZIP_MEMORY_LIMIT = String(2 * 2 * 4 * parameterCount(readConfig(TINY)) - 1);
    const small = await Model.load(TINY, { device: 'cpu', weights: 'auto', cacheRoot, threads: 1 });
    assert.equal(small.info.weights, 'int4');
    assert.match(weightsNotice(small.info)!.message, /^auto: int4 weights/);
    assert.equal(weightsNotice(small.info)!.level, undefined, 'int4 is a warning: it changes the answers');
    assert.match(small.info.graphDir, /-int4/);
    const out = await small.forward({ ids: [1, 2, 3], cache: small.newCache(), logits: true });
    assert.ok(out.logits!.every(Number.isFinite));
    await small.dispose();
    delete process.env.REPOZIP_MEMORY_LIMIT;
    const roomy = await Model.load(TINY, { device: 'cpu', weights: 'auto', cacheRoot, threads: 1 });
    assert.equal(roomy.info.weights, 'fp32');
    assert.equal(roomy.info.decode?.weights, 'int8');
    assert.match(weightsNotice(roomy.info)!.message, /^auto: fp32 weights, int8 for decoding/);
    assert.equal(weightsNotice(roomy.info)!.level, 'info', 'int8 answer steps are information, not a warning');
    await roomy.dispose();
    const plain = await Model.load(TINY, { device: 'cpu', weights: 'fp32', cacheRoot, threads: 1 });
    assert.equal(weightsNotice(plain.info), undefined, 'plain fp32 is not announced');
    await plain.dispose();
  } finally {
    if (before === undefined) delete process.env.REPOZIP_MEMORY_LIMIT;
    else process.env.REPOZIP_MEMORY_LIMIT = before;
  }
});
