// Ranking segments for a question (src/engine/segments/rank.ts, terms.ts): identifiers split the
// way code spells them, BM25 scores equal to ones computed by hand from the formula, and the
// editor's context ordered before the question's own ranking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rankSegments, termCounts, type RankSegment } from '../../src/engine/segments/rank';
import { countOf, MAX_TERMS, stem, termSet } from '../../src/engine/segments/terms';

const sorted = (xs: Iterable<string>) => [...xs].sort();
const seg = (text: string, ...paths: string[]): RankSegment => ({ terms: termCounts(text), length: 100, paths });
// Splitting alone; stemming has its own tests below.
const split = (text: string) => sorted(termSet(text, { stem: false }));

test('identifiers split on case, underscores, hyphens and digits, and also count whole', () => {
  const cases: [string, string[]][] = [
    ['XMLHttpRequest', ['http', 'request', 'xml', 'xmlhttprequest']],
    ['parseHTTPDate', ['date', 'http', 'parse', 'parsehttpdate']],
    ['retry_handler', ['handler', 'retry', 'retry_handler']],
    ['__init__', ['init']],
    ['int64 utf8Decode', ['64', 'decode', 'int', 'int64', 'utf', 'utf8decode']],
    ['MAX_RETRY_COUNT', ['count', 'max', 'max_retry_count', 'retry']],
    ['$scope', ['scope']],
  ];
  for (const [text, terms] of cases) assert.deepEqual(split(text), terms, text);
});

test('a path gives its components; kebab-case names hold together too', () => {
  assert.deepEqual(split('lib/handler/retry-handler.js'), ['handler', 'js', 'lib', 'retry', 'retry-handler']);
  // a minus between an identifier and a number is arithmetic, not a name
  assert.deepEqual(split('count-1'), ['count']);
});

test('one-character terms, English function words and ubiquitous keywords are dropped', () => {
  assert.deepEqual(split('Where is the function that returns x in this file?'), ['file', 'returns']);
  assert.deepEqual(split('def f(self, a): return None'), []);
  assert.deepEqual(split('export const i = await new Foo()'), ['foo']);
});

test('stemming: plurals, -ing/-ed/-er/-ion, a final e and a doubled consonant come off', () => {
  const groups = [
    ['parse', 'parses', 'parsed', 'parsing', 'parser', 'parsers'],
    ['retry', 'retries', 'retried'],
    ['cookie', 'cookies'],
    ['copy', 'copies', 'copied'],
    ['compress', 'compressed', 'compression', 'compressing'],
    ['cache', 'caches', 'cached', 'caching'],
    ['run', 'running'],
    ['class', 'classes'],
  ];
  for (const g of groups) assert.deepEqual(new Set(g.map(stem)).size, 1, `${g} → ${g.map(stem)}`);
  // too short to strip, or not a suffix
  for (const w of ['string', 'user', 'need', 'status', 'access', 'array', 'key', 'js', '1000']) assert.equal(stem(w), w);
});

test('the question and the code meet through stemming, in text and in paths', () => {
  const segs = [seg('function parseCookie(header) {}', 'lib/util.js'), seg('compress(data)', 'lib/other.js'), seg('nothing', 'lib/headers/parsers.js')];
  assert.deepEqual(
    rankSegments({ text: 'where are cookies parsed?' }, segs).map((r) => r.index),
    [0, 2, 1],
  );
  assert.equal(rankSegments({ text: 'where are cookies parsed?' }, segs, { stem: false })[0].score, 0);
  assert.equal(rankSegments({ text: 'which file has the header parser' }, segs)[0].index, 2);
});

test('termCounts: every term with its count, sorted by term for binary search', () => {
  const counts = termCounts('fooBar = foo_bar(foo)\n# foo again', { stem: false });
  assert.deepEqual(counts, [
    ['again', 1],
    ['bar', 2],
    ['foo', 4],
    ['foo_bar', 1],
    ['foobar', 1],
  ]);
  for (const [term, n] of counts) assert.equal(countOf(counts, term), n);
  assert.equal(countOf(counts, 'baz'), 0);
  assert.equal(countOf(counts, 'aaa'), 0);
  assert.equal(countOf(counts, 'zzz'), 0);
});

test('termCounts keeps the most frequent MAX_TERMS terms when a text has more', () => {
  // distinct letter-only words: zq + i in base 26
  const word = (i: number) => `zq${i.toString(26).replace(/./g, (c) => String.fromCharCode(97 + parseInt(c, 26)))}`;
  const words = Array.from({ length: MAX_TERMS + 10 }, (_, i) => word(i));
  const frequent = sorted(words).slice(-5); // the last by term: a cap by term order would drop them
  const counts = termCounts([...words, ...frequent, ...frequent].join(' '), { stem: false });
  assert.equal(counts.length, MAX_TERMS);
  for (const w of frequent) assert.equal(countOf(counts, w), 3);
  assert.deepEqual(
    counts.map(([t]) => t),
    sorted(counts.map(([t]) => t)),
  );
});

// Three segments; avgLength = 20. By hand (k1 1.2, b 0.75, idf = ln(1 + (N - df + 0.5)/(df + 0.5))):
//   idf(cookie) = ln(1 + 1.5/2.5) = ln 1.6 = 0.4700036;  idf(parse) = ln(1 + 2.5/1.5) = 0.9808293
//   seg 0 (len 10): K = 1.2(0.25 + 0.75·0.5) = 0.75; cookie 2 → 2·2.2/2.75 = 1.6, parse 1 → 2.2/1.75
//     score = 0.4700036·1.6 + 0.9808293·1.2571429 = 1.9850483
//   seg 1 (len 20): K = 1.2; cookie 1 → 1 → score = 0.4700036;  seg 2: no query term → 0
const THREE: RankSegment[] = [
  {
    terms: [
      ['cookie', 2],
      ['parse', 1],
    ],
    length: 10,
    paths: ['src/a.js'],
  },
  {
    terms: [
      ['cookie', 1],
      ['header', 3],
    ],
    length: 20,
    paths: ['lib/cookie/parse.js'],
  },
  {
    terms: [
      ['header', 1],
      ['retry', 2],
    ],
    length: 30,
    paths: ['c.js'],
  },
];

test('BM25 over text alone equals the hand-computed scores', () => {
  const ranked = rankSegments({ text: 'How do we parse a cookie?' }, THREE, { pathWeight: 0, stem: false });
  assert.deepEqual(
    ranked.map((r) => r.index),
    [0, 1, 2],
  );
  assert.ok(Math.abs(ranked[0].score - 1.9850483) < 1e-6, String(ranked[0].score));
  assert.ok(Math.abs(ranked[1].score - 0.4700036) < 1e-6, String(ranked[1].score));
  assert.equal(ranked[2].score, 0);
});

// With paths weighing 4: seg 1's path lib/cookie/parse.js holds both terms, so df(parse) = 2 and
// idf(parse) = ln 1.6 too; seg 1: cookie tf 1 + 4 = 5 → 5·2.2/6.2, parse tf 4 → 4·2.2/5.2
//   seg 0 = 0.4700036(1.6 + 1.2571429) = 1.3428675;  seg 1 = 0.4700036(1.7741935 + 1.6923077) = 1.6292682
test('a term in a segment path weighs as pathWeight occurrences (BM25F), and can reorder', () => {
  const ranked = rankSegments({ text: 'How do we parse a cookie?' }, THREE, { pathWeight: 4, stem: false });
  assert.deepEqual(
    ranked.map((r) => r.index),
    [1, 0, 2],
  );
  assert.ok(Math.abs(ranked[0].score - 1.6292682) < 1e-6, String(ranked[0].score));
  assert.ok(Math.abs(ranked[1].score - 1.3428675) < 1e-6, String(ranked[1].score));
});

test("each path holding a term counts (the field's own term frequency)", () => {
  const twoPaths: RankSegment[] = [
    { terms: [], length: 10, paths: ['mock/agent.js', 'mock/pool.js'] },
    { terms: [], length: 10, paths: ['mock/client.js'] },
    { terms: [], length: 10, paths: ['other.js'] },
  ];
  // df 2 of 3: idf = ln 1.6; tf 8 and 4, K = 1.2: 0.4700036·8·2.2/9.2 = 0.8991374 and 0.4700036·4·2.2/5.2 = 0.7953908
  const ranked = rankSegments({ text: 'mock' }, twoPaths, { pathWeight: 4, stem: false });
  assert.deepEqual(
    ranked.map((r) => r.index),
    [0, 1, 2],
  );
  assert.ok(Math.abs(ranked[0].score - 0.8991374) < 1e-6, String(ranked[0].score));
  assert.ok(Math.abs(ranked[1].score - 0.7953908) < 1e-6, String(ranked[1].score));
});

const EDITOR: RankSegment[] = [
  seg('retry backoff retry delay', 'lib/retry.js'),
  seg('cookie jar', 'lib/cookie.js'),
  seg('symbol defined here, first half', 'lib/big.js'),
  seg('a reference to the symbol', 'lib/user.js'),
  seg('retry once more; symbol defined here, second half', 'lib/big.js', 'lib/tail.js'),
  seg('nothing relevant', 'lib/other.js'),
];

test('editor context: symbol files first in their order, then the active file, then the question', () => {
  const ranked = rankSegments({ text: 'where is the retry delay?', activeFile: 'lib/cookie.js', symbolFiles: ['lib/user.js', 'lib/big.js'] }, EDITOR);
  // user.js; big.js's two segments by relevance (4 mentions retry, 2 does not); the active
  // cookie.js; then the rest by score.
  assert.deepEqual(
    ranked.map((r) => r.index),
    [3, 4, 2, 1, 0, 5],
  );
  const plain = rankSegments({ text: 'where is the retry delay?' }, EDITOR);
  assert.deepEqual(
    plain.map((r) => r.index),
    [0, 4, 1, 2, 3, 5],
  );
  // the scores are the question's relevance whatever the order
  for (const r of ranked) assert.equal(r.score, plain.find((p) => p.index === r.index)!.score);
});

test("a selection's terms join the question's", () => {
  assert.equal(rankSegments({ text: 'what does this do?' }, EDITOR)[0].score, 0);
  const ranked = rankSegments({ text: 'what does this do?', selection: 'cookieJar.clear()' }, EDITOR);
  assert.equal(ranked[0].index, 1);
  assert.ok(ranked[0].score > 0);
});

test('equal scores keep index order, and every segment appears once', () => {
  const same = [seg('alpha', 'a'), seg('beta', 'b'), seg('alpha', 'c'), seg('gamma', 'd')];
  assert.deepEqual(
    rankSegments({ text: 'alpha' }, same).map((r) => r.index),
    [0, 2, 1, 3],
  );
  assert.deepEqual(
    rankSegments({ text: '' }, same).map((r) => r.index),
    [0, 1, 2, 3],
  );
  assert.deepEqual(rankSegments({ text: 'alpha' }, []), []);
});
