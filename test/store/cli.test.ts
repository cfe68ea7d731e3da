// `repozip cache ls | rm | gc`, run as a user runs them: through the CLI's entry point, checking
// output, exit codes and what is left on disk. Snapshots are manifests naming segments; two of them
// here share a segment, and one segment is named by none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSize } from '../../src/cli/cache';
import { SegmentStores } from '../../src/engine/segments/snapshot';
import { scratchDir } from '../helpers/models';
import { manifestFor, SMALL, snapshotCache, snapshotInfo } from './fixture';

const root = path.join(scratchDir('store-cli').dir, 'root');
const stores = new SegmentStores(path.join(root, 'snapshots'));
const MAIN = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
const keys = { a1: 'aa11'.repeat(16), a2: 'aa22'.repeat(16), b: 'bb'.repeat(32) };
/** s2 is shared by a1 and a2; s5 is named by no snapshot. */
const segs = { s1: '11'.repeat(32), s2: '22'.repeat(32), s3: '33'.repeat(32), s4: '44'.repeat(32), s5: '55'.repeat(32) };
const named = { a1: [segs.s1, segs.s2], a2: [segs.s2, segs.s3], b: [segs.s4] };
const size = (seg: string) => fs.statSync(stores.segments.pathOf(seg)).size;
const sizeOf = (list: string[]) => list.reduce((n, s) => n + size(s), 0);
const onDisk = () => ({ manifests: fs.readdirSync(stores.manifests.dir).sort(), segments: fs.readdirSync(stores.segments.dir).sort() });

function repozip(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
    );
  });
}

async function populate(): Promise<void> {
  // segments of different sizes (contexts 37 + i), so that a sum names which ones it counted
  for (const [i, seg] of Object.values(segs).entries()) {
    const spec = { ...SMALL, context: SMALL.context + 4 * i, seed: i + 1 };
    await stores.segments.save(snapshotCache(spec), snapshotInfo(spec, { snapshotKey: seg }));
  }
  const ages = { a1: 300, a2: 200, b: 100 };
  for (const [name, key] of Object.entries(keys) as [keyof typeof keys, string][]) {
    const m = manifestFor(key, `/src/${name}`, named[name]);
    if (name === 'b') m.settings.dtype = 'int8';
    await stores.manifests.save(m);
    const t = new Date(Date.now() - ages[name] * 1000);
    fs.utimesSync(stores.manifests.pathOf(key), t, t);
  }
}

test('ls on a store that does not exist yet: empty, and nothing is created', async () => {
  const r = await repozip(['cache', 'ls', '--json', '--cache-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { dir: stores.dir, snapshots: [], segments: { count: 0, bytes: 0 }, unreferenced: { count: 0, bytes: 0 } });
  assert.equal(fs.existsSync(root), false);
});

test('--cache-dir defaults to the cache root of every command (REPOZIP_CACHE_DIR here)', async () => {
  const r = await repozip(['cache', 'ls', '--json'], { REPOZIP_CACHE_DIR: root });
  assert.equal(JSON.parse(r.stdout).dir, stores.dir);
});

test('ls lists snapshots newest first with their segments; a shared segment counts once in the total', async () => {
  await populate();
  const r = await repozip(['cache', 'ls', '--json', '--cache-dir', root]);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(
    out.snapshots.map((s: { key: string }) => s.key),
    [keys.b, keys.a2, keys.a1],
  );
  assert.deepEqual(
    { ...out.snapshots[0], lastUsed: undefined, created: undefined },
    {
      key: keys.b,
      segments: 1,
      bytes: size(segs.s4),
      modelId: 'tinycode',
      ratio: 0.4,
      dtype: 'int8',
      press: 'kvzip',
      files: 1,
      repo: '/src/b',
      lastUsed: undefined,
      created: undefined,
    },
  );
  assert.equal(out.snapshots[2].bytes, sizeOf(named.a1));
  assert.deepEqual(out.segments, { count: 4, bytes: sizeOf([segs.s1, segs.s2, segs.s3, segs.s4]) }, 's2 once');
  assert.deepEqual(out.unreferenced, { count: 1, bytes: size(segs.s5) });

  const text = await repozip(['cache', 'ls', '--cache-dir', root]);
  const lines = text.stdout.trim().split('\n');
  assert.match(lines[0], /^KEY +SEGMENTS +SIZE +LAST USED +CREATED +MODEL +RATIO +KV +REPO$/);
  assert.match(lines[1], /^bbbbbbbbbbbbbbbb +1 +\d+(\.\d)? KiB +\d{4}-\d\d-\d\d \d\d:\d\d +\d{4}-\d\d-\d\d \d\d:\d\d +tinycode +0\.4 +int8 +\/src\/b$/);
  assert.match(lines[4], /^3 snapshots, 4 segments, [\d.]+ KiB in .* \(a segment shared by snapshots counts once\)$/);
  assert.match(lines[5], /^1 segment \([\d.]+ KiB\) named by no snapshot: repozip cache gc deletes them$/);
});

test('rm takes unique key prefixes, refuses ambiguous or unknown ones, and deletes only the segments no snapshot names', async () => {
  const ambiguous = await repozip(['cache', 'rm', 'aa', '--cache-dir', root]);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /"aa" matches 2 snapshots; give more of the key/);
  const unknown = await repozip(['cache', 'rm', 'cc', '--cache-dir', root]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no snapshot key starts with "cc"/);
  assert.equal(onDisk().segments.length, 5, 'a refused rm deletes nothing');

  const freed = size(segs.s3) + size(segs.s5) + fs.statSync(stores.manifests.pathOf(keys.a2)).size;
  const r = await repozip(['cache', 'rm', 'aa2', '--json', '--cache-dir', root]);
  assert.deepEqual(JSON.parse(r.stdout), { removed: [keys.a2], segments: 2, bytes: freed });
  // s3 was a2's alone, s5 nobody's; s2 is still a1's
  assert.deepEqual(onDisk(), { manifests: [`${keys.a1}.json`, `${keys.b}.json`], segments: [segs.s1, segs.s2, segs.s4].map((s) => `${s}.rzkv`) });
});

test('gc deletes the least recently used snapshots down to the budget, then their segments', async () => {
  const both = sizeOf([...named.a1, ...named.b]);
  const a1 = sizeOf(named.a1);
  let r = await repozip(['cache', 'gc', '--budget', String(both), '--json', '--cache-dir', root]);
  assert.deepEqual(JSON.parse(r.stdout), { removed: [], segments: 0, bytes: 0, left: both, budget: both });
  r = await repozip(['cache', 'gc', '--budget', String(both - 1), '--json', '--cache-dir', root]);
  const out = JSON.parse(r.stdout);
  assert.deepEqual({ ...out, bytes: undefined }, { removed: [keys.a1], segments: 2, bytes: undefined, left: size(segs.s4), budget: both - 1 });
  assert.ok(out.bytes > a1, 'the segments and the manifest');
  assert.deepEqual(onDisk(), { manifests: [`${keys.b}.json`], segments: [`${segs.s4}.rzkv`] });
  const text = await repozip(['cache', 'gc', '--budget', '4G', '--cache-dir', root]);
  assert.match(text.stdout, /^deleted 0 snapshots and 0 segments \(0 B\); [\d.]+ KiB left \(budget 4 GiB\)\n$/);
});

test('a whole segment key removes what is in its way (a folder), as the engine’s error about it says', async () => {
  const inTheWay = stores.segments.pathOf(segs.s1);
  fs.mkdirSync(inTheWay);
  fs.writeFileSync(path.join(inTheWay, 'notes.txt'), 'x');
  const r = await repozip(['cache', 'rm', segs.s1, '--cache-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.existsSync(inTheWay), false);
  assert.deepEqual(onDisk().manifests, [`${keys.b}.json`], 'no snapshot was deleted');
});

test('ls shows a damaged manifest as damaged; rm --all deletes it, every segment and abandoned temp files', async () => {
  fs.writeFileSync(stores.manifests.pathOf(keys.a1), 'not a manifest');
  const ls = await repozip(['cache', 'ls', '--cache-dir', root]);
  assert.match(ls.stdout, /\naa11aa11aa11aa11 +\d{4}-\d\d-\d\d \d\d:\d\d +damaged: not a manifest \(no checksum line\)\n/);
  fs.writeFileSync(path.join(stores.segments.dir, `${segs.s2}.rzkv.999999999.ab.tmp`), 'partial');
  fs.writeFileSync(path.join(stores.manifests.dir, `${keys.a2}.json.999999999.ab.tmp`), 'partial');
  const r = await repozip(['cache', 'rm', '--all', '--cache-dir', root]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^deleted 2 snapshots and 1 segment \([\d.]+ KiB\)\n$/);
  assert.deepEqual(onDisk(), { manifests: [], segments: [] });
});

test('usage errors exit 2 with a message', async () => {
  for (const args of [
    ['cache', 'frob'],
    ['cache', 'rm'],
    ['cache', 'rm', '--all', keys.b],
    ['cache', 'ls', 'extra'],
    ['cache', 'gc', '--budget', 'lots'],
  ]) {
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
