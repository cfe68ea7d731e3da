// The fidelity benchmark: how much of what a model can recall from its context survives
// compression. A query re-opens one file of the context at a random line: the prompt is the
// file's header plus the tokens just before that point, the target the tokens that follow. The
// context is compressed once per press and ratio (never seeing the queries); every query reuses it.
import { EngineError } from '../errors';
import { generate } from '../generate';
import { Model } from '../model/model';
import { Cache } from '../kv/cache';
import { evict, prefillContext } from '../kv/compress';
import { Press } from '../kv/press';
import { BudgetMode, checkRatio, ScoreGrid, selectKeep } from '../kv/select';
import { rng } from '../sampling';

/** The token range of one file in the context: [headerStart, start) is its header, [start, end) its text. */
export interface FileSpan {
  path: string;
  headerStart: number;
  start: number;
  end: number;
}

export interface RecallQuery {
  path: string;
  /** Which source it was drawn from (makeQueries' input order). */
  source: number;
  /** Index in the context of the first target token. */
  position: number;
  prompt: number[];
  target: number[];
}

/** A run of one file's tokens to draw queries from, and the header that names the file in a prompt. */
export interface QuerySource {
  path: string;
  header: number[];
  content: readonly number[];
  /** Where content[0] sits in the context. */
  at: number;
}

export interface RecallScore {
  tokenAccuracy: number;
  exactMatch: number;
}

export interface RecallRow extends RecallScore {
  press: string;
  ratio: number;
  /** Accuracy relative to the full cache (1 = nothing lost). */
  relativeAccuracy: number;
  relativeExactMatch: number;
  /** Kept context entries / all context entries: exactly the requested ratio. */
  keptRatio: number;
  /** Bytes of the kept K/V (prefix included) at fp16. */
  kvBytes: number;
}

export interface RecallReport {
  contextTokens: number;
  prefixTokens: number;
  queries: number;
  full: RecallScore & { kvBytes: number };
  /** The same queries with no context at all: what the model knows without reading the repo. */
  noContext: RecallScore;
  rows: RecallRow[];
  timings: { prefillMs: number; scoreMs: Record<string, number>; totalMs: number };
}

export interface RecallOptions {
  presses: Press[];
  ratios: number[];
  queries: number;
  seed: number;
  promptTokens: number;
  targetTokens: number;
  mode?: BudgetMode;
  signal?: AbortSignal;
  onProgress?: (what: string) => void;
  /** Said when `ids` is empty: what the listing skipped and the budget left out (src/repo's emptyContextMessage). */
  whyEmpty?: string;
}

/** Deterministic queries: sources weighted by length, positions uniform inside their content. */
export function makeQueries(sources: readonly QuerySource[], n: number, seed: number, promptTokens: number, targetTokens: number): RecallQuery[] {
  const usable = sources.map((s, i) => ({ s, i })).filter(({ s }) => s.content.length >= promptTokens + targetTokens);
  if (usable.length === 0) throw new EngineError('bad-input', `no file in the context has ${promptTokens + targetTokens} tokens to query`);
  const weights = usable.map(({ s }) => s.content.length - promptTokens - targetTokens + 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const next = rng(seed);
  const out: RecallQuery[] = [];
  for (let q = 0; q < n; q++) {
    let r = Math.floor(next() * total);
    let i = 0;
    while (r >= weights[i]) r -= weights[i++];
    const { s, i: source } = usable[i];
    const at = promptTokens + r;
    out.push({
      path: s.path,
      source,
      position: s.at + at,
      prompt: [...s.header, ...s.content.slice(at - promptTokens, at)],
      target: s.content.slice(at, at + targetTokens),
    });
  }
  return out;
}

/** How many of the query's target tokens a greedy continuation from `cache` reproduces (the cache is left as it was). */
export async function answerQuery(model: Model, cache: Cache, q: RecallQuery, signal?: AbortSignal): Promise<number> {
  const mark = cache.mark();
  try {
    const out = await generate(model, cache, q.prompt, { maxTokens: q.target.length, stopIds: [], signal });
    let same = 0;
    q.target.forEach((t, i) => (same += out.ids[i] === t ? 1 : 0));
    return same;
  } finally {
    cache.rollback(mark);
  }
}

/** Token accuracy and exact match from each query's count of reproduced tokens. */
export function recallScore(queries: readonly RecallQuery[], same: readonly number[]): RecallScore {
  let hits = 0;
  let exact = 0;
  queries.forEach((q, i) => {
    hits += same[i];
    exact += same[i] === q.target.length ? 1 : 0;
  });
  return { tokenAccuracy: hits / (queries.length * queries[0].target.length), exactMatch: exact / queries.length };
}

async function answerAll(model: Model, cache: Cache, queries: RecallQuery[], signal?: AbortSignal): Promise<RecallScore> {
  const same: number[] = [];
  for (const q of queries) same.push(await answerQuery(model, cache, q, signal));
  return recallScore(queries, same);
}

export async function evalRecall(
  model: Model,
  prefix: number[],
  ids: number[],
  files: FileSpan[],
  postfix: number[],
  opts: RecallOptions,
): Promise<RecallReport> {
  const t0 = performance.now();
  opts.ratios.forEach(checkRatio);
  if (ids.length === 0) throw new EngineError('bad-input', opts.whyEmpty ?? 'the context is empty');
  const sources = files.map((f) => ({ path: f.path, header: ids.slice(f.headerStart, f.start), content: ids.slice(f.start, f.end), at: f.start }));
  const queries = makeQueries(sources, opts.queries, opts.seed, opts.promptTokens, opts.targetTokens);
  const needStats = opts.presses.some((p) => p.needsPrefillStats);
  opts.onProgress?.('prefill');
  const pre = await prefillContext(model, prefix, ids, { stats: needStats, signal: opts.signal });
  const fp16Bytes = (c: Cache) => c.entries() * 2 * model.config.headDim * 2;

  opts.onProgress?.('full cache');
  const full = { ...(await answerAll(model, pre.cache, queries, opts.signal)), kvBytes: fp16Bytes(pre.cache) };
  opts.onProgress?.('no context');
  const empty = (await prefillContext(model, prefix, [], { signal: opts.signal })).cache;
  const noContext = await answerAll(model, empty, queries, opts.signal);

  const rows: RecallRow[] = [];
  const scoreMs: Record<string, number> = {};
  for (const press of opts.presses) {
    const t = performance.now();
    opts.onProgress?.(`scoring ${press.name}`);
    const grid: ScoreGrid = await press.score({
      model,
      cache: pre.cache,
      prefixLength: prefix.length,
      contextIds: ids,
      postfix,
      stats: pre.stats,
      signal: opts.signal,
    });
    scoreMs[press.name] = performance.now() - t;
    for (const ratio of opts.ratios) {
      opts.onProgress?.(`${press.name} @ ${ratio}`);
      const keep = selectKeep(grid, ratio, press.budget ?? opts.mode);
      const cache = await pre.cache.clone();
      await evict(cache, keep, prefix.length, ids.length);
      const s = await answerAll(model, cache, queries, opts.signal);
      let kept = 0;
      for (const k of keep) kept += k;
      rows.push({
        press: press.name,
        ratio,
        ...s,
        relativeAccuracy: full.tokenAccuracy > 0 ? s.tokenAccuracy / full.tokenAccuracy : 0,
        relativeExactMatch: full.exactMatch > 0 ? s.exactMatch / full.exactMatch : 0,
        keptRatio: kept / keep.length,
        kvBytes: fp16Bytes(cache),
      });
      cache.dispose();
    }
  }
  pre.cache.dispose();
  empty.dispose();
  return {
    contextTokens: ids.length,
    prefixTokens: prefix.length,
    queries: queries.length,
    full,
    noContext,
    rows,
    timings: { prefillMs: pre.ms, scoreMs, totalMs: performance.now() - t0 },
  };
}
