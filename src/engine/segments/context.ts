// What a question is answered from: the segments chosen for it, loaded and composed into one cache.
// When every segment fits the model's positions all are used; otherwise they are ranked for the
// question (and the editor's context) and the best that fit are loaded. Composition re-rotates
// each segment's keys to its place (compose.ts); the chosen set stays loaded for the next question
// that chooses the same.
import { EngineError } from '../errors';
import { KvCache } from '../kv/cache';
import { Model } from '../model/model';
import type { AnswerContext, ComposeMode } from '../protocol';
import { composeSegments, PositionBudget } from './compose';
import { Manifest, ManifestSegment } from './manifest';
import { RankQuery, RankSegment, rankSegments } from './rank';
import { SegmentStores } from './snapshot';

export interface Choice {
  /** Indices into manifest.segments, in repository order (the order they are composed in). */
  chosen: number[];
  context: AnswerContext;
}

/** What choosing needs of a segment: the manifest's entry, or the same figures from a build in memory. */
export type SegmentSummary = Pick<ManifestSegment, 'tokens' | 'kept' | 'pieces' | 'terms' | 'failed'>;

/**
 * Chooses the segments for a question within `room` positions (after the anchor): all of them when
 * they fit, else the best-ranked that fit (`first` are taken before any ranking: the oracle of the
 * recall benchmark). Failed segments are never chosen. Deterministic.
 */
export function chooseSegments(segments: readonly SegmentSummary[], query: RankQuery, room: number, layout: ComposeMode, first: number[] = []): Choice {
  const usable = segments.map((_, i) => i).filter((i) => !segments[i].failed);
  const all = usable.reduce((n, i) => n + segments[i].tokens, 0);
  const mode: AnswerContext['mode'] = all <= room ? 'all' : layout;
  // ranked even when all fit: the answer lists the files of the best-ranked segments first
  const ranked = rankSegments(
    query,
    usable.map((i) => rankView(segments[i])),
  ).map((r) => usable[r.index]);
  const chosen: number[] = [];
  const taken = new Set<number>();
  const budget = new PositionBudget(mode === 'compact' ? 'compact' : 'positions');
  for (const i of [...first, ...ranked]) {
    const shape = { length: segments[i].tokens, kept: segments[i].kept };
    // a segment that does not fit is passed over: a smaller one further down may still fit
    if (taken.has(i) || budget.with(shape) > room) continue;
    budget.add(shape);
    taken.add(i);
    chosen.push(i);
  }
  const files: string[] = [];
  for (const i of chosen) for (const p of segments[i].pieces) if (!files.includes(p.path)) files.push(p.path);
  return { chosen: [...chosen].sort((a, b) => a - b), context: { mode, segments: chosen.length, totalSegments: segments.length, files } };
}

function rankView(s: SegmentSummary): RankSegment {
  return { terms: s.terms, length: s.tokens, paths: [...new Set(s.pieces.map((p) => p.path))] };
}

/** Loads the chosen segments (each verified whole) and composes them after the anchor. */
export async function loadComposed(model: Model, m: Manifest, chosen: number[], layout: ComposeMode, stores: SegmentStores): Promise<KvCache> {
  const expect = {
    modelFingerprint: m.modelFingerprint,
    shape: { layers: model.config.numLayers, kvHeads: model.config.numKvHeads, headDim: model.config.headDim },
  };
  const parts: { cache: KvCache; length: number }[] = [];
  for (const i of chosen) {
    const seg = m.segments[i];
    const loaded = await stores.segments.load(seg.key, expect);
    if (!loaded) throw new EngineError('corrupt-cache', `segment ${seg.key} of snapshot ${m.snapshotKey} is missing from ${stores.segments.dir}`);
    parts.push({ cache: loaded.cache, length: seg.tokens });
  }
  return composeSegments(model.config, m.anchor.length, parts, { layout: layout === 'compact' ? 'compact' : 'positions' }).cache;
}
