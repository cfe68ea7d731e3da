// The models a user can pick without knowing the hub, with what each costs: parameters, download
// size, KV-cache bytes per token, context length. Each entry's facts are the config.json fields
// that decide those costs (models.md §2.1), parsed by the engine's own parseConfig — so every
// entry is a model the engine supports, and the costs are computed from the shapes, not typed in.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors';
import { kvBytesPerToken, ModelConfig, parseConfig, readConfig } from '../model/config';
import { parameterCount } from '../model/parameters';

export type DeviceClass = 'gpu' | 'cpu';

export interface CatalogueEntry {
  /** The hub id, or "tinycode" for the model bundled with repozip. */
  id: string;
  /** What resolveModel takes: the hub id, or the bundled model's folder. */
  spec: string;
  label: string;
  description: string;
  parameters: number;
  /** Bytes of the weights on disk. */
  sizeBytes: number;
  /** K and V of one token in the cache, fp16. */
  kvBytesPerToken: number;
  maxPositions: number;
  /** KVzip ratio (fraction of context KV kept) to start from. */
  recommendedRatio: number;
  suits: DeviceClass[];
  /** The model used when the user has not chosen one, per device class. */
  defaultFor?: DeviceClass;
  /** Needs an accepted licence and a token. */
  gated: boolean;
}

interface HubModel {
  id: string;
  label: string;
  description: string;
  suits: DeviceClass[];
  defaultFor?: DeviceClass;
  gated?: boolean;
  ratio: number;
  config: Record<string, unknown>;
}

// Ratios: KVzip keeps quality at 0.3 on 7-8B models (kvzip.md §1); smaller models have less
// redundancy to spare, so those under 1B start at 0.5 until our benchmarks say otherwise.
const HUB_MODELS: HubModel[] = [
  {
    id: 'Qwen/Qwen2.5-Coder-1.5B-Instruct',
    label: 'Qwen2.5-Coder 1.5B Instruct',
    description: 'the default on a GPU: a code model with only 2 KV heads, so long contexts stay cheap',
    suits: ['gpu'],
    defaultFor: 'gpu',
    ratio: 0.3,
    config: {
      model_type: 'qwen2',
      hidden_size: 1536,
      num_hidden_layers: 28,
      num_attention_heads: 12,
      num_key_value_heads: 2,
      intermediate_size: 8960,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
    },
  },
  {
    id: 'Qwen/Qwen2.5-Coder-0.5B-Instruct',
    label: 'Qwen2.5-Coder 0.5B Instruct',
    description: 'the default on a CPU: the smallest cache per token of any listed model',
    suits: ['cpu', 'gpu'],
    defaultFor: 'cpu',
    ratio: 0.5,
    config: {
      model_type: 'qwen2',
      hidden_size: 896,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      intermediate_size: 4864,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
    },
  },
  {
    id: 'Qwen/Qwen2.5-Coder-3B-Instruct',
    label: 'Qwen2.5-Coder 3B Instruct',
    description: 'better answers than 1.5B for twice the weights; needs a GPU with room',
    suits: ['gpu'],
    ratio: 0.3,
    config: {
      model_type: 'qwen2',
      hidden_size: 2048,
      num_hidden_layers: 36,
      num_attention_heads: 16,
      num_key_value_heads: 2,
      intermediate_size: 11008,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
    },
  },
  {
    id: 'Qwen/Qwen3-0.6B',
    label: 'Qwen3 0.6B',
    description: 'small general model with a 40K context; 8 KV heads make its cache 9x that of Qwen2.5-Coder 0.5B',
    suits: ['gpu'],
    ratio: 0.5,
    config: {
      model_type: 'qwen3',
      hidden_size: 1024,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
      intermediate_size: 3072,
      vocab_size: 151936,
      max_position_embeddings: 40960,
      tie_word_embeddings: true,
    },
  },
  {
    id: 'HuggingFaceTB/SmolLM2-360M-Instruct',
    label: 'SmolLM2 360M Instruct',
    description: 'tiny and fast on a CPU, but an 8K context and not trained for code',
    suits: ['cpu'],
    ratio: 0.5,
    config: {
      model_type: 'llama',
      hidden_size: 960,
      num_hidden_layers: 32,
      num_attention_heads: 15,
      num_key_value_heads: 5,
      intermediate_size: 2560,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      tie_word_embeddings: true,
    },
  },
  {
    id: 'meta-llama/Llama-3.2-1B-Instruct',
    label: 'Llama 3.2 1B Instruct',
    description: "a 128K context; gated: accept Meta's licence on the hub and set a token",
    suits: ['gpu'],
    gated: true,
    ratio: 0.3,
    config: {
      model_type: 'llama',
      hidden_size: 2048,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 64,
      intermediate_size: 8192,
      vocab_size: 128256,
      max_position_embeddings: 131072,
      tie_word_embeddings: true,
      rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    },
  },
];

/** The hub checkpoints above are bf16: two bytes per parameter. */
const HUB_BYTES_PER_PARAM = 2;

export const BUNDLED_ID = 'tinycode';
const BUNDLED_DIR = 'test/fixtures/tinycode';

/** Every model to offer. The bundled one is listed when its folder is installed under `root`. */
export function catalogue(root: string = installRoot()): CatalogueEntry[] {
  const entries = HUB_MODELS.map((m): CatalogueEntry => {
    const c = parseConfig(m.config);
    return {
      ...costs(c),
      id: m.id,
      spec: m.id,
      label: m.label,
      description: m.description,
      sizeBytes: parameterCount(c) * HUB_BYTES_PER_PARAM,
      recommendedRatio: m.ratio,
      suits: m.suits,
      defaultFor: m.defaultFor,
      gated: m.gated ?? false,
    };
  });
  const dir = path.join(root, BUNDLED_DIR);
  if (!fs.existsSync(path.join(dir, 'config.json'))) return entries;
  const c = readConfig(dir);
  return [
    ...entries,
    {
      ...costs(c),
      id: BUNDLED_ID,
      spec: dir,
      label: 'tinycode (bundled)',
      description: 'tiny, offline demo: ships with repozip, needs no download, answers poorly',
      sizeBytes: fs.statSync(path.join(dir, 'model.safetensors')).size,
      recommendedRatio: 0.5,
      suits: ['cpu', 'gpu'],
      gated: false,
    },
  ];
}

function costs(c: ModelConfig): Pick<CatalogueEntry, 'parameters' | 'kvBytesPerToken' | 'maxPositions'> {
  return { parameters: parameterCount(c), kvBytesPerToken: kvBytesPerToken(c), maxPositions: c.maxPositions };
}

/** The model to use on a device class when the user has not chosen. */
export function defaultEntry(entries: CatalogueEntry[], device: DeviceClass): CatalogueEntry {
  return entries.find((e) => e.defaultFor === device)!;
}

/** The folder holding repozip's package.json: the extension's install folder, or the CLI's. */
export function installRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'repozip') return dir;
    if (path.dirname(dir) === dir) throw new EngineError('internal', `no repozip package.json above ${from}`);
  }
}
