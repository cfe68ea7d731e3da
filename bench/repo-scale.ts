// Issue K's measurements on the recall fixture (2,048 positions), on code it never saw:
//  1. repositories 8× and 16× its positions, assembled from held-out packages
//     (tools/fixture/heldout.json): recall per way of answering (truncate / select / compact / oracle);
//  2. repositories that fit one window (each held-out package cut to what today's budget keeps):
//     composed segments against the single cache at the same ratio — the cost of independence.
// Queries are drawn uniformly over each whole repository (src/engine/eval/segment-recall.ts).
//   node --import tsx bench/repo-scale.ts [--queries 50] [--only scale|fit] [--json FILE]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildRepoContext, listFiles } from '../src/repo';
import { evalSegmentRecall, ModeRow, RecallMode } from '../src/engine/eval/segment-recall';
import { makePress } from '../src/engine/kv/presses';
import { DEFAULT_BUDGET } from '../src/engine/kv/select';
import { findHeldout, heldoutPackages, MIN_CONTEXT } from './heldout';
import { Model } from '../src/engine/model/model';

const ROOT = path.join(__dirname, '..');
/** The fidelity bench's settings: 1,450 context tokens leave room for KVzip's pass of 512. */
const WINDOW = 1450;
const CHUNK = 512;
/** Packages combined into one repository, chosen by size to land near 8× and 16× of 2,048 positions. */
const SCALE_REPOS: { name: string; packages: string[] }[] = [
  { name: 'distro (8×)', packages: ['distro'] },
  { name: 'toml (8×)', packages: ['toml'] },
  { name: 'jwt (8×)', packages: ['jwt'] },
  { name: 'ignore+blinker (16×)', packages: ['ignore', 'blinker'] },
  { name: 'jwt+toml (16×)', packages: ['jwt', 'toml'] },
];

const { values: v } = parseArgs({ options: { queries: { type: 'string', default: '50' }, only: { type: 'string' }, json: { type: 'string' } } });
const queries = Number(v.queries);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-scale-'));

/** A folder holding copies of `files` (paths relative to `from`) under `into`. */
function copyFiles(from: string, files: string[], into: string): void {
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(into, f)), { recursive: true });
    fs.copyFileSync(path.join(from, f), path.join(into, f));
  }
}

async function main(): Promise<void> {
  const model = await Model.load(path.join(ROOT, 'test/fixtures/recall'), { device: 'cpu' });
  const press = makePress('kvzip', { chunk: CHUNK });
  const common = { press, budgetMode: DEFAULT_BUDGET, chunk: CHUNK, queries, seed: 1, promptTokens: 32, targetTokens: 16, epicTokens: 16 };
  const out: Record<string, unknown>[] = [];
  const f3 = (x: number) => x.toFixed(3);

  if (v.only !== 'fit') {
    console.log('## Repositories larger than the window (ratio 0.3)\n');
    console.log(
      '| repository | tokens (× positions) | segments | mode | token acc. | exact | own segment loaded | segments loaded |\n|---|---:|---:|---|---:|---:|---:|---:|',
    );
    for (const repo of SCALE_REPOS) {
      const dirs = repo.packages.map(findHeldout);
      if (dirs.some((d) => !d)) {
        console.log(`| ${repo.name} | not on this machine | | | | | | |`);
        continue;
      }
      const dir = path.join(work, repo.name.split(' ')[0]);
      for (const [i, d] of dirs.entries())
        copyFiles(
          d!,
          (await listFiles(d!)).files.map((x) => x.path),
          path.join(dir, repo.packages[i]),
        );
      const modes: RecallMode[] = ['truncate', 'select', 'compact', 'oracle'];
      const r = await evalSegmentRecall(model, dir, { ...common, modes, ratios: [0.3], segmentTokens: 256 });
      for (const row of r.rows)
        console.log(
          `| ${repo.name} | ${r.repoTokens} (${(r.repoTokens / 2048).toFixed(1)}×) | ${r.segments} | ${row.mode} | ${f3(row.tokenAccuracy)} | ${f3(row.exactMatch)} | ${f3(row.ownLoaded)} | ${row.segments.toFixed(1)} |`,
        );
      out.push({ part: 'scale', repo: repo.name, tokens: r.repoTokens, segments: r.segments, rows: r.rows });
    }
    const rows = out.filter((o) => o.part === 'scale').flatMap((o) => o.rows as ModeRow[]);
    const mean = (mode: string, k: 'tokenAccuracy' | 'exactMatch') => {
      const xs = rows.filter((r) => r.mode === mode).map((r) => r[k]);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    for (const m of ['truncate', 'select', 'compact', 'oracle'])
      console.log(`| **mean** | | | ${m} | **${f3(mean(m, 'tokenAccuracy'))}** | **${f3(mean(m, 'exactMatch'))}** | | |`);
  }

  if (v.only !== 'scale') {
    console.log('\n## Repositories that fit one window: composed segments vs the single cache\n');
    console.log(
      '| package | tokens | ratio | single cache (exact) | composed, positions (exact) | composed, compact (exact) | EPIC (exact) |\n|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const { name, dir: d } of heldoutPackages()) {
      if (!d) continue;
      // the files today's budget keeps: a repository that fits the window exactly as the single cache sees it
      const kept = await buildRepoContext({ root: d, tokenizer: model.tokenizer, maxTokens: WINDOW });
      if (kept.ids.length < MIN_CONTEXT) continue;
      const dir = path.join(work, `fit-${name}`);
      copyFiles(
        d,
        kept.files.map((x) => x.path),
        dir,
      );
      const r = await evalSegmentRecall(model, dir, { ...common, modes: ['truncate', 'select', 'compact', 'epic'], ratios: [1, 0.3], segmentTokens: 256 });
      for (const ratio of [1, 0.3]) {
        const at = (m: string) => r.rows.find((x) => x.mode === m && x.ratio === ratio)!;
        console.log(
          `| ${name} | ${r.repoTokens} | ${ratio} | ${f3(at('truncate').exactMatch)} | ${f3(at('select').exactMatch)} | ${f3(at('compact').exactMatch)} | ${f3(at('epic').exactMatch)} |`,
        );
      }
      out.push({ part: 'fit', repo: name, tokens: r.repoTokens, segments: r.segments, rows: r.rows });
    }
    const fit = out.filter((o) => o.part === 'fit').flatMap((o) => o.rows as ModeRow[]);
    for (const ratio of [1, 0.3]) {
      const m = (mode: string) => {
        const xs = fit.filter((x) => x.mode === mode && x.ratio === ratio).map((x) => x.exactMatch);
        return xs.reduce((a, b) => a + b, 0) / xs.length;
      };
      console.log(
        `| **mean** | | ${ratio} | **${f3(m('truncate'))}** | **${f3(m('select'))}** (${f3(m('select') / m('truncate'))}×) | **${f3(m('compact'))}** (${f3(m('compact') / m('truncate'))}×) | **${f3(m('epic'))}** (${f3(m('epic') / m('truncate'))}×) |`,
      );
    }
  }

  if (v.json) fs.writeFileSync(v.json, JSON.stringify(out, null, 1));
  fs.rmSync(work, { recursive: true, force: true });
  await model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
