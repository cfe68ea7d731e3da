// Where one decode step's time goes, beyond reading the weights: onnxruntime's per-node profile of
// the decode session (what `auto` loads on the CPU: fp32 prefill, int8 steps) on the 0.5B shape,
// over a full and a KVzip-compressed cache.
//
//   node --import tsx bench/profile-decode.ts [4096,16384] [1,0.3]
//
// Per step (medians over the steps): the wall time of model.forward; onnxruntime's model_run; its
// nodes' time per op type (MatMulNBits is the weights' read; Gemm/MatMul/Exp/Reduce* the per-head
// attention over the cache; the rest norms, RoPE, layout ops, the present's Concat). model_run minus
// its nodes is the executor's own time (feeding the past, allocating outputs); forward minus
// model_run is JS (building feeds, appending the present).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prefill } from '../src/engine/generate';
import { Cache } from '../src/engine/kv/cache';
import { Model } from '../src/engine/model/model';
import { compressed, randomIds } from './measure';
import { shapeModel, SHAPES } from './shapes';

const ROOT = path.join(__dirname, '.models');
const THREADS = os.cpus().length;
const STEPS = 16;
const lengths = (process.argv[2] ?? '4096,16384').split(',').map(Number);
const ratios = (process.argv[3] ?? '1,0.3').split(',').map(Number);

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

/** Splits each model_run of a profile into time per op type, in ms, and the executor's own time. */
function steps(events: ProfileEvent[]) {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  return runs.map((run) => {
    const inRun = nodes.filter((n) => n.ts >= run.ts && n.ts + n.dur <= run.ts + run.dur + 1);
    const byOp: Record<string, number> = {};
    for (const n of inRun) byOp[n.args!.op_name!] = (byOp[n.args!.op_name!] ?? 0) + n.dur / 1000;
    const nodeMs = Object.values(byOp).reduce((x, y) => x + y, 0);
    return { run: run.dur / 1000, byOp, nodes: inRun.length, executor: run.dur / 1000 - nodeMs };
  });
}

async function main() {
  const dir = shapeModel(ROOT, '0.5b');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'repozip-profile-'));
  for (const n of lengths) {
    const prefix = path.join(out, `p${n}`);
    const model = await Model.load(dir, {
      device: 'cpu',
      weights: 'fp32',
      decodeWeights: 'int8',
      cacheRoot: path.join(ROOT, 'cache'),
      threads: THREADS,
      profile: prefix,
    });
    const ids = randomIds(n, SHAPES['0.5b'].vocab);
    const full = model.newCache();
    await prefill(model, full, ids, { targetMs: 1e9 });
    const walls: Record<number, number[]> = {};
    for (const ratio of ratios) {
      const cache: Cache = ratio === 1 ? full : await compressed(model, full, ids, ratio);
      const mark = cache.mark();
      walls[ratio] = [];
      await model.forward({ ids: [11], cache, logits: true }); // warm-up
      for (let i = 0; i < STEPS; i++) {
        const t = performance.now();
        await model.forward({ ids: [13 + i], cache, logits: true });
        walls[ratio].push(performance.now() - t);
      }
      cache.rollback(mark);
    }
    await model.dispose(); // writes the profiles
    const file = fs.readdirSync(out).find((f) => f.startsWith(`p${n}-decode`))!;
    const all = steps(JSON.parse(fs.readFileSync(path.join(out, file), 'utf8')));
    ratios.forEach((ratio, r) => {
      // the profile holds, per ratio, a warm-up step then STEPS steps
      const s = all.slice(r * (STEPS + 1) + 1, (r + 1) * (STEPS + 1));
      const m = (f: (x: (typeof s)[0]) => number) => median(s.map(f));
      const wall = median(walls[ratio]);
      const run = m((x) => x.run);
      const ops = Object.keys(s[0].byOp)
        .map((o) => [o, m((x) => x.byOp[o] ?? 0)] as const)
        .sort((a, b) => b[1] - a[1]);
      console.log(
        `${n} tokens, ratio ${ratio}: step ${wall.toFixed(1)} ms = model_run ${run.toFixed(1)} + JS ${(wall - run).toFixed(1)}; ` +
          `in model_run (${s[0].nodes} nodes): ${ops.map(([o, ms]) => `${o} ${ms.toFixed(2)}`).join(', ')}; executor ${m((x) => x.executor).toFixed(1)}`,
      );
    });
  }
  fs.rmSync(out, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
