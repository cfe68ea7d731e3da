// `repozip cache push | pull` and `--remote` as a user runs them (the CLI's entry point, the SDK
// configured by the environment), against the real S3-compatible server of server.ts: bad input
// is refused clearly, push then pull in another cache folder builds nothing, and the secret key the
// SDK signs with appears in no output and no cache file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scratch, smallRepo, TINY } from '../reliability/helpers';
import { BUCKET, SECRET, startServer, type TestServer } from './server';

const { dir } = scratch('remote-cli');
const repo = smallRepo(path.join(dir, 'repo'));
const MAIN = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
let server: TestServer;
before(async () => {
  server = await startServer(dir);
});
after(() => server.stop());

/** Everything every run printed, for the secret check at the end. */
const printed: string[] = [];

function repozip(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...server.env } }, (err, stdout, stderr) => {
      printed.push(stdout, stderr);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

const model = (cache: string) => ['--model', TINY, '--device', 'cpu', '--ratio', '0.5', '--cache-dir', path.join(dir, cache)];

test('bad remote input: a clear error, exit 2, nothing written', async () => {
  const cases: [string[], RegExp][] = [
    [['index', repo, ...model('bad'), '--shard', '3/2'], /a shard is i\/n with 1 ≤ i ≤ n/],
    [['index', repo, ...model('bad'), '--read-only'], /--read-only goes with --remote/],
    [['cache', 'push', repo, ...model('bad')], /cache push needs --remote s3:\/\/bucket\/prefix/],
    [['cache', 'push', repo, ...model('bad'), '--remote', `s3://${BUCKET}/x`, '--read-only'], /cache push uploads: it cannot be --read-only/],
    [['index', repo, ...model('bad'), '--remote', 'https://example.invalid/cache'], /must be an s3:\/\/bucket\/prefix address/],
    [
      ['index', repo, ...model('bad'), '--remote', `s3://${BUCKET}/x`, '--trusted-key', path.join(dir, 'no-such.pem')],
      /cannot use .*no-such\.pem as the trusted key/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await repozip(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(await server.list('x/'), []);
});

test('cache push on a builder, cache pull on a client: every segment pulled, none built; the secret is nowhere', async () => {
  const push = await repozip(['cache', 'push', repo, ...model('builder'), '--remote', `s3://${BUCKET}/team`, '--json']);
  assert.equal(push.code, 0, push.stderr);
  const pushed = JSON.parse(push.stdout);
  assert.deepEqual([pushed.segments.built, pushed.remote.pushed], [3, 3]);

  const pull = await repozip(['cache', 'pull', repo, ...model('client'), '--remote', `s3://${BUCKET}/team`]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /3 segments, remote: 3 segments pulled, 0 pushed/);

  const ask = await repozip([
    'ask',
    repo,
    ...model('client'),
    '--remote',
    `s3://${BUCKET}/team`,
    '--read-only',
    '--max-tokens',
    '4',
    '--json',
    'what does add do?',
  ]);
  assert.equal(ask.code, 0, ask.stderr);
  assert.deepEqual(JSON.parse(ask.stdout).segments, { total: 3, reused: 3, built: 0, failed: [] });

  const failed = await repozip(['cache', 'push', repo, ...model('builder'), '--remote', 's3://no-such-bucket/team']);
  assert.equal(failed.code, 1, 'an upload that fails fails the push');
  assert.match(failed.stderr, /cannot list s3:\/\/no-such-bucket\/team\/manifests\/|was not uploaded/);

  for (const text of printed) assert.ok(!text.includes(SECRET), `the secret in the output:\n${text}`);
  for (const cache of ['builder', 'client']) {
    for (const f of fs.readdirSync(path.join(dir, cache), { recursive: true }).map(String)) {
      const file = path.join(dir, cache, f);
      if (fs.statSync(file).isFile()) assert.ok(!fs.readFileSync(file).includes(SECRET), `the secret in ${file}`);
    }
  }
});
