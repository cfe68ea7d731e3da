// A model family is data: one graph builder serves every decoder below; this table holds what
// differs between families, and readConfig() turns a Hugging Face config.json into ModelConfig.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors';

/** What one family does differently from the plain Llama decoder. */
export interface FamilyTraits {
  /** q/k/v projections carry a bias (Qwen2); config.json's `attention_bias` can also turn it on. */
  qkvBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  /** The config's `head_dim` is authoritative (Qwen3 sets one that is not hidden/heads). */
  explicitHeadDim: boolean;
}

export const FAMILIES: Record<string, FamilyTraits> = {
  llama: { qkvBias: false, qkNorm: false, explicitHeadDim: true },
  mistral: { qkvBias: false, qkNorm: false, explicitHeadDim: true },
  qwen2: { qkvBias: true, qkNorm: false, explicitHeadDim: false },
  qwen3: { qkvBias: false, qkNorm: true, explicitHeadDim: true },
};

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface ModelConfig {
  family: string;
  traits: FamilyTraits;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositions: number;
  tieEmbeddings: boolean;
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (fallback !== undefined) return fallback;
  throw new EngineError('bad-model', `config.json has no numeric "${key}"`);
}

function ids(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

function ropeScaling(raw: unknown): RopeScaling {
  if (!raw || typeof raw !== 'object') return { type: 'none' };
  const r = raw as Json;
  const type = String(r.rope_type ?? r.type ?? 'default');
  if (type === 'default') return { type: 'none' };
  if (type === 'linear') return { type: 'linear', factor: num(r, 'factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num(r, 'factor'),
      lowFreqFactor: num(r, 'low_freq_factor'),
      highFreqFactor: num(r, 'high_freq_factor'),
      originalMaxPositions: num(r, 'original_max_position_embeddings'),
    };
  }
  throw new EngineError('unsupported-model', `rope scaling "${type}" is not supported (supported: llama3, linear)`);
}

/** Parses a config.json object; throws EngineError naming what is unsupported or missing. */
export function parseConfig(cfg: Json, generation: Json = {}): ModelConfig {
  const family = String(cfg.model_type ?? '');
  const traits = FAMILIES[family];
  if (!traits) {
    throw new EngineError('unsupported-model', `model_type "${family || '(missing)'}" is not supported (supported: ${Object.keys(FAMILIES).join(', ')})`);
  }
  const hiddenSize = num(cfg, 'hidden_size');
  const numHeads = num(cfg, 'num_attention_heads');
  const numKvHeads = num(cfg, 'num_key_value_heads', numHeads);
  const headDim = traits.explicitHeadDim && typeof cfg.head_dim === 'number' ? cfg.head_dim : hiddenSize / numHeads;
  if (!Number.isInteger(headDim) || numHeads % numKvHeads !== 0) {
    throw new EngineError('bad-model', `inconsistent attention shape: ${numHeads} heads, ${numKvHeads} KV heads, head_dim ${headDim}`);
  }
  const act = cfg.hidden_act ?? cfg.hidden_activation ?? 'silu';
  if (act !== 'silu') throw new EngineError('unsupported-model', `activation "${String(act)}" is not supported (only silu)`);
  const eos = ids(generation.eos_token_id).length ? ids(generation.eos_token_id) : ids(cfg.eos_token_id);
  return {
    family,
    traits,
    hiddenSize,
    numLayers: num(cfg, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: num(cfg, 'intermediate_size'),
    vocabSize: num(cfg, 'vocab_size'),
    rmsNormEps: num(cfg, 'rms_norm_eps', 1e-6),
    ropeTheta: num(cfg, 'rope_theta', 10000),
    ropeScaling: ropeScaling(cfg.rope_scaling),
    // Mistral's sliding window bounds what one query may see: cap the usable context there.
    maxPositions: Math.min(num(cfg, 'max_position_embeddings', 2048), typeof cfg.sliding_window === 'number' ? cfg.sliding_window : Infinity),
    tieEmbeddings: cfg.tie_word_embeddings === true,
    attentionBias: traits.qkvBias || cfg.attention_bias === true,
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : null,
    eosTokenIds: eos,
  };
}

/** Reads config.json (and generation_config.json when present) from a model folder. */
export function readConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new EngineError('missing-file', `model folder ${dir} has no config.json`);
  const cfg = readJson(file);
  const genFile = path.join(dir, 'generation_config.json');
  return parseConfig(cfg, fs.existsSync(genFile) ? readJson(genFile) : {});
}

export function readJson(file: string): Json {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    throw new EngineError('bad-model', `${path.basename(file)} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Bytes of K and V one token costs in the cache, at `bytesPerValue` (2 for fp16). */
export function kvBytesPerToken(c: ModelConfig, bytesPerValue = 2): number {
  return 2 * c.numLayers * c.numKvHeads * c.headDim * bytesPerValue;
}
