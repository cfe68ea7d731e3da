// Which segments a question should see first. BM25 over each segment's stored term counts (the
// build computes them once, terms.ts), with a segment's file paths as a second, heavier field
// (BM25F): "which file parses cookies" is often answered by the name cookies/parse.js alone.
// The editor knows more than the question, and that comes first: the files holding the symbol
// asked about, then the active file; a selection's terms join the question's.
// bench/selection.ts measures these choices on real questions over code bases nobody here wrote.
import { countOf, termSet, type TermCounts, type TermOptions } from './terms';

export { termCounts, type TermCounts } from './terms';

export interface RankQuery {
  text: string;
  /** Path from the repository root, as in the segments' paths. */
  activeFile?: string;
  selection?: string;
  /** Files holding the symbol's definition and references, most relevant first. */
  symbolFiles?: string[];
}

export interface RankSegment {
  terms: TermCounts;
  /** Tokens: BM25's document length. */
  length: number;
  /** The files the segment holds (pieces of them when split). */
  paths: string[];
}

export interface Ranked {
  index: number;
  /** BM25F relevance to the question's terms; the order also puts editor context first. */
  score: number;
}

/** `stem` must be what the segments' terms were counted with (termCounts' default, stemmed). */
export interface RankOptions extends TermOptions {
  /** How many text occurrences a term in one of a segment's paths counts as; 0 = text alone. */
  pathWeight?: number;
}

// BM25's usual saturation and length normalisation.
const K1 = 1.2;
const B = 0.75;
/** On the bench, weights from 1 to 16 moved at most one question's hit; 4 is mid-range. */
export const PATH_WEIGHT = 4;

/** Every segment, best first; equal scores by index, so the same inputs give the same order. */
export function rankSegments(query: RankQuery, segments: readonly RankSegment[], opts: RankOptions = {}): Ranked[] {
  const scores = bm25f(termSet(`${query.text}\n${query.selection ?? ''}`, opts), segments, opts);
  const byScore = scores.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
  const out: Ranked[] = [];
  const placed = new Set<number>();
  const take = (holds: (s: RankSegment) => boolean): void => {
    for (const r of byScore) {
      if (!placed.has(r.index) && holds(segments[r.index])) {
        placed.add(r.index);
        out.push(r);
      }
    }
  };
  for (const f of query.symbolFiles ?? []) take((s) => s.paths.includes(f));
  const active = query.activeFile;
  if (active !== undefined) take((s) => s.paths.includes(active));
  take(() => true);
  return out;
}

/** A path's terms, remembered: every question ranks the same paths again (14K segments: most of a ranking's time). */
const pathTermsSeen = new Map<string, Set<string>>();
const PATHS_REMEMBERED = 200_000;

function pathTermSet(p: string, opts: RankOptions): Set<string> {
  const key = `${opts.stem === false ? 0 : 1}${p}`;
  let terms = pathTermsSeen.get(key);
  if (!terms) {
    if (pathTermsSeen.size >= PATHS_REMEMBERED) pathTermsSeen.clear();
    terms = termSet(p, opts);
    pathTermsSeen.set(key, terms);
  }
  return terms;
}

/**
 * Per segment: Σ over query terms of idf · tf(k1+1) / (tf + k1(1 - b + b·len/avgLen)), where tf is
 * the term's count in the text plus pathWeight per path holding it (BM25F: fields weigh into tf
 * before saturation, so a name in a path saturates like a repeated word instead of adding on), and idf =
 * ln(1 + (N - df + 0.5)/(df + 0.5)) (Lucene's, never negative).
 */
function bm25f(words: ReadonlySet<string>, segments: readonly RankSegment[], opts: RankOptions): number[] {
  const pathWeight = opts.pathWeight ?? PATH_WEIGHT;
  const n = segments.length;
  const scores = new Array<number>(n).fill(0);
  if (n === 0 || words.size === 0) return scores;
  const avgLength = segments.reduce((sum, s) => sum + s.length, 0) / n || 1;
  const pathTerms = pathWeight > 0 ? segments.map((s) => [...new Set(s.paths)].map((p) => pathTermSet(p, opts))) : null;
  const tf = new Float64Array(n);
  for (const w of words) {
    let df = 0;
    for (let i = 0; i < n; i++) {
      let inPaths = 0;
      for (const t of pathTerms?.[i] ?? []) if (t.has(w)) inPaths++;
      tf[i] = countOf(segments[i].terms, w) + pathWeight * inPaths;
      if (tf[i] > 0) df++;
    }
    if (df === 0) continue;
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    for (let i = 0; i < n; i++) {
      if (tf[i] > 0) scores[i] += (idf * tf[i] * (K1 + 1)) / (tf[i] + K1 * (1 - B + (B * segments[i].length) / avgLength));
    }
  }
  return scores;
}
