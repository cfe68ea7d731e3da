// Broken model folders: each Model.load rejects with an EngineError whose code and message say what
// is missing or malformed, no half-built conversion is left in the cache, and the process goes on
// loading and running good models afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError, ErrorCode } from '../../src/engine/errors';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel, randomTensors, shardName, writeSafetensors } from '../helpers/random-model';

const { dir: tmp, cacheRoot } = scratchDir('bad-input');
const spec = FAMILY_SPECS.qwen3;
const good = makeRandomModel(path.join(tmp, 'good'), spec);
const goodSharded = makeRandomModel(path.join(tmp, 'good-sharded'), { ...spec, shards: 3 });

const editJson = (file: string, edit: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
};

/** Rewrites model.safetensors after `edit` changes the tensor map. */
const editTensors = (dir: string, edit: (t: ReturnType<typeof randomTensors>) => void) => {
  const tensors = randomTensors(spec);
  edit(tensors);
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, 'F32');
};

/** Overwrites bytes of a file in place (at `offset`, or where `find` first occurs), keeping its size. */
const patchBytes = (file: string, offset: number | null, text: string, find?: string) => {
  const buf = fs.readFileSync(file);
  const at = offset ?? buf.indexOf(find!);
  assert.ok(at >= 0);
  buf.write(text, at);
  fs.writeFileSync(file, buf);
};

interface Case {
  from?: string;
  breakIt: (dir: string) => void;
  code: ErrorCode;
  message: RegExp;
}
const CASES: Record<string, Case> = {
  'missing config.json': { breakIt: (d) => fs.rmSync(path.join(d, 'config.json')), code: 'missing-file', message: /config\.json/ },
  'missing model.safetensors': { breakIt: (d) => fs.rmSync(path.join(d, 'model.safetensors')), code: 'missing-file', message: /model\.safetensors/ },
  'missing tokenizer.json': { breakIt: (d) => fs.rmSync(path.join(d, 'tokenizer.json')), code: 'missing-file', message: /tokenizer\.json/ },
  'truncated safetensors data': {
    breakIt: (d) => fs.truncateSync(path.join(d, 'model.safetensors'), Math.floor(fs.statSync(path.join(d, 'model.safetensors')).size / 2)),
    code: 'bad-model',
    message: /model\.safetensors is truncated: tensor \S+ ends at byte/,
  },
  'safetensors cut inside its header': {
    breakIt: (d) => fs.truncateSync(path.join(d, 'model.safetensors'), 100),
    code: 'bad-model',
    message: /model\.safetensors declares a \d+-byte header in a 100-byte file/,
  },
  'safetensors header that is not JSON': {
    breakIt: (d) => patchBytes(path.join(d, 'model.safetensors'), 8, '{{{{'),
    code: 'bad-model',
    message: /model\.safetensors has a header that is not valid JSON/,
  },
  'tensor of an unsupported dtype': {
    breakIt: (d) => patchBytes(path.join(d, 'model.safetensors'), null, '"dtype":"I8" ', '"dtype":"F32"'),
    code: 'unsupported-model',
    message: /tensor model\.embed_tokens\.weight in model\.safetensors has dtype I8/,
  },
  'tensor with a wrong shape': {
    breakIt: (d) =>
      editTensors(d, (t) => {
        t.get('model.layers.1.self_attn.k_proj.weight')!.shape.reverse(); // same bytes, transposed shape
      }),
    code: 'bad-model',
    message: /tensor model\.layers\.1\.self_attn\.k_proj\.weight has shape \[48,32\] but the config implies \[32,48\]/,
  },
  'missing tensor': {
    breakIt: (d) => editTensors(d, (t) => t.delete('model.layers.1.mlp.up_proj.weight')),
    code: 'bad-model',
    message: /no tensor model\.layers\.1\.mlp\.up_proj\.weight/,
  },
  'missing shard': {
    from: goodSharded,
    breakIt: (d) => fs.rmSync(path.join(d, shardName(1, 3))),
    code: 'missing-file',
    message: /shard model-00002-of-00003\.safetensors/,
  },
  'KV heads that do not divide the heads': {
    breakIt: (d) => editJson(path.join(d, 'config.json'), (j) => (j.num_key_value_heads = 3)),
    code: 'bad-model',
    message: /4 heads, 3 KV heads/,
  },
  'unsupported model_type': {
    breakIt: (d) => editJson(path.join(d, 'config.json'), (j) => (j.model_type = 'gpt2')),
    code: 'unsupported-model',
    message: /model_type "gpt2" is not supported/,
  },
  'config.json without hidden_size': {
    breakIt: (d) => editJson(path.join(d, 'config.json'), (j) => delete j.hidden_size),
    code: 'bad-model',
    message: /"hidden_size"/,
  },
  'invalid JSON in config.json': {
    breakIt: (d) => fs.writeFileSync(path.join(d, 'config.json'), '{"model_type": "qwen3",'),
    code: 'bad-model',
    message: /config\.json is not valid JSON/,
  },
  'invalid JSON in tokenizer.json': {
    breakIt: (d) => fs.writeFileSync(path.join(d, 'tokenizer.json'), '{"model": '),
    code: 'bad-model',
    message: /tokenizer\.json is not valid JSON/,
  },
  'invalid JSON in model.safetensors.index.json': {
    from: goodSharded,
    breakIt: (d) => fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), '{"weight_map": {'),
    code: 'bad-model',
    message: /model\.safetensors\.index\.json/,
  },
};

for (const [name, c] of Object.entries(CASES)) {
  test(`${name}: Model.load rejects with an EngineError naming it`, async () => {
    const dir = path.join(tmp, name.replace(/[^\w]+/g, '-'));
    fs.cpSync(c.from ?? good, dir, { recursive: true });
    c.breakIt(dir);
    await assert.rejects(Model.load(dir, { cacheRoot, threads: 1 }), (e: Error) => {
      assert.ok(e instanceof EngineError, `${e.name} instead of EngineError: ${e.message}`);
      assert.equal(e.code, c.code, e.message);
      assert.match(e.message, c.message);
      return true;
    });
  });
}

test('a model folder that does not exist', async () => {
  await assert.rejects(Model.load(path.join(tmp, 'nowhere'), { cacheRoot }), (e: Error) => {
    assert.ok(e instanceof EngineError);
    assert.equal(e.code, 'missing-file');
    assert.match(e.message, /nowhere does not exist/);
    return true;
  });
});

test('after the failures: no half-built conversion is left, and good models still load and run', async () => {
  const graphs = path.join(cacheRoot, 'graphs');
  const leftovers = fs.existsSync(graphs) ? fs.readdirSync(graphs).filter((f) => f.includes('.tmp')) : [];
  assert.deepEqual(leftovers, []);
  for (const dir of [good, goodSharded]) {
    const model = await Model.load(dir, { cacheRoot, threads: 1 });
    const { logits } = await model.forward({ ids: [1, 2, 3], cache: model.newCache(), logits: true });
    assert.ok(logits!.every(Number.isFinite));
    await model.dispose();
  }
});

// Bad arguments to forward: an EngineError('bad-input') naming the bad value, never a raw
// onnxruntime error, and never a silent answer (a negative id would wrap around in Gather).
const FORWARD_CASES: Record<string, { ids: number[]; positions?: number[]; message: RegExp }> = {
  'a last position beyond max_position_embeddings': { ids: [1, 2], positions: [0, 2048], message: /position 2048/ },
  'an earlier position beyond max_position_embeddings': { ids: [1, 2], positions: [5000, 1], message: /position 5000/ },
  'a negative position': { ids: [1, 2], positions: [-1, 0], message: /position -1/ },
  'a token id beyond the vocabulary': { ids: [1, 5000], message: /5000/ },
  'a negative token id': { ids: [-1], message: /-1/ },
  'fewer positions than ids': { ids: [1, 2, 3], positions: [0, 1], message: /position/ },
};

for (const [name, c] of Object.entries(FORWARD_CASES)) {
  test(`forward with ${name} rejects with EngineError('bad-input')`, async () => {
    const model = await Model.load(good, { cacheRoot, threads: 1 });
    try {
      await assert.rejects(model.forward({ ids: c.ids, positions: c.positions, cache: model.newCache(), logits: true }), (e: Error) => {
        assert.ok(e instanceof EngineError, `${e.name} instead of EngineError: ${e.message.split('\n')[0]}`);
        assert.equal(e.code, 'bad-input', e.message);
        assert.match(e.message, c.message);
        return true;
      });
    } finally {
      await model.dispose();
    }
  });
}
