// Repository → long context: list (list.ts, walk.ts, file.ts, skip.ts), order (order.ts), lay out
// within the token budget (layout.ts, budget.ts), or cut into segments stored one by one
// (segments.ts). The snapshot key (snapshot.ts) is left to the caller, who alone knows the model
// and the KVzip settings; the result's `files` (path + sha256), `repoName` and `promptFormat` are
// its repository half. Nothing here imports vscode or onnxruntime: the CLI, the engine host and
// the extension all call it.
import * as path from 'node:path';
import { listFiles, type ListOptions } from './list';
import { orderFiles } from './order';
import { LAYOUT_VERSION, layoutContext, type FileSpan, type LayoutFormat, type LeftOutFile, type TokenizerLike } from './layout';
import type { SkippedFile } from './skip';

export {
  listFiles,
  listHashes,
  readListed,
  ChangedError,
  statFingerprint,
  candidatePaths,
  comparePaths,
  DEFAULT_MAX_FILE_BYTES,
  type Candidates,
  type ListedFile,
  type ListOptions,
  type Listing,
  type RepoFile,
} from './list';
export { orderFiles, readHistory, stabilityOrder, type History } from './order';
export {
  layoutContext,
  fileHeader,
  repoPreamble,
  LAYOUT_VERSION,
  type FileSpan,
  type Layout,
  type LayoutFormat,
  type LayoutOptions,
  type LeftOutFile,
  type TokenizerLike,
} from './layout';
export { budgetRank, fileKind, type FileKind } from './budget';
export { snapshotKey, canonicalJson, CACHE_FORMAT_VERSION, type Json, type SnapshotParts } from './snapshot';
export { segmentFiles, defaultSegmentTokens, idsHash, SEGMENTS_VERSION, type Piece, type Segment, type SegmentOptions } from './segments';
export type { SkipReason, SkippedFile } from './skip';
export { emptyContextMessage, firstFew } from './empty';

export interface RepoContextOptions extends ListOptions {
  root: string;
  tokenizer: TokenizerLike;
  /** Token budget for the whole context. Default: no limit. */
  maxTokens?: number;
  /**
   * Written into the context when the model has `<|repo_name|>`. Default: the root folder's name —
   * so pass one (e.g. from the remote) if clones in differently named folders should share a key.
   */
  repoName?: string;
}

export interface RepoContext {
  source: 'git' | 'walk';
  repoName: string;
  format: LayoutFormat;
  /** "<format>/<LAYOUT_VERSION>", for snapshotKey's promptFormat. */
  promptFormat: string;
  ids: number[];
  /** The included files in context order, with their token ranges. */
  files: FileSpan[];
  skipped: SkippedFile[];
  leftOut: LeftOutFile[];
  /** Milliseconds per phase. */
  timings: { list: number; order: number; layout: number };
}

export async function buildRepoContext(opts: RepoContextOptions): Promise<RepoContext> {
  const { root, signal } = opts;
  const repoName = opts.repoName ?? path.basename(path.resolve(root));
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const ms = now - t;
    t = now;
    return ms;
  };
  const listing = await listFiles(root, opts);
  const list = lap();
  const ordered = await orderFiles(root, listing.files, listing.source, signal);
  const order = lap();
  const layout = await layoutContext(ordered, opts.tokenizer, { repoName, maxTokens: opts.maxTokens, signal });
  return {
    source: listing.source,
    repoName,
    format: layout.format,
    promptFormat: `${layout.format}/${LAYOUT_VERSION}`,
    ids: layout.ids,
    files: layout.files,
    skipped: listing.skipped,
    leftOut: layout.leftOut,
    timings: { list, order, layout: lap() },
  };
}
