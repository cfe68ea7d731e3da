// The fidelity benchmark's headline (issue O): recall of a compressed cache on every held-out package
// found here (bench/heldout.ts), with the bench's settings (`--max-context 1450 --chunk 512`, the
// same 50 queries per package, greedy), as means over the packages whose context reaches 1,000
// tokens (issue J's rule: a shorter context is too easy a haystack) and per package, so that the
// spread shows. `--presses none` measures the full cache alone: issue J's bar for a fixture model.
//   npm run bench:fidelity [-- --model DIR] [--presses kvzip,snapkv,...|none] [--ratios 0.5,0.3,0.2,0.1] [--queries 50] [--json FILE]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { RecallReport } from '../src/engine';
import { HELDOUT_ROOTS, heldoutPackages, MIN_CONTEXT } from './heldout';

const ROOT = path.join(__dirname, '..');
const { values: v } = parseArgs({
  options: {
    model: { type: 'string', default: 'test/fixtures/recall' },
    presses: { type: 'string', default: 'kvzip,snapkv,pyramidkv,h2o,streaming,knorm,random' },
    ratios: { type: 'string', default: '0.5,0.3,0.2,0.1' },
    queries: { type: 'string', default: '50' },
    json: { type: 'string' },
  },
});
const ratios = v.ratios!.split(',').map(Number);
const fullOnly = v.presses === 'none';

interface PackageResult {
  name: string;
  report: RecallReport;
}

/** `repozip eval recall` on one package, as the CLI runs it. */
function evalPackage(dir: string): RecallReport {
  const args = ['eval', 'recall', '--repo', dir, '--model', path.resolve(ROOT, v.model!), '--max-context', '1450', '--chunk', '512'];
  args.push('--queries', v.queries!, '--seed', '1', '--presses', v.presses!, '--json');
  if (!fullOnly) args.push('--ratios', v.ratios!);
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: 'pipe',
    maxBuffer: 1 << 26,
  });
  return JSON.parse(out) as RecallReport;
}

const f3 = (x: number) => x.toFixed(3);
const pct = (x: number) => `${Math.round(100 * x)} %`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function main(): void {
  const results: PackageResult[] = [];
  for (const { name, dir } of heldoutPackages()) {
    if (!dir) {
      console.error(`${name}: not under ${HELDOUT_ROOTS.join(', ')}, skipped`);
      continue;
    }
    const t0 = performance.now();
    results.push({ name, report: evalPackage(dir) });
    console.error(`${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const counted = results.filter((r) => r.report.contextTokens >= MIN_CONTEXT);
  const row = (r: PackageResult, press: string, ratio: number) => r.report.rows.find((x) => x.press === press && x.ratio === ratio);
  const presses = fullOnly ? [] : [...new Set(results.flatMap((r) => r.report.rows.map((x) => x.press)))];

  console.log('## Per package: token accuracy / exact match\n');
  const head = ['package', 'context tokens', 'full', 'no context', ...presses.flatMap((p) => ratios.map((q) => `${p} ${q}`))];
  console.log(`| ${head.join(' | ')} |\n|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const r of results) {
    const cells = presses.flatMap((p) =>
      ratios.map((q) => {
        const x = row(r, p, q);
        return x ? `${f3(x.tokenAccuracy)} / ${f3(x.exactMatch)}` : '';
      }),
    );
    const name = r.report.contextTokens >= MIN_CONTEXT ? r.name : `${r.name} (not counted: < ${MIN_CONTEXT} tokens)`;
    console.log(
      `| ${[name, r.report.contextTokens, `${f3(r.report.full.tokenAccuracy)} / ${f3(r.report.full.exactMatch)}`, f3(r.report.noContext.tokenAccuracy), ...cells].join(' | ')} |`,
    );
  }

  const fullExact = mean(counted.map((r) => r.report.full.exactMatch));
  console.log(`\n## Mean of the ${counted.length} packages with ≥ ${MIN_CONTEXT} context tokens\n`);
  console.log(
    `full cache ${f3(mean(counted.map((r) => r.report.full.tokenAccuracy)))} / ${f3(fullExact)}; no context ${f3(mean(counted.map((r) => r.report.noContext.tokenAccuracy)))}` +
      ` (per package full exact ${f3(Math.min(...counted.map((r) => r.report.full.exactMatch)))}–${f3(Math.max(...counted.map((r) => r.report.full.exactMatch)))})\n`,
  );
  const headline: Record<string, Record<string, unknown>> = {};
  if (presses.length) {
    console.log(
      `| press | ${ratios.map((q) => `${q}: acc / exact (kept of full exact; per package)`).join(' | ')} |\n|---|${ratios.map(() => '---').join('|')}|`,
    );
    for (const p of presses) {
      headline[p] = {};
      const cells = ratios.map((q) => {
        const xs = counted.map((r) => row(r, p, q)!);
        const exact = mean(xs.map((x) => x.exactMatch));
        const per = counted.filter((r) => r.report.full.exactMatch > 0).map((r) => row(r, p, q)!.exactMatch / r.report.full.exactMatch);
        const acc = mean(xs.map((x) => x.tokenAccuracy));
        headline[p][q] = { tokenAccuracy: acc, exactMatch: exact, keptOfFullExact: exact / fullExact, perPackageKept: [Math.min(...per), Math.max(...per)] };
        return `${f3(acc)} / ${f3(exact)} (${pct(exact / fullExact)}; ${pct(Math.min(...per))}–${pct(Math.max(...per))})`;
      });
      console.log(`| ${p} | ${cells.join(' | ')} |`);
    }
  }
  if (v.json)
    fs.writeFileSync(v.json, JSON.stringify({ model: v.model, queries: Number(v.queries), minContext: MIN_CONTEXT, headline, packages: results }, null, 1));
}

main();
