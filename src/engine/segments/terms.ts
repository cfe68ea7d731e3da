// Code-aware terms for ranking segments against a question. Questions name things in words
// ("retry handler"), code in identifiers (RetryHandler, retry_handler, retry-handler.js): each
// identifier gives its lowercased parts and, when it has several, itself whole, so both spellings
// meet. A light stemmer then lets "parses", "parsing" and "parser" meet "parse". The same rules
// run on the segments at build time and on the question, so changing them must change
// MANIFEST_VERSION (manifest.ts): stored terms made by other rules would no longer match.

/** A segment's term counts as the manifest stores them: sorted by term (code-unit order), so a lookup is a binary search. */
export type TermCounts = [term: string, count: number][];

/**
 * Distinct terms kept per segment. A segment of 4,096 tokens holds fewer than this in practice
 * (bench/selection.ts prints the largest it saw); the cap bounds a manifest against pathological
 * text such as long tables of numbers.
 */
export const MAX_TERMS = 2048;

// English function words (the frame of every question) and keywords so common in code that they
// say nothing about where something lives.
const STOP_WORDS = new Set([
  'about',
  'after',
  'all',
  'also',
  'an',
  'and',
  'any',
  'are',
  'as',
  'at',
  'be',
  'been',
  'before',
  'being',
  'but',
  'by',
  'can',
  'could',
  'did',
  'do',
  'does',
  'each',
  'for',
  'from',
  'had',
  'has',
  'have',
  'how',
  'if',
  'in',
  'into',
  'is',
  'it',
  'its',
  'may',
  'more',
  'no',
  'not',
  'of',
  'on',
  'one',
  'or',
  'other',
  'our',
  'should',
  'so',
  'such',
  'than',
  'that',
  'the',
  'their',
  'them',
  'then',
  'there',
  'these',
  'they',
  'this',
  'those',
  'to',
  'was',
  'we',
  'were',
  'what',
  'when',
  'where',
  'whether',
  'which',
  'while',
  'who',
  'why',
  'will',
  'with',
  'would',
  'you',
  'your',
  'async',
  'await',
  'break',
  'case',
  'catch',
  'class',
  'cls',
  'const',
  'continue',
  'def',
  'default',
  'elif',
  'else',
  'except',
  'export',
  'false',
  'finally',
  'function',
  'import',
  'let',
  'new',
  'none',
  'null',
  'pass',
  'raise',
  'require',
  'return',
  'self',
  'static',
  'throw',
  'true',
  'try',
  'typeof',
  'undefined',
  'var',
  'void',
  'yield',
]);

// An identifier, with kebab-case names (retry-handler) held together; "a-1" stays two identifiers.
const IDENTIFIER = /[\p{L}\p{N}_$]+(?:-\p{L}[\p{L}\p{N}_$]*)*/gu;
// The parts of one: an acronym before a capitalised word (XMLHttp → XML, Http), a word, a caseless run, digits.
const PART = /\p{Lu}+(?!\p{Ll})|\p{Lu}?\p{Ll}+|\p{Lo}+|\p{N}+/gu;

const keep = (t: string): boolean => t.length > 1 && !STOP_WORDS.has(t);

export interface TermOptions {
  /** Default true. Off only to measure what stemming buys (bench/selection.ts). */
  stem?: boolean;
}

const LIGHT_SUFFIXES = ['ing', 'ed', 'er', 'ion'];

/**
 * Plurals first (Harman's S-stemmer: -ies → -i, -es → -e, -s → ''), then one of -ing, -ed, -er,
 * -ion where four letters stay, a final -e, a doubled final consonant (runn → run) and, as in
 * Porter's, a final -y after a consonant becomes -i (retry, retries and retried meet at "retri",
 * cookie and cookies at "cooki"). Lighter than Porter's, which ranked bench/selection.ts's
 * questions no better when this was chosen.
 */
export function stem(term: string): string {
  let t = term;
  if (t.length > 4 && t.endsWith('ies') && !/[ae]ies$/.test(t)) t = t.slice(0, -2);
  else if (t.length > 3 && t.endsWith('es') && !/[aeo]es$/.test(t)) t = t.slice(0, -1);
  else if (t.length > 3 && t.endsWith('s') && !/[us]s$/.test(t)) t = t.slice(0, -1);
  const suffix = LIGHT_SUFFIXES.find((s) => t.length - s.length >= 4 && t.endsWith(s));
  if (suffix) t = t.slice(0, -suffix.length);
  if (t.length >= 5 && t.endsWith('e')) t = t.slice(0, -1);
  if (t.length >= 4 && /([bcdfghjkmnpqrtvwxy])\1$/.test(t)) t = t.slice(0, -1);
  if (t.length >= 4 && /[^aeiou]y$/.test(t)) t = `${t.slice(0, -1)}i`;
  return t;
}

const byTerm = (a: [string, number], b: [string, number]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** Calls `emit` for each term of `text`, in order, repeats included. */
function eachTerm(text: string, opts: TermOptions, emit: (term: string) => void): void {
  const out = opts.stem === false ? emit : (t: string) => emit(stem(t));
  for (const [id] of text.matchAll(IDENTIFIER)) {
    const parts = id.match(PART) ?? [];
    for (const p of parts) {
      const t = p.toLowerCase();
      if (keep(t)) out(t);
    }
    if (parts.length > 1) {
      const whole = id.toLowerCase().replace(/^[_$]+|[_$]+$/g, '');
      if (keep(whole)) out(whole);
    }
  }
}

/** The distinct terms of a question (or a selection, or a path). */
export function termSet(text: string, opts: TermOptions = {}): Set<string> {
  const out = new Set<string>();
  eachTerm(text, opts, (t) => out.add(t));
  return out;
}

/** What the build stores per segment: every term of its text with its count, most frequent MAX_TERMS kept, sorted by term. */
export function termCounts(text: string, opts: TermOptions = {}): TermCounts {
  const counts = new Map<string, number>();
  eachTerm(text, opts, (t) => counts.set(t, (counts.get(t) ?? 0) + 1));
  let pairs = [...counts];
  if (pairs.length > MAX_TERMS) pairs = pairs.sort((a, b) => b[1] - a[1] || byTerm(a, b)).slice(0, MAX_TERMS);
  return pairs.sort(byTerm);
}

/** The count of `term` in stored counts, by binary search. */
export function countOf(counts: TermCounts, term: string): number {
  let lo = 0;
  let hi = counts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (counts[mid][0] < term) lo = mid + 1;
    else hi = mid;
  }
  return lo < counts.length && counts[lo][0] === term ? counts[lo][1] : 0;
}
