// Issue K's scale check: `repozip index` of repositories of growing size (JavaScript packages from
// this checkout's node_modules, copied into a temporary folder until the target token count) with
// the bundled demo model, measuring the index's peak RSS (it must not grow with the repository:
// one segment is built at a time), then `repozip ask` from that cache (selection + load + question).
// Each command is its own process, timed and measured from outside (/usr/bin/time).
//   node --import tsx bench/index-scale.ts [--tokens 250000,1000000] [--model test/fixtures/tinycode] [--json FILE]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { listFiles } from '../src/repo';
import { Tokenizer } from '../src/engine/tokenizer';

const ROOT = path.join(__dirname, '..');
const { values: v } = parseArgs({
  options: { tokens: { type: 'string', default: '250000,1000000' }, model: { type: 'string', default: 'test/fixtures/tinycode' }, json: { type: 'string' } },
});
const model = path.resolve(ROOT, v.model!);
const tok = Tokenizer.load(model);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-index-scale-'));

/** Copies whole packages (sorted by name) into `dir` until they hold `target` tokens; returns the count. */
async function assemble(dir: string, target: number): Promise<{ tokens: number; files: number }> {
  let tokens = 0;
  let files = 0;
  for (const pkg of fs.readdirSync(path.join(ROOT, 'node_modules')).sort()) {
    if (tokens >= target) break;
    const from = path.join(ROOT, 'node_modules', pkg);
    if (pkg.startsWith('.') || !fs.statSync(from).isDirectory()) continue;
    for (const f of (await listFiles(from)).files) {
      if (!/\.(js|ts|mjs|cjs|json|md)$/.test(f.path) || f.bytes > 200_000) continue; // source, not bundles
      fs.mkdirSync(path.dirname(path.join(dir, pkg, f.path)), { recursive: true });
      fs.writeFileSync(path.join(dir, pkg, f.path), f.text);
      tokens += tok.encodeText(f.text).length;
      files++;
      if (tokens >= target) break;
    }
  }
  return { tokens, files };
}

/** Runs the CLI under /usr/bin/time; its JSON result, wall seconds and peak RSS in MB. */
function cli(args: string[]): { result: Record<string, unknown>; seconds: number; rssMb: number } {
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'RSS_KB %M', process.execPath, '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args, '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`repozip ${args[0]} failed: ${r.stderr}`);
  const rss = /RSS_KB (\d+)/.exec(r.stderr);
  return { result: JSON.parse(r.stdout), seconds: (performance.now() - t) / 1000, rssMb: rss ? Number(rss[1]) / 1024 : NaN };
}

async function main(): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  console.log(
    '| target tokens | files | tokens | segments | index (s) | index peak RSS (MB) | ask (s, process) | ask first token (ms) | ask: snapshot + load + question (ms) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const target of v.tokens!.split(',').map(Number)) {
    const dir = path.join(work, `repo-${target}`);
    const cacheDir = path.join(work, `cache-${target}`);
    const size = await assemble(dir, target);
    const index = cli(['index', dir, '--model', model, '--cache-dir', cacheDir]);
    const ask = cli(['ask', dir, '--model', model, '--cache-dir', cacheDir, '--no-build', '--max-tokens', '8', 'where is the command line parsed?']);
    const seg = index.result.segments as { total: number };
    const t = ask.result.timings as { snapshotMs: number; loadMs: number; questionPrefillMs: number };
    console.log(
      `| ${target} | ${size.files} | ${size.tokens} | ${seg.total} | ${index.seconds.toFixed(0)} | ${index.rssMb.toFixed(0)} | ${ask.seconds.toFixed(1)} | ${Number(ask.result.firstTokenMs).toFixed(0)} | ${t.snapshotMs.toFixed(0)} + ${t.loadMs.toFixed(0)} + ${t.questionPrefillMs.toFixed(0)} |`,
    );
    rows.push({
      target,
      ...size,
      segments: seg.total,
      indexSeconds: index.seconds,
      indexRssMb: index.rssMb,
      askSeconds: ask.seconds,
      firstTokenMs: ask.result.firstTokenMs,
      askTimings: t,
      context: ask.result.context,
    });
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  if (v.json) fs.writeFileSync(v.json, JSON.stringify(rows, null, 1));
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
