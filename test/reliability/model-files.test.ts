// Broken model folders given to the real engine process: the error code and a message naming the
// defect reach the client, the process survives to serve the next call, and a model without a chat
// template (a base model) still indexes and answers, with plain framing. Every other model-file
// defect is test/engine/bad-input.test.ts, at Model.load.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorCode } from '../../src/engine/errors';
import type { EngineClient } from '../../src/engine/worker/client';
import { FAMILY_SPECS, makeRandomModel, randomTensors, shardName, writeSafetensors } from '../helpers/random-model';
import { indexParams, scratch, smallRepo, startClient, TINY } from './helpers';

const { dir, engine } = scratch('model-files');
const root = smallRepo(path.join(dir, 'repo'));
let client: EngineClient;
let crashes: string[];
before(async () => ({ client, crashes } = await startClient()));
after(() => client.dispose());

const withModel = (model: string) => indexParams({ ...engine, model }, { root });

/** A copy of a model folder with `edit` applied. */
function brokenCopy(from: string, name: string, edit: (dir: string) => void): string {
  const to = path.join(dir, name);
  fs.cpSync(from, to, { recursive: true });
  edit(to);
  return to;
}

const editJson = (file: string, edit: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
};

const spec = FAMILY_SPECS.qwen3;
const CASES: Record<string, { model: () => string; code: ErrorCode; says: RegExp }> = {
  'a missing shard': {
    model: () =>
      brokenCopy(makeRandomModel(path.join(dir, 'sharded'), { ...spec, shards: 3 }), 'missing-shard', (d) => fs.rmSync(path.join(d, shardName(1, 3)))),
    code: 'missing-file',
    says: /shard model-00002-of-00003\.safetensors/,
  },
  'a tensor whose shape does not match the config': {
    model: () =>
      brokenCopy(makeRandomModel(path.join(dir, 'plain'), spec), 'wrong-shape', (d) => {
        const tensors = randomTensors(spec);
        tensors.get('model.layers.0.self_attn.q_proj.weight')!.shape.reverse();
        writeSafetensors(path.join(d, 'model.safetensors'), tensors, 'F32');
      }),
    code: 'bad-model',
    says: /tensor model\.layers\.0\.self_attn\.q_proj\.weight has shape \[48,64\] but the config implies \[64,48\]/,
  },
  'an unsupported architecture': {
    model: () =>
      brokenCopy(TINY, 'gpt2', (d) => editJson(path.join(d, 'config.json'), (j) => ((j.model_type = 'gpt2'), (j.architectures = ['GPT2LMHeadModel'])))),
    code: 'unsupported-model',
    says: /model_type "gpt2" is not supported \(supported: /,
  },
};

for (const [name, { model, code, says }] of Object.entries(CASES)) {
  test(`${name}: the engine process reports ${code} with a message naming it, and keeps serving`, async () => {
    const pid = (await client.call('ping', {})).pid;
    await assert.rejects(client.call('index', withModel(model())), (e: Error & { code?: string }) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.message, says);
      return true;
    });
    assert.deepEqual(await client.call('ping', {}).then((p) => p.pid), pid, 'the same process answers');
    assert.deepEqual(crashes, []);
  });
}

test('a tokenizer without a chat template (a base model): indexes and answers with plain framing; one with a template frames the system prompt', async () => {
  const base = await client.call('index', withModel(TINY));
  assert.equal(base.tokens.prefix, 0, 'no template: no system prompt before the repository');
  const answer = await client.call('ask', { ...withModel(TINY), question: 'What does add do?', maxTokens: 4 });
  assert.ok(answer.tokens > 0);

  const chat = brokenCopy(TINY, 'chat', (d) =>
    editJson(path.join(d, 'tokenizer_config.json'), (j) => {
      j.chat_template =
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    }),
  );
  const framed = await client.call('index', withModel(chat));
  assert.ok(framed.tokens.prefix > 10, `the system prompt is framed: ${framed.tokens.prefix} tokens`);
  assert.notEqual(framed.key, base.key);
  assert.ok((await client.call('ask', { ...withModel(chat), question: 'What does add do?', maxTokens: 4 })).tokens > 0);
  assert.deepEqual(crashes, []);
});
