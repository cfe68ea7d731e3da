// What the engine does for a repository: index (find or build the segments of the current
// snapshot) and ask (answer from the segments chosen for the question). The engine host process
// serves these to the extension; the CLI calls them in-process. The model and the last composed
// cache stay loaded between calls.
import * as path from 'node:path';
import { candidatePaths, ChangedError, emptyContextMessage, firstFew, listFiles, statFingerprint } from '../repo';
import { EngineError, throwIfCancelled } from './errors';
import { generate } from './generate';
import { Cache } from './kv/cache';
import { answerRoom } from './limits';
import { defaultCacheRoot, modelFingerprint } from './model/convert';
import { weightsNotice } from './model/choose-weights';
import { Model } from './model/model';
import { chooseModel } from './hub/choose';
import { SnapshotMemo } from './snapshot-memo';
import { resolveModel } from './hub/download';
import { describeFallbacks, deviceClass, Fallback } from './runtime/session';
import { chooseSegments, loadComposed } from './segments/context';
import { collectGarbage, removeRepository } from './segments/gc';
import { Manifest, ManifestSummary, summarize } from './segments/manifest';
import { chatFrame, planRepo } from './segments/plan';
import { BuildCounts, buildSnapshot, SegmentStores } from './segments/snapshot';
import { TokenMemo } from './segments/token-memo';
import { checkShard, inShard } from './segments/shard';
import { RemoteCache } from './remote/sync';
import { ResolvedRepo, resolveRepo } from './settings';
import { defaultSnapshotDir } from './store/store';
import type {
  AskParams,
  AskResult,
  ClearResult,
  EngineEvent,
  EngineSettings,
  IndexParams,
  IndexResult,
  Method,
  Methods,
  PullParams,
  PullResult,
  Shard,
  StatusParams,
  StatusResult,
} from './protocol';

export { SYSTEM_PROMPT } from './segments/plan';

export interface CallContext {
  signal: AbortSignal;
  emit: (e: EngineEvent) => void;
}

type Handlers = { [M in Method]: (params: Methods[M]['params'], ctx: CallContext) => Promise<Methods[M]['result']> };

/** What a call may do to have the current snapshot. */
interface How {
  /** Build (or fetch) what is missing; false: only use what is stored. */
  build: boolean;
  /** Fetch from the remote store but build nothing (a pull). */
  fetchOnly?: boolean;
  shard?: Shard;
  remote?: RemoteCache;
  /** Check that a remembered snapshot's segments are all on disk (a stat each). */
  verify: boolean;
  /** Read the whole manifest (a question) rather than its summary. */
  whole: boolean;
}

/** The snapshot a call works on, with what it took to have it. */
interface Current {
  summary: ManifestSummary;
  /** The whole manifest, when the call asked for it (a question). */
  manifest?: Manifest;
  /** Absent when the manifest came from the memo (no file changed): nothing was listed or built. */
  counts?: BuildCounts;
  files: { included: number; skipped: { path: string; reason: string }[] };
  timings: Record<string, number>;
}

export class EngineService {
  private model: Model | null = null;
  private modelKey = '';
  private modelId = '';
  private warm: { key: string; cache: Cache } | null = null;
  /** The loaded model's tokenizer, remembering what it tokenized (an unchanged file is not tokenized again). */
  private tokens: TokenMemo | null = null;

  /** Calls that need the model, or change the store under it, run one at a time in the host; the others answer at once. */
  static needsModel(method: Method): boolean {
    return method === 'index' || method === 'ask' || method === 'clear';
  }

  private readonly handlers: Handlers = {
    ping: async () => ({ pid: process.pid, node: process.version }),
    index: (p, ctx) => this.index(p, ctx),
    ask: (p, ctx) => this.ask(p, ctx),
    status: (p) => this.status(p),
    pull: (p, ctx) => this.pull(p, ctx),
    clear: (p) => this.clear(p),
  };

  dispatch<M extends Method>(method: M, params: Methods[M]['params'], ctx: CallContext): Promise<Methods[M]['result']> {
    const handler = Object.hasOwn(this.handlers, method) ? this.handlers[method] : undefined;
    if (!handler) throw new EngineError('bad-input', `unknown method ${String(method)}`);
    return handler(params, ctx);
  }

  private async loadModel(s: EngineSettings, ctx: CallContext): Promise<Model> {
    const key = JSON.stringify([s.model, s.device, s.weights, s.cacheDir]);
    if (this.model && this.modelKey === key) return this.model;
    await this.dispose();
    const chosen = await chooseModel(s.model, deviceClass(s.device ?? 'auto'), {
      signal: ctx.signal,
      onProgress: (p) => ctx.emit({ kind: 'progress', phase: 'downloading', done: p.bytesAll, total: p.totalAll }),
    });
    if (chosen.fallbackReason)
      ctx.emit({
        kind: 'notice',
        message: `${chosen.fallbackReason}; using the bundled tiny demo model instead (its answers are not useful: set a real model)`,
      });
    ctx.emit({ kind: 'progress', phase: 'loading', done: 0, total: 1 });
    this.model = await Model.load(chosen.dir, { device: s.device ?? 'auto', weights: s.weights ?? 'auto', cacheRoot: s.cacheDir });
    if (this.model.info.reconverted) ctx.emit({ kind: 'notice', message: this.model.info.reconverted });
    if (this.model.info.fallbacks.length) ctx.emit({ kind: 'notice', message: describeFallbacks(this.model.device, this.model.info.fallbacks) });
    const weights = weightsNotice(this.model.info);
    if (weights) ctx.emit({ kind: 'notice', ...weights });
    this.modelId = chosen.id;
    this.modelKey = key;
    this.tokens = new TokenMemo(this.model.tokenizer);
    ctx.emit({ kind: 'progress', phase: 'loading', done: 1, total: 1 });
    return this.model;
  }

  private stores(s: EngineSettings): SegmentStores {
    return new SegmentStores(s.snapshotDir ?? defaultSnapshotDir(s.cacheDir ?? defaultCacheRoot()));
  }

  private memo(s: EngineSettings): SnapshotMemo {
    return new SnapshotMemo(path.join(s.cacheDir ?? defaultCacheRoot(), 'repos'));
  }

  /** Everything besides the files that decides a snapshot key. */
  private settingsKey(model: Model, r: ResolvedRepo): string {
    return JSON.stringify([
      this.modelId,
      model.dir,
      model.info.graphDir,
      r.include,
      r.exclude,
      r.maxFileBytes,
      r.ratio,
      r.pressName,
      r.dtype,
      r.chunk,
      r.segmentTokens,
    ]);
  }

  /** Tries this often when files keep changing while they are read (a build reads each file twice after listing it). */
  private static readonly ATTEMPTS = 3;

  /**
   * The current snapshot's manifest. When no file changed since the last full computation (one
   * stat walk), the memo names it and nothing is read; otherwise the repository is listed and cut
   * into segments, and the segments not yet stored are built (unless `build` is false).
   */
  private async current(model: Model, s: EngineSettings, r: ResolvedRepo, ctx: CallContext, how: How): Promise<Current> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.currentOnce(model, s, r, ctx, how);
      } catch (e) {
        if (!(e instanceof ChangedError)) throw e;
        // what was built from the files read so far is kept, by content: the next attempt reuses it
        if (attempt === EngineService.ATTEMPTS) throw new EngineError('bad-input', `${e.message}, ${attempt} times in a row: index again once it is saved`);
        ctx.emit({ kind: 'notice', message: `${e.message}; listing it again` });
      }
    }
  }

  private async currentOnce(model: Model, s: EngineSettings, r: ResolvedRepo, ctx: CallContext, how: How): Promise<Current> {
    const t0 = performance.now();
    const stores = this.stores(s);
    const fingerprint = modelFingerprint(model.dir, s.cacheDir ?? defaultCacheRoot());
    ctx.emit({ kind: 'progress', phase: 'listing', done: 0, total: 1 });
    // one walk: its paths serve the fingerprint and, when that is new, the listing
    const listing = { include: r.include, exclude: r.exclude, maxFileBytes: r.maxFileBytes, signal: ctx.signal };
    const candidates = await candidatePaths(r.root, listing).catch((e) => {
      throwIfCancelled(ctx.signal, 'listing the repository');
      throw e;
    });
    const statFp = await statFingerprint(r.root, { ...listing, candidates });
    const settingsKey = this.settingsKey(model, r);
    const rec = this.memo(s).lookup(r.root, settingsKey, statFp);
    const onDamaged = (why: string) => ctx.emit({ kind: 'notice', message: `${why}; it is written again` });
    // an index needs only each segment's key and size (read line by line); a question reads it whole
    const read = async (key: string): Promise<{ summary: ManifestSummary; manifest?: Manifest } | undefined> => {
      if (!how.whole) {
        const summary = await stores.manifests.summary(key, onDamaged);
        return summary && { summary };
      }
      const manifest = await stores.manifests.load(key, onDamaged);
      return manifest && { summary: summarize(manifest), manifest };
    };
    const memoHit = rec && (await read(rec.key));
    // a segment lost since (a damaged file deleted, a gc elsewhere): index looks for it (a stat per
    // segment); a question skips that and meets it when loading, which forgets this record
    if (memoHit && memoHit.summary.failed.length === 0 && (!how.verify || (await missingSegments(memoHit.summary, stores)) === 0)) {
      const sum = memoHit.summary;
      return { ...memoHit, files: { included: sum.listing.length, skipped: sum.skipped }, timings: { snapshot: performance.now() - t0 } };
    }
    const plan = await planRepo(model, this.modelId, fingerprint, r, { signal: ctx.signal, candidates });
    if (plan.files.length === 0) throw new EngineError('bad-input', emptyContextMessage(r.root, { skipped: plan.skipped }, []));
    const files = { included: plan.listing.length, skipped: plan.skipped.map((f) => ({ path: f.path, reason: f.reason })) };
    const timings: Record<string, number> = { list: plan.timings.list };
    let found = await read(plan.snapshotKey);
    let counts: BuildCounts | undefined;
    if (!found || found.summary.failed.length > 0 || (await missingSegments(found.summary, stores)) > 0) {
      if (!how.build) throw new EngineError('bad-input', 'there is no cache for the current snapshot of this repository: build it first (repozip index)');
      const { remote } = how;
      const part = { shard: how.shard, build: !how.fetchOnly, fetch: remote && ((keys: string[]) => remote.pull(plan.snapshotKey, keys)) };
      const built = await buildSnapshot(
        model,
        { modelId: this.modelId, fingerprint },
        plan,
        r,
        stores,
        { ...ctx, tokenizer: this.tokens ?? model.tokenizer },
        part,
      );
      counts = built.counts;
      Object.assign(timings, { segment: counts.segmentMs, build: counts.buildMs, prefill: counts.prefillMs, scoring: counts.scoreMs, write: counts.writeMs });
      // a question that may build nothing (ask --no-build) and did not find every segment, here or remotely
      if (counts.left && how.whole)
        throw new EngineError(
          'bad-input',
          `${counts.left} of the ${counts.total} segments of the current snapshot are neither in this cache nor in the remote store, and this call builds nothing: build them first (repozip index)`,
        );
      // a part (a shard, a pull) writes no manifest: no gc here, which would take the segments no manifest names yet
      if (r.budgetBytes && !counts.left) await collectGarbage(stores, r.budgetBytes, [plan.snapshotKey]);
      found = how.whole ? await read(plan.snapshotKey) : { summary: built.manifest };
      if (!found) throw new EngineError('corrupt-cache', `the manifest of snapshot ${plan.snapshotKey} was removed while it was being read; index again`);
      if (counts.left) return { ...found, counts, files, timings: { ...timings, snapshot: performance.now() - t0 } }; // a part: nothing to remember
    }
    this.memo(s).remember(r.root, settingsKey, { fingerprint: statFp, key: plan.snapshotKey, files: plan.listing.map(([f]) => f) });
    timings.snapshot = performance.now() - t0;
    return { ...found, counts, files, timings };
  }

  /** The remote store of these settings, if any; the caller closes it. */
  private remote(s: EngineSettings, model: Model, ctx: CallContext): RemoteCache | undefined {
    return s.remote && new RemoteCache(s.remote, this.stores(s), modelFingerprint(model.dir, s.cacheDir ?? defaultCacheRoot()), ctx);
  }

  async index(p: IndexParams, ctx: CallContext): Promise<IndexResult> {
    const t0 = performance.now();
    const model = await this.loadModel(p.engine, ctx);
    const r = resolveRepo(p.repo, model.config);
    const shard = p.shard && checkShard(p.shard);
    const stores = this.stores(p.engine);
    const remote = this.remote(p.engine, model, ctx);
    try {
      const cur = await this.current(model, p.engine, r, ctx, { build: true, fetchOnly: p.build === false, shard, remote, verify: true, whole: false });
      const m = cur.summary;
      if (remote) {
        // what this call provides (its share, as stored: a failed segment is not), with the listing of their checksums
        const mine = await storedKeys(shard ? m.keys.filter((key) => inShard(key, shard)) : m.keys, stores);
        // a shard's segments are named by no manifest here: a running-build record keeps another process's gc off them until pushed
        await stores.manifests.savePending(m.snapshotKey, mine);
        try {
          await remote.push(m.snapshotKey, mine, shard ? `shard-${shard.index}-of-${shard.count}` : 'all');
        } finally {
          await stores.manifests.removePending(m.snapshotKey).catch(() => {});
        }
      }
      return {
        key: m.snapshotKey,
        reused: (cur.counts?.built ?? 0) === 0,
        files: cur.files,
        tokens: { prefix: m.anchor.length, context: m.tokens },
        segments: segmentCounts(cur),
        remote: remote?.counts,
        keptRatio: m.settings.ratio,
        bytesOnDisk: await snapshotBytes(m, stores),
        timings: { ...cur.timings, total: performance.now() - t0 },
      };
    } finally {
      remote?.close();
    }
  }

  async ask(p: AskParams, ctx: CallContext): Promise<AskResult> {
    const tModel = performance.now();
    const model = await this.loadModel(p.engine, ctx);
    const t0 = performance.now(); // the model stays loaded in the extension: time to first token starts here
    const r = resolveRepo(p.repo, model.config);
    const stores = this.stores(p.engine);
    const remote = this.remote(p.engine, model, ctx);
    let cur: Current;
    try {
      // --no-build still pulls: fetching what others built is not building
      const how = { build: p.build !== false || remote !== undefined, fetchOnly: p.build === false, remote, verify: false, whole: true };
      cur = await this.current(model, p.engine, r, ctx, how);
      // what a question had to build, others need not: uploaded unless read-only (the checksum listing is the builders' to write)
      if (remote && cur.counts?.built) await remote.push(cur.summary.snapshotKey, await storedKeys(cur.summary.keys, stores));
    } finally {
      remote?.close();
    }
    const m = cur.manifest!;
    const failed = m.segments.filter((s) => s.failed);
    if (failed.length)
      ctx.emit({
        kind: 'notice',
        message: `${failed.length} segment(s) could not be built, so this answer does not see ${firstFew([...new Set(failed.flatMap((s) => s.pieces.map((x) => x.path)))])}`,
      });
    const tLoad = performance.now();
    const tok = model.tokenizer;
    const question = [...tok.encodeText(`\n\nQuestion: ${p.question.trim()}`), ...chatFrame(model).postfix];
    const maxTokens = p.maxTokens ?? 512;
    const room = model.config.maxPositions - m.anchor.length - question.length - Math.min(maxTokens, answerRoom(model.config.maxPositions));
    if (room <= 0)
      throw new EngineError(
        'bad-input',
        `the question (${question.length} tokens) and its answer leave no room in the model's ${model.config.maxPositions} positions`,
      );
    const choice = chooseSegments(m.segments, { text: p.question, ...p.editor }, room, r.compose);
    if (choice.chosen.length === 0) throw new EngineError('bad-input', `no segment of ${m.root} fits the model's positions next to this question`);
    ctx.emit({ kind: 'progress', phase: 'composing', done: 0, total: 1 });
    const cache = await this.composed(model, m, choice.chosen, r.compose, stores, ctx, () => {
      this.memo(p.engine).forget(r.root, this.settingsKey(model, r));
    });
    const mark = cache.mark();
    const tAsk = performance.now();
    try {
      ctx.emit({ kind: 'progress', phase: 'answering', done: 0, total: 1 });
      const out = await generate(model, cache, question, {
        maxTokens,
        sampling: { temperature: p.temperature ?? 0, topP: 0.95, seed: 0 },
        signal: ctx.signal,
        onText: (delta) => ctx.emit({ kind: 'text', delta }),
      });
      return {
        text: out.text,
        stop: out.stop,
        cacheReused: cur.counts === undefined || cur.counts.built === 0,
        key: m.snapshotKey,
        segments: segmentCounts(cur),
        remote: remote?.counts,
        firstTokenMs: tAsk - t0 + out.firstTokenMs,
        timings: { modelMs: t0 - tModel, snapshotMs: tLoad - t0, loadMs: tAsk - tLoad, questionPrefillMs: out.prefillMs },
        tokens: out.ids.length,
        decodeMsPerToken: out.decodeMsPerToken,
        files: m.listing.map(([f]) => f),
        context: choice.context,
      };
    } finally {
      cache.rollback(mark);
    }
  }

  /**
   * The composed cache for these segments, resident where the model runs: kept from the last
   * question when it chose the same. A segment that fails verification has been deleted by the
   * store; the call fails saying so, and the next index builds that segment alone again.
   */
  private async composed(
    model: Model,
    m: Manifest,
    chosen: number[],
    layout: ResolvedRepo['compose'],
    stores: SegmentStores,
    ctx: CallContext,
    onLost: () => void,
  ): Promise<Cache> {
    const key = JSON.stringify([m.snapshotKey, chosen, layout]);
    if (this.warm?.key === key) return this.warm.cache;
    this.dropWarm();
    const host = await loadComposed(model, m, chosen, layout, stores).catch((e) => {
      if (e instanceof EngineError && e.code === 'corrupt-cache') {
        onLost();
        ctx.emit({ kind: 'notice', message: `${e.message}; rebuild the cache (repozip index) to build it again` });
      }
      throw e;
    });
    this.warm = { key, cache: await model.residentCache(host) };
    return this.warm.cache;
  }

  /** Whether the current files have a cache, without loading the model or tokenizing. */
  async status(p: StatusParams): Promise<StatusResult> {
    const stores = this.stores(p.engine);
    const root = path.resolve(p.repo.root);
    const mine = (await stores.manifests.list()).filter((e) => e.manifest.root === root);
    if (mine.length === 0) return { state: 'none' };
    const newest = mine[0].manifest;
    const listing = await listFiles(root, { include: p.repo.include, exclude: p.repo.exclude, maxFileBytes: p.repo.maxFileBytes });
    const now = new Map(listing.files.map((f) => [f.path, f.sha256]));
    const then = new Map(newest.listing);
    let changed = 0;
    for (const [file, sha] of then) if (now.get(file) !== sha) changed++; // edited or deleted
    for (const file of now.keys()) if (!then.has(file)) changed++; // added
    return {
      state: changed === 0 ? 'ready' : 'stale',
      key: newest.snapshotKey,
      bytes: await snapshotBytes(newest, stores),
      keptRatio: newest.settings.ratio,
      changedFiles: changed,
      files: [...then.keys()],
    };
  }

  /** The model's folder, downloading a hub model unless it is cached (the extension's model picker). */
  async pull(p: PullParams, ctx: CallContext): Promise<PullResult> {
    const dir = await resolveModel(p.model, {
      signal: ctx.signal,
      onProgress: (e) => ctx.emit({ kind: 'download', file: e.file, bytesAll: e.bytesAll, totalAll: e.totalAll, rate: e.rate, etaSeconds: e.etaSeconds }),
    });
    return { dir };
  }

  /** Deletes every snapshot of the repository at `root`, and the segments no other snapshot names. */
  async clear(p: StatusParams): Promise<ClearResult> {
    this.dropWarm();
    return removeRepository(this.stores(p.engine), path.resolve(p.repo.root));
  }

  private dropWarm(): void {
    this.warm?.cache.dispose();
    this.warm = null;
  }

  /** Where the loaded model runs and with which weights, and why `auto` decided so; null before a model is loaded. */
  get placement(): { device: string; fallbacks: Fallback[]; weights: string; weightsWhy?: string } | null {
    return (
      this.model && {
        device: this.model.device,
        fallbacks: this.model.info.fallbacks,
        weights: this.model.info.weights,
        weightsWhy: this.model.info.weightsWhy,
      }
    );
  }

  async dispose(): Promise<void> {
    this.dropWarm();
    const m = this.model;
    this.model = null;
    this.tokens = null;
    if (m) await m.dispose();
  }
}

/** Those of `keys` in the store (a failed segment is not). */
async function storedKeys(keys: string[], stores: SegmentStores): Promise<string[]> {
  const out: string[] = [];
  for (const key of keys) if (await stores.segments.has(key)) out.push(key);
  return out;
}

/** What a call did for the snapshot's segments; a snapshot from the memo was all on disk. */
function segmentCounts(cur: Current): IndexResult['segments'] {
  const c = cur.counts;
  if (!c) return { total: cur.summary.keys.length, reused: cur.summary.keys.length, built: 0, failed: cur.summary.failed };
  return { total: c.total, reused: c.reused, built: c.built, failed: c.failed, ...(c.left && { left: c.left }) };
}

/** How many of the manifest's segments are not in the store (a file stat each). */
async function missingSegments(m: ManifestSummary, stores: SegmentStores): Promise<number> {
  let n = 0;
  for (const key of m.keys) if (!(await stores.segments.has(key))) n++;
  return n;
}

/** Bytes of the snapshot's segments on disk. */
async function snapshotBytes(m: ManifestSummary, stores: SegmentStores): Promise<number> {
  const sizes = new Map((await stores.segments.files()).map((f) => [f.key, f.bytes]));
  return m.keys.reduce((n, key) => n + (sizes.get(key) ?? 0), 0);
}
