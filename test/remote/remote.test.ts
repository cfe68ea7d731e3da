// The remote segment store against a real S3-compatible server (server.ts): shards built in
// separate cache folders and composed in a fresh one, damaged, foreign and missing objects, a
// read-only client, signed listings. Each engine here has its own cache folder, as separate
// machines would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { EngineService } from '../../src/engine/service';
import type { AskParams, EngineSettings, IndexParams, RemoteSettings, Shard } from '../../src/engine/protocol';
import { parseShard, inShard } from '../../src/engine/segments/shard';
import { SegmentStores } from '../../src/engine/segments/snapshot';
import { indexParams, recorder, scratch, smallRepo } from '../reliability/helpers';
import { SMALL, snapshotCache, snapshotInfo } from '../store/fixture';
import { BUCKET, startServer, type TestServer } from './server';

const { dir, engine } = scratch('remote');
// variant 1: its three segments' keys fall to both shards of two (1 and 2)
const repo = smallRepo(path.join(dir, 'repo'), 1);
let server: TestServer;
// every connection this process opens, to prove that nothing but the local server is reached
const reached = new Set<string>();
const connect = net.Socket.prototype.connect;
before(async () => {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    // node calls it with its normalized [options, callback], users with (options) or (port, host)
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const o = first as { host?: string; path?: string } | number;
    reached.add(typeof o === 'object' ? (o.path ?? o.host ?? 'localhost') : String(args[1] ?? 'localhost'));
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  server = await startServer(dir);
});
after(async () => {
  net.Socket.prototype.connect = connect;
  await server.stop();
});
let machines = 0;

/** A machine of its own: a fresh cache folder, the bundled tiny model. */
function machine(remote: RemoteSettings): { engine: EngineSettings; stores: SegmentStores } {
  const cacheDir = path.join(dir, `machine-${++machines}`);
  // fp32 whatever the machine's memory: with auto, an int8 decode set would add its own notice
  return { engine: { ...engine, weights: 'fp32', cacheDir, remote }, stores: new SegmentStores(path.join(cacheDir, 'snapshots')) };
}

async function index(remote: RemoteSettings, extra: Partial<IndexParams> = {}) {
  const m = machine(remote);
  const service = new EngineService();
  const ctx = recorder();
  try {
    const r = await service.index({ ...indexParams(m.engine, { root: repo }), ...extra }, ctx);
    return { r, notices: ctx.notices(), stores: m.stores };
  } finally {
    await service.dispose();
  }
}

async function ask(remote: RemoteSettings, extra: Partial<AskParams> = {}) {
  const m = machine(remote);
  const service = new EngineService();
  const ctx = recorder();
  try {
    const r = await service.ask({ ...indexParams(m.engine, { root: repo }), question: 'what does add do?', maxTokens: 4, ...extra }, ctx);
    return { r, notices: ctx.notices(), stores: m.stores };
  } finally {
    await service.dispose();
  }
}

const url = (prefix: string) => `s3://${BUCKET}/${prefix}`;

test('shards: a deterministic partition of the keys, i/n checked', () => {
  const keys = Array.from({ length: 64 }, (_, i) => (i * 2654435761).toString(16).padStart(8, '0') + 'ab'.repeat(28));
  const shards: Shard[] = [parseShard('1/3'), parseShard('2/3'), parseShard(' 3/3 ')];
  for (const key of keys) assert.equal(shards.filter((s) => inShard(key, s)).length, 1, 'every key in exactly one shard');
  for (const bad of ['0/2', '3/2', '1/0', 'a/b', '1', '-1/2']) assert.throws(() => parseShard(bad), /a shard is i\/n/);
});

test('two shards built on two machines and pushed; a third machine answers with segments.built = 0', async () => {
  const remote = { url: url('shards') };
  const one = await index(remote, { shard: { index: 1, count: 2 } });
  const two = await index(remote, { shard: { index: 2, count: 2 } });
  assert.equal(one.r.key, two.r.key, 'the same snapshot on both machines');
  const total = one.r.segments.total;
  assert.equal(total, 3);
  assert.deepEqual([one.r.segments.built, two.r.segments.built], [1, 2], 'each segment built once, by its shard');
  assert.equal(one.r.segments.left ?? 0, total - one.r.segments.built);
  assert.equal(one.r.remote!.pushed + two.r.remote!.pushed, total, JSON.stringify([one.r.remote, one.notices, two.notices]));
  assert.deepEqual(
    fs.readdirSync(one.stores.manifests.dir).filter((f) => f.endsWith('.json')),
    [],
    'a part of a snapshot writes no manifest',
  );
  const listings = await server.list(`shards/manifests/${one.r.key}/`);
  assert.deepEqual(listings.sort(), [`shards/manifests/${one.r.key}/shard-1-of-2.json`, `shards/manifests/${one.r.key}/shard-2-of-2.json`]);

  const client = await ask({ url: url('shards'), readOnly: true });
  assert.deepEqual(client.r.segments, { total, reused: total, built: 0, failed: [] });
  assert.equal(client.r.remote!.pulled, total);
  for (const f of fs.readdirSync(client.stores.segments.dir))
    assert.equal(fs.statSync(path.join(client.stores.segments.dir, f)).mode & 0o777, 0o600, `${f} is private`);
  assert.ok(client.r.text.length > 0);
  assert.deepEqual(client.notices, []);
});

test('ask --no-build pulls what the store has and builds nothing; what it lacks is a clear error, nothing built', async () => {
  const builder = await index({ url: url('no-build') });
  const client = await ask({ url: url('no-build'), readOnly: true }, { build: false });
  assert.deepEqual(client.r.segments, { total: 3, reused: 3, built: 0, failed: [] });
  assert.equal(client.r.remote!.pulled, 3);
  assert.ok(client.r.text.length > 0);

  const victim = fs.readdirSync(builder.stores.segments.dir).find((f) => f.endsWith('.rzkv'))!;
  await server.remove(`no-build/segments/${victim}`);
  const m = machine({ url: url('no-build'), readOnly: true });
  const service = new EngineService();
  try {
    await assert.rejects(service.ask({ ...indexParams(m.engine, { root: repo }), question: 'x', maxTokens: 4, build: false }, recorder()), {
      code: 'bad-input',
      message:
        /^1 of the 3 segments of the current snapshot are neither in this cache nor in the remote store, and this call builds nothing: build them first \(repozip index\)$/,
    });
  } finally {
    await service.dispose();
  }
  const here = fs.readdirSync(m.stores.segments.dir).filter((f) => f.endsWith('.rzkv'));
  assert.equal(here.length, 2, 'the two the store had were pulled; the third was not built');
  assert.ok(!here.includes(victim));
});

test('push and pull: a damaged object is rejected by name and exactly that segment is rebuilt; the builder puts it right', async () => {
  const builder = await index({ url: url('damaged') });
  const keys = [...fs.readdirSync(builder.stores.segments.dir)].filter((f) => f.endsWith('.rzkv')).sort();
  assert.equal(keys.length, 3);
  const victim = `segments/${keys[1]}`;
  const good = (await server.get(`damaged/${victim}`))!;
  const bad = Buffer.from(good);
  bad[bad.length >> 1] ^= 0xff;
  await server.put(`damaged/${victim}`, bad);

  const client = await ask({ url: url('damaged') });
  assert.deepEqual([client.r.segments.built, client.r.segments.reused], [1, 2]);
  assert.deepEqual(client.r.remote!.rejected, [keys[1].replace('.rzkv', '')]);
  assert.ok(
    client.notices.some((n) => n.includes(`s3://${BUCKET}/damaged/${victim} was rejected`)),
    client.notices.join('\n'),
  );
  assert.deepEqual(await server.get(`damaged/${victim}`), bad, 'a client leaves a listed object to its builder');

  const again = await index({ url: url('damaged') }); // the builder's next push (a fresh CI runner)
  assert.equal(again.r.remote!.pushed, 1, 'only the object whose bytes are not the listed ones');
  const fresh = await index({ url: url('damaged'), readOnly: true });
  assert.deepEqual([fresh.r.segments.built, fresh.r.remote!.pulled], [0, 3]);
});

test('a missing object is built locally; a read-only client uploads nothing', async () => {
  const builder = await index({ url: url('missing') });
  const victim = fs.readdirSync(builder.stores.segments.dir).find((f) => f.endsWith('.rzkv'))!;
  await server.remove(`missing/segments/${victim}`);
  const client = await index({ url: url('missing'), readOnly: true });
  assert.deepEqual([client.r.segments.built, client.r.remote!.pulled, client.r.remote!.pushed], [1, 2, 0]);
  assert.equal(await server.get(`missing/segments/${victim}`), undefined, 'read-only: nothing uploaded');
  assert.deepEqual(client.notices, []);
});

test("another model's segment under a snapshot's key is rejected, and that segment built", async () => {
  const builder = await index({ url: url('foreign') });
  const key = fs
    .readdirSync(builder.stores.segments.dir)
    .find((f) => f.endsWith('.rzkv'))!
    .replace('.rzkv', '');
  // no listing to compare with: the store's own checks (model fingerprint, key) decide
  await server.remove(`foreign/manifests/${builder.r.key}/all.json`);
  const other = new SegmentStores(path.join(dir, 'other-model'));
  await other.segments.save(snapshotCache(SMALL), snapshotInfo(SMALL, { snapshotKey: key, modelFingerprint: 'another-model' }));
  await server.put(`foreign/segments/${key}.rzkv`, fs.readFileSync(other.segments.pathOf(key)));
  const client = await index({ url: url('foreign'), readOnly: true });
  assert.deepEqual([client.r.segments.built, client.r.remote!.pulled, client.r.remote!.rejected], [1, 2, [key]]);
  assert.ok(client.notices.some((n) => n.includes(`foreign/segments/${key}.rzkv was rejected`)));
});

test('signed listings: a client with the builder’s public key pulls; with another key, or unsigned, it pulls nothing', async () => {
  const keyFile = (name: string, pem: string) => (fs.writeFileSync(path.join(dir, name), pem), path.join(dir, name));
  const pair = () =>
    generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const builderKeys = pair();
  const signingKey = keyFile('builder.pem', builderKeys.privateKey);
  const trusted = keyFile('builder.pub.pem', builderKeys.publicKey);
  const stranger = keyFile('stranger.pub.pem', pair().publicKey);

  await index({ url: url('signed'), signingKey });
  const trusting = await index({ url: url('signed'), readOnly: true, trustedKey: trusted });
  assert.deepEqual([trusting.r.segments.built, trusting.r.remote!.pulled], [0, 3]);

  const wary = await index({ url: url('signed'), readOnly: true, trustedKey: stranger });
  assert.deepEqual([wary.r.segments.built, wary.r.remote!.pulled], [3, 0]);
  assert.ok(wary.notices.some((n) => n.includes('is not used: its signature is not the trusted key’s')));

  await index({ url: url('unsigned') });
  const strict = await index({ url: url('unsigned'), readOnly: true, trustedKey: trusted });
  assert.deepEqual([strict.r.segments.built, strict.r.remote!.pulled], [3, 0]);
  assert.ok(strict.notices.some((n) => n.includes('is not used: it is not signed')));
});

test('a store that cannot be reached: said once, everything built here', async () => {
  const gone = await startServer(path.join(dir, 'gone'));
  await gone.stop();
  const client = await index({ url: url('unreachable'), readOnly: true });
  Object.assign(process.env, server.env);
  assert.equal(client.r.segments.built, 3);
  assert.equal(client.notices.length, 1, client.notices.join('\n'));
  assert.match(client.notices[0], /cannot list s3:\/\/team-cache\/unreachable\/manifests\/.*; the segments are built here/);
});

test('nothing but the local server was reached', () => {
  assert.ok(reached.size > 0, 'connections are seen');
  for (const host of reached) assert.ok(host === '127.0.0.1' || host.startsWith('/') || host.startsWith('\\\\'), `reached ${host}`);
});

test('a shard built under a disk budget keeps and pushes its segments, which no manifest names yet', async () => {
  const one = await index({ url: url('budget') }, { shard: { index: 2, count: 2 }, repo: { root: repo, ratio: 0.5, budgetBytes: 1 } });
  assert.equal(one.r.segments.built, 2);
  assert.equal(one.r.remote!.pushed, 2, JSON.stringify([one.r.remote, one.notices]));
  assert.equal(fs.readdirSync(one.stores.segments.dir).filter((f) => f.endsWith('.rzkv')).length, 2);
});
