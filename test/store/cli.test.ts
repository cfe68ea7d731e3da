// `repozip cache ls | rm | gc`, run as a user runs them: through the CLI's entry point, checking
// output, exit codes and what is left on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSize } from '../../src/cli/cache';
import { checkpointDir, CheckpointStore } from '../../src/engine/store/checkpoint';
import { SnapshotStore } from '../../src/engine/store/store';
import { scratchDir } from '../helpers/models';
import { SMALL, snapshotCache, snapshotInfo } from './fixture';

const root = path.join(scratchDir('store-cli').dir, 'root');
const store = new SnapshotStore(path.join(root, 'snapshots'));
const MAIN = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
const keys = { a1: 'aa11'.repeat(16), a2: 'aa22'.repeat(16), b: 'bb'.repeat(32) };

function repozip(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
    );
  });
}

async function populate(): Promise<void> {
  const ages = { a1: 300, a2: 200, b: 100 };
  for (const [name, key] of Object.entries(keys)) {
    await store.save(snapshotCache(SMALL), snapshotInfo(SMALL, { snapshotKey: key, meta: { repoRoot: `/src/${name}` } }), name === 'b' ? 'int8' : 'fp16');
    const t = new Date(Date.now() - ages[name as keyof typeof ages] * 1000);
    fs.utimesSync(store.pathOf(key), t, t);
  }
}

test('ls on a store that does not exist yet: empty, and nothing is created', async () => {
  const r = await repozip(['cache', 'ls', '--json', '--cache-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { dir: store.dir, snapshots: [], checkpoints: { count: 0, bytes: 0 } });
  assert.equal(fs.existsSync(root), false);
});

test('--cache-dir defaults to the cache root of every command (REPOZIP_CACHE_DIR here)', async () => {
  const r = await repozip(['cache', 'ls', '--json'], { REPOZIP_CACHE_DIR: root });
  assert.equal(JSON.parse(r.stdout).dir, store.dir);
});

test('ls lists snapshots newest first, as JSON and as a table', async () => {
  await populate();
  const r = await repozip(['cache', 'ls', '--json', '--cache-dir', root]);
  const { snapshots } = JSON.parse(r.stdout);
  assert.deepEqual(snapshots.map((s: { key: string }) => s.key), [keys.b, keys.a2, keys.a1]);
  const b = snapshots[0];
  assert.deepEqual(
    { ...b, lastUsed: undefined, created: undefined },
    { key: keys.b, bytes: fs.statSync(store.pathOf(keys.b)).size, modelId: 'tinycode', ratio: 0.4, dtype: 'int8', press: 'kvzip', contextLength: 37, files: snapshotInfo(SMALL).files.length, repo: '/src/b', lastUsed: undefined, created: undefined },
  );
  const text = await repozip(['cache', 'ls', '--cache-dir', root]);
  const lines = text.stdout.trim().split('\n');
  assert.match(lines[0], /^KEY +SIZE +LAST USED +CREATED +MODEL +RATIO +KV +REPO$/);
  assert.match(lines[1], /^bbbbbbbbbbbbbbbb +\d+(\.\d)? KiB +\d{4}-\d\d-\d\d \d\d:\d\d +\d{4}-\d\d-\d\d \d\d:\d\d +tinycode +0\.4 +int8 +\/src\/b$/);
  assert.match(lines[4], /^3 snapshots, [\d.]+ KiB in /);
});

test('rm takes unique key prefixes, refuses ambiguous or unknown ones', async () => {
  const ambiguous = await repozip(['cache', 'rm', 'aa', '--cache-dir', root]);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /"aa" matches 2 snapshots; give more of the key/);
  const unknown = await repozip(['cache', 'rm', 'cc', '--cache-dir', root]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no snapshot key starts with "cc"/);
  const r = await repozip(['cache', 'rm', 'aa2', '--json', '--cache-dir', root]);
  assert.deepEqual(JSON.parse(r.stdout), { removed: [keys.a2] });
  assert.equal(fs.existsSync(store.pathOf(keys.a2)), false);
});

test('gc counts the prefill checkpoints, deletes them first, then snapshots least recently used first', async () => {
  // a repository's checkpoint: its full cache (here the fixture's, uncompressed) and its scores
  const checkpoints = new CheckpointStore(checkpointDir(store.dir));
  const n = SMALL.context;
  const full = snapshotCache({ ...SMALL, ratio: 1 });
  const scores = { layers: SMALL.layers, kvHeads: SMALL.kvHeads, length: n, data: Float32Array.from({ length: SMALL.layers * SMALL.kvHeads * n }, (_, i) => i) };
  await checkpoints.save('ck-repo', { cache: full, prefixIds: [1, 2, 3, 4, 5], contextIds: Array.from({ length: n }, (_, i) => 10 + i), scores, chunk: 16 }, 'fp', '/src/a');
  const ckBytes = (await checkpoints.list())[0].bytes;
  const snaps = [keys.a1, keys.b].map((k) => fs.statSync(store.pathOf(k)).size);
  const listed = JSON.parse((await repozip(['cache', 'ls', '--json', '--cache-dir', root])).stdout);
  assert.deepEqual(listed.checkpoints, { count: 1, bytes: ckBytes });
  assert.ok(ckBytes > snaps[0], 'a checkpoint is a full cache: bigger than a snapshot');

  // room for both snapshots: only the checkpoint goes
  const both = snaps[0] + snaps[1];
  let r = await repozip(['cache', 'gc', '--budget', String(both + 10), '--json', '--cache-dir', root]);
  assert.deepEqual(JSON.parse(r.stdout), { removed: [], checkpoints: ['ck-repo'], bytes: both, budget: both + 10 });
  assert.deepEqual(await checkpoints.list(), []);
  // room for one: the least recently used snapshot goes
  r = await repozip(['cache', 'gc', '--budget', String(snaps[0] + 10), '--json', '--cache-dir', root]);
  assert.deepEqual(JSON.parse(r.stdout), { removed: [keys.a1], checkpoints: [], bytes: snaps[1], budget: snaps[0] + 10 });
});

test('rm --all deletes every snapshot and abandoned temp files', async () => {
  fs.writeFileSync(path.join(store.dir, `${keys.a1}.rzkv.999999999.ab.tmp`), 'partial');
  const r = await repozip(['cache', 'rm', '--all', '--cache-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'deleted 1 snapshot\n');
  assert.deepEqual(fs.readdirSync(store.dir), []);
});

test('usage errors exit 2 with a message', async () => {
  for (const args of [['cache', 'frob'], ['cache', 'rm'], ['cache', 'rm', '--all', keys.b], ['cache', 'ls', 'extra'], ['cache', 'gc', '--budget', 'lots']]) {
    const r = await repozip([...args, '--cache-dir', root]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^repozip cache: ./, args.join(' '));
  }
});

test('sizes: bytes or binary units', () => {
  assert.equal(parseSize('4G'), 4 * 1024 ** 3);
  assert.equal(parseSize('1.5k'), 1536);
  assert.equal(parseSize('500MiB'), 500 * 1024 ** 2);
  assert.equal(parseSize('123'), 123);
  assert.throws(() => parseSize('-1G'), /--budget must be a size like 500M or 4G, got "-1G"/);
});
