// The one decoder graph every family runs on, built from the config and its FamilyTraits.
//
// What KVzip asks of it, and how it answers:
// - RoPE takes explicit position ids: after eviction a position is no longer a cache index.
// - The engine owns the KV cache, and where it lives decides what the graph returns (`cache`):
//   'host' (CPU, CUDA, DML, CoreML): only the new K/V rows (`present`), because onnxruntime copies
//   every CPU output into a fresh buffer; the cache goes in as zero-copy inputs.
//   'device' (WebGPU, the one EP whose outputs can stay in GPU memory from Node): each (layer, head)
//   returns its whole updated cache `present.L.H.k|v` = past ‖ new, a GPU tensor fed back next run.
// - Every (layer, KV head) has its own past input `past.L.H.k|v` of its own length, so attention over
//   an evicted cache costs what is kept, with no padding and no mask over the past.
// - Attention is standard ops in the grouped layout (the G query heads of a KV head are rows of one
//   matrix), so K/V are never duplicated and the softmax probabilities are at hand for scoring.
// - One graph serves decoding, prefill, KVzip scoring and the baselines' statistics. onnxruntime
//   runs every node whatever is fetched, so scoring and statistics sit in If branches switched by
//   boolean inputs: a decode step never pays for them.
// - Nothing is computed from shapes inside the graph (masks, indices and bounds are inputs built by
//   the host): onnxruntime pins such int64 arithmetic to the CPU, which would split a GPU graph.
import { Graph, MS } from '../onnx/builder';
import { Dim, DTypeName } from '../onnx/proto';
import { ModelConfig, RopeScaling } from './config';
import { Checkpoint } from './safetensors';
import { QUANT_BITS, QUANT_BLOCK, transpose, WeightFile, WeightFormat } from './weights';
import type { CacheResidence } from '../runtime/session';

export interface GraphOptions {
  weights: WeightFormat;
  /** Default 'host'. */
  cache?: CacheResidence;
  /** Layers whose post-RoPE queries and attention probabilities become outputs (tests, debugging). */
  probeLayers?: number[];
  /**
   * 'host' cache only: a graph for decode steps (the decode session, model.ts): the per-head attention
   * alone, with no dense branch, KVzip scoring or statistics, nor their inputs and outputs. Each If
   * costs even when it runs nothing: measured in bench/profile-decode.ts.
   */
  step?: boolean;
}

/** Names of the graph's inputs and outputs, shared by the builder and the runtime. */
export const IO = {
  ids: 'input_ids',
  positions: 'position_ids',
  pastK: (l: number, h: number) => `past.${l}.${h}.k`,
  pastV: (l: number, h: number) => `past.${l}.${h}.v`,
  /** 'host' cache, dense runs: the layer's past as one [1, Hkv, P, D] tensor (every head the same length). */
  layerPastK: (l: number) => `past.${l}.k`,
  layerPastV: (l: number) => `past.${l}.v`,
  /** bool scalar ('host' cache): run attention dense (layer pasts) rather than per head. */
  dense: 'dense',
  /** int32 [1] and int32 scalar: GroupQueryAttention's total length - 1 and total length (P + S). */
  seqlensK: 'seqlens_k',
  totalLength: 'total_length',
  /** float [G*S, S]: 0 where new token s may see new token t (t <= s), -inf elsewhere; rows g-major. */
  causalMask: 'causal_mask',
  /** int64 [1]: S - 1, the row whose logits are computed. */
  lastIndex: 'last_index',
  /** int64 [1] each, KVzip scoring: the prefix (sink) ends at `sinkEnd`; the scored chunk is
   *  [chunkStart, chunkEnd) of the past; the pass's own earlier keys start at `ownStart`;
   *  `probsEnd` = sinkEnd + chunk length. */
  sinkEnd: 'score_sink_end',
  chunkStart: 'score_chunk_start',
  chunkEnd: 'score_chunk_end',
  ownStart: 'score_own_start',
  probsEnd: 'score_probs_end',
  /** bool scalar: KVzip+ (each probability weighted by ‖W_O v_i‖ / ‖h_j‖, see kvzipScore). */
  scorePlus: 'score_plus',
  /** float [G*S, 1]: 1 for the query rows counted in `colsum`, 0 for the others. */
  statWeights: 'stat_weights',
  /** bool scalars switching the optional outputs on (they are empty otherwise). */
  wantScores: 'want_scores',
  wantColsum: 'want_colsum',
  logits: 'logits',
  /** 'host' cache: [L, 2, Hkv, S, D], post-RoPE keys and values of the new tokens. */
  present: 'present',
  /** 'device' cache: [P+S, D] each, the (layer, head)'s past rows followed by the new ones. */
  presentK: (l: number, h: number) => `present.${l}.${h}.k`,
  presentV: (l: number, h: number) => `present.${l}.${h}.v`,
  /** [L*Hkv, chunk]: KVzip scores of the chunk's cached entries. */
  scores: 'scores',
  /** [L*Hkv, P+S]: attention probability each key received, summed over rows >= stat_row0 and the group. */
  colsum: 'colsum',
  probeQ: (l: number) => `probe.${l}.q`,
  probeProbs: (l: number, h: number) => `probe.${l}.${h}.probs`,
} as const;

/** Inverse RoPE frequencies, with the model's scaling applied (float64). */
export function ropeInvFreq(headDim: number, theta: number, scaling: RopeScaling): Float64Array {
  const inv = new Float64Array(headDim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (scaling.type === 'linear') for (let i = 0; i < inv.length; i++) inv[i] /= scaling.factor;
  if (scaling.type === 'llama3') {
    const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: old } = scaling;
    for (let i = 0; i < inv.length; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > old / lo) inv[i] /= factor;
      else if (wavelen >= old / hi) {
        const smooth = (old / wavelen - lo) / (hi - lo);
        inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/** Builds the decoder graph and writes its weights next to it. Returns the ONNX bytes. */
export function buildDecoder(cfg: ModelConfig, ckpt: Checkpoint, opts: GraphOptions, weights: WeightFile, g: Graph): Uint8Array {
  const { hiddenSize: d, numLayers: L, numHeads: H, numKvHeads: Hkv, headDim: D, intermediateSize: F, vocabSize: V } = cfg;
  const G = H / Hkv;
  const bits = QUANT_BITS[opts.weights];
  const fp16 = opts.weights === 'fp16';
  // fp16 weights: the projections run as fp16 GEMMs between casts (what GPU EPs are fast at; half
  // the memory), while norms, RoPE, attention, the softmax and the KV cache stay fp32
  const toHalf = (t: string) => g.op('Cast', [t], { to: 10 });
  const toFloat = (t: string) => g.op('Cast', [t], { to: 1 });
  const onDevice = opts.cache === 'device';
  const step = !onDevice && opts.step === true;
  const probe = new Set(opts.probeLayers ?? []);
  const c = (v: number[]) => g.constInt64(v);
  const w = (name: string, shape: number[]) => ckpt.read(name, shape);

  // int4/int8: MatMulNBits with accuracy level 4 (the activations quantised to int8 per block): the
  // integer dot-product kernels, which is what makes the quantised formats decode faster
  const nbits = (x: string, name: string, weight: Float32Array, n: number, k: number) => {
    const q = weights.nbits(name, weight, n, k, bits!);
    return g.op('MatMulNBits', [x, q.b, q.scales, q.zeros], { K: k, N: n, bits: bits!, block_size: QUANT_BLOCK, accuracy_level: 4 }, { domain: MS });
  };
  // x @ W^T (+ b) for an nn.Linear weight W [n, k]. Each projection is its own MatMul: fusing q/k/v
  // or gate/up into one would need a Split of the output, a strided copy that measured slower than
  // the narrower GEMMs it saves. `weight` is W when the caller has read it already (o_proj's Grams).
  const linear = (x: string, name: string, n: number, k: number, bias = false, weight = w(`${name}.weight`, [n, k])): string => {
    let y: string;
    if (bits) {
      y = nbits(x, name, weight, n, k);
    } else if (fp16) {
      y = toFloat(g.op('MatMul', [toHalf(x), weights.tensor(name, transpose(weight, n, k), [k, n], true)]));
    } else {
      y = g.op('MatMul', [x, weights.tensor(name, transpose(weight, n, k), [k, n])]);
    }
    return bias ? g.op('Add', [y, weights.tensor(`${name}.bias`, w(`${name}.bias`, [n]), [n])]) : y;
  };
  const norm = (x: string, name: string, size: number) =>
    g.op('SimplifiedLayerNormalization', [x, weights.tensor(name, w(name, [size]), [size])], { axis: -1, epsilon: { float: cfg.rmsNormEps } });

  // inputs
  const ids = g.input(IO.ids, 'int64', ['S']);
  const positions = g.input(IO.positions, 'int64', [1, 'S']); // 2-D, as RotaryEmbedding takes it
  const causal = g.input(IO.causalMask, 'float', ['GS', 'S']);
  const lastIndex = g.input(IO.lastIndex, 'int64', [1]);
  // a step graph has none of the scoring, statistics and dense-attention inputs
  const maybe = (name: string, dtype: DTypeName, shape: Dim[], when = !step) => (when ? g.input(name, dtype, shape) : '');
  const [sinkEnd, chunkStart, chunkEnd, ownStart, probsEnd] = [IO.sinkEnd, IO.chunkStart, IO.chunkEnd, IO.ownStart, IO.probsEnd].map((n) =>
    maybe(n, 'int64', [1]),
  );
  const statWeights = maybe(IO.statWeights, 'float', ['GS', 1]);
  const wantScores = maybe(IO.wantScores, 'bool', []);
  const scorePlus = maybe(IO.scorePlus, 'bool', []);
  const wantColsum = maybe(IO.wantColsum, 'bool', []);
  const emptyRow = step ? '' : g.constFloat([], [1, 0]);
  const dense = maybe(IO.dense, 'bool', [], !onDevice && !step);
  const seqlensK = maybe(IO.seqlensK, 'int32', [1], !onDevice && !step);
  const totalLength = maybe(IO.totalLength, 'int32', [], !onDevice && !step);
  const toEnd = step ? '' : c([Number.MAX_SAFE_INTEGER]);

  // RoPE tables: float64 maths, stored as float32 (fp32 products at large positions lose precision)
  const inv = ropeInvFreq(D, cfg.ropeTheta, cfg.ropeScaling);
  const maxPos = cfg.maxPositions;
  const cos = new Float32Array(maxPos * (D / 2));
  const sin = new Float32Array(maxPos * (D / 2));
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < D / 2; i++) {
      cos[p * (D / 2) + i] = Math.cos(p * inv[i]);
      sin[p * (D / 2) + i] = Math.sin(p * inv[i]);
    }
  }
  const cosCache = weights.tensor('rope.cos', cos, [maxPos, D / 2]);
  const sinCache = weights.tensor('rope.sin', sin, [maxPos, D / 2]);
  const rope = (x: string, heads: number) => {
    const y = g.op('RotaryEmbedding', [g.op('Unsqueeze', [x, c([0])]), positions, cosCache, sinCache], { interleaved: 0, num_heads: heads }, { domain: MS });
    return g.op('Squeeze', [y, c([0])]);
  };

  // embeddings
  const embName = 'model.embed_tokens.weight';
  const emb = w(embName, [V, d]);
  // with quantised or fp16 weights the table is stored as fp16 (half the bytes; a row is cast after lookup)
  const halfTable = opts.weights !== 'fp32';
  const embTable = weights.tensor('embed', emb, [V, d], halfTable);
  let x = g.op('Gather', [embTable, ids], { axis: 0 });
  if (halfTable) x = toFloat(x);

  const scale = 1 / Math.sqrt(D);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const slice = (b: Graph, t: string, from: string, to: string, axis = 1) => b.op('Slice', [t, from, to, c([axis])]);
  /**
   * KVzip: softmax over [sink, the scored chunk, the pass's own keys] of one KV head's group of
   * queries, max over rows → [1, chunk]. Only those keys enter the softmax, so the cost follows the
   * chunk, not the context. KVzip+ (KVzap, arXiv 2601.07891) first weights probability a_ji by
   * ‖W_O^(g) v_i‖ / ‖h_j‖, what entry i would add to the residual stream relative to query j's
   * attention input h_j; ‖W_O^(g) v‖² = vᵀ M_g v with M_g the head's Gram matrix (`oprojGram`).
   */
  /** A [G*X, Y] tensor's G row blocks (one per query head of a group). */
  const groups = (b: Graph, t: string) => (G === 1 ? [t] : b.opN('Split', [t], { axis: 0, num_outputs: G }, { count: G }));
  const kvzipScore = (
    g0: Graph,
    head: { keys: (b: Graph) => string; values: (b: Graph) => string; gram: string },
    qh: string,
    kNew: string,
    h: string,
  ): string =>
    g0.ifElse(
      wantScores,
      [{ dtype: 'float', shape: [1, 'C'] }],
      (b) => {
        const K = head.keys(b);
        const part = (from: string, to: string) => b.op('Gemm', [qh, slice(b, K, from, to, 0)], { transB: 1, alpha: { float: scale } });
        const own = b.op('Gemm', [qh, kNew, causal], { transB: 1, alpha: { float: scale }, beta: { float: 1 } });
        const sel = b.op('Concat', [part(c([0]), sinkEnd), part(chunkStart, chunkEnd), part(ownStart, toEnd), own], { axis: 1 });
        const probs = slice(b, b.op('Softmax', [sel], { axis: 1 }), sinkEnd, probsEnd); // [G*S, C], rows g-major
        return b.ifElse(
          scorePlus,
          [{ dtype: 'float', shape: [1, 'C'] }],
          (bp) => {
            const v = bp.op('Unsqueeze', [slice(bp, head.values(bp), chunkStart, chunkEnd, 0), c([0])]); // [1, C, D]
            // vᵀMv >= 0 in exact arithmetic; Relu keeps a rounding below zero from becoming NaN
            const vNorm = bp.op('Sqrt', [bp.op('Relu', [bp.op('ReduceSum', [bp.op('Mul', [bp.op('MatMul', [v, head.gram]), v]), c([2])], { keepdims: 0 })])]); // [G, C]
            const hNorm = bp.op('ReduceL2', [h, c([1])], { keepdims: 1 }); // [S, 1]
            const rows = groups(bp, probs); // G × [S, C]
            const norms = groups(bp, vNorm); // G × [1, C]
            const best = rows.map((r, i) => bp.op('ReduceMax', [bp.op('Div', [bp.op('Mul', [r, norms[i]]), hNorm]), c([0])], { keepdims: 1 }));
            return [G === 1 ? best[0] : bp.op('Max', best)];
          },
          (bp) => [bp.op('ReduceMax', [probs, c([0])], { keepdims: 1 })],
        );
      },
      () => [emptyRow],
    )[0];
  const presents: string[] = [];
  const scoreRows: string[] = [];
  const colsumRows: string[] = [];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const h = norm(x, p + 'input_layernorm.weight', d);
    const a = p + 'self_attn.';
    let q = linear(h, a + 'q_proj', H * D, d, cfg.attentionBias);
    let k = linear(h, a + 'k_proj', Hkv * D, d, cfg.attentionBias);
    const v = linear(h, a + 'v_proj', Hkv * D, d, cfg.attentionBias);
    if (cfg.traits.qkNorm) {
      const perHead = (t: string, heads: number, name: string) => g.op('Reshape', [norm(g.op('Reshape', [t, c([0, heads, D])]), name, D), c([0, heads * D])]);
      q = perHead(q, H, p + 'self_attn.q_norm.weight');
      k = perHead(k, Hkv, p + 'self_attn.k_norm.weight');
    }
    q = rope(q, H);
    k = rope(k, Hkv);
    // grouped layout: q [Hkv, G*S, D] (rows g-major), k/v [Hkv, S, D]
    const qg = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [q, c([0, Hkv, G, D])])], { perm: [1, 2, 0, 3] }), c([Hkv, -1, D])]);
    const kh = g.op('Transpose', [g.op('Reshape', [k, c([0, Hkv, D])])], { perm: [1, 0, 2] });
    const vh = g.op('Transpose', [g.op('Reshape', [v, c([0, Hkv, D])])], { perm: [1, 0, 2] });
    if (!onDevice) presents.push(g.op('Unsqueeze', [g.op('Concat', [g.op('Unsqueeze', [kh, c([0])]), g.op('Unsqueeze', [vh, c([0])])], { axis: 0 }), c([0])]));
    if (probe.has(l))
      g.output(IO.probeQ(l), g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [q, c([0, H, D])])], { perm: [1, 0, 2] }), c([H, -1, D])]), 'float', [
        H,
        'S',
        D,
      ]);

    const split = (b: Graph, t: string) =>
      Hkv === 1 ? [b.op('Squeeze', [t, c([0])])] : b.opN('Split', [t], { axis: 0, num_outputs: Hkv }, { count: Hkv }).map((s) => b.op('Squeeze', [s, c([0])]));
    const qs = split(g, qg);
    const ks = split(g, kh);
    const vs = split(g, vh);
    const oproj = w(a + 'o_proj.weight', [d, H * D]);
    // (KVzip+ scoring only)
    const grams = step ? [] : range(Hkv).map((hd) => weights.tensor(`${a}o_proj.gram.${hd}`, oprojGram(oproj, d, H * D, D, hd * G, G), [G, D, D]));
    const pastK = range(Hkv).map((hd) => g.input(IO.pastK(l, hd), 'float', [`P${l}_${hd}`, D]));
    const pastV = range(Hkv).map((hd) => g.input(IO.pastV(l, hd), 'float', [`P${l}_${hd}`, D]));
    // [Hkv, G*S, D] → [S, H*D]
    const merge = (b: Graph, outs: string[]) => {
      const att = b.op(
        'Concat',
        outs.map((o) => b.op('Unsqueeze', [o, c([0])])),
        { axis: 0 },
      );
      return b.op('Reshape', [b.op('Transpose', [b.op('Reshape', [att, c([Hkv, G, -1, D])])], { perm: [2, 0, 1, 3] }), c([0, H * D])]);
    };

    /** Attention of each KV head over its own past (any lengths): standard ops, probabilities at hand. */
    const perHead = (b: Graph, withStats: boolean): { merged: string; colsum: string[] } => {
      const outs: string[] = [];
      const colsum: string[] = [];
      for (let hd = 0; hd < Hkv; hd++) {
        // scaled logits over the past (no mask: the past holds only kept entries) and the new tokens
        const sp = b.op('Gemm', [qs[hd], pastK[hd]], { transB: 1, alpha: { float: scale } });
        const sn = b.op('Gemm', [qs[hd], ks[hd], causal], { transB: 1, alpha: { float: scale }, beta: { float: 1 } });
        let probs: (bb: Graph) => string;
        if (onDevice) {
          // past ‖ new is an output anyway, so attention reads it whole: one softmax, one MatMul. (The
          // split form below also fails on WebGPU, whose reductions refuse an empty past.)
          const [kAll, vAll] = [IO.presentK(l, hd), IO.presentV(l, hd)];
          b.op('Concat', [pastK[hd], ks[hd]], { axis: 0 }, { names: [kAll] }); // named as the output: no Identity copy
          b.op('Concat', [pastV[hd], vs[hd]], { axis: 0 }, { names: [vAll] });
          b.output(kAll, kAll, 'float', [`T${l}_${hd}`, D]);
          b.output(vAll, vAll, 'float', [`T${l}_${hd}`, D]);
          const pr = b.op('Softmax', [b.op('Concat', [sp, sn], { axis: 1 })], { axis: 1 });
          outs.push(b.op('MatMul', [pr, vAll]));
          probs = () => pr;
        } else {
          // softmax split in two, so that neither the past V nor the probabilities are ever copied
          const m = b.op('Max', [b.op('ReduceMax', [sp, c([1])], { keepdims: 1 }), b.op('ReduceMax', [sn, c([1])], { keepdims: 1 })]);
          const ep = b.op('Exp', [b.op('Sub', [sp, m])]);
          const en = b.op('Exp', [b.op('Sub', [sn, m])]);
          const z = b.op('Add', [b.op('ReduceSum', [ep, c([1])], { keepdims: 1 }), b.op('ReduceSum', [en, c([1])], { keepdims: 1 })]);
          outs.push(b.op('Div', [b.op('Add', [b.op('MatMul', [ep, pastV[hd]]), b.op('MatMul', [en, vs[hd]])]), z]));
          probs = (bb) => bb.op('Div', [bb.op('Concat', [ep, en], { axis: 1 }), z]);
        }
        if (withStats) {
          // H2O / SnapKV statistics: attention probabilities summed over the chosen query rows → [1, P+S]
          const [row] = b.ifElse(
            wantColsum,
            [{ dtype: 'float', shape: [1, 'T'] }],
            (bb) => [bb.op('ReduceSum', [bb.op('Mul', [probs(bb), statWeights]), c([0])], { keepdims: 1 })],
            () => [emptyRow],
          );
          colsum.push(row);
        }
        if (probe.has(l)) b.output(IO.probeProbs(l, hd), probs(b), 'float', ['GS', `T${l}_${hd}`]);
      }
      return { merged: merge(b, outs), colsum };
    };

    let merged: string;
    let layerColsum: string[];
    if (onDevice) ({ merged, colsum: layerColsum } = perHead(g, true));
    else if (step) ({ merged, colsum: layerColsum } = perHead(g, false));
    else {
      // While every head of a layer holds the same past (prefill, KVzip scoring), onnxruntime's
      // GroupQueryAttention runs it fused (no probability matrix in memory): measured 1.7x faster
      // than the standard ops at 512 new tokens over a 4K past. Decoding an evicted cache (heads of
      // different lengths, one new token, where the standard ops are 3x faster) and the statistics
      // take the per-head path. The host chooses with `dense` and feeds the matching past inputs.
      const layerK = g.input(IO.layerPastK(l), 'float', [1, Hkv, `PL${l}`, D]);
      const layerV = g.input(IO.layerPastV(l), 'float', [1, Hkv, `PL${l}`, D]);
      const [m, ...rows] = g.ifElse(
        dense,
        [{ dtype: 'float', shape: ['S', H * D] }, ...range(Hkv).map(() => ({ dtype: 'float' as const, shape: [1, 'T'] }))],
        (b) => {
          const unsq = (t: string) => b.op('Unsqueeze', [t, c([0])]);
          // present_key/value stay internal, but must exist: without them the CPU kernel ignores
          // the past (measured), and with them it attends to past ‖ new
          const [o] = b.opN(
            'GroupQueryAttention',
            [unsq(q), unsq(k), unsq(v), layerK, layerV, seqlensK, totalLength],
            { num_heads: H, kv_num_heads: Hkv, scale: { float: scale } },
            { domain: MS, count: 3 },
          );
          return [b.op('Squeeze', [o, c([0])]), ...range(Hkv).map(() => emptyRow)];
        },
        (b) => {
          const r = perHead(b, true);
          return [r.merged, ...r.colsum];
        },
      );
      merged = m;
      layerColsum = rows;
      // KVzip scoring runs dense: each head's keys and values are rows of the layer's past
      const rowsOf = (t: string, hd: number) => (b: Graph) => b.op('Reshape', [b.op('Slice', [t, c([hd]), c([hd + 1]), c([1])]), c([-1, D])]);
      for (let hd = 0; hd < Hkv; hd++)
        scoreRows.push(kvzipScore(g, { keys: rowsOf(layerK, hd), values: rowsOf(layerV, hd), gram: grams[hd] }, qs[hd], ks[hd], h));
    }
    if (onDevice)
      for (let hd = 0; hd < Hkv; hd++) scoreRows.push(kvzipScore(g, { keys: () => pastK[hd], values: () => pastV[hd], gram: grams[hd] }, qs[hd], ks[hd], h));
    colsumRows.push(...layerColsum);
    x = g.op('Add', [x, linear(merged, a + 'o_proj', d, H * D, false, oproj)]);
    const h2 = norm(x, p + 'post_attention_layernorm.weight', d);
    const gate = linear(h2, p + 'mlp.gate_proj', F, d);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(h2, p + 'mlp.up_proj', F, d)]);
    x = g.op('Add', [x, linear(act, p + 'mlp.down_proj', d, F)]);
  }

  // logits of the last position only: the LM head never runs over a prefill chunk
  const last = g.op('Gather', [x, lastIndex], { axis: 0 });
  const hn = norm(last, 'model.norm.weight', d);
  const headName = cfg.tieEmbeddings || !ckpt.has('lm_head.weight') ? embName : 'lm_head.weight';
  let logits: string;
  if (bits) logits = nbits(hn, 'lm_head', headName === embName ? emb : w(headName, [V, d]), V, d);
  else {
    const table = headName === embName ? embTable : weights.tensor('lm_head', w(headName, [V, d]), [V, d], fp16);
    logits = fp16 ? toFloat(g.op('Gemm', [toHalf(hn), table], { transB: 1 })) : g.op('Gemm', [hn, table], { transB: 1 });
  }
  g.output(IO.logits, logits, 'float', [1, V]);
  if (!onDevice) g.output(IO.present, g.op('Concat', presents, { axis: 0 }), 'float', [L, 2, Hkv, 'S', D]);
  if (!step) {
    g.output(IO.scores, g.op('Concat', scoreRows, { axis: 0 }), 'float', [L * Hkv, 'C']);
    g.output(IO.colsum, g.op('Concat', colsumRows, { axis: 0 }), 'float', [L * Hkv, 'T']);
  }
  return g.encode('repozip');
}

/**
 * Gram matrices M_j = W_jᵀ W_j [D, D] of query heads first..first+count-1, where W_j [d, D] is head
 * j's column block of o_proj's weight W [d, H*D]: ‖W_j v‖² = vᵀ M_j v, so KVzip+ weighs a value
 * by its output norm at D² cost instead of d·D. Computed in float64 from the checkpoint's weights
 * (whatever format the graph stores), once per conversion: 0.9 s for a 0.5B model on this project's
 * 2-core machine (H·D²·d/2 multiply-adds per layer, so ~35 s for a 7B one).
 */
export function oprojGram(w: Float32Array, d: number, cols: number, D: number, first: number, count: number): Float32Array {
  const out = new Float32Array(count * D * D);
  const col = new Float64Array(D * d); // the head's columns, each contiguous: the dot products stream
  for (let g = 0; g < count; g++) {
    const c0 = (first + g) * D;
    for (let o = 0; o < d; o++) for (let e = 0; e < D; e++) col[e * d + o] = w[o * cols + c0 + e];
    const M = g * D * D;
    for (let e = 0; e < D; e++) {
      const a = e * d;
      let f = e;
      // four dot products per sweep of column e: a quarter of its loads
      for (; f + 3 < D; f += 4) {
        const [b0, b1, b2, b3] = [f * d, (f + 1) * d, (f + 2) * d, (f + 3) * d];
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        for (let o = 0; o < d; o++) {
          const x = col[a + o];
          s0 += x * col[b0 + o];
          s1 += x * col[b1 + o];
          s2 += x * col[b2 + o];
          s3 += x * col[b3 + o];
        }
        out[M + e * D + f] = out[M + f * D + e] = s0;
        out[M + e * D + f + 1] = out[M + (f + 1) * D + e] = s1;
        out[M + e * D + f + 2] = out[M + (f + 2) * D + e] = s2;
        out[M + e * D + f + 3] = out[M + (f + 3) * D + e] = s3;
      }
      for (; f < D; f++) {
        let s = 0;
        for (let o = 0, b = f * d; o < d; o++) s += col[a + o] * col[b + o];
        out[M + e * D + f] = out[M + f * D + e] = s;
      }
    }
  }
  return out;
}
