// Incremental builds: after an edit to the last file of the context (the stability order puts the
// most recently changed files last), the next build prefills only what follows the common prefix.
// Its compressed cache must match a from-scratch build of the same files: the reused rows went
// through the checkpoint's fp16, so "match" means fp16 tolerance and (nearly) the same kept set.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineService } from '../../src/engine/service';
import { SnapshotStore } from '../../src/engine/store/store';
import { scratchDir } from '../helpers/models';

const { dir: tmp } = scratchDir('incremental-build');
const model = path.resolve('test/fixtures/tinycode');
const noop = { signal: new AbortController().signal, emit: () => {} };

function makeRepo(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const src = fs.readFileSync('src/engine/kv/compress.ts', 'utf8').split('\n');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env: { ...process.env, GIT_COMMITTER_DATE: '2024-01-01T10:00:00', GIT_AUTHOR_DATE: '2024-01-01T10:00:00' } });
  git('init', '-q');
  for (let i = 1; i <= 6; i++) {
    fs.writeFileSync(path.join(dir, `f${i}.ts`), src.slice(i * 20, i * 20 + 12).join('\n') + '\n');
    git('add', `f${i}.ts`);
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', `f${i}`, '--date', `2024-01-0${i}T10:00:00`);
  }
}

const services: EngineService[] = [];
after(async () => {
  for (const s of services) await s.dispose();
});

async function index(root: string, cacheDir: string) {
  const s = new EngineService();
  services.push(s);
  const params = { engine: { model, device: 'cpu' as const, cacheDir }, repo: { root, maxContextTokens: 400 } };
  const r = await s.index(params, noop);
  const loaded = await new SnapshotStore(path.join(cacheDir, 'snapshots')).load(r.key);
  return { r, cache: loaded!.cache };
}

test('an edit to the last file reuses the shared prefix and gives the from-scratch cache', async () => {
  const repo = path.join(tmp, 'repo');
  makeRepo(repo);
  const incremental = path.join(tmp, 'cache-incremental');
  const first = await index(repo, incremental);
  assert.equal(first.r.timings.reusedTokens, 0);

  fs.appendFileSync(path.join(repo, 'f6.ts'), '// an edit at the end\n');
  const second = await index(repo, incremental);
  const scratch = await index(repo, path.join(tmp, 'cache-scratch'));
  assert.equal(second.r.key, scratch.r.key, 'same files and settings give the same snapshot');
  assert.ok(second.r.timings.reusedTokens > 0.7 * second.r.tokens.context, `reused ${second.r.timings.reusedTokens} of ${second.r.tokens.context} tokens`);
  assert.equal(scratch.r.timings.reusedTokens, 0);

  // the same entries kept, with the same rows up to the checkpoint's fp16 rounding
  let same = 0;
  let total = 0;
  let maxErr = 0;
  for (let l = 0; l < second.cache.layers; l++) {
    for (let h = 0; h < second.cache.kvHeads; h++) {
      const a = second.cache.head(l, h);
      const b = scratch.cache.head(l, h);
      const pa = new Set(a.pos.subarray(0, a.len));
      for (let i = 0; i < b.len; i++) {
        total++;
        if (!pa.has(b.pos[i])) continue;
        same++;
        const j = Array.prototype.indexOf.call(a.pos.subarray(0, a.len), b.pos[i]);
        for (let d = 0; d < a.dim; d++) maxErr = Math.max(maxErr, Math.abs(a.k[j * a.dim + d] - b.k[i * b.dim + d]));
      }
    }
  }
  console.log(`kept-set overlap ${(same / total).toFixed(3)}, max |K diff| ${maxErr.toExponential(2)}`);
  assert.ok(same / total > 0.95, `kept sets overlap ${same}/${total}`);
  assert.ok(maxErr < 2e-2, `rows differ by ${maxErr}`);
});
