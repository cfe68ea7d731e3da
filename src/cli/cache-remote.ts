// `repozip cache push` and `repozip cache pull`: the current snapshot of a repository to or from a
// team's remote store. Push is an index that uploads what the store lacks (building first what is
// not on disk); pull downloads what the snapshot needs and builds nothing.
import { EngineError, EngineService, parseShard } from '../engine';
import { parse } from './args';
import { printJson } from './command';
import { progress, remoteLine, remoteUsage, repoOptions, settings } from './repo-commands';

export const remoteCacheUsage = [
  `repozip cache push <repoDir> --remote s3://bucket/prefix [--sign-key PRIVATE.pem] [index options] [--shard i/n]`,
  `       repozip cache pull <repoDir> --remote s3://bucket/prefix [--trusted-key PUBLIC.pem] [index options]`,
  `  the bucket is reached as the AWS SDK is configured: AWS_ENDPOINT_URL, AWS_REGION, the default credential chain`,
].join('\n');

export async function remoteCache(sub: 'push' | 'pull', argv: string[], signal: AbortSignal): Promise<number> {
  const usage = `${remoteCacheUsage}\n  index options: as for repozip index, ${remoteUsage}`;
  const { values: v, positionals } = parse(argv, { ...repoOptions, shard: { type: 'string' } }, usage);
  if (!v.remote) throw new EngineError('bad-input', `cache ${sub} needs --remote s3://bucket/prefix\nusage: ${usage}`);
  if (sub === 'push' && v['read-only']) throw new EngineError('bad-input', 'cache push uploads: it cannot be --read-only');
  const p = settings(positionals[0], v, usage);
  p.engine.remote!.readOnly = sub === 'pull';
  const service = new EngineService();
  try {
    const r = await service.index(
      { ...p, ...(v.shard !== undefined && { shard: parseShard(v.shard) }), build: sub === 'push' },
      { signal, emit: progress(v.quiet || v.json) },
    );
    if (process.stderr.isTTY && !v.json && !v.quiet) process.stderr.write('\n');
    if (v.json) printJson(r);
    else {
      console.log(`snapshot ${r.key.slice(0, 16)}: ${r.segments.total} segments, ${remoteLine(r.remote!)}`);
      if (r.segments.left)
        console.log(`${r.segments.left} segments ${sub === 'pull' ? 'are in neither store: repozip index builds them' : 'are left to other shards'}`);
    }
    return r.remote!.unpushed.length ? 1 : 0;
  } finally {
    await service.dispose();
  }
}
