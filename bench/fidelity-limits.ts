// What limits KVzip's fidelity on the recall fixture (issue O, BENCHMARKS.md "What limits it"):
// three diagnostic selections, each KVzip's scores with one part of the cache forced, over every
// held-out package with a context of >= 1,000 tokens (the fidelity bench's settings, fp32):
//   copy-first   the copy layer (the last) kept whole first; the lower layers share the rest
//   split-copy   each position kept in only one of the copy layer's KV heads (alternate runs of 20)
//   file-floor   each file's best share x ratio of its entries kept first in every (layer, KV head)
// and, always, where KVzip's own selection puts the budget: the mean share of each (layer, KV head)'s
// entries it keeps at each ratio (whether copying, and so the budget, sits in a few heads).
// `--press kvzip+` (or another KVzip-family press) puts that press's scores under all of it.
// They are experiments, not presses: they read the layer that copies and the files' spans, which a
// press never knows.
//   npm run bench:fidelity:limits [-- --only copy-first,split-copy,file-floor|none] [--model DIR] [--press kvzip]
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { evalRecall } from '../src/engine/eval/recall';
import { makePress } from '../src/engine/kv/presses';
import type { Press } from '../src/engine/kv/press';
import { selectKeep, type ScoreGrid } from '../src/engine/kv/select';
import { Model } from '../src/engine/model/model';
import { buildRepoContext } from '../src/repo';
import { heldoutPackages, MIN_CONTEXT } from './heldout';

const ROOT = path.join(__dirname, '..');
const FORCED = 1e6; // above any KVzip score (a probability) and any kvzip+ score (one weighted by a norm ratio)
const { values: v } = parseArgs({
  options: {
    only: { type: 'string', default: 'copy-first,split-copy,file-floor' },
    model: { type: 'string', default: 'test/fixtures/recall' },
    press: { type: 'string', default: 'kvzip' },
  },
});
const only = new Set(v.only!.split(','));

type Span = { start: number; end: number };
interface Experiment {
  name: string;
  ratios: number[];
  /** Whether the forcing depends on the ratio (then each ratio is scored apart). */
  perRatio?: boolean;
  /** Changes KVzip's grid in place, knowing the ratio and the files' spans. */
  force(g: ScoreGrid, ratio: number, files: Span[]): void;
}

const unit = (g: ScoreGrid, l: number, h: number) => (l * g.kvHeads + h) * g.length;
const RUN = 20;

const copyFirst: Experiment = {
  name: 'copy-first',
  ratios: [0.3, 0.35, 0.4, 0.5],
  force(g) {
    for (let h = 0; h < g.kvHeads; h++) for (let i = 0; i < g.length; i++) g.data[unit(g, g.layers - 1, h) + i] += FORCED;
  },
};
const splitCopy: Experiment = {
  name: 'split-copy',
  ratios: [0.3, 0.2],
  force(g) {
    for (let h = 0; h < g.kvHeads; h++)
      for (let i = 0; i < g.length; i++) g.data[unit(g, g.layers - 1, h) + i] = Math.floor(i / RUN) % g.kvHeads === h ? FORCED : -FORCED;
  },
};
const fileFloor = (share: number): Experiment => ({
  name: `file-floor-${share}`,
  ratios: [0.3, 0.2],
  perRatio: true,
  force(g, ratio, files) {
    for (let u = 0; u < g.layers * g.kvHeads; u++)
      for (const { start, end } of files) {
        const best = Array.from({ length: end - start }, (_, i) => u * g.length + start + i).sort((x, y) => g.data[y] - g.data[x]);
        for (const at of best.slice(0, Math.floor(share * ratio * (end - start)))) g.data[at] += FORCED;
      }
  },
});
const EXPERIMENTS = [copyFirst, splitCopy, fileFloor(0.2), fileFloor(1)].filter((e) => only.has(e.name.replace(/-[\d.]+$/, '')));

/** The base press (`--press`) under `name`, its scores handed to `then` (which may change them in place) before selection. */
function baseThen(name: string, then: (g: ScoreGrid) => void): Press {
  const base = makePress(v.press!, { chunk: 512 });
  return {
    name,
    needsPrefillStats: base.needsPrefillStats,
    score: async (ctx) => {
      const g = await base.score(ctx);
      then(g);
      return g;
    },
  };
}
/** The base press with `e`'s forcing at `ratio` (ignored unless the forcing depends on it). */
const forced = (e: Experiment, ratio: number, files: Span[]) => baseThen(e.name, (g) => e.force(g, ratio, files));
/** The base press itself, keeping each grid it scores, for where its selection puts the budget. */
const recording = (grids: ScoreGrid[]) => baseThen(v.press!, (g) => grids.push(g));

/** The mean over `grids` of the share of each (layer, KV head)'s entries the selection keeps at `ratio`, a row per layer. */
function headShares(grids: ScoreGrid[], ratio: number): string {
  const { layers, kvHeads } = grids[0];
  const share = new Float64Array(layers * kvHeads);
  for (const g of grids) {
    const keep = selectKeep(g, ratio);
    for (let u = 0; u < layers * kvHeads; u++) {
      let n = 0;
      for (let i = u * g.length; i < (u + 1) * g.length; i++) n += keep[i];
      share[u] += n / g.length / grids.length;
    }
  }
  const rows = Array.from(
    { length: layers },
    (_, l) => `| ${l} | ${Array.from(share.subarray(l * kvHeads, (l + 1) * kvHeads), (x) => `${Math.round(100 * x)} %`).join(' | ')} |`,
  );
  return [`| layer | ${Array.from({ length: kvHeads }, (_, h) => `KV head ${h}`).join(' | ')} |`, `|---|${'---|'.repeat(kvHeads)}`, ...rows].join('\n');
}

async function main() {
  const model = await Model.load(path.resolve(ROOT, v.model!), { device: 'cpu', weights: 'fp32' });
  const grids: ScoreGrid[] = [];
  const ratios = EXPERIMENTS.length ? [...new Set(EXPERIMENTS.flatMap((e) => e.ratios))].sort() : [0.3, 0.2];
  const frame = model.tokenizer.chatFrame(null);
  const exact: Record<string, number[]> = {};
  const fulls: number[] = [];
  try {
    for (const { name, dir } of heldoutPackages()) {
      if (!dir) continue;
      const repo = await buildRepoContext({ root: dir, tokenizer: model.tokenizer, maxTokens: 1450 });
      if (repo.ids.length < MIN_CONTEXT) continue;
      const files = repo.files.map((f) => ({ start: f.headerStart, end: f.end }));
      const cells: string[] = [];
      let full = 0;
      // each press's rows at its own ratios only (one evalRecall call scores each of its presses once)
      const wanted = new Map<string, number[]>(EXPERIMENTS.map((e) => [e.name, e.ratios]));
      wanted.set(v.press!, ratios);
      const run = async (presses: Press[], at: number[]) => {
        const r = await evalRecall(model, frame.prefix, repo.ids, repo.files, frame.postfix, {
          presses,
          ratios: at,
          queries: 50,
          seed: 1,
          promptTokens: 32,
          targetTokens: 16,
        });
        full = r.full.exactMatch;
        for (const x of r.rows.filter((row) => wanted.get(row.press)!.includes(row.ratio))) {
          (exact[`${x.press} @ ${x.ratio}`] ??= []).push(x.exactMatch);
          cells.push(`${x.press} @ ${x.ratio}: ${x.exactMatch.toFixed(2)}`);
        }
      };
      await run([recording(grids), ...EXPERIMENTS.filter((e) => !e.perRatio).map((e) => forced(e, 0, files))], ratios);
      for (const e of EXPERIMENTS.filter((x) => x.perRatio)) for (const ratio of e.ratios) await run([forced(e, ratio, files)], [ratio]);
      fulls.push(full);
      console.error(`${name}: full ${full.toFixed(2)}; ${cells.join(', ')}`);
    }
  } finally {
    await model.dispose();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const full = mean(fulls);
  console.log(`mean over ${fulls.length} packages: full cache exact match ${full.toFixed(3)}\n`);
  console.log('| selection @ ratio | exact match (share of full) |\n|---|---|');
  for (const [k, xs] of Object.entries(exact)) console.log(`| ${k} | ${mean(xs).toFixed(3)} (${Math.round((100 * mean(xs)) / full)} %) |`);
  for (const ratio of ratios)
    console.log(`\n${v.press} at ${ratio}: share of each (layer, KV head)'s entries kept, mean over the packages\n\n${headShares(grids, ratio)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
