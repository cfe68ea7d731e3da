// Runs ../shared/tools/ref_llama.py, the independent float64 torch reference. Starting python with
// torch costs ~2 s, so requests are queued and run in one process that calls ref_llama.py's own
// main() once per request with that request's argv: exactly its CLI modes, without a process each.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SHARED } from './models';

const PYTHON = '/usr/bin/python3';
const REF = path.join(SHARED, 'tools', 'ref_llama.py');

const DRIVER = `
import contextlib, io, json, os, sys
ref = sys.argv[1]
sys.path.insert(0, os.path.dirname(ref))
import ref_llama
out = []
for argv in json.load(sys.stdin):
    sys.argv = [ref] + argv
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ref_llama.main()
    out.append(json.loads(buf.getvalue()))
json.dump(out, sys.stdout)
`;

let skipReason: string | null | undefined;

/** Why ref_llama.py cannot run here, or null when it can. */
export function pythonSkipReason(): string | null {
  if (skipReason === undefined) {
    if (!fs.existsSync(REF)) skipReason = `ref_llama.py not found at ${path.relative(process.cwd(), REF)}`;
    else {
      const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
      skipReason =
        r.status === 0 ? null : `python3-torch not installed: ${PYTHON} -c "import torch" failed (${(r.error?.message ?? r.stderr).trim().split('\n').pop()})`;
    }
  }
  return skipReason;
}

/**
 * A batch of ref_llama.py requests. Each method returns a promise of that request's answer;
 * `run()` starts the one python process that answers them all.
 */
export class PyBatch {
  private readonly argvs: string[][] = [];
  private readonly waiting: { resolve: (v: any) => void; reject: (e: Error) => void }[] = [];

  private add<T>(argv: (string | number | number[] | number[][])[]): Promise<T> {
    this.argvs.push(argv.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))));
    const answer = new Promise<T>((resolve, reject) => this.waiting.push({ resolve, reject }));
    answer.catch(() => {}); // a failed run() is reported there; unawaited answers must not crash the runner
    return answer;
  }

  /** Last-position logits of `ids` at positions 0..n-1. */
  logits(dir: string, ids: number[]): Promise<number[]> {
    return this.add([dir, 'logits', ids]);
  }

  /** `n` greedy tokens after `ids`. */
  greedy(dir: string, ids: number[], n: number): Promise<number[]> {
    return this.add([dir, 'greedy', ids, n]);
  }

  /** KVzip scores [L][Hkv][ctx.length]; `leads` holds the tokens fed before each chunk. */
  kvzip(dir: string, prefix: number[], ctx: number[], chunk: number, leads?: number[][]): Promise<number[][][]> {
    return this.add(leads ? [dir, 'kvzip', prefix, ctx, chunk, leads] : [dir, 'kvzip', prefix, ctx, chunk]);
  }

  async run(): Promise<void> {
    const fail = (e: Error) => {
      for (const w of this.waiting) w.reject(e);
      throw e;
    };
    const child = spawn(PYTHON, ['-c', DRIVER, REF], { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin.end(JSON.stringify(this.argvs));
    const code = await new Promise<number | null>((resolve, reject) => (child.on('error', reject), child.on('close', resolve)));
    if (code !== 0) fail(new Error(`ref_llama.py exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    const answers = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[];
    answers.forEach((a, i) => this.waiting[i].resolve(a));
  }
}
