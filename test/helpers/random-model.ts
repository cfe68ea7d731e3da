// Tiny random-weight Hugging Face model folders, one per family, for parity tests: config.json,
// safetensors (F32/F16/BF16, optionally sharded) and the tinycode tokenizer. The weights come from a
// seeded PRNG and are scaled so attention and logits are well spread: a flat or saturated softmax
// would hide bugs that parity tests exist to find.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Family = 'llama' | 'mistral' | 'qwen2' | 'qwen3';
export type DType = 'F32' | 'F16' | 'BF16';

export interface ModelSpec {
  family: Family;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** Written to config.json when set (qwen3 sets one that is not hidden/heads). */
  headDim?: number;
  ropeTheta: number;
  /** config.json's rope_scaling object, as Hugging Face writes it. */
  ropeScaling?: Record<string, unknown>;
  dtype?: DType;
  /** Split the weights over this many safetensors files plus an index (default: one file). */
  shards?: number;
  /** A separate lm_head.weight instead of the tied embedding. */
  untied?: boolean;
  seed?: number;
}

export const VOCAB = 4096;
const MAX_POSITIONS = 2048;
const TOKENIZER_DIR = path.resolve(__dirname, '..', 'fixtures', 'tinycode');

/**
 * One spec per family, each with GQA group > 1 and each family's own twist. The llama3 scaling is
 * chosen for head_dim 16 at theta 5e5: wavelengths 6.3, 33, 169, 878, … against low/high-frequency
 * wavelengths 256 and 64, so some frequencies are kept, one is smoothed and the rest are divided.
 */
export const FAMILY_SPECS: Record<string, ModelSpec> = {
  llama3: {
    family: 'llama',
    hidden: 64,
    intermediate: 128,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 16,
    ropeTheta: 500000,
    ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 256 },
    seed: 1,
  },
  qwen2: { family: 'qwen2', hidden: 64, intermediate: 96, layers: 2, heads: 8, kvHeads: 2, ropeTheta: 1e6, seed: 2 },
  qwen3: { family: 'qwen3', hidden: 48, intermediate: 96, layers: 2, heads: 4, kvHeads: 2, headDim: 16, ropeTheta: 1e6, seed: 3 },
  // one KV head (group 4): the graph's single-head path
  mistral: { family: 'mistral', hidden: 64, intermediate: 112, layers: 3, heads: 4, kvHeads: 1, headDim: 16, ropeTheta: 1e6, seed: 4 },
};

const ARCHITECTURES: Record<Family, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

function headDimOf(spec: ModelSpec): number {
  return spec.headDim ?? spec.hidden / spec.heads;
}

function configJson(spec: ModelSpec): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    architectures: [ARCHITECTURES[spec.family]],
    model_type: spec.family,
    hidden_size: spec.hidden,
    intermediate_size: spec.intermediate,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    hidden_act: 'silu',
    max_position_embeddings: MAX_POSITIONS,
    rms_norm_eps: spec.family.startsWith('qwen') ? 1e-6 : 1e-5,
    rope_theta: spec.ropeTheta,
    rope_scaling: spec.ropeScaling ?? null,
    tie_word_embeddings: !spec.untied,
    vocab_size: VOCAB,
    bos_token_id: null,
    eos_token_id: 4092, // <|endoftext|> of the tinycode tokenizer
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[spec.dtype ?? 'F32'],
  };
  if (spec.headDim !== undefined) cfg.head_dim = spec.headDim;
  if (spec.family === 'qwen2') Object.assign(cfg, { use_sliding_window: false, sliding_window: MAX_POSITIONS, max_window_layers: spec.layers });
  if (spec.family === 'mistral') cfg.sliding_window = null;
  if (spec.family === 'qwen3' || spec.family === 'llama') cfg.attention_bias = false;
  return cfg;
}

export interface Tensor {
  shape: number[];
  data: Float64Array;
}

/** mulberry32 → uniform [0, 1). A local copy: the helpers must not lean on engine code. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The model's tensors in HF names and shapes. Uniform noise with the given standard deviation. */
export function randomTensors(spec: ModelSpec): Map<string, Tensor> {
  const rand = prng(spec.seed ?? 0);
  const { hidden: d, intermediate: F, heads: H, kvHeads: Hkv } = spec;
  const D = headDimOf(spec);
  const out = new Map<string, Tensor>();
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float64Array(n);
    const half = std * Math.sqrt(3); // uniform(-a, a) has std a/√3
    for (let i = 0; i < n; i++) data[i] = mean + (2 * rand() - 1) * half;
    out.set(name, { shape, data });
  };
  // Embedding rows of rms 0.4 make logits (hidden · row) spread by ≈ 0.4·√hidden ≈ 3: peaked, not one-hot.
  add('model.embed_tokens.weight', [VOCAB, d], 0.4);
  for (let l = 0; l < spec.layers; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'input_layernorm.weight', [d], 0.1, 1);
    add(p + 'self_attn.q_proj.weight', [H * D, d], 1 / Math.sqrt(d));
    add(p + 'self_attn.k_proj.weight', [Hkv * D, d], 1 / Math.sqrt(d));
    add(p + 'self_attn.v_proj.weight', [Hkv * D, d], 1 / Math.sqrt(d));
    if (spec.family === 'qwen2') {
      add(p + 'self_attn.q_proj.bias', [H * D], 0.5);
      add(p + 'self_attn.k_proj.bias', [Hkv * D], 0.5);
      add(p + 'self_attn.v_proj.bias', [Hkv * D], 0.5);
    }
    if (spec.family === 'qwen3') {
      add(p + 'self_attn.q_norm.weight', [D], 0.2, 1);
      add(p + 'self_attn.k_norm.weight', [D], 0.2, 1);
    }
    add(p + 'self_attn.o_proj.weight', [d, H * D], 1 / Math.sqrt(H * D));
    add(p + 'post_attention_layernorm.weight', [d], 0.1, 1);
    add(p + 'mlp.gate_proj.weight', [F, d], 1 / Math.sqrt(d));
    add(p + 'mlp.up_proj.weight', [F, d], 1 / Math.sqrt(d));
    add(p + 'mlp.down_proj.weight', [d, F], 1 / Math.sqrt(F));
  }
  add('model.norm.weight', [d], 0.1, 1);
  if (spec.untied) add('lm_head.weight', [VOCAB, d], 0.4);
  return out;
}

/** Nearest fp16 bit pattern (ties away from zero: any rounding will do, readers see the bits). */
function toF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -25) return sign;
  let e = Math.max(Math.floor(Math.log2(a)), -14);
  let m = Math.round(a / 2 ** (e - 10)); // 1024..2048 when normal, < 1024 when subnormal
  if (m === 2048) ((m = 1024), e++);
  if (e > 15) throw new Error(`${x} overflows fp16`);
  return m >= 1024 ? sign | ((e + 15) << 10) | (m - 1024) : sign | m;
}

/** Nearest bfloat16 bit pattern (round half to even on the float32 bits). */
function toBF16(x: number): number {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

function encode(data: Float64Array, dtype: DType): Buffer {
  if (dtype === 'F32') return Buffer.from(new Float32Array(data).buffer);
  const halves = Uint16Array.from(data, dtype === 'F16' ? toF16 : toBF16);
  return Buffer.from(halves.buffer);
}

/** Writes one safetensors file: u64 header length, JSON header padded to 8 bytes, then the data. */
export function writeSafetensors(file: string, tensors: Map<string, Tensor>, dtype: DType): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = encode(t.data, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...blobs]));
}

/** Shard file names the way transformers writes them. */
export function shardName(i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

/** Writes a complete model folder and returns it. */
export function makeRandomModel(dir: string, spec: ModelSpec): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configJson(spec), null, 2));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(TOKENIZER_DIR, f), path.join(dir, f));
  const tensors = randomTensors(spec);
  const dtype = spec.dtype ?? 'F32';
  const n = spec.shards ?? 1;
  if (n === 1) {
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, dtype);
    return dir;
  }
  // contiguous runs of tensors per shard, as transformers' size-based splitting produces
  const names = [...tensors.keys()];
  const per = Math.ceil(names.length / n);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const part = new Map(names.slice(i * per, (i + 1) * per).map((nm) => [nm, tensors.get(nm)!]));
    for (const nm of part.keys()) weightMap[nm] = shardName(i, n);
    writeSafetensors(path.join(dir, shardName(i, n)), part, dtype);
  }
  const bytesPer = dtype === 'F32' ? 4 : 2;
  const total = [...tensors.values()].reduce((s, t) => s + t.data.length * bytesPer, 0);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return dir;
}
