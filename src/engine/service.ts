// What the engine does for a repository: index (build or find the compressed cache of the current
// snapshot) and ask (answer from it). The engine host process serves these to the extension; the
// CLI calls them in-process. The model and the last compressed cache stay loaded between calls.
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { buildRepoContext, listFiles, RepoContext, snapshotKey, statFingerprint } from '../repo';
import { EngineError, throwIfCancelled } from './errors';
import { generate, MAX_CHUNK } from './generate';
import { Cache, KvCache } from './kv/cache';
import { compressContext } from './kv/compress';
import { makePress } from './kv/presses';
import { KVZIP_CHUNK } from './kv/presses/kvzip';
import { DEFAULT_BUDGET } from './kv/select';
import { defaultCacheRoot, modelFingerprint } from './model/convert';
import { weightsNotice } from './model/choose-weights';
import { Model } from './model/model';
import { checkMemory } from './memory';
import { chooseModel } from './hub/choose';
import { SnapshotMemo } from './snapshot-memo';
import { resolveModel } from './hub/download';
import { describeFallbacks, deviceClass, Fallback } from './runtime/session';
import { withBuildLock } from './store/lock';
import { checkpointDir, CheckpointStore, commonPrefix, trimCaches } from './store/checkpoint';
import { CacheHeader } from './store/format';
import { defaultSnapshotDir, SnapshotStore } from './store/store';
import type { AskParams, AskResult, ClearResult, EngineEvent, EngineSettings, IndexParams, IndexResult, Method, Methods, PullParams, PullResult, RepoSettings, StatusParams, StatusResult } from './worker/protocol';

export const DEFAULT_RATIO = 0.3;
/** The words around the repository in the cache's prefix; part of the snapshot key. */
export const SYSTEM_PROMPT = 'You are repozip, an assistant that answers questions about the software repository given below. Be precise and cite file paths.';
const PROMPT_VERSION = 1;
/** A checkpoint is worth loading when it spares at least this many context tokens. */
const MIN_REUSE = 256;
/** Tokens of the repeat instruction before a chunk in a KVzip pass (with room to spare). */
const LEAD_ROOM = 64;

/**
 * The longest context a model's positions allow. A KVzip pass feeds a chunk again after the whole
 * context (positions up to prefix + n + lead + chunk), and a question with its answer follows the
 * context too; both must stay inside the positions the model was trained on.
 */
export function contextLimit(maxPositions: number, prefix: number, chunk = KVZIP_CHUNK): number {
  const free = maxPositions - prefix;
  const answerRoom = Math.min(1024, Math.floor(maxPositions / 4));
  const longChunks = free - LEAD_ROOM - chunk >= chunk ? free - LEAD_ROOM - chunk : 0; // n >= chunk
  const shortContext = Math.min(chunk - 1, Math.floor((free - LEAD_ROOM) / 2)); // n < chunk: the pass re-feeds all n
  return Math.max(0, Math.min(Math.max(longChunks, shortContext), free - answerRoom));
}

export interface CallContext {
  signal: AbortSignal;
  emit: (e: EngineEvent) => void;
}

/** What answering needs of a snapshot. */
interface LightSnapshot {
  key: string;
  /** Included files in context order. */
  files: string[];
  prefix: number[];
  postfix: number[];
  /** The model files' fingerprint. */
  fingerprint: string;
}

/** What building needs too: the context itself. */
interface Snapshot extends LightSnapshot {
  repo: RepoContext;
}

export class EngineService {
  private model: Model | null = null;
  private modelKey = '';
  private modelId = '';
  private warm: { key: string; cache: Cache; header: CacheHeader } | null = null;

  /** Calls that need the model, or change the store under it, run one at a time in the host; the others answer at once. */
  static needsModel(method: Method): boolean {
    return method === 'index' || method === 'ask' || method === 'clear';
  }

  async dispatch(method: Method, params: unknown, ctx: CallContext): Promise<Methods[Method]['result']> {
    switch (method) {
      case 'ping':
        return { pid: process.pid, node: process.version };
      case 'index':
        return this.index(params as IndexParams, ctx);
      case 'ask':
        return this.ask(params as AskParams, ctx);
      case 'status':
        return this.status(params as StatusParams);
      case 'pull':
        return this.pull(params as PullParams, ctx);
      case 'clear':
        return this.clear(params as StatusParams);
      default:
        throw new EngineError('bad-input', `unknown method ${String(method)}`);
    }
  }

  private async loadModel(s: EngineSettings, ctx: CallContext): Promise<Model> {
    const key = JSON.stringify([s.model, s.device, s.weights, s.cacheDir]);
    if (this.model && this.modelKey === key) return this.model;
    await this.dispose();
    const chosen = await chooseModel(s.model, deviceClass(s.device ?? 'auto'), {
      signal: ctx.signal,
      onProgress: (p) => ctx.emit({ kind: 'progress', phase: 'downloading', done: p.bytesAll, total: p.totalAll }),
    });
    if (chosen.fallbackReason) ctx.emit({ kind: 'notice', message: `${chosen.fallbackReason}; using the bundled tiny demo model instead (its answers are not useful: set a real model)` });
    ctx.emit({ kind: 'progress', phase: 'loading', done: 0, total: 1 });
    this.model = await Model.load(chosen.dir, { device: s.device ?? 'auto', weights: s.weights ?? 'auto', cacheRoot: s.cacheDir });
    if (this.model.info.fallbacks.length) ctx.emit({ kind: 'notice', message: describeFallbacks(this.model.device, this.model.info.fallbacks) });
    const weights = weightsNotice(this.model.info.weights, this.model.info.weightsWhy);
    if (weights) ctx.emit({ kind: 'notice', message: weights });
    this.modelId = chosen.id;
    this.modelKey = key;
    ctx.emit({ kind: 'progress', phase: 'loading', done: 1, total: 1 });
    return this.model;
  }

  private store(s: EngineSettings): SnapshotStore {
    return new SnapshotStore(s.snapshotDir ?? defaultSnapshotDir(s.cacheDir ?? defaultCacheRoot()));
  }

  /** Lists, orders and tokenizes the repository and computes its snapshot key. */
  private async snapshot(model: Model, s: EngineSettings, r: RepoSettings, ctx: CallContext): Promise<Snapshot> {
    const tok = model.tokenizer;
    const frame = tok.chatFrame(tok.hasChatTemplate ? SYSTEM_PROMPT : null);
    const positions = contextLimit(model.config.maxPositions, frame.prefix.length);
    if (positions < 64) throw new EngineError('bad-input', `the model has only ${model.config.maxPositions} positions: no room for a repository`);
    const maxTokens = Math.min(r.maxContextTokens ?? positions, positions);
    ctx.emit({ kind: 'progress', phase: 'listing', done: 0, total: 1 });
    const statFp = await statFingerprint(r.root, { include: r.include, exclude: r.exclude, maxFileBytes: r.maxFileBytes, signal: ctx.signal }).catch((e) => {
      throwIfCancelled(ctx.signal, 'listing the repository');
      throw e;
    });
    // listing aborts its git and fs calls with Node's AbortError; the caller should hear 'cancelled'
    const repo = await buildRepoContext({ root: r.root, tokenizer: tok, maxTokens, include: r.include, exclude: r.exclude, maxFileBytes: r.maxFileBytes, signal: ctx.signal }).catch((e) => {
      throwIfCancelled(ctx.signal, 'listing the repository');
      throw e;
    });
    ctx.emit({ kind: 'progress', phase: 'tokenizing', done: 1, total: 1 });
    if (repo.ids.length === 0) throw new EngineError('bad-input', `no file of ${r.root} could be included (${repo.skipped.length} skipped)`);
    const fingerprint = modelFingerprint(model.dir, s.cacheDir ?? defaultCacheRoot());
    const key = snapshotKey({
      files: repo.files,
      repoName: repo.repoName,
      modelId: this.modelId,
      modelFingerprint: fingerprint,
      tokenizerFingerprint: fingerprint,
      promptFormat: `${repo.promptFormat}+prompt${PROMPT_VERSION}`,
      kvzip: { ratio: r.ratio ?? DEFAULT_RATIO, press: r.press ?? 'kvzip', chunk: KVZIP_CHUNK, mode: DEFAULT_BUDGET, dtype: r.kvDtype ?? 'fp16' },
    });
    this.memo(s).remember(r.root, this.settingsKey(model, r), { fingerprint: statFp, key, files: repo.files.map((f) => f.path) });
    return { key, repo, files: repo.files.map((f) => f.path), prefix: frame.prefix, postfix: frame.postfix, fingerprint };
  }

  private memo(s: EngineSettings): SnapshotMemo {
    return new SnapshotMemo(path.join(s.cacheDir ?? defaultCacheRoot(), 'repos'));
  }

  /** Everything besides the files that decides a snapshot key. */
  private settingsKey(model: Model, r: RepoSettings): string {
    return JSON.stringify([this.modelId, model.dir, model.info.graphDir, r.maxContextTokens, r.include, r.exclude, r.maxFileBytes, r.ratio, r.press, r.kvDtype, KVZIP_CHUNK, PROMPT_VERSION]);
  }

  /** One checkpoint per repository and settings (the files are what changes between builds). */
  private checkpointName(model: Model, r: RepoSettings): string {
    return 'ck-' + crypto.createHash('sha256').update(`${path.resolve(r.root)}\0${this.settingsKey(model, r)}`).digest('hex').slice(0, 32);
  }

  /** The snapshot when no file changed since the last full computation (stat fingerprint): no reading, no tokenizing. */
  private async quickSnapshot(model: Model, s: EngineSettings, r: RepoSettings, ctx: CallContext): Promise<LightSnapshot | null> {
    const statFp = await statFingerprint(r.root, { include: r.include, exclude: r.exclude, maxFileBytes: r.maxFileBytes, signal: ctx.signal });
    const rec = this.memo(s).lookup(r.root, this.settingsKey(model, r), statFp);
    if (!rec) return null;
    const tok = model.tokenizer;
    const frame = tok.chatFrame(tok.hasChatTemplate ? SYSTEM_PROMPT : null);
    return { key: rec.key, files: rec.files, prefix: frame.prefix, postfix: frame.postfix, fingerprint: modelFingerprint(model.dir, s.cacheDir ?? defaultCacheRoot()) };
  }

  async index(p: IndexParams, ctx: CallContext): Promise<IndexResult> {
    const t0 = performance.now();
    const model = await this.loadModel(p.engine, ctx);
    return this.build(model, await this.snapshot(model, p.engine, p.repo, ctx), p, ctx, t0);
  }

  /** Makes sure the snapshot's cache exists: reused, built here, or built by another process. */
  private async build(model: Model, snap: Snapshot, p: IndexParams, ctx: CallContext, t0: number): Promise<IndexResult> {
    const timings: Record<string, number> = { list: snap.repo.timings.list, order: snap.repo.timings.order, tokenize: snap.repo.timings.layout };
    const store = this.store(p.engine);
    const checkpoints = new CheckpointStore(checkpointDir(store.dir));
    await store.cleanupStale();
    await checkpoints.cleanupStale();
    // reused only once verified whole; a damaged file is gone after this, and is built again
    const reused = await this.loadWarm(model, snap, store, ctx);
    let outcome: 'built' | 'reused' = 'reused';
    if (!reused) {
      outcome = await withBuildLock(
        store.dir,
        snap.key,
        { ready: () => store.has(snap.key), signal: ctx.signal, onWait: () => ctx.emit({ kind: 'progress', phase: 'waiting', done: 0, total: 1 }) },
        async () => {
          checkMemory(model.config, model.info.weightBytes, model.info.weights, snap.prefix.length + snap.repo.ids.length, MAX_CHUNK);
          const ratio = p.repo.ratio ?? DEFAULT_RATIO;
          const press = makePress(p.repo.press ?? 'kvzip');
          // the last build of this repository, if its context starts like this one
          const name = this.checkpointName(model, p.repo);
          const ck = await checkpoints.load(name, snap.fingerprint, snap.prefix);
          const shared = ck ? commonPrefix(ck.contextIds, snap.repo.ids) : 0;
          const res = await compressContext(model, snap.prefix, snap.repo.ids, snap.postfix, {
            press,
            ratio,
            mode: DEFAULT_BUDGET,
            signal: ctx.signal,
            onProgress: (phase, done, total) => ctx.emit({ kind: 'progress', phase: phase === 'prefill' ? 'prefill' : 'scoring', done, total }),
            reuse: ck && shared >= MIN_REUSE ? { cache: ck.cache, tokens: shared, scores: ck.scores, chunk: ck.chunk } : undefined,
            // the checkpoint only speeds up the next build: not writing it (a full disk) is said, not fatal
            beforeEvict: (full, scores) =>
              checkpoints.save(name, { cache: full, prefixIds: snap.prefix, contextIds: snap.repo.ids, scores, chunk: KVZIP_CHUNK }, snap.fingerprint, path.resolve(p.repo.root)).catch((e) => {
                ctx.emit({ kind: 'notice', message: `could not save the prefill checkpoint, so the next build of this repository starts from scratch: ${(e as Error).message}` });
              }),
          });
          timings.prefill = res.prefillMs;
          timings.scoring = res.scoreMs;
          timings.reusedTokens = res.reusedTokens;
          ctx.emit({ kind: 'progress', phase: 'writing', done: 0, total: 1 });
          const tw = performance.now();
          await store.save(
            res.cache,
            {
              snapshotKey: snap.key,
              modelId: this.modelId,
              modelFingerprint: snap.fingerprint,
              press: press.name,
              ratio,
              budgetMode: DEFAULT_BUDGET,
              prefixIds: snap.prefix,
              contextLength: snap.repo.ids.length,
              files: snap.repo.files.map(({ path: p2, headerStart, start, end }) => ({ path: p2, headerStart, start, end })),
              meta: { root: path.resolve(p.repo.root), repoName: snap.repo.repoName, listing: snap.repo.files.map((f) => [f.path, f.sha256]), skipped: snap.repo.skipped.length, leftOut: snap.repo.leftOut.length },
            },
            p.repo.kvDtype ?? 'fp16',
            ctx.signal,
          ).finally(() => res.cache.dispose()); // GPU memory: answers load the saved file
          timings.write = performance.now() - tw;
          this.dropWarm();
          ctx.emit({ kind: 'progress', phase: 'writing', done: 1, total: 1 });
        },
      );
      if (p.repo.budgetBytes) await trimCaches(store, p.repo.budgetBytes, [snap.key, this.checkpointName(model, p.repo)]);
    }
    const entry = (await store.list()).find((e) => e.key === snap.key);
    timings.total = performance.now() - t0;
    return {
      key: snap.key,
      reused,
      builtElsewhere: !reused && outcome === 'reused',
      files: {
        included: snap.repo.files.length,
        skipped: snap.repo.skipped.map((s) => ({ path: s.path, reason: s.reason })),
        leftOut: snap.repo.leftOut.map((s) => ({ path: s.path, reason: s.reason })),
      },
      tokens: { prefix: snap.prefix.length, context: snap.repo.ids.length },
      keptRatio: entry?.header?.ratio ?? p.repo.ratio ?? DEFAULT_RATIO,
      bytesOnDisk: entry?.bytes ?? 0,
      timings,
    };
  }

  async ask(p: AskParams, ctx: CallContext): Promise<AskResult> {
    const tModel = performance.now();
    const model = await this.loadModel(p.engine, ctx);
    const t0 = performance.now(); // the model stays loaded in the extension: time to first token starts here
    const store = this.store(p.engine);
    let snap = await this.quickSnapshot(model, p.engine, p.repo, ctx);
    let tLoad = performance.now();
    let cacheReused = snap !== null && (await this.loadWarm(model, snap, store, ctx));
    if (!snap || !cacheReused) {
      const full = await this.snapshot(model, p.engine, p.repo, ctx);
      snap = full;
      tLoad = performance.now();
      cacheReused = await this.loadWarm(model, full, store, ctx);
      if (!cacheReused) {
        if (p.build === false) throw new EngineError('bad-input', 'there is no cache for the current snapshot of this repository: build it first (repozip index)');
        await this.build(model, full, p, ctx, t0);
        tLoad = performance.now();
        const loaded = await store.load(full.key, this.expected(model, full));
        if (!loaded) throw new EngineError('corrupt-cache', `the cache for snapshot ${full.key} disappeared while loading`);
        await this.setWarm(model, full.key, loaded);
      }
    }
    const { cache } = this.warm!;
    const tok = model.tokenizer;
    const question = [...tok.encodeText(`\n\nQuestion: ${p.question.trim()}`), ...snap.postfix];
    const mark = cache.mark();
    const tAsk = performance.now();
    try {
      ctx.emit({ kind: 'progress', phase: 'answering', done: 0, total: 1 });
      const out = await generate(model, cache, question, {
        maxTokens: p.maxTokens ?? 512,
        sampling: { temperature: p.temperature ?? 0, topP: 0.95, seed: 0 },
        signal: ctx.signal,
        onText: (delta) => ctx.emit({ kind: 'text', delta }),
      });
      return {
        text: out.text,
        stop: out.stop,
        cacheReused,
        key: snap.key,
        firstTokenMs: tAsk - t0 + out.firstTokenMs,
        timings: { modelMs: t0 - tModel, snapshotMs: tLoad - t0, loadMs: tAsk - tLoad, questionPrefillMs: out.prefillMs },
        tokens: out.ids.length,
        decodeMsPerToken: out.decodeMsPerToken,
        files: snap.files,
      };
    } finally {
      cache.rollback(mark);
    }
  }

  /** What a cache file must match to be loaded for this model and snapshot. */
  private expected(model: Model, snap: LightSnapshot) {
    return { modelFingerprint: snap.fingerprint, shape: { layers: model.config.numLayers, kvHeads: model.config.numKvHeads, headDim: model.config.headDim } };
  }

  /**
   * Makes the snapshot's cache the loaded one, verified whole; false when there is none. A file that
   * fails verification has been deleted by the store: a notice says why, and it counts as none, so
   * the caller builds it again. Anything the store did not delete (a folder in the way, a read
   * error) is reported as it is.
   */
  private async loadWarm(model: Model, snap: LightSnapshot, store: SnapshotStore, ctx: CallContext): Promise<boolean> {
    if (this.warm?.key === snap.key && (await store.has(snap.key))) return true;
    try {
      const loaded = await store.load(snap.key, this.expected(model, snap));
      if (loaded) await this.setWarm(model, snap.key, loaded);
      return loaded !== undefined;
    } catch (e) {
      if (!(e instanceof EngineError && e.code === 'corrupt-cache') || (await store.occupied(snap.key))) throw e;
      ctx.emit({ kind: 'notice', message: `${e.message}; building it again` });
      return false;
    }
  }

  /** Whether the current files have a cache, without loading the model or tokenizing. */
  async status(p: StatusParams): Promise<StatusResult> {
    const store = this.store(p.engine);
    const root = path.resolve(p.repo.root);
    const mine = (await store.list()).filter((e) => e.header?.meta.root === root).sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
    if (mine.length === 0) return { state: 'none' };
    const newest = mine[0];
    const meta = newest.header!.meta;
    const listing = await listFiles(root, { include: p.repo.include, exclude: p.repo.exclude, maxFileBytes: p.repo.maxFileBytes });
    const now = new Map(listing.files.map((f) => [f.path, f.sha256]));
    const then = new Map((meta.listing as [string, string][] | undefined) ?? []);
    let changed = 0;
    for (const [file, sha] of then) if (now.get(file) !== sha) changed++; // edited or deleted
    // new files count, except as many as the token budget left out last time (they were listed then too)
    changed += Math.max(0, [...now.keys()].filter((f) => !then.has(f)).length - Number(meta.leftOut ?? 0));
    return { state: changed === 0 ? 'ready' : 'stale', key: newest.key, bytes: newest.bytes, keptRatio: newest.header!.ratio, changedFiles: changed, files: [...then.keys()] };
  }

  /** The model's folder, downloading a hub model unless it is cached (the extension's model picker). */
  async pull(p: PullParams, ctx: CallContext): Promise<PullResult> {
    const dir = await resolveModel(p.model, { signal: ctx.signal, onProgress: (e) => ctx.emit({ kind: 'download', file: e.file, bytesAll: e.bytesAll, totalAll: e.totalAll, rate: e.rate, etaSeconds: e.etaSeconds }) });
    return { dir };
  }

  /** Deletes every snapshot of the repository at `root`, and its prefill checkpoints. */
  async clear(p: StatusParams): Promise<ClearResult> {
    const store = this.store(p.engine);
    const root = path.resolve(p.repo.root);
    let removed = 0;
    let bytes = 0;
    for (const e of await store.list()) {
      if (e.header?.meta.root !== root) continue;
      await store.remove(e.key);
      removed++;
      bytes += e.bytes;
    }
    bytes += await new CheckpointStore(checkpointDir(store.dir)).removeFor(root);
    this.dropWarm();
    return { removed, bytes };
  }

  /** A loaded snapshot's cache, made resident where the model runs (uploaded once to a GPU). */
  private async setWarm(model: Model, key: string, loaded: { cache: KvCache; header: CacheHeader }): Promise<void> {
    this.dropWarm();
    this.warm = { key, header: loaded.header, cache: await model.residentCache(loaded.cache) };
  }

  private dropWarm(): void {
    this.warm?.cache.dispose();
    this.warm = null;
  }

  /** Where the loaded model runs and with which weights, and why `auto` decided so; null before a model is loaded. */
  get placement(): { device: string; fallbacks: Fallback[]; weights: string; weightsWhy?: string } | null {
    return this.model && { device: this.model.device, fallbacks: this.model.info.fallbacks, weights: this.model.info.weights, weightsWhy: this.model.info.weightsWhy };
  }

  async dispose(): Promise<void> {
    this.dropWarm();
    const m = this.model;
    this.model = null;
    if (m) await m.dispose();
  }
}
