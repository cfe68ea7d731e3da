// The remote segment store, measured: the same repository built on one machine (a fresh cache
// folder) and pulled on another (a fresh cache folder, from the S3-compatible server the tests use,
// on 127.0.0.1), each timed from listing to manifest, the model already loaded. Part of `npm run
// bench`; alone: `npm run bench:remote [-- --repo DIR]` (default: this project's src/repo).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineService } from '../src/engine/service';
import type { RemoteSettings } from '../src/engine/protocol';
import { BUCKET, startServer } from '../test/remote/server';

const TINY = path.join(__dirname, '..', 'test', 'fixtures', 'tinycode');

export interface RemoteRow {
  repo: string;
  segments: number;
  /** Listing to manifest on a machine that builds every segment. */
  buildMs: number;
  /** Uploading them all (the builder's `cache push`). */
  pushMs: number;
  /** Listing to manifest on a machine that pulls every segment. */
  pullMs: number;
  pulled: number;
  built: number;
}

export async function remoteBench(repo: string): Promise<RemoteRow> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repozip-bench-remote-'));
  const server = await startServer(dir);
  const url = `s3://${BUCKET}/bench`;
  const ctx = { signal: new AbortController().signal, emit: () => {} };
  const params = (machine: string, remote?: RemoteSettings) => ({
    engine: { model: TINY, device: 'cpu' as const, cacheDir: path.join(dir, machine), ...(remote && { remote }) },
    repo: { root: repo, ratio: 0.3 },
  });
  const builder = new EngineService();
  const client = new EngineService();
  try {
    const built = await builder.index(params('builder'), ctx);
    const t0 = performance.now();
    await builder.index(params('builder', { url }), ctx); // the same model, loaded: only the upload
    const pushMs = performance.now() - t0;
    const pulled = await client.index(params('client', { url, readOnly: true }), ctx);
    return {
      repo,
      segments: built.segments.total,
      buildMs: built.timings.snapshot,
      pushMs,
      pullMs: pulled.timings.snapshot,
      pulled: pulled.remote!.pulled,
      built: pulled.segments.built,
    };
  } finally {
    await Promise.all([builder.dispose(), client.dispose()]);
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function describeRemote(r: RemoteRow): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `remote store (tinycode, ${r.segments} segments of ${path.basename(r.repo)}, local S3 server): build ${s(r.buildMs)}, push ${s(r.pushMs)}, pull ${s(r.pullMs)} (${r.pulled} pulled, ${r.built} built) → pulling is ${(r.buildMs / r.pullMs).toFixed(1)}× faster than building`;
}

if (require.main === module) {
  const at = process.argv.indexOf('--repo');
  const repo = path.resolve(at > 0 ? process.argv[at + 1] : path.join(__dirname, '..', 'src', 'repo'));
  remoteBench(repo).then(
    (r) => console.log(describeRemote(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
