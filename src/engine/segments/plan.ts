// A repository's snapshot as segments, before any model work: list the files, cut them into
// segments, key each segment by content and the snapshot by its files. Only token ids are kept per
// segment (4 bytes a token) and only until the build has used them.
import * as path from 'node:path';
import {
  comparePaths,
  LAYOUT_VERSION,
  listFiles,
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
import { termCounts } from './rank';
import { ManifestPiece } from './manifest';
import { segmentKey, SEGMENT_FORMAT } from './build';

/** The words around the repository in every segment's anchor; part of every key. */
export const SYSTEM_PROMPT = 'You are repozip, an assistant that answers questions about the software repository given below. Be precise and cite file paths.';
const PROMPT_VERSION = 1;

export interface PlannedSegment {
  key: string;
  ids: Int32Array;
  pieces: ManifestPiece[];
  terms: [string, number][];
}

export interface RepoPlan {
  root: string;
  repoName: string;
  /** Chat-frame prefix (system prompt) and the repository preamble: what every segment is prefilled after. */
  anchor: number[];
  /** Closes the user turn: after the question, and before KVzip's repeat prompt. */
  postfix: number[];
  segments: PlannedSegment[];
  skipped: SkippedFile[];
  listing: [string, string][];
  snapshotKey: string;
  timings: { list: number; segment: number };
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

/** `tokenizer`: the model's, or one that remembers earlier results (token-memo.ts). */
export async function planRepo(
  model: Model,
  modelId: string,
  fingerprint: string,
  s: ResolvedRepo,
  signal?: AbortSignal,
  tokenizer: TokenizerLike = model.tokenizer,
): Promise<RepoPlan> {
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
  const listed = await listFiles(s.root, { include: s.include, exclude: s.exclude, maxFileBytes: s.maxFileBytes, signal }).catch((e) => {
    throwIfCancelled(signal, 'listing the repository'); // listing aborts with Node's AbortError; callers hear 'cancelled'
    throw e;
  });
  const files = [...listed.files].sort((a, b) => comparePaths(a.path, b.path));
  const tList = performance.now();
  const segments: PlannedSegment[] = [];
  for await (const seg of segmentFiles(files, tokenizer, { maxTokens: s.segmentTokens, signal })) {
    const ids = Int32Array.from(seg.ids);
    segments.push({
      key: segmentKey(fingerprint, anchor, ids, s),
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
      terms: termCounts(seg.text),
    });
  }
  const listing = files.map((f): [string, string] => [f.path, f.sha256]);
  return {
    root: path.resolve(s.root),
    repoName,
    anchor,
    postfix: frame.postfix,
    segments,
    skipped: listed.skipped,
    listing,
    snapshotKey: repoSnapshotKey(modelId, fingerprint, repoName, listing, s),
    timings: { list: tList - t0, segment: performance.now() - tList },
  };
}
