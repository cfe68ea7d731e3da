// An independent float64 reference forward pass for the decoder families the engine supports,
// written from the Hugging Face definitions and ../shared/tools/ref_llama.py, in plain loops.
// It imports nothing from src/: a bug it shared with the engine could not be caught by comparing
// the two. It is itself held to ref_llama.py by test/reference/reference.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Weight {
  shape: number[];
  data: Float64Array;
}

/** Post-RoPE keys and values of one (layer, KV head): row i is the i-th cached entry. */
export interface HeadKv {
  k: Float64Array[];
  v: Float64Array[];
}

/** [layer][kvHead] */
export type RefKv = HeadKv[][];

export interface ForwardOptions {
  past?: RefKv;
  /** Cached entries left out of attention, as if evicted: index i is a row of past[l][h]. */
  exclude?: (l: number, h: number, i: number) => boolean;
  /** Sees each layer's post-RoPE queries [H][T] and keys [Hkv][P+T] (ref_llama.py's score_hook),
   *  its values [Hkv][P+T] and its attention inputs h [T] (post input-RMSNorm). */
  onAttention?: (l: number, q: Float64Array[][], k: Float64Array[][], v: Float64Array[][], h: Float64Array[]) => void;
}

export interface ForwardResult {
  /** Logits of the last position. */
  logits: Float64Array;
  /** The past followed by the new tokens' rows. */
  kv: RefKv;
}

// ---- safetensors ----

function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function readSafetensors(file: string, into: Map<string, Weight>): void {
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.toString('utf8', 8, 8 + n)) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const scratch = new DataView(new ArrayBuffer(4));
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const at = 8 + n + t.data_offsets[0];
    const count = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (t.dtype === 'F32') data[i] = view.getFloat32(at + 4 * i, true);
      else if (t.dtype === 'F16') data[i] = decodeF16(view.getUint16(at + 2 * i, true));
      else if (t.dtype === 'BF16') {
        // bfloat16 is the upper half of a float32
        scratch.setUint32(0, view.getUint16(at + 2 * i, true) << 16);
        data[i] = scratch.getFloat32(0);
      } else throw new Error(`reference: dtype ${t.dtype} of ${name}`);
    }
    into.set(name, { shape: t.shape, data });
  }
}

function loadWeights(dir: string): Map<string, Weight> {
  const weights = new Map<string, Weight>();
  const index = path.join(dir, 'model.safetensors.index.json');
  const files = fs.existsSync(index)
    ? [...new Set(Object.values((JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map))]
    : ['model.safetensors'];
  for (const f of files) readSafetensors(path.join(dir, f), weights);
  return weights;
}

// ---- maths on row vectors ----

function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

/** x @ W^T + b for an nn.Linear weight W [n, k]. */
function linear(x: Float64Array, w: Weight, b?: Weight): Float64Array {
  const [n, k] = w.shape;
  const y = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = b ? b.data[j] : 0;
    for (let i = 0; i < k; i++) s += x[i] * w.data[j * k + i];
    y[j] = s;
  }
  return y;
}

const silu = (v: number) => v / (1 + Math.exp(-v));

/** HF's inverse frequencies, including `_compute_llama3_parameters` and linear scaling. */
function inverseFrequencies(cfg: Record<string, any>, dim: number): Float64Array {
  const base: number = cfg.rope_theta ?? 10000;
  const inv = Float64Array.from({ length: dim / 2 }, (_, i) => 1 / base ** ((2 * i) / dim));
  const rs = cfg.rope_scaling;
  const type = rs ? (rs.rope_type ?? rs.type) : 'default';
  if (type === 'default') return inv;
  if (type === 'linear') return inv.map((f) => f / rs.factor);
  if (type !== 'llama3') throw new Error(`reference: rope scaling ${type}`);
  const lowFreqWavelen = rs.original_max_position_embeddings / rs.low_freq_factor;
  const highFreqWavelen = rs.original_max_position_embeddings / rs.high_freq_factor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    const scaled = wavelen > lowFreqWavelen ? f / rs.factor : f;
    const medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    if (!medium) return scaled;
    const smooth = (rs.original_max_position_embeddings / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
    return ((1 - smooth) * scaled) / rs.factor + smooth * scaled;
  });
}

export class RefModel {
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  private readonly eps: number;
  private readonly inv: Float64Array;
  private readonly qkNorm: boolean;
  private readonly head: Weight;

  private constructor(
    readonly config: Record<string, any>,
    private readonly w: Map<string, Weight>,
  ) {
    const c = config;
    this.layers = c.num_hidden_layers;
    this.heads = c.num_attention_heads;
    this.kvHeads = c.num_key_value_heads ?? this.heads;
    this.headDim = c.head_dim ?? c.hidden_size / this.heads;
    this.eps = c.rms_norm_eps ?? 1e-6;
    this.inv = inverseFrequencies(c, this.headDim);
    this.qkNorm = c.model_type === 'qwen3';
    const untied = c.tie_word_embeddings !== true && w.has('lm_head.weight');
    this.head = this.weight(untied ? 'lm_head.weight' : 'model.embed_tokens.weight');
  }

  static load(dir: string): RefModel {
    return new RefModel(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), loadWeights(dir));
  }

  private weight(name: string): Weight {
    const t = this.w.get(name);
    if (!t) throw new Error(`reference: no tensor ${name}`);
    return t;
  }

  /** Rotate-half RoPE of one head vector at one position. */
  private rope(x: Float64Array, pos: number): Float64Array {
    const half = this.headDim / 2;
    const y = new Float64Array(this.headDim);
    for (let i = 0; i < half; i++) {
      const c = Math.cos(pos * this.inv[i]);
      const s = Math.sin(pos * this.inv[i]);
      y[i] = x[i] * c - x[i + half] * s;
      y[i + half] = x[i + half] * c + x[i] * s;
    }
    return y;
  }

  /** Projects rows to per-head vectors [heads][T], with the optional bias, q/k norm and RoPE. */
  private project(h: Float64Array[], name: string, heads: number, positions: number[], norm: string | null, rope: boolean): Float64Array[][] {
    const D = this.headDim;
    const rows = h.map((x) => linear(x, this.weight(name + '.weight'), this.w.get(name + '.bias')));
    return Array.from({ length: heads }, (_, j) =>
      rows.map((r, t) => {
        let v: Float64Array = r.slice(j * D, (j + 1) * D);
        if (norm) v = rmsNorm(v, this.weight(norm).data, this.eps);
        return rope ? this.rope(v, positions[t]) : v;
      }),
    );
  }

  forward(ids: number[], positions: number[], opts: ForwardOptions = {}): ForwardResult {
    const { heads: H, kvHeads: Hkv, headDim: D } = this;
    const G = H / Hkv;
    const T = ids.length;
    const emb = this.weight('model.embed_tokens.weight');
    const d = emb.shape[1];
    let x = ids.map((id) => emb.data.slice(id * d, (id + 1) * d));
    const kv: RefKv = [];
    for (let l = 0; l < this.layers; l++) {
      const p = `model.layers.${l}.`;
      const h = x.map((r) => rmsNorm(r, this.weight(p + 'input_layernorm.weight').data, this.eps));
      const q = this.project(h, p + 'self_attn.q_proj', H, positions, this.qkNorm ? p + 'self_attn.q_norm.weight' : null, true);
      const kNew = this.project(h, p + 'self_attn.k_proj', Hkv, positions, this.qkNorm ? p + 'self_attn.k_norm.weight' : null, true);
      const vNew = this.project(h, p + 'self_attn.v_proj', Hkv, positions, null, false);
      const layerKv = Array.from({ length: Hkv }, (_, j) => {
        const past = opts.past?.[l][j] ?? { k: [], v: [] };
        return { k: [...past.k, ...kNew[j]], v: [...past.v, ...vNew[j]] };
      });
      kv.push(layerKv);
      opts.onAttention?.(
        l,
        q,
        layerKv.map((c) => c.k),
        layerKv.map((c) => c.v),
        h,
      );

      const attended = Array.from({ length: T }, () => new Float64Array(H * D));
      for (let j = 0; j < H; j++) {
        const hk = Math.floor(j / G); // HF order: query head j reads KV head j // G
        const { k, v } = layerKv[hk];
        const P = k.length - T;
        for (let t = 0; t < T; t++) {
          // keys visible to query t: unexcluded past entries, then own tokens up to t
          const visible: number[] = [];
          for (let i = 0; i < P; i++) if (!opts.exclude?.(l, hk, i)) visible.push(i);
          for (let i = P; i <= P + t; i++) visible.push(i);
          const logits = visible.map((i) => {
            let s = 0;
            for (let e = 0; e < D; e++) s += q[j][t][e] * k[i][e];
            return s / Math.sqrt(D);
          });
          const m = Math.max(...logits);
          const probs = logits.map((s) => Math.exp(s - m));
          const z = probs.reduce((a, b) => a + b, 0);
          visible.forEach((i, n) => {
            for (let e = 0; e < D; e++) attended[t][j * D + e] += (probs[n] / z) * v[i][e];
          });
        }
      }
      x = x.map((r, t) => {
        const o = linear(attended[t], this.weight(p + 'self_attn.o_proj.weight'));
        return r.map((val, i) => val + o[i]);
      });
      x = x.map((r) => {
        const h2 = rmsNorm(r, this.weight(p + 'post_attention_layernorm.weight').data, this.eps);
        const gate = linear(h2, this.weight(p + 'mlp.gate_proj.weight'));
        const up = linear(h2, this.weight(p + 'mlp.up_proj.weight'));
        const down = linear(
          gate.map((g, i) => silu(g) * up[i]),
          this.weight(p + 'mlp.down_proj.weight'),
        );
        return r.map((val, i) => val + down[i]);
      });
    }
    const last = rmsNorm(x[T - 1], this.weight('model.norm.weight').data, this.eps);
    return { logits: linear(last, this.head), kv };
  }

  /**
   * KVzip scores [L][Hkv][n_ctx], as ref_llama.py's kvzip_scores: prefill prefix ‖ ctx, then per
   * chunk feed lead ‖ chunk on the full cache; an entry's score is the max over the pass's queries
   * and its KV head's query heads of softmax over [prefix keys, the chunk's keys, own keys (causal)].
   * `plus`: KVzip+ (kvpress's kvzip_plus_normalization), each probability of query head j at query
   * t times ‖W_O[:, head j] v_i‖ / ‖h_t‖ before the max.
   */
  kvzipScores(prefix: number[], ctx: number[], chunk: number, leads?: number[][], plus = false): Float64Array[][] {
    const ids = [...prefix, ...ctx];
    const { kv: past } = this.forward(
      ids,
      ids.map((_, i) => i),
    );
    const G = this.heads / this.kvHeads;
    const ns = prefix.length;
    const S = Array.from({ length: this.layers }, () => Array.from({ length: this.kvHeads }, () => new Float64Array(ctx.length)));
    for (let c0 = 0, ci = 0; c0 < ctx.length; c0 += chunk, ci++) {
      const c1 = Math.min(c0 + chunk, ctx.length);
      const input = [...(leads?.[ci] ?? []), ...ctx.slice(c0, c1)];
      const T = input.length;
      const onAttention = (l: number, q: Float64Array[][], k: Float64Array[][], v: Float64Array[][], h: Float64Array[]) => {
        const oProj = this.weight(`model.layers.${l}.self_attn.o_proj.weight`);
        const d = oProj.shape[0];
        /** ‖W_O[:, head j] v‖: the size of what value v adds to the residual stream through head j. */
        const outNorm = (j: number, val: Float64Array) => {
          let s2 = 0;
          for (let o = 0; o < d; o++) {
            let y = 0;
            for (let e = 0; e < this.headDim; e++) y += oProj.data[o * oProj.shape[1] + j * this.headDim + e] * val[e];
            s2 += y * y;
          }
          return Math.sqrt(s2);
        };
        for (let j = 0; j < this.heads; j++) {
          const hk = Math.floor(j / G);
          const keys = k[hk];
          const own = keys.length - T;
          // candidate keys: prefix, this chunk's cached entries, then the pass's own keys
          const chunkKeys = Array.from({ length: c1 - c0 }, (_, i) => ns + c0 + i);
          const weight = chunkKeys.map((i) => (plus ? outNorm(j, v[hk][i]) : 1));
          for (let t = 0; t < T; t++) {
            const cols = [...Array.from({ length: ns }, (_, i) => i), ...chunkKeys, ...Array.from({ length: t + 1 }, (_, i) => own + i)];
            const logits = cols.map((i) => {
              let s = 0;
              for (let e = 0; e < this.headDim; e++) s += q[j][t][e] * keys[i][e];
              return s / Math.sqrt(this.headDim);
            });
            const m = Math.max(...logits);
            const z = logits.reduce((a, s) => a + Math.exp(s - m), 0);
            const hNorm = Math.sqrt(h[t].reduce((a, x) => a + x * x, 0));
            for (let i = 0; i < c1 - c0; i++) {
              const prob = ((Math.exp(logits[ns + i] - m) / z) * weight[i]) / (plus ? hNorm : 1);
              if (prob > S[l][hk][c0 + i]) S[l][hk][c0 + i] = prob;
            }
          }
        }
      };
      this.forward(
        input,
        input.map((_, i) => ids.length + i),
        { past, onAttention },
      );
    }
    return S;
  }
}
