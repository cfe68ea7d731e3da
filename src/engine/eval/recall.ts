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
  /** Index in the context of the first target token. */
  position: number;
  prompt: number[];
  target: number[];
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
}

/** Deterministic queries: files weighted by length, positions uniform inside their text. */
export function makeQueries(ids: number[], files: FileSpan[], n: number, seed: number, promptTokens: number, targetTokens: number): RecallQuery[] {
  const usable = files.filter((f) => f.end - f.start >= promptTokens + targetTokens);
  if (usable.length === 0) throw new EngineError('bad-input', `no file in the context has ${promptTokens + targetTokens} tokens to query`);
  const weights = usable.map((f) => f.end - f.start - promptTokens - targetTokens + 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const next = rng(seed);
  const out: RecallQuery[] = [];
  for (let q = 0; q < n; q++) {
    let r = Math.floor(next() * total);
    let i = 0;
    while (r >= weights[i]) r -= weights[i++];
    const f = usable[i];
    const position = f.start + promptTokens + r;
    out.push({
      path: f.path,
      position,
      prompt: [...ids.slice(f.headerStart, f.start), ...ids.slice(position - promptTokens, position)],
      target: ids.slice(position, position + targetTokens),
    });
  }
  return out;
}

async function answerAll(model: Model, cache: Cache, queries: RecallQuery[], signal?: AbortSignal): Promise<RecallScore> {
  let hits = 0;
  let exact = 0;
  for (const q of queries) {
    const mark = cache.mark();
    const out = await generate(model, cache, q.prompt, { maxTokens: q.target.length, stopIds: [], signal });
    cache.rollback(mark);
    let same = 0;
    q.target.forEach((t, i) => (same += out.ids[i] === t ? 1 : 0));
    hits += same;
    exact += same === q.target.length ? 1 : 0;
  }
  return { tokenAccuracy: hits / (queries.length * queries[0].target.length), exactMatch: exact / queries.length };
}

export async function evalRecall(model: Model, prefix: number[], ids: number[], files: FileSpan[], postfix: number[], opts: RecallOptions): Promise<RecallReport> {
  const t0 = performance.now();
  opts.ratios.forEach(checkRatio);
  if (ids.length === 0) throw new EngineError('bad-input', 'the context is empty');
  const queries = makeQueries(ids, files, opts.queries, opts.seed, opts.promptTokens, opts.targetTokens);
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
    const grid: ScoreGrid = await press.score({ model, cache: pre.cache, prefixLength: prefix.length, contextIds: ids, postfix, stats: pre.stats, signal: opts.signal });
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
  return { contextTokens: ids.length, prefixTokens: prefix.length, queries: queries.length, full, noContext, rows, timings: { prefillMs: pre.ms, scoreMs, totalMs: performance.now() - t0 } };
}
