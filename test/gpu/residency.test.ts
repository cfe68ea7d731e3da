// The compressed cache stays on the device: KVzip compression runs there (prefill, scoring passes,
// eviction by gather) without reading the cache back, and answering a question over it brings back
// only logits. Every run of the model's session is watched: each `present` output is a GPU tensor,
// every other output is on the CPU and empty except the logits. A question's tensors are disposed on
// rollback; the base cache is untouched and answers the same question the same way again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { generate } from '../../src/engine/generate';
import { DeviceCache } from '../../src/engine/kv/device-cache';
import { compressContext } from '../../src/engine/kv/compress';
import { KVzipPress } from '../../src/engine/kv/presses/kvzip';
import { IO } from '../../src/engine/model/graph';
import { Model } from '../../src/engine/model/model';
import { ROOT, scratchDir } from '../helpers/models';
import { WEBGPU_SKIP } from './webgpu';

const { cacheRoot } = scratchDir('gpu-residency');
const TINY = path.join(ROOT, 'test', 'fixtures', 'tinycode');
const CODE = `export function parse(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of line.split(';')) {
    const [key, value] = pair.split('=');
    if (key) out[key.trim()] = (value ?? '').trim();
  }
  return out;
}

export function format(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => \`\${k}=\${v}\`).join('; ');
}
`;
const ANSWER_TOKENS = 12;

interface Output {
  name: string;
  tensor: ort.Tensor;
  /** Where it was when the run returned it. */
  location: ort.Tensor.DataLocation;
}

/** Records every output of every run of the model's session. */
function watchRuns(model: Model): Output[][] {
  const session = (model as unknown as { session: ort.InferenceSession }).session;
  const run = session.run.bind(session);
  const seen: Output[][] = [];
  session.run = (async (...args: Parameters<typeof run>) => {
    const out = await run(...args);
    seen.push(Object.entries(out).map(([name, v]) => ({ name, tensor: v as ort.Tensor, location: (v as ort.Tensor).location })));
    return out;
  }) as typeof session.run;
  return seen;
}

async function compressAndAsk(model: Model) {
  const tok = model.tokenizer;
  const context = tok.encodeText(CODE);
  const res = await compressContext(model, [], context, [], { press: new KVzipPress(64), ratio: 0.3 });
  const question = tok.encodeText('\nexport function parse(');
  const answer = async () => {
    const mark = res.cache.mark();
    try {
      return (await generate(model, res.cache, question, { maxTokens: ANSWER_TOKENS, stopIds: [] })).ids;
    } finally {
      res.cache.rollback(mark);
    }
  };
  return { cache: res.cache, answer, kept: res.kept, contextLength: context.length };
}

test('decoding over the compressed cache never copies the cache to the host; rollback frees only the question', { skip: WEBGPU_SKIP }, async (t) => {
  const gpu = await Model.load(TINY, { cacheRoot, device: 'webgpu', forbidCpuFallback: true });
  const cpu = await Model.load(TINY, { cacheRoot, threads: 1 });
  try {
    const ops = gpu.deviceOps!;
    const { cache, answer, kept, contextLength } = await compressAndAsk(gpu);
    assert.ok(cache instanceof DeviceCache);
    t.diagnostic(`context ${contextLength} tokens, ${kept} entries kept; rows moved while compressing: ${JSON.stringify(ops.moved)}`);
    assert.equal(ops.moved.down, 0, 'compression read rows back to the host');
    assert.equal(ops.moved.up, 0, 'compression uploaded rows');

    const { numLayers: L, numKvHeads: Hkv, vocabSize: V } = gpu.config;
    const base = Array.from({ length: L * Hkv }, (_, i) => cache.tensors(Math.floor(i / Hkv), i % Hkv));
    const lengths = Array.from({ length: L * Hkv }, (_, i) => cache.length(Math.floor(i / Hkv), i % Hkv));
    const moved = { ...ops.moved };
    const runs = watchRuns(gpu);
    const first = await answer();

    assert.equal(runs.length, ANSWER_TOKENS, 'one run for the question, one per further token');
    const presents: ort.Tensor[] = [];
    for (const out of runs) {
      for (const { name, tensor, location } of out) {
        if (name.startsWith('present.')) {
          assert.equal(location, 'gpu-buffer', `${name} came back to the host`);
          presents.push(tensor);
        } else {
          assert.equal(location, 'cpu', name);
          assert.equal(tensor.size, name === IO.logits ? V : 0, `${name} carried data to the host`);
        }
      }
    }
    assert.equal(presents.length, runs.length * L * Hkv * 2);
    assert.deepEqual(ops.moved, moved, 'rows crossed the bus while answering');

    // rollback: the question's tensors are freed, the base cache is the same tensors, intact
    assert.ok(
      presents.every((p) => p.location === 'none'),
      'a question tensor outlived the rollback',
    );
    for (let i = 0; i < L * Hkv; i++) {
      const now = cache.tensors(Math.floor(i / Hkv), i % Hkv);
      assert.ok(now[0] === base[i][0] && now[1] === base[i][1] && now[0].location === 'gpu-buffer', `base tensors of head ${i} replaced or freed`);
      assert.equal(cache.length(Math.floor(i / Hkv), i % Hkv), lengths[i]);
    }
    const again = await answer();
    assert.deepEqual(again, first, 'the same question answered differently after rollback');

    const onCpu = await compressAndAsk(cpu);
    assert.deepEqual(first, await onCpu.answer(), 'the WebGPU answer differs from the CPU answer');
    t.diagnostic(`answer ids ${JSON.stringify(first)}`);
    cache.dispose();
  } finally {
    await gpu.dispose();
    await cpu.dispose();
  }
});
