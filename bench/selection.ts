// `npm run bench:selection`: how often ranking (src/engine/segments/rank.ts) loads the file that
// answers a "where is …" question, on code bases nobody here wrote (test/data/selection/*.json:
// questions with their answer files, over packages that `bash .ci/run` installs).
//
//   npm run bench:selection                                      markdown table, segments of 4096 tokens
//   npm run bench:selection -- --json                            the same as JSON, with each question's rank
//   npm run bench:selection -- --segment-tokens 4096,1024        several segment sizes
//
// Each package is listed (listFiles) and cut (segmentFiles) as a build would, with the tinycode
// tokenizer (the Qwen2 merges); each question ranks every segment. hit@k: an answer file is in one
// of the first k segments; MRR: mean of 1 / rank of the first segment holding an answer file;
// chance: hit@k of k segments drawn at random, the floor to read the others against.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '../src/engine/tokenizer';
import { PATH_WEIGHT, rankSegments, termCounts, type RankOptions, type RankSegment } from '../src/engine/segments/rank';
import { listFiles } from '../src/repo';
import { segmentFiles } from '../src/repo/segments';

const ROOT = path.resolve(__dirname, '..');
const DATA = path.join(ROOT, 'test/data/selection');
const BUDGETS = [4, 8, 16];

const VARIANTS: { name: string; opts: RankOptions }[] = [
  { name: 'BM25, text', opts: { stem: false, pathWeight: 0 } },
  { name: `BM25F, text + paths ×${PATH_WEIGHT}`, opts: { stem: false } },
  { name: 'BM25, text, stemmed', opts: { pathWeight: 0 } },
  { name: `BM25F, text + paths ×${PATH_WEIGHT}, stemmed (default)`, opts: {} },
];

interface QuestionSet {
  source: { package: string; version: string; path: string };
  questions: { q: string; files: string[] }[];
}

interface Row {
  set: string;
  segmentTokens: number;
  ranking: string;
  /** Per question: the rank (0-based) of the first segment holding an answer file. */
  ranks: number[];
  hits: Record<number, number>;
  mrr: number;
  msPerQuestion: number;
}

const args = process.argv.slice(2);
const flagAt = args.indexOf('--segment-tokens');
const SIZES = (flagAt >= 0 ? args[flagAt + 1] : '4096').split(',').map(Number);

/** hit@k of k of `n` segments drawn without replacement when `answers` of them hold an answer: 1 - C(n-a, k)/C(n, k). */
function chance(n: number, answers: number, k: number): number {
  let miss = 1;
  for (let i = 0; i < Math.min(k, n); i++) miss *= Math.max(0, n - answers - i) / (n - i);
  return 1 - miss;
}

/** Both term forms the variants need, counted once per segment. */
interface BenchSegment {
  length: number;
  paths: string[];
  plain: RankSegment['terms'];
  stemmed: RankSegment['terms'];
}

async function segmentPackage(root: string, tok: Tokenizer, maxTokens: number): Promise<{ files: number; segments: BenchSegment[] }> {
  const { files } = await listFiles(root);
  const segments: BenchSegment[] = [];
  for await (const s of segmentFiles(files, tok, { maxTokens })) {
    const paths = [...new Set(s.pieces.map((p) => p.path))];
    segments.push({ length: s.ids.length, paths, plain: termCounts(s.text, { stem: false }), stemmed: termCounts(s.text) });
  }
  return { files: files.length, segments };
}

function evaluate(set: QuestionSet, segments: readonly BenchSegment[], opts: RankOptions): Omit<Row, 'set' | 'segmentTokens' | 'ranking'> {
  const ranked: RankSegment[] = segments.map((s) => ({ length: s.length, paths: s.paths, terms: opts.stem === false ? s.plain : s.stemmed }));
  const ranks: number[] = [];
  const t = performance.now();
  for (const { q, files } of set.questions) {
    const order = rankSegments({ text: q }, ranked, opts);
    ranks.push(order.findIndex((r) => segments[r.index].paths.some((p) => files.includes(p))));
  }
  const msPerQuestion = (performance.now() - t) / set.questions.length;
  const hits = Object.fromEntries(BUDGETS.map((k) => [k, ranks.filter((r) => r >= 0 && r < k).length / ranks.length]));
  return { ranks, hits, mrr: ranks.reduce((sum, r) => sum + (r >= 0 ? 1 / (r + 1) : 0), 0) / ranks.length, msPerQuestion };
}

async function main(): Promise<void> {
  const tok = Tokenizer.load(path.join(ROOT, 'test/fixtures/tinycode'));
  const rows: Row[] = [];
  const corpora: Record<string, unknown>[] = [];
  for (const file of fs
    .readdirSync(DATA)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const set: QuestionSet = JSON.parse(fs.readFileSync(path.join(DATA, file), 'utf8'));
    const name = file.replace(/\.json$/, '');
    const root = path.resolve(ROOT, set.source.path);
    if (!fs.existsSync(root)) {
      console.error(`# ${name} skipped: ${root} is not installed (bash .ci/run installs it)`);
      continue;
    }
    for (const segmentTokens of SIZES) {
      const t0 = performance.now();
      const { files, segments } = await segmentPackage(root, tok, segmentTokens);
      const segmentMs = performance.now() - t0;
      for (const v of VARIANTS) rows.push({ set: name, segmentTokens, ranking: v.name, ...evaluate(set, segments, v.opts) });
      const holding = set.questions.map(({ files: answers }) => segments.filter((s) => s.paths.some((p) => answers.includes(p))).length);
      const hits = Object.fromEntries(BUDGETS.map((k) => [k, holding.reduce((sum, a) => sum + chance(segments.length, a, k), 0) / holding.length]));
      rows.push({ set: name, segmentTokens, ranking: 'chance', ranks: [], hits, mrr: NaN, msPerQuestion: 0 });
      corpora.push({
        set: name,
        source: set.source,
        segmentTokens,
        questions: set.questions.length,
        files,
        segments: segments.length,
        tokens: segments.reduce((sum, s) => sum + s.length, 0),
        maxTermsPerSegment: Math.max(...segments.map((s) => s.stemmed.length)),
        storedTermsJsonBytes: segments.reduce((sum, s) => sum + JSON.stringify(s.stemmed).length, 0),
        listAndSegmentMs: Math.round(segmentMs),
      });
    }
  }

  if (args.includes('--json')) {
    console.log(JSON.stringify({ budgets: BUDGETS, corpora, rows }, null, 2));
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
  console.log('Segments cut by src/repo/segments.ts with the tinycode tokenizer; hit@k = an answer file among the first k segments.\n');
  console.log(`| set | segment tokens | ranking | ${BUDGETS.map((k) => `hit@${k}`).join(' | ')} | MRR | ms/question |`);
  console.log(`|---|---|---|${BUDGETS.map(() => '---|').join('')}---|---|`);
  for (const r of rows) {
    const mrr = Number.isNaN(r.mrr) ? '' : r.mrr.toFixed(3);
    console.log(
      `| ${r.set} | ${r.segmentTokens} | ${r.ranking} | ${BUDGETS.map((k) => pct(r.hits[k])).join(' | ')} | ${mrr} | ${r.ranking === 'chance' ? '' : r.msPerQuestion.toFixed(0)} |`,
    );
  }
  console.log('');
  for (const c of corpora)
    console.log(
      `${c.set}: ${c.questions} questions, ${c.files} files, ${c.segments} segments of ≤ ${c.segmentTokens} tokens (${c.tokens} tokens), at most ${c.maxTermsPerSegment} terms in a segment, ${c.storedTermsJsonBytes} bytes of stored terms as JSON; listed and cut in ${c.listAndSegmentMs} ms`,
    );
}

void main();
