// A repository's snapshot as segments, before any model work: list the files and key the snapshot
// by them (planRepo), then cut them into segments keyed by content (planSegments), as often as
// needed: segments are produced one at a time and dropped once used, so that no step holds every
// segment's ids whatever the repository's size.
import * as path from 'node:path';
import {
  type Candidates,
  comparePaths,
  type ListedFile,
  listHashes,
  readListed,
  LAYOUT_VERSION,
  repoPreamble,
  segmentFiles,
  SEGMENTS_VERSION,
  snapshotKey,
  type SkippedFile,
  type TokenizerLike,
} from '../../repo';
import { EngineError, throwIfCancelled } from '../errors';
import { Model } from '../model/model';
import { ResolvedRepo } from '../settings';
import { contextLimit } from '../limits';
import { ManifestPiece } from './manifest';
import { segmentKey, SEGMENT_FORMAT } from './build';

/** The words around the repository in every segment's anchor; part of every key. */
export const SYSTEM_PROMPT = 'You are repozip, an assistant that answers questions about the software repository given below. Be precise and cite file paths.';
const PROMPT_VERSION = 1;

export interface PlannedSegment {
  key: string;
  ids: Int32Array;
  pieces: ManifestPiece[];
  /** What ranking counts terms in (repo/segments.ts's Segment.text). */
  text: string;
}

export interface RepoPlan {
  root: string;
  repoName: string;
  modelFingerprint: string;
  /** Chat-frame prefix (system prompt) and the repository preamble: what every segment is prefilled after. */
  anchor: number[];
  /** Closes the user turn: after the question, and before KVzip's repeat prompt. */
  postfix: number[];
  /** The included files in path order, without their texts: planSegments reads each again when it cuts. */
  files: ListedFile[];
  skipped: SkippedFile[];
  listing: [string, string][];
  snapshotKey: string;
  timings: { list: number };
}

/** The chat frame's halves for this model: the system prompt only where a chat template places it. */
export function chatFrame(model: Model): { prefix: number[]; postfix: number[] } {
  const tok = model.tokenizer;
  return tok.chatFrame(tok.hasChatTemplate ? SYSTEM_PROMPT : null);
}

/** The snapshot key for a listing, without segmenting (the files and settings decide it). */
export function repoSnapshotKey(modelId: string, fingerprint: string, repoName: string, listing: [string, string][], s: ResolvedRepo): string {
  return snapshotKey({
    files: listing.map(([p, sha256]) => ({ path: p, sha256 })),
    repoName,
    modelId,
    modelFingerprint: fingerprint,
    tokenizerFingerprint: fingerprint,
    promptFormat: `segments/${SEGMENTS_VERSION}.${SEGMENT_FORMAT}+layout/${LAYOUT_VERSION}+prompt/${PROMPT_VERSION}`,
    kvzip: { ratio: s.ratio, press: s.pressName, chunk: s.chunk, mode: s.budgetMode, dtype: s.dtype, segmentTokens: s.segmentTokens },
  });
}

export interface PlanOptions {
  signal?: AbortSignal;
  /** The repository's paths when the caller has walked it already (candidatePaths with the same settings). */
  candidates?: Candidates;
}

/** Lists the repository and keys its snapshot; nothing is tokenized but the anchor. */
export async function planRepo(model: Model, modelId: string, fingerprint: string, s: ResolvedRepo, opts: PlanOptions = {}): Promise<RepoPlan> {
  const { signal } = opts;
  const t0 = performance.now();
  const repoName = path.basename(path.resolve(s.root));
  const frame = chatFrame(model);
  const anchor = [...frame.prefix, ...repoPreamble(model.tokenizer, repoName)];
  const limit = contextLimit(model.config.maxPositions, anchor.length, s.chunk);
  if (s.segmentTokens > limit) {
    throw new EngineError(
      'bad-input',
      `segments of ${s.segmentTokens} tokens do not fit the model's ${model.config.maxPositions} positions with KVzip's pass (at most ${limit})`,
    );
  }
  const listed = await listHashes(s.root, { include: s.include, exclude: s.exclude, maxFileBytes: s.maxFileBytes, signal, candidates: opts.candidates }).catch(
    (e) => {
      throwIfCancelled(signal, 'listing the repository'); // listing aborts with Node's AbortError; callers hear 'cancelled'
      throw e;
    },
  );
  const files = [...listed.files].sort((a, b) => comparePaths(a.path, b.path));
  const listing = files.map((f): [string, string] => [f.path, f.sha256]);
  return {
    root: path.resolve(s.root),
    repoName,
    modelFingerprint: fingerprint,
    anchor,
    postfix: frame.postfix,
    files,
    skipped: listed.skipped,
    listing,
    snapshotKey: repoSnapshotKey(modelId, fingerprint, repoName, listing, s),
    timings: { list: performance.now() - t0 },
  };
}

/** The plan's segments in repository order, each keyed by its content; the same plan gives the same segments every time. */
export async function* planSegments(plan: RepoPlan, s: ResolvedRepo, opts: { tokenizer: TokenizerLike; signal?: AbortSignal }): AsyncGenerator<PlannedSegment> {
  const files = readListed(plan.root, plan.files, { maxFileBytes: s.maxFileBytes });
  for await (const seg of segmentFiles(files, opts.tokenizer, { maxTokens: s.segmentTokens, signal: opts.signal })) {
    const ids = Int32Array.from(seg.ids);
    yield {
      key: segmentKey(plan.modelFingerprint, plan.anchor, ids, s),
      ids,
      pieces: seg.pieces.map(({ path: p, firstLine, lastLine, split, headerStart, start, end }) => ({
        path: p,
        firstLine,
        lastLine,
        split,
        headerStart,
        start,
        end,
      })),
      text: seg.text,
    };
  }
}
