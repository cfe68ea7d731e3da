// A loaded model: config, tokenizer and one onnxruntime session over our decoder graph, plus, on
// the CPU, optionally a second one over the same graph with other weights (int8) for decode steps.
// `forward` is the single entry point every phase uses (prefill, decode, KVzip scoring, baseline
// statistics); what it computes is decided by the outputs it asks for.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors';
import { Cache, KvCache } from '../kv/cache';
import { DeviceCache } from '../kv/device-cache';
import { DeviceOps } from '../runtime/device-ops';
import type { Device } from '../devices';
import { cacheResidence, createSession, Fallback, openSession } from '../runtime/session';
import { Tokenizer } from '../tokenizer';
import { ModelConfig, readConfig } from './config';
import { convertModel, defaultCacheRoot } from './convert';
import { IO } from './graph';
import { chooseWeights, WeightChoice } from './choose-weights';
import { WeightFormat } from './weights';

export interface LoadOptions {
  device?: Device;
  /** Default fp32; `auto` decides per device and memory (choose-weights.ts). */
  weights?: WeightChoice;
  /**
   * Weights of a second session that runs single-token steps (decoding) over the same host cache,
   * while prefill and scoring keep `weights`: a step reads every weight once, so fewer bytes decode
   * faster. Default: what `auto` decided (int8 beside fp32 when memory allows), else none.
   */
  decodeWeights?: WeightFormat;
  threads?: number;
  cacheRoot?: string;
  probeLayers?: number[];
  forbidCpuFallback?: boolean;
  /** File prefix of onnxruntime profiles: `<profile>-main_*.json` and `<profile>-decode_*.json`, written at dispose(). */
  profile?: string;
}

export interface ForwardRequest {
  ids: number[];
  /** Original positions of the tokens; default: continue from the cache's next position. */
  positions?: number[];
  /** A cache from this model's newCache() or residentCache(): host or device, as its session needs. */
  cache: Cache;
  /** Append the tokens' K/V to the cache (default true). */
  append?: boolean;
  logits?: boolean;
  /** KVzip scoring of cached entries [chunkStart, chunkEnd), see IO.sinkEnd and the bounds after it. */
  score?: { sinkEnd: number; chunkStart: number; chunkEnd: number; ownStart: number; plus?: boolean };
  /** Column sums of attention probabilities over query rows >= row0 (H2O, SnapKV). */
  colsum?: { row0: number };
  probes?: boolean;
}

export interface ForwardResult {
  logits?: Float32Array;
  /** [L*Hkv, chunk] */
  scores?: Float32Array;
  /** [L*Hkv, P+S] */
  colsum?: Float32Array;
  probes?: Record<string, ort.Tensor>;
}

export class Model {
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    private readonly session: ort.InferenceSession,
    /** Runs the single-token steps when set (host cache only). */
    private readonly decodeSession: ort.InferenceSession | null,
    readonly device: string,
    readonly info: {
      graphDir: string;
      converted: boolean;
      reconverted?: string;
      weights: WeightFormat;
      weightsWhy?: string;
      weightBytes: number;
      /** The decode session's weights and the size of their file. */
      decode?: { weights: WeightFormat; weightBytes: number };
      fallbacks: Fallback[];
    },
    private readonly probeLayers: number[],
    /** Present when the KV cache lives on the device (WebGPU): the sessions that move it. */
    readonly deviceOps: DeviceOps | null,
  ) {
    this.stepInputs = new Set(decodeSession?.inputNames ?? []);
  }

  /** The decode session's inputs: a subset of the main session's. */
  private readonly stepInputs: Set<string>;

  static async load(dir: string, opts: LoadOptions = {}): Promise<Model> {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new EngineError('missing-file', `model folder ${dir} does not exist`);
    const config = readConfig(dir);
    const tokenizer = Tokenizer.load(dir);
    const heads = Array.from({ length: config.numLayers * config.numKvHeads }, (_, i) => [Math.floor(i / config.numKvHeads), i % config.numKvHeads]);
    // the graph depends on where the cache will live, so each EP tried gets its own conversion
    const opened = await openSession(
      (device) => {
        const cache = cacheResidence(device);
        const decision = chooseWeights(opts.weights ?? 'fp32', config, device);
        const conv = convertModel(dir, config, { weights: decision.weights, cache, probeLayers: opts.probeLayers }, opts.cacheRoot ?? defaultCacheRoot());
        const gpuOutputs = cache === 'device' ? heads.flatMap(([l, h]) => [IO.presentK(l, h), IO.presentV(l, h)]) : [];
        return { model: conv.graph, gpuOutputs, conv, decision };
      },
      { device: opts.device ?? 'cpu', threads: opts.threads, forbidCpuFallback: opts.forbidCpuFallback, profile: opts.profile && `${opts.profile}-main` },
    );
    const { conv, decision } = opened.plan;
    const ops = cacheResidence(opened.device) === 'device' ? await DeviceOps.create({ forbidCpuFallback: opts.forbidCpuFallback }) : null;
    // the step graph with other weights: a subset of the main graph's inputs and outputs, so it runs
    // on the same host cache
    const decodeWeights = opts.decodeWeights ?? decision.decode;
    let decode: { session: ort.InferenceSession; weights: WeightFormat; weightBytes: number } | undefined;
    if (decodeWeights && decodeWeights !== decision.weights && opened.device === 'cpu') {
      const dc = convertModel(dir, config, { weights: decodeWeights, cache: 'host', step: true }, opts.cacheRoot ?? defaultCacheRoot());
      // its runs come back to back, one per answer token: its workers spin between ops (session.ts)
      const session = await createSession({ model: dc.graph }, 'cpu', { threads: opts.threads, profile: opts.profile && `${opts.profile}-decode`, spin: true });
      decode = { session, weights: decodeWeights, weightBytes: fs.statSync(path.join(dc.dir, 'weights.bin')).size };
    }
    const info = {
      graphDir: conv.dir,
      converted: !conv.reused,
      reconverted: conv.reconverted,
      weights: decision.weights,
      weightsWhy: decision.why,
      weightBytes: fs.statSync(path.join(conv.dir, 'weights.bin')).size,
      decode: decode && { weights: decode.weights, weightBytes: decode.weightBytes },
      fallbacks: opened.fallbacks,
    };
    return new Model(dir, config, tokenizer, opened.session, decode?.session ?? null, opened.device, info, opts.probeLayers ?? [], ops);
  }

  /** An empty cache where this model's session wants it: host arrays, or GPU memory. */
  newCache(): Cache {
    const { numLayers: L, numKvHeads: Hkv, headDim: D } = this.config;
    return this.deviceOps ? new DeviceCache(this.deviceOps, L, Hkv, D) : new KvCache(L, Hkv, D);
  }

  /** A host cache (loaded from disk) made ready for this model: uploaded once, or itself. */
  async residentCache(host: KvCache): Promise<Cache> {
    return this.deviceOps ? DeviceCache.upload(this.deviceOps, host) : host;
  }

  async forward(req: ForwardRequest): Promise<ForwardResult> {
    const { cache, ids } = req;
    const S = ids.length;
    if (S === 0) throw new EngineError('bad-input', 'forward needs at least one token');
    const onDevice = cache instanceof DeviceCache;
    if (onDevice !== (this.deviceOps !== null))
      throw new EngineError('internal', `a ${onDevice ? 'device' : 'host'} cache was fed to a model on ${this.device}: make caches with model.newCache()`);
    const positions = req.positions ?? ids.map((_, i) => cache.nextPosition + i);
    this.checkInput(ids, positions);
    const { numLayers: L, numKvHeads: Hkv, vocabSize: V } = this.config;
    const int64 = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), [a.length]);
    const G = this.config.numHeads / Hkv;
    const sc = req.score ?? { sinkEnd: 0, chunkStart: 0, chunkEnd: 0, ownStart: 0 };
    const feeds: Record<string, ort.Tensor> = {
      [IO.ids]: int64(ids),
      [IO.positions]: new ort.Tensor('int64', BigInt64Array.from(positions, BigInt), [1, S]),
      [IO.causalMask]: new ort.Tensor('float32', this.causalMask(S), [G * S, S]),
      [IO.lastIndex]: int64([S - 1]),
      [IO.sinkEnd]: int64([sc.sinkEnd]),
      [IO.chunkStart]: int64([sc.chunkStart]),
      [IO.chunkEnd]: int64([sc.chunkEnd]),
      [IO.ownStart]: int64([sc.ownStart]),
      [IO.probsEnd]: int64([sc.sinkEnd + sc.chunkEnd - sc.chunkStart]),
      [IO.statWeights]: new ort.Tensor('float32', statWeights(G, S, req.colsum?.row0 ?? S), [G * S, 1]),
      [IO.wantScores]: new ort.Tensor('bool', [!!req.score], []),
      [IO.scorePlus]: new ort.Tensor('bool', [!!req.score?.plus], []),
      [IO.wantColsum]: new ort.Tensor('bool', [!!req.colsum], []),
    };
    if (onDevice) {
      for (let l = 0; l < L; l++) for (let h = 0; h < Hkv; h++) [feeds[IO.pastK(l, h)], feeds[IO.pastV(l, h)]] = cache.tensors(l, h);
    } else Object.assign(feeds, hostPasts(cache as KvCache, S, req.score ? 'required' : req.colsum || req.probes ? 'never' : 'when-worth-it'));
    const append = req.append ?? true;
    const fetches: string[] = [];
    if (req.logits) fetches.push(IO.logits);
    if (req.score) fetches.push(IO.scores);
    if (req.colsum) fetches.push(IO.colsum);
    if (req.probes) for (const l of this.probeLayers) fetches.push(IO.probeQ(l), ...Array.from({ length: Hkv }, (_, h) => IO.probeProbs(l, h)));
    if (fetches.length === 0 && !append) throw new EngineError('bad-input', 'forward asked for nothing');
    let out: ort.InferenceSession.OnnxValueMapType;
    if (onDevice) {
      // every output, always: with GPU outputs, asking for a subset fails in onnxruntime-node 1.30
      out = await this.session.run(feeds);
      const present = (l: number, h: number): [ort.Tensor, ort.Tensor] => [out[IO.presentK(l, h)], out[IO.presentV(l, h)]];
      if (append) cache.appendPresent(present, positions);
      else for (let l = 0; l < L; l++) for (let h = 0; h < Hkv; h++) present(l, h).forEach((t) => t.dispose());
    } else {
      // a decode step (one new token, logits and the cache only) on the decode session when there is one
      const step = S === 1 && !req.score && !req.colsum && !req.probes;
      const session = step && this.decodeSession ? this.decodeSession : this.session;
      // the step graph takes only the inputs a step needs
      if (session !== this.session) for (const name of Object.keys(feeds)) if (!this.stepInputs.has(name)) delete feeds[name];
      out = await session.run(feeds, append ? [IO.present, ...fetches] : fetches);
      if (append) (cache as KvCache).appendPresent(out[IO.present].data as Float32Array, positions);
    }
    const result: ForwardResult = {};
    if (req.logits) result.logits = (out[IO.logits].data as Float32Array).subarray(0, V);
    if (req.score) result.scores = out[IO.scores].data as Float32Array;
    if (req.colsum) result.colsum = out[IO.colsum].data as Float32Array;
    if (req.probes) result.probes = Object.fromEntries(fetches.filter((f) => f.startsWith('probe.')).map((f) => [f, out[f]]));
    return result;
  }

  private readonly masks = new Map<number, Float32Array>();

  /** The new tokens' causal mask, [G*S, S] with rows g-major; built once per length. */
  private causalMask(S: number): Float32Array {
    let m = this.masks.get(S);
    if (!m) {
      const G = this.config.numHeads / this.config.numKvHeads;
      m = new Float32Array(G * S * S);
      for (let g = 0; g < G; g++) for (let s = 0; s < S; s++) m.fill(-Infinity, (g * S + s) * S + s + 1, (g * S + s + 1) * S);
      if (this.masks.size > 64) this.masks.clear();
      this.masks.set(S, m);
    }
    return m;
  }

  /** onnxruntime would wrap a negative id to the last row, or fail deep inside an op: refuse first. */
  private checkInput(ids: number[], positions: number[]): void {
    const { vocabSize, maxPositions } = this.config;
    if (positions.length !== ids.length) throw new EngineError('bad-input', `${ids.length} tokens but ${positions.length} positions`);
    const badId = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (badId !== undefined) throw new EngineError('bad-input', `token id ${badId} is outside the vocabulary [0, ${vocabSize})`);
    const badPos = positions.find((p) => !Number.isInteger(p) || p < 0 || p >= maxPositions);
    if (badPos !== undefined) throw new EngineError('bad-input', `position ${badPos} is outside the model's ${maxPositions} positions`);
  }

  async dispose(): Promise<void> {
    await this.session.release();
    await this.decodeSession?.release();
    await this.deviceOps?.release();
  }
}

/** Weights of the query rows (g-major) counted in `colsum`: rows of tokens s >= row0. */
function statWeights(G: number, S: number, row0: number): Float32Array {
  const w = new Float32Array(G * S);
  for (let g = 0; g < G; g++) w.fill(1, g * S + Math.min(row0, S), (g + 1) * S);
  return w;
}

/** Dense runs pay off for chunks, not single tokens (measured: the per-head ops decode 3x faster). */
const DENSE_MIN_TOKENS = 16;

/**
 * The past inputs of a host-cache run. When every head of every layer holds the same number of
 * rows (prefill, scoring: nothing evicted yet) and a chunk is fed, the run goes dense: each layer's
 * heads are copied side by side into one [1, Hkv, P, D] tensor for GroupQueryAttention; the
 * per-head inputs are then empty. Otherwise the per-head rows go in as zero-copy views. KVzip
 * scoring reads its keys from the dense layer pasts, so it requires a dense run; the statistics and
 * probes come from the per-head path, so they never take one.
 */
function hostPasts(cache: KvCache, S: number, dense: 'required' | 'never' | 'when-worth-it'): Record<string, ort.Tensor> {
  const { layers: L, kvHeads: Hkv, headDim: D } = cache;
  const P = cache.head(0, 0).len;
  const uniform = cache.heads.every((row) => row.every((h) => h.len === P));
  if (dense === 'required' && !uniform) throw new EngineError('bad-input', 'KVzip scoring needs the full cache: every head of every layer the same length');
  const isDense = dense === 'required' || (dense === 'when-worth-it' && uniform && S >= DENSE_MIN_TOKENS);
  const feeds: Record<string, ort.Tensor> = {
    [IO.dense]: new ort.Tensor('bool', [isDense], []),
    [IO.seqlensK]: new ort.Tensor('int32', Int32Array.from([P + S - 1]), [1]),
    [IO.totalLength]: new ort.Tensor('int32', Int32Array.from([P + S]), []),
  };
  const none = new Float32Array(0);
  for (let l = 0; l < L; l++) {
    const k = isDense ? new Float32Array(Hkv * P * D) : none;
    const v = isDense ? new Float32Array(Hkv * P * D) : none;
    for (let h = 0; h < Hkv; h++) {
      const hc = cache.head(l, h);
      if (isDense) {
        k.set(hc.keys(), h * P * D);
        v.set(hc.values(), h * P * D);
      }
      feeds[IO.pastK(l, h)] = new ort.Tensor('float32', isDense ? none : hc.keys(), [isDense ? 0 : hc.len, D]);
      feeds[IO.pastV(l, h)] = new ort.Tensor('float32', isDense ? none : hc.values(), [isDense ? 0 : hc.len, D]);
    }
    feeds[IO.layerPastK(l)] = new ort.Tensor('float32', k, [1, Hkv, isDense ? P : 0, D]);
    feeds[IO.layerPastV(l)] = new ort.Tensor('float32', v, [1, Hkv, isDense ? P : 0, D]);
  }
  return feeds;
}
