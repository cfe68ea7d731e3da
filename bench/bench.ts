// `npm run bench`: the engine against the machine's limits and against llama.cpp, in one run.
//
//   npm run bench                      full run (0.5B and 1.5B shapes, 2K/8K prefill, 4K/16K decode)
//   npm run bench -- --quick           < 2 minutes: 0.5B at 1K/2K, compared with bench/results/baseline.json
//   npm run bench -- --no-peer         without llama.cpp
//   npm run bench:engine               the engine alone: roofline, 0.5B prefill and decode at 2K
//   npm run bench -- --ttft-only       warm vs cold time to first token at 8K alone
//   npm run bench:remote               pull time vs local build time of one repository (also in the full run)
//   npm run bench -- --decode-only     decode ms/token at 4K per weight format and llama.cpp's F16 and Q8_0
//                                      (--json: one JSON line {decode: {fp32, int8, int4, llamacppF16, llamacppQ8_0}},
//                                      with prefill: {fp32, llamacppF16} in tokens/s from the same run)
//
// Prints a table and writes bench/results/<date>.json. Absolute times on a shared machine are noisy:
// read the ratios (to the GEMM roofline, to the peer, compressed vs full) measured in the same run.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prefill } from '../src/engine/generate';
import { Cache } from '../src/engine/kv/cache';
import { Model } from '../src/engine/model/model';
import { EngineService } from '../src/engine/service';
import { compressed, decodeMs, peakRss, randomIds, resetPeak, scoringTimed, truncate } from './measure';
import { llamaCppPeer, PeerType } from './peer';
import { describeRemote, remoteBench } from './remote';
import { gemmRate, nbitsRate, readBandwidth } from './roofline';
import { flopsPerToken, shapeModel, SHAPES } from './shapes';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const engineOnly = args.includes('--engine-only');
const json = args.includes('--json');
const THREADS = os.cpus().length;
const ROOT = path.join(__dirname, '.models');
const results: Record<string, unknown> = {};
const lines: string[] = [];
const say = (s: string) => {
  lines.push(s);
  // --json keeps stdout for the one JSON line
  if (json) console.error(s);
  else console.log(s);
};
const gb = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GB`;

/** The machine's limits. The GEMM rate is the best onnxruntime reaches on the 0.5B model's own linear shapes. */
async function roofline() {
  const s = SHAPES['0.5b'];
  const D = s.hidden / s.heads;
  const shapes: [number, number, number][] = [
    [512, s.hidden, s.heads * D],
    [512, s.hidden, s.intermediate],
    [512, s.intermediate, s.hidden],
  ];
  const gemm: number[] = [];
  for (const [m, k, n] of shapes) gemm.push(await gemmRate(m, k, n, THREADS));
  const r = {
    fp32GemmGflops: Math.max(...gemm),
    fp32GemmByShape: shapes.map((sh, i) => ({ shape: sh, gflops: gemm[i] })),
    int4GemmGflopsM1: await nbitsRate(4, 1, s.hidden, s.intermediate, THREADS),
    int4GemmGflopsM512: await nbitsRate(4, 512, s.hidden, s.intermediate, THREADS),
    readGBs: await readBandwidth(THREADS),
  };
  say(
    `roofline (onnxruntime, ${THREADS} threads): fp32 GEMM ${r.fp32GemmGflops.toFixed(1)} GFLOP/s (best of ${gemm.map((g) => g.toFixed(0)).join(' / ')} on the 0.5B linear shapes); int4 MatMulNBits ${r.int4GemmGflopsM512.toFixed(1)} GFLOP/s at 512 rows, ${r.int4GemmGflopsM1.toFixed(1)} at 1 row; memory read ${r.readGBs.toFixed(1)} GB/s`,
  );
  results.roofline = r;
  return r;
}

/** Prefill up to each length in `marks`, KVzip-scoring at the ones in `scoreAt`, then decode timings. */
async function shapeRun(key: string, marks: number[], scoreAt: number[], decodeAt: number[], gemm: number) {
  const shape = SHAPES[key];
  const t0 = performance.now();
  const model = await Model.load(shapeModel(ROOT, key), { device: 'cpu', cacheRoot: path.join(ROOT, 'cache'), threads: THREADS });
  const out: Record<string, unknown> = { shape, loadMs: performance.now() - t0, weightBytes: model.info.weightBytes };
  say(`\n${shape.name}: ${(flopsPerToken(shape) / 1e9).toFixed(2)} GFLOP/token in the linears; fp32 weights ${gb(model.info.weightBytes)}`);
  const ids = randomIds(Math.max(...marks), shape.vocab);
  const cache = model.newCache();
  const prefillRows: unknown[] = [];
  const scoreRows: unknown[] = [];
  let done = 0;
  let elapsed = 0;
  resetPeak();
  for (const n of marks) {
    const t = performance.now();
    await prefill(model, cache, ids.slice(done, n), { targetMs: 1e9 });
    elapsed += performance.now() - t;
    done = n;
    const tokS = (n * 1000) / elapsed;
    const fraction = (flopsPerToken(shape) * tokS) / (gemm * 1e9);
    const prefillPeak = peakRss();
    prefillRows.push({ n, tokS, fractionOfGemm: fraction, peakBytes: prefillPeak });
    say(`  prefill 0→${n}: ${tokS.toFixed(1)} tokens/s = ${(100 * fraction).toFixed(0)} % of the fp32 GEMM rate; peak RSS ${gb(prefillPeak)}`);
    if (scoreAt.includes(n)) {
      const s = await scoringTimed(model, cache, ids.slice(0, n));
      scoreRows.push({ n, scoreMs: s.ms, prefillMs: elapsed, ratio: s.ms / elapsed, peakBytes: s.peakBytes, prefillPeakBytes: prefillPeak });
      say(
        `  KVzip scoring at ${n}: ${(s.ms / 1000).toFixed(1)} s = ${(s.ms / elapsed).toFixed(2)}× prefill; peak RSS ${gb(s.peakBytes)} vs prefill ${gb(prefillPeak)} (${((100 * s.peakBytes) / prefillPeak - 100).toFixed(0)} %)`,
      );
      resetPeak();
    }
  }
  const decodeRows: unknown[] = [];
  for (const n of [...decodeAt].sort((a, b) => b - a)) {
    await truncate(cache, n);
    const context = ids.slice(0, n);
    const full = await decodeMs(model, cache);
    const empty = model.newCache();
    await model.forward({ ids: ids.slice(0, 16), cache: empty });
    const base = await decodeMs(model, empty);
    // attention's part of a step: the step minus a step over an (almost) empty cache
    const at = async (ratio: number) => {
      const ms = await decodeMs(model, await compressed(model, cache, context, ratio));
      return { ratio, ms, attentionVsFull: (ms - base) / (full - base) };
    };
    const row = { n, fullMs: full, attentionShare: (full - base) / full, compressed: [await at(0.3), await at(0.1)] };
    decodeRows.push(row);
    const [r3, r1] = row.compressed;
    say(
      `  decode at ${n}: full ${full.toFixed(1)} ms/token (attention ${(100 * row.attentionShare).toFixed(0)} %); ratio 0.3 ${r3.ms.toFixed(1)} ms (attention ${r3.attentionVsFull.toFixed(2)}× full); ratio 0.1 ${r1.ms.toFixed(1)} ms (attention ${r1.attentionVsFull.toFixed(2)}× full)`,
    );
  }
  out.prefill = prefillRows;
  out.scoring = scoreRows;
  out.decode = decodeRows;
  await model.dispose();
  return out;
}

async function int4Decode(n: number) {
  const model = await Model.load(shapeModel(ROOT, '0.5b'), { device: 'cpu', weights: 'int4', cacheRoot: path.join(ROOT, 'cache'), threads: 1 });
  const cache = model.newCache();
  await prefill(model, cache, randomIds(n, 150000), { targetMs: 1e9 });
  const ms = await decodeMs(model, cache);
  await model.dispose();
  say(`  int4 weights (MatMulNBits, 1 thread): decode at ${n} ${ms.toFixed(1)} ms/token; weights ${gb(model.info.weightBytes)}`);
  return { n, decodeMs: ms, weightBytes: model.info.weightBytes };
}

/** How much loading `dir` and running a prefill and a step grows a fresh process's peak RSS (Linux). */
function weightsMemory(dir: string, weights: string, decodeWeights?: string): number {
  const child = path.join(__dirname, '..', 'test', 'helpers', 'load-rss.ts');
  const tiny = path.join(__dirname, '..', 'test', 'fixtures', 'tinycode');
  const args = ['--import', 'tsx', child, tiny, dir, path.join(ROOT, 'cache'), weights, ...(decodeWeights ? [decodeWeights] : [])];
  const r = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));
  return r.peak - r.before;
}

/**
 * Decode ms/token at `n` tokens of context on the 0.5B shape, every row from this run: fp32 weights;
 * int8 = what `auto` loads on the CPU (fp32 for prefill, the int8 session for the steps); int4; and
 * llama.cpp's F16 and Q8_0 (after their own prefill of `n`). One cache, prefilled by fp32, serves
 * our three: a step costs the same whatever the cache holds. What each set of weights costs in
 * memory is measured apart, in a fresh process each (weightsMemory).
 */
async function decodeFormats(n: number, peer: boolean) {
  const dir = shapeModel(ROOT, '0.5b');
  const load = (weights: 'fp32' | 'int4', decodeWeights?: 'int8') =>
    Model.load(dir, { device: 'cpu', weights, decodeWeights, cacheRoot: path.join(ROOT, 'cache'), threads: THREADS });
  let cache: Cache | undefined;
  let prefillTokS = 0;
  const ours = async (name: string, weights: 'fp32' | 'int4', decodeWeights?: 'int8') => {
    const model = await load(weights, decodeWeights);
    if (!cache) {
      cache = model.newCache();
      // the fp32 prefill that fills the cache is what the decode session sits beside: issue P asks it unchanged
      const t = performance.now();
      await prefill(model, cache, randomIds(n, SHAPES['0.5b'].vocab), { targetMs: 1e9 });
      prefillTokS = n / ((performance.now() - t) / 1000);
      say(`  fp32 prefill of the ${n}-token cache: ${prefillTokS.toFixed(1)} tokens/s`);
    }
    const ms = await decodeMs(model, cache, 24);
    const row = {
      ms,
      weightBytes: model.info.weightBytes + (model.info.decode?.weightBytes ?? 0),
      peakGrowthBytes: weightsMemory(dir, weights, decodeWeights),
    };
    await model.dispose();
    say(`  ${name}: ${ms.toFixed(1)} ms/token; weight files ${gb(row.weightBytes)}; loading and running them grew the peak RSS by ${gb(row.peakGrowthBytes)}`);
    return row;
  };
  say(`\ndecode at ${n} tokens, Qwen2.5-Coder-0.5B shape, ${THREADS} threads (median of 24 steps; load average ${os.loadavg()[0].toFixed(1)}):`);
  const rows = { fp32: await ours('fp32', 'fp32'), int8: await ours('fp32 prefill + int8 decode session', 'fp32', 'int8'), int4: await ours('int4', 'int4') };
  const peers = { llamacppF16: null as number | null, llamacppQ8_0: null as number | null };
  let peerPrefillTokS: number | null = null;
  const skipped: Record<string, string> = {};
  for (const [key, type] of [
    ['llamacppF16', 'f16'],
    ['llamacppQ8_0', 'q8_0'],
  ] as [keyof typeof peers, PeerType][]) {
    const r = peer ? llamaCppPeer(n, THREADS, type) : { skipped: '--no-peer' };
    if ('skipped' in r) {
      skipped[key] = r.skipped;
      say(`  llama.cpp ${type}: skipped (${r.skipped})`);
    } else {
      peers[key] = r.decodeMs;
      if (type === 'f16') peerPrefillTokS = r.prefillTokS;
      say(`  llama.cpp ${r.llamaCpp} ${type.toUpperCase()}: ${r.decodeMs.toFixed(1)} ms/token (prefill ${r.prefillTokS.toFixed(1)} tokens/s)`);
    }
  }
  const decode = { fp32: rows.fp32.ms, int8: rows.int8.ms, int4: rows.int4.ms, ...peers };
  if (decode.llamacppF16)
    say(
      `  → int8 = ${(decode.int8 / decode.llamacppF16).toFixed(2)}× llama.cpp F16's ms/token${decode.llamacppQ8_0 ? `, ${(decode.int8 / decode.llamacppQ8_0).toFixed(2)}× Q8_0's` : ''}; fp32 = ${(decode.fp32 / decode.llamacppF16).toFixed(2)}× F16's`,
    );
  const prefillRates = { fp32: prefillTokS, llamacppF16: peerPrefillTokS };
  if (peerPrefillTokS) say(`  → fp32 prefill = ${(prefillTokS / peerPrefillTokS).toFixed(2)}× llama.cpp F16's tokens/s`);
  return { n, threads: THREADS, decode, prefill: prefillRates, rows, skipped };
}

/** A repository of real code (the Python standard library) of about `tokens` tokens. */
function syntheticRepo(tokens: number): string {
  const dir = path.join(ROOT, `repo-${tokens}-x3`);
  if (fs.existsSync(dir)) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const src = '/usr/lib/python3.11';
  let chars = 0;
  for (const f of fs
    .readdirSync(src)
    .filter((x) => x.endsWith('.py'))
    .sort()) {
    const text = fs.readFileSync(path.join(src, f), 'utf8');
    fs.writeFileSync(path.join(dir, f), text);
    chars += text.length;
    if (chars > tokens * 3) break; // Python source: about 3.3 characters a token
  }
  return dir;
}

async function ttft(n: number) {
  const repo = syntheticRepo(n);
  const cacheDir = path.join(ROOT, `ttft-${Date.now()}`);
  const params = {
    engine: { model: shapeModel(ROOT, '0.5b'), device: 'cpu' as const, cacheDir },
    repo: { root: repo },
    question: 'What does this code do?',
    maxTokens: 1,
  };
  const ctx = { signal: new AbortController().signal, emit: () => {} };
  const cold = new EngineService();
  const c = await cold.ask(params, ctx);
  await cold.dispose();
  const warm = new EngineService(); // a new process state: the segments are loaded from disk
  const w = await warm.ask(params, ctx);
  const context = (await warm.index(params, ctx)).tokens.context; // whole files: about `n`, not exactly
  await warm.dispose();
  fs.rmSync(cacheDir, { recursive: true, force: true });
  say(
    `  time to first token with a ${context}-token repository (target ${n}): cold (build) ${(c.firstTokenMs / 1000).toFixed(1)} s, warm ${w.firstTokenMs.toFixed(0)} ms (${(c.firstTokenMs / w.firstTokenMs).toFixed(0)}×); warm = snapshot ${w.timings.snapshotMs.toFixed(0)} + load ${w.timings.loadMs.toFixed(0)} + question ${w.timings.questionPrefillMs.toFixed(0)} ms`,
  );
  return { n, context, coldMs: c.firstTokenMs, warmMs: w.firstTokenMs, ratio: c.firstTokenMs / w.firstTokenMs, warm: w.timings };
}

async function main() {
  say(
    `repozip bench ${quick ? '(quick)' : ''} — ${os.cpus()[0].model}, ${THREADS} cores, ${gb(os.totalmem())} RAM, node ${process.version}, ${new Date().toISOString()}`,
  );
  if (args.includes('--ttft-only')) {
    results.ttft = await ttft(8192);
    return;
  }
  if (args.includes('--decode-only')) {
    const d = await decodeFormats(4096, !args.includes('--no-peer'));
    // the load average says how shared the machine was (llama.cpp's spinning threads suffer most from it)
    if (json) console.log(JSON.stringify({ decode: d.decode, prefill: d.prefill, skipped: d.skipped, loadavg: os.loadavg() }));
    return;
  }
  const r = await roofline();
  if (engineOnly) {
    results['0.5b'] = await shapeRun('0.5b', [2048], [], [2048], r.fp32GemmGflops);
    return;
  }
  results['0.5b'] = quick
    ? await shapeRun('0.5b', [1024, 2048], [1024], [2048], r.fp32GemmGflops)
    : await shapeRun('0.5b', [2048, 4096, 8192, 16384], [2048, 4096, 8192], [4096, 16384], r.fp32GemmGflops);
  if (quick) results.int4 = await int4Decode(1024);
  else results.decodeFormats = await decodeFormats(4096, !args.includes('--no-peer'));
  results.ttft = await ttft(quick ? 1024 : 8192);
  if (!quick) results['1.5b'] = await shapeRun('1.5b', [2048, 8192], [2048, 8192], [4096], r.fp32GemmGflops);
  if (!quick) {
    const remote = await remoteBench(path.join(__dirname, '..', 'src', 'repo'));
    results.remote = remote;
    say(`\n${describeRemote(remote)}`);
  }
  if (!quick && !args.includes('--no-peer')) {
    const peer = llamaCppPeer(2048, THREADS);
    results.peer = peer;
    if ('skipped' in peer) say(`\nllama.cpp peer skipped: ${peer.skipped}`);
    else {
      const ours = (results['0.5b'] as { prefill: { n: number; tokS: number }[] }).prefill.find((p) => p.n === 2048)!.tokS;
      say(
        `\nllama.cpp ${peer.llamaCpp} (F16, same shape, same run): prefill ${peer.prefillTokS.toFixed(1)} tokens/s at ${peer.n}, decode ${peer.decodeMs.toFixed(1)} ms/token → repozip prefill = ${(ours / peer.prefillTokS).toFixed(2)}× llama.cpp`,
      );
    }
  }
  const file = path.join(__dirname, 'results', quick ? 'quick-latest.json' : `${new Date().toISOString().slice(0, 10)}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ machine: { cpu: os.cpus()[0].model, cores: THREADS, memory: os.totalmem() }, quick, results, table: lines }, null, 1),
  );
  if (quick) compareWithBaseline();
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

/** --quick: the ratios of this run to the committed baseline (>1 = faster now). */
function compareWithBaseline() {
  const file = path.join(__dirname, 'results', 'baseline.json');
  if (!fs.existsSync(file)) return console.log('no bench/results/baseline.json to compare with (copy a quick run there to make one)');
  const base = JSON.parse(fs.readFileSync(file, 'utf8')).results;
  const pick = (r: Record<string, any>) => ({
    prefill: r['0.5b'].prefill.at(-1).tokS as number,
    scoring: r['0.5b'].scoring[0].ratio as number,
    decode: r['0.5b'].decode[0].fullMs as number,
    int4: r.int4.decodeMs as number,
    warm: r.ttft.warmMs as number,
  });
  const now = pick(results);
  const then = pick(base);
  console.log('\nversus baseline (>1 = better now):');
  console.log(
    `  prefill ${(now.prefill / then.prefill).toFixed(2)}×, scoring/prefill ${(then.scoring / now.scoring).toFixed(2)}×, decode ${(then.decode / now.decode).toFixed(2)}×, int4 decode ${(then.int4 / now.int4).toFixed(2)}×, warm TTFT ${(then.warm / now.warm).toFixed(2)}×`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
