// Recall over a whole repository, larger than the model's positions: queries are drawn uniformly
// over every file (recall.ts's queries: a file's header and 32 tokens of it, the next 16 as the
// target), and each way of answering gets the same queries.
//   truncate  today's single cache: the files the token budget keeps (repo/budget.ts), compressed once
//   select    segments ranked for the query (BM25 over the prompt's text), the best that fit, at their positions
//   compact   the same, kept entries renumbered per head so more segments fit (Finch)
//   oracle    compact, with the query's own segment loaded first, then the best-ranked others that fit
//   epic      select, with each composed segment's first tokens recomputed (EPIC)
// On a repository that fits one window, truncate is the single cache and select composes every
// segment: their gap is what the segments' independence costs.
import * as path from 'node:path';
import { buildRepoContext, comparePaths, emptyContextMessage, fileHeader, listFiles, repoPreamble, segmentFiles, type Segment } from '../../repo';
import { EngineError } from '../errors';
import { Cache, KvCache } from '../kv/cache';
import { compressContext, evict, prefillContext } from '../kv/compress';
import { Press } from '../kv/press';
import { BudgetMode, selectKeep } from '../kv/select';
import { contextLimit } from '../limits';
import { Model } from '../model/model';
import { chooseSegments, SegmentSummary } from '../segments/context';
import { composeRecomputed, composeSegments } from '../segments/compose';
import { termCounts } from '../segments/rank';
import { answerQuery, makeQueries, RecallQuery, RecallScore, recallScore } from './recall';

export const RECALL_MODES = ['truncate', 'select', 'compact', 'oracle', 'epic'] as const;
export type RecallMode = (typeof RECALL_MODES)[number];

export interface SegmentRecallOptions {
  modes: RecallMode[];
  press: Press;
  /** 1 = the full (uncompressed) caches. */
  ratios: number[];
  budgetMode: BudgetMode;
  segmentTokens: number;
  queries: number;
  seed: number;
  promptTokens: number;
  targetTokens: number;
  /** Tokens EPIC recomputes at the start of each composed segment. */
  epicTokens: number;
  /** KVzip's reconstruction chunk (the truncated context must leave room for its pass). */
  chunk: number;
  signal?: AbortSignal;
  onProgress?: (what: string) => void;
}

export interface ModeRow extends RecallScore {
  mode: RecallMode;
  press: string;
  ratio: number;
  /** Mean segments loaded per query (truncate: 0). */
  segments: number;
  /** Share of queries whose file's tokens were in the context (their segment loaded, or the file kept by truncate). */
  ownLoaded: number;
  /** Mean positions the context took (anchor or prefix included). */
  positions: number;
}

export interface SegmentRecallReport {
  repoTokens: number;
  files: number;
  segments: number;
  segmentTokens: number;
  queries: number;
  rows: ModeRow[];
  timings: { buildMs: number; totalMs: number };
}

interface Built {
  segment: Segment;
  /** Per ratio: the compressed cache and its kept rows per head. */
  byRatio: Map<number, { cache: KvCache; kept: number[] }>;
}

export async function evalSegmentRecall(model: Model, root: string, opts: SegmentRecallOptions): Promise<SegmentRecallReport> {
  const t0 = performance.now();
  const tok = model.tokenizer;
  const frame = tok.chatFrame(null);
  const listed = await listFiles(root, { signal: opts.signal });
  const files = [...listed.files].sort((a, b) => comparePaths(a.path, b.path));
  const anchor = [...frame.prefix, ...repoPreamble(tok, path.basename(path.resolve(root)))];
  const built: Built[] = [];
  opts.onProgress?.('segments');
  for await (const segment of segmentFiles(files, tok, { maxTokens: opts.segmentTokens, signal: opts.signal })) {
    built.push({ segment, byRatio: await compressAll(model, anchor, segment.ids, frame.postfix, opts) });
  }
  if (built.length === 0) throw new EngineError('bad-input', emptyContextMessage(root, listed, []));
  const buildMs = performance.now() - t0;
  // queries over every piece of every file: the file's own header, not the piece's
  const header = fileHeader(tok);
  const sources = built.flatMap((b) =>
    b.segment.pieces.map((p) => ({ path: p.path, header: header(p.path), content: b.segment.ids.slice(p.start, p.end), at: 0 })),
  );
  const owner = built.flatMap((b, i) => b.segment.pieces.map(() => i));
  const queries = makeQueries(sources, opts.queries, opts.seed, opts.promptTokens, opts.targetTokens);
  const rows: ModeRow[] = [];
  for (const ratio of opts.ratios) {
    for (const mode of opts.modes) {
      opts.onProgress?.(`${mode} @ ${ratio}`);
      const row =
        mode === 'truncate'
          ? await truncated(model, root, frame, queries, ratio, opts)
          : await composed(model, anchor, built, owner, queries, ratio, mode, opts);
      rows.push({ ...row, mode, press: opts.press.name, ratio });
    }
  }
  for (const b of built) for (const { cache } of b.byRatio.values()) cache.dispose();
  const repoTokens = built.reduce((n, b) => n + b.segment.ids.length, 0);
  return {
    repoTokens,
    files: files.length,
    segments: built.length,
    segmentTokens: opts.segmentTokens,
    queries: queries.length,
    rows,
    timings: { buildMs, totalMs: performance.now() - t0 },
  };
}

/** One segment prefilled after the anchor and scored once, then evicted at every ratio. */
async function compressAll(model: Model, anchor: number[], ids: number[], postfix: number[], opts: SegmentRecallOptions): Promise<Built['byRatio']> {
  const pre = await prefillContext(model, anchor, ids, { stats: opts.press.needsPrefillStats, signal: opts.signal });
  const grid = await opts.press.score({
    model,
    cache: pre.cache,
    prefixLength: anchor.length,
    contextIds: ids,
    postfix,
    stats: pre.stats,
    signal: opts.signal,
  });
  const out: Built['byRatio'] = new Map();
  for (const ratio of opts.ratios) {
    const cache = (await (await pre.cache.clone()).toHost()) as KvCache;
    if (ratio < 1) await evict(cache, selectKeep(grid, ratio, opts.press.budget ?? opts.budgetMode), anchor.length, ids.length);
    const kept: number[] = [];
    for (let l = 0; l < cache.layers; l++) for (let h = 0; h < cache.kvHeads; h++) kept.push(cache.length(l, h) - anchor.length);
    out.set(ratio, { cache, kept });
  }
  pre.cache.dispose();
  return out;
}

type Scored = Omit<ModeRow, 'mode' | 'press' | 'ratio'>;

/** Today's rule: the files the budget keeps, one cache compressed at `ratio`. */
async function truncated(
  model: Model,
  root: string,
  frame: { prefix: number[]; postfix: number[] },
  queries: RecallQuery[],
  ratio: number,
  opts: SegmentRecallOptions,
): Promise<Scored> {
  const limit = contextLimit(model.config.maxPositions, frame.prefix.length, opts.chunk);
  const repo = await buildRepoContext({ root, tokenizer: model.tokenizer, maxTokens: limit, signal: opts.signal });
  const res = await compressContext(model, frame.prefix, repo.ids, frame.postfix, { press: opts.press, ratio, mode: opts.budgetMode, signal: opts.signal });
  const kept = new Set(repo.files.map((f) => f.path));
  const same: number[] = [];
  for (const q of queries) same.push(await answerQuery(model, res.cache, q, opts.signal));
  res.cache.dispose();
  return {
    ...recallScore(queries, same),
    segments: 0,
    ownLoaded: queries.filter((q) => kept.has(q.path)).length / queries.length,
    positions: frame.prefix.length + repo.ids.length,
  };
}

async function composed(
  model: Model,
  anchor: number[],
  built: Built[],
  owner: number[],
  queries: RecallQuery[],
  ratio: number,
  mode: RecallMode,
  opts: SegmentRecallOptions,
): Promise<Scored> {
  const summaries: SegmentSummary[] = built.map((b) => ({
    tokens: b.segment.ids.length,
    kept: b.byRatio.get(ratio)!.kept,
    pieces: b.segment.pieces,
    terms: termCounts(b.segment.text),
  }));
  const tok = model.tokenizer;
  const same: number[] = [];
  let segments = 0;
  let own = 0;
  let positions = 0;
  let last = null as { key: string; cache: Cache } | null;
  for (const q of queries) {
    const room = model.config.maxPositions - anchor.length - q.prompt.length - q.target.length;
    const layout = mode === 'compact' || mode === 'oracle' ? 'compact' : 'select';
    const choice = chooseSegments(summaries, { text: tok.decode(q.prompt) }, room, layout, mode === 'oracle' ? [owner[q.source]] : []);
    const key = choice.chosen.join(',');
    if (last?.key !== key) {
      last?.cache.dispose();
      const parts = choice.chosen.map((i) => ({ cache: built[i].byRatio.get(ratio)!.cache, length: built[i].segment.ids.length, ids: built[i].segment.ids }));
      const c =
        mode === 'epic'
          ? await composeRecomputed(model, anchor.length, parts, opts.epicTokens)
          : composeSegments(model.config, anchor.length, parts, { layout: layout === 'compact' ? 'compact' : 'positions' });
      last = { key, cache: await model.residentCache(c.cache) };
    }
    same.push(await answerQuery(model, last.cache, q, opts.signal));
    segments += choice.chosen.length;
    own += choice.chosen.includes(owner[q.source]) ? 1 : 0;
    positions += last.cache.nextPosition;
  }
  last?.cache.dispose();
  const n = queries.length;
  return { ...recallScore(queries, same), segments: segments / n, ownLoaded: own / n, positions: positions / n };
}
