// Building a repository's snapshot: every planned segment either found in the store (by content)
// or built, one at a time, and its manifest line written as it is done. Memory holds one segment's
// full cache and a key per segment, whatever the repository's size: the repository is cut into
// segments twice (the keys first, for the progress total and the running-build record; then one
// by one to build), the tokenizer's memo making the second cut cheap. A segment whose build fails on its own is recorded with its
// files and the others stay usable; a failure every segment would meet (a full disk) stops the
// build, as does cancelling, between (and inside) segments: nothing built is lost.
import * as path from 'node:path';
import { firstFew, type TokenizerLike } from '../../repo';
import { EngineError, ioError, throwIfCancelled } from '../errors';
import { checkMemory } from '../memory';
import { MAX_CHUNK } from '../chunks';
import { Model } from '../model/model';
import { ResolvedRepo } from '../settings';
import { withBuildLock } from '../store/lock';
import { CacheHeader } from '../store/format';
import { removeStaleTemps, SnapshotStore } from '../store/store';
import type { EngineEvent, Shard } from '../protocol';
import { buildSegment } from './build';
import { FailedSegment, MANIFEST_VERSION, ManifestHead, ManifestSegment, ManifestStore, ManifestSummary, Summarizer } from './manifest';
import { PlannedSegment, planSegments, RepoPlan } from './plan';
import { termCounts } from './rank';
import { inShard } from './shard';

/** Where a snapshot directory keeps segments (shared by every manifest in it) and manifests. */
export class SegmentStores {
  readonly segments: SnapshotStore;
  readonly manifests: ManifestStore;

  constructor(readonly dir: string) {
    this.segments = new SnapshotStore(path.join(dir, 'segments'));
    this.manifests = new ManifestStore(path.join(dir, 'manifests'));
  }

  /** Deletes the temporary files of killed writers (segments and manifests); returns their names. */
  async cleanupStale(): Promise<string[]> {
    return [...(await this.segments.cleanupStale()), ...(await removeStaleTemps(this.manifests.dir))];
  }
}

export interface BuildCounts {
  total: number;
  reused: number;
  built: number;
  /** Segments left to others: another shard's, or not stored when building was not asked for. */
  left: number;
  failed: FailedSegment[];
  /** Milliseconds cutting the repository into segments (the first cut). */
  segmentMs: number;
  /** Milliseconds summed over the segments built here: all of it (from taking the build lock to the file in place), and its main parts. */
  buildMs: number;
  prefillMs: number;
  scoreMs: number;
  writeMs: number;
}

/**
 * Which of a snapshot's segments this call provides: its shard's share (all by default), each
 * found, fetched (a remote store) or built, unless `build` is false. A call that leaves any segment
 * to others writes no manifest: the client that finds every segment writes it.
 */
export interface SnapshotPart {
  shard?: Shard;
  build?: boolean;
  /** Brings what it can of these segments into the store before any is built. */
  fetch?: (keys: string[]) => Promise<void>;
}

/** Finds or builds the snapshot's segments (those of `part`), writing its manifest as it goes. */
export async function buildSnapshot(
  model: Model,
  ids: { modelId: string; fingerprint: string },
  plan: RepoPlan,
  s: ResolvedRepo,
  stores: SegmentStores,
  ctx: { signal: AbortSignal; emit: (e: EngineEvent) => void; tokenizer: TokenizerLike },
  part: SnapshotPart = {},
): Promise<{ manifest: ManifestSummary; counts: BuildCounts }> {
  await stores.cleanupStale();
  const segments = () => planSegments(plan, s, { tokenizer: ctx.tokenizer, signal: ctx.signal });
  const t0 = performance.now();
  ctx.emit({ kind: 'progress', phase: 'tokenizing', done: 0, total: 1 });
  const keys: string[] = [];
  for await (const seg of segments()) keys.push(seg.key);
  ctx.emit({ kind: 'progress', phase: 'tokenizing', done: 1, total: 1 });
  const mine = (key: string) => !part.shard || inShard(key, part.shard);
  const counts: BuildCounts = {
    total: keys.length,
    reused: 0,
    built: 0,
    left: 0,
    failed: [],
    segmentMs: performance.now() - t0,
    buildMs: 0,
    prefillMs: 0,
    scoreMs: 0,
    writeMs: 0,
  };
  const progress = (done: number, phase: 'segments' | 'waiting' = 'segments') => ctx.emit({ kind: 'progress', phase, done, total: keys.length });
  await stores.manifests.savePending(plan.snapshotKey, keys);
  const head: ManifestHead = {
    version: MANIFEST_VERSION,
    snapshotKey: plan.snapshotKey,
    root: plan.root,
    repoName: plan.repoName,
    modelId: ids.modelId,
    modelFingerprint: ids.fingerprint,
    anchor: plan.anchor,
    segmentTokens: s.segmentTokens,
    settings: { press: s.press.name, ratio: s.ratio, budgetMode: s.budgetMode, dtype: s.dtype, chunk: s.chunk },
    skipped: plan.skipped.map((f) => ({ path: f.path, reason: f.reason })),
    listing: plan.listing,
    createdAt: new Date().toISOString(),
  };
  try {
    await part.fetch?.(keys.filter(mine)); // after the running-build record: gc leaves what arrives alone
    const writer = await stores.manifests.create(head);
    try {
      const sum = new Summarizer(head);
      let firstError: EngineError | undefined;
      let i = 0;
      for await (const seg of segments()) {
        progress(i++);
        throwIfCancelled(ctx.signal, 'building the cache');
        if (!mine(seg.key) || (part.build === false && !(await stores.segments.has(seg.key)))) {
          counts.left++;
          continue;
        }
        const { entry, error } = await storedSegment(model, ids, plan, seg, s, stores, counts, {
          signal: ctx.signal,
          emit: ctx.emit,
          onWait: () => progress(i - 1, 'waiting'),
        });
        await writer.add(entry);
        sum.add(entry);
        firstError ??= error;
      }
      // a snapshot with nothing to answer from is no snapshot: the caller hears why, as for one segment
      if (firstError && counts.failed.length + counts.left === counts.total) throw firstError;
      progress(counts.total);
      if (counts.left === 0) await writer.commit();
      else await writer.discard(); // a part of a snapshot is no snapshot
      return { manifest: sum.summary, counts };
    } catch (e) {
      await writer.discard();
      throw e;
    }
  } finally {
    await stores.manifests.removePending(plan.snapshotKey).catch(() => {}); // a dead builder's record is swept anyway
  }
}

/**
 * One segment found in the store or built into it (another process building it is waited for). A
 * failure of this segment alone (a folder in its way) is recorded and the others stay usable; one
 * that every segment would meet (a full disk, no permission, too little memory) is thrown, so the
 * build stops there instead of building every remaining segment in vain.
 */
async function storedSegment(
  model: Model,
  ids: { modelId: string; fingerprint: string },
  plan: RepoPlan,
  seg: PlannedSegment,
  s: ResolvedRepo,
  stores: SegmentStores,
  counts: BuildCounts,
  ctx: { signal: AbortSignal; emit: (e: EngineEvent) => void; onWait: () => void },
): Promise<{ entry: ManifestSegment; error?: EngineError }> {
  const entry: ManifestSegment = { key: seg.key, tokens: seg.ids.length, kept: [], pieces: seg.pieces, terms: termCounts(seg.text) };
  try {
    // a stored segment needs no lock (after an edit, all but a few are): asked again under the lock, for a build that finished meanwhile
    let header = await storedHeader(stores, seg.key, ctx.emit);
    const ready = async () => (header = await storedHeader(stores, seg.key, ctx.emit)) !== undefined;
    const outcome = header
      ? 'reused'
      : await withBuildLock(stores.segments.dir, seg.key, { ready, signal: ctx.signal, onWait: ctx.onWait }, async () => {
          const tb = performance.now();
          checkMemory(model.config, model.info, plan.anchor.length + seg.ids.length, MAX_CHUNK);
          const built = await buildSegment(model, plan.anchor, Array.from(seg.ids), plan.postfix, s, { signal: ctx.signal });
          counts.prefillMs += built.prefillMs;
          counts.scoreMs += built.scoreMs;
          const tw = performance.now();
          const info = {
            snapshotKey: seg.key,
            modelId: ids.modelId,
            modelFingerprint: ids.fingerprint,
            press: s.press.name,
            ratio: s.ratio,
            budgetMode: s.budgetMode,
            prefixIds: plan.anchor,
            contextLength: seg.ids.length,
            files: seg.pieces.map(({ path: p, headerStart, start, end }) => ({ path: p, headerStart, start, end })),
            meta: { lines: seg.pieces.map((p) => [p.firstLine, p.lastLine]) },
          };
          header = (await stores.segments.save(built.cache, info, s.dtype, ctx.signal)).header;
          counts.writeMs += performance.now() - tw;
          counts.buildMs += performance.now() - tb;
        });
    counts[outcome]++;
    entry.kept = header!.kept.flat();
    return { entry };
  } catch (e) {
    const error = e instanceof EngineError ? e : new EngineError('internal', e instanceof Error ? e.message : String(e));
    if (['cancelled', 'io', 'out-of-memory'].includes(error.code)) throw error;
    const files = [...new Set(seg.pieces.map((p) => p.path))];
    entry.failed = error.message;
    counts.failed.push({ files, message: error.message });
    ctx.emit({ kind: 'notice', message: `the segment holding ${firstFew(files)} could not be built, so answers will not see it: ${error.message}` });
    return { entry, error };
  }
}

/**
 * The stored segment's header (checked; the rows are checked when a question loads them), or
 * undefined when it must be built: absent, or damaged (then deleted, and said). What the engine did
 * not write (a folder in the way) is left alone and named.
 */
async function storedHeader(stores: SegmentStores, key: string, emit: (e: EngineEvent) => void): Promise<CacheHeader | undefined> {
  const file = stores.segments.pathOf(key);
  if (!(await stores.segments.has(key))) {
    // something there that is still not a file when looked at again: another builder may have renamed its file into place between the two looks
    if ((await stores.segments.occupied(key)) && !(await stores.segments.has(key))) {
      throw new EngineError('corrupt-cache', `${file} is not a regular file; remove it (repozip cache rm ${key})`);
    }
    return undefined;
  }
  try {
    const header = await stores.segments.header(key);
    // another segment's file under this name would pass the header check, and its kept counts would plan the positions
    if (header && header.snapshotKey !== key) throw new EngineError('corrupt-cache', `the file holds snapshot ${header.snapshotKey}, not ${key}`);
    return header;
  } catch (e) {
    if (!(e instanceof EngineError)) throw ioError(`cannot read ${file}`, e);
    await stores.segments.remove(key);
    emit({ kind: 'notice', message: `${file}: ${e.message}; the file was deleted and is built again` });
    return undefined;
  }
}
