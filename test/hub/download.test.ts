// pullModel / resolveModel against a fake hub on 127.0.0.1: the cache layout huggingface_hub
// writes, shards, resume, verification, offline mode, cancellation, tokens and progress.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CancelledError, EngineError } from '../../src/engine/errors';
import { pullModel, PullOptions, resolveModel } from '../../src/engine/hub/download';
import { listCachedModels } from '../../src/engine/hub/layout';
import { Progress } from '../../src/engine/hub/progress';
import { etagOf, FakeHub, FakeRepo, gitSha1, modelRepo, tempDir } from './fakeHub';

/** A hub serving `repos` and pull options aimed at it; the environment is empty so no proxy or token leaks in. */
async function setup(t: { after(fn: () => void | Promise<void>): void }, repos: FakeRepo[]) {
  const hub = await FakeHub.start(repos);
  t.after(() => hub.close());
  const cacheDir = tempDir(t);
  const opts: PullOptions = { cacheDir, endpoint: hub.endpoint, env: {} };
  return { hub, cacheDir, opts };
}

const repoDir = (cacheDir: string, id: string) => path.join(cacheDir, `models--${id.replace('/', '--')}`);
const file = (repo: FakeRepo, name: string) => repo.files.find((f) => f.name === name)!;

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<EngineError> {
  const err = await p.then(
    () => assert.fail('expected the pull to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof EngineError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return err;
}

test('a pull writes the huggingface_hub cache layout: blobs, relative snapshot symlinks, refs/main', async (t) => {
  const repo = modelRepo('acme/coder-tiny');
  const { hub, cacheDir, opts } = await setup(t, [repo]);
  const snapshot = await pullModel(repo.id, opts);

  const dir = repoDir(cacheDir, repo.id);
  assert.equal(snapshot, path.join(dir, 'snapshots', repo.commit));
  assert.equal(fs.readFileSync(path.join(dir, 'refs', 'main'), 'utf8'), repo.commit); // no newline, like huggingface_hub
  for (const f of repo.files) {
    const link = path.join(snapshot, f.name);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), f.name);
    assert.equal(fs.readlinkSync(link), `../../blobs/${etagOf(f)}`);
    assert.deepEqual(fs.readFileSync(link), f.data);
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, 'blobs')).sort(), repo.files.map(etagOf).sort()); // nothing .incomplete
  assert.equal(etagOf(file(repo, 'model.safetensors')).length, 64, 'LFS blobs are named by sha256');
  assert.equal(gitSha1(Buffer.from('hello\n')), 'ce013625030ba8dba906f756967f9e9ca394464a', 'git hash-object of "hello\\n"');

  const [model] = listCachedModels(cacheDir);
  assert.equal(model.id, repo.id);
  assert.equal(
    model.sizeOnDisk,
    repo.files.reduce((n, f) => n + f.data.length, 0),
  );
  assert.deepEqual(model.revisions, [{ commit: repo.commit, refs: ['main'], path: snapshot, complete: true }]);

  const requests = hub.log.length;
  assert.equal(await pullModel(repo.id, opts), snapshot);
  assert.ok(
    hub.log.slice(requests).every((r) => r.method === 'HEAD'),
    'a second pull downloads nothing',
  );
});

test('a sharded model: the index and every shard it names; absent files get .no_exist markers', async (t) => {
  const repo = modelRepo('acme/sharded', { shards: 3, omit: ['generation_config.json'] });
  const { cacheDir, opts } = await setup(t, [repo]);
  const snapshot = await pullModel(`${repo.id}@main`, opts);
  assert.deepEqual(fs.readdirSync(snapshot).sort(), repo.files.map((f) => f.name).sort());
  for (const f of repo.files) assert.deepEqual(fs.readFileSync(path.join(snapshot, f.name)), f.data);
  const noExist = path.join(repoDir(cacheDir, repo.id), '.no_exist', repo.commit);
  assert.deepEqual(fs.readdirSync(noExist).sort(), ['generation_config.json', 'model.safetensors']);
});

test('a dropped connection is resumed with a Range request within the same pull', async (t) => {
  const repo = modelRepo('acme/flaky', { weights: 512 * 1024 });
  const { hub, opts } = await setup(t, [repo]);
  hub.faults.set('model.safetensors', { dropAfter: 160 * 1024, drops: 1 });
  const snapshot = await pullModel(repo.id, opts);
  assert.deepEqual(fs.readFileSync(path.join(snapshot, 'model.safetensors')), file(repo, 'model.safetensors').data);
  const [first, second] = hub.downloads('model.safetensors');
  assert.deepEqual([first.headers.range, first.status, first.bytes], [undefined, 200, 160 * 1024]);
  // What the client had read when the connection died is kept; the rest is asked for, once.
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(String(second.headers.range))?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= 160 * 1024, `resumed at ${resumedAt}`);
  assert.deepEqual([second.status, second.bytes], [206, 512 * 1024 - resumedAt]);
});

test('an interrupted pull leaves .incomplete; the next pull resumes it and transfers only the rest', async (t) => {
  const repo = modelRepo('acme/resume', { weights: 400 * 1024 });
  const { hub, cacheDir, opts } = await setup(t, [repo]);
  hub.faults.set('model.safetensors', { dropAfter: 128 * 1024, drops: 1 });
  await rejectsWith(pullModel(repo.id, { ...opts, retries: 0 }), 'download', /model\.safetensors.*pull again to resume/);

  const dir = repoDir(cacheDir, repo.id);
  const etag = etagOf(file(repo, 'model.safetensors'));
  const partial = fs.statSync(path.join(dir, 'blobs', `${etag}.incomplete`)).size;
  assert.ok(partial > 0 && partial <= 128 * 1024, `partial ${partial}`);
  assert.ok(!fs.existsSync(path.join(dir, 'blobs', etag)));
  assert.ok(!fs.existsSync(path.join(dir, 'snapshots', repo.commit, 'model.safetensors')));
  assert.ok(!fs.existsSync(path.join(dir, 'refs', 'main')), 'refs/main names only complete snapshots');

  const snapshot = await pullModel(repo.id, opts);
  assert.deepEqual(fs.readFileSync(path.join(snapshot, 'model.safetensors')), file(repo, 'model.safetensors').data);
  const second = hub.downloads('model.safetensors')[1];
  assert.deepEqual([second.headers.range, second.status, second.bytes], [`bytes=${partial}-`, 206, 400 * 1024 - partial]);
});

test('a server that ignores Range gets the whole file again, and the result is still whole', async (t) => {
  const repo = modelRepo('acme/norange', { weights: 300 * 1024 });
  const { hub, opts } = await setup(t, [repo]);
  hub.faults.set('model.safetensors', { dropAfter: 100 * 1024, drops: 1, ignoreRange: true });
  const snapshot = await pullModel(repo.id, opts);
  assert.deepEqual(fs.readFileSync(path.join(snapshot, 'model.safetensors')), file(repo, 'model.safetensors').data);
  const second = hub.downloads('model.safetensors')[1];
  assert.match(String(second.headers.range), /^bytes=[1-9]\d*-$/);
  assert.deepEqual([second.status, second.bytes], [200, 300 * 1024]);
});

test('corrupted bytes fail verification (sha256 for LFS, git sha1 otherwise) and leave no blob', async (t) => {
  const repo = modelRepo('acme/corrupt');
  const { hub, opts } = await setup(t, [repo]);
  for (const name of ['model.safetensors', 'tokenizer.json']) {
    const cacheDir = tempDir(t);
    hub.faults.set(name, { corrupt: true });
    await rejectsWith(pullModel(repo.id, { ...opts, cacheDir }), 'download', new RegExp(`${name.replace('.', '\\.')} of acme/corrupt arrived corrupted`));
    const etag = etagOf(file(repo, name));
    const blobs = path.join(repoDir(cacheDir, repo.id), 'blobs');
    assert.ok(!fs.existsSync(path.join(blobs, etag)) && !fs.existsSync(path.join(blobs, `${etag}.incomplete`)), name);
    assert.ok(!fs.existsSync(path.join(repoDir(cacheDir, repo.id), 'snapshots', repo.commit, name)), name);
    hub.faults.delete(name);
  }
});

test('offline: a cached model is used without a request; a missing or partial one is named', async (t) => {
  const repo = modelRepo('acme/offline');
  const { hub, cacheDir, opts } = await setup(t, [repo]);
  const snapshot = await pullModel(repo.id, opts);
  const requests = hub.log.length;

  assert.equal(await pullModel(repo.id, { ...opts, offline: true }), snapshot);
  assert.equal(await resolveModel(repo.id, { cacheDir, endpoint: hub.endpoint, env: { HF_HUB_OFFLINE: '1' } }), snapshot);
  await rejectsWith(pullModel('acme/elsewhere', { ...opts, offline: true }), 'download', /offline mode is on and acme\/elsewhere is not in the hub cache/);
  fs.rmSync(path.join(snapshot, 'tokenizer.json'));
  await rejectsWith(resolveModel(repo.id, { ...opts, offline: true }), 'download', /only partly cached .* missing tokenizer\.json/);
  assert.equal(hub.log.length, requests, 'offline mode sent no request');
});

test('cancelling mid-download stops promptly, keeps .incomplete for resume, leaves no blob or link', async (t) => {
  const repo = modelRepo('acme/cancel', { weights: 1024 * 1024 });
  const { hub, cacheDir, opts } = await setup(t, [repo]);
  hub.faults.set('model.safetensors', { slowMs: 15 });
  const ac = new AbortController();
  let abortedAt = 0;
  const pull = pullModel(repo.id, {
    ...opts,
    signal: ac.signal,
    onProgress: (p) => {
      if (p.file === 'model.safetensors' && p.bytes > 0 && !abortedAt) {
        abortedAt = Date.now();
        ac.abort();
      }
    },
  });
  await assert.rejects(pull, CancelledError);
  assert.ok(Date.now() - abortedAt < 500, `took ${Date.now() - abortedAt} ms to stop`);

  const etag = etagOf(file(repo, 'model.safetensors'));
  const partial = fs.statSync(path.join(repoDir(cacheDir, repo.id), 'blobs', `${etag}.incomplete`)).size;
  assert.ok(partial > 0 && partial < 1024 * 1024, `partial ${partial}`);
  assert.ok(!fs.existsSync(path.join(repoDir(cacheDir, repo.id), 'blobs', etag)));
  assert.ok(!fs.existsSync(path.join(repoDir(cacheDir, repo.id), 'snapshots', repo.commit, 'model.safetensors')));

  hub.faults.delete('model.safetensors');
  const snapshot = await pullModel(repo.id, opts);
  assert.equal(hub.downloads('model.safetensors').at(-1)!.headers.range, `bytes=${partial}-`);
  assert.deepEqual(fs.readFileSync(path.join(snapshot, 'model.safetensors')), file(repo, 'model.safetensors').data);
});

test('a gated repository: clear errors without or with a wrong token; the token goes to the hub, never the CDN', async (t) => {
  const repo = modelRepo('meta/gated', { token: 'hf_right' });
  const { hub, opts } = await setup(t, [repo]);
  await rejectsWith(pullModel(repo.id, opts), 'download', /meta\/gated is gated: open .*\/meta\/gated, accept its licence.*HF_TOKEN/);
  await rejectsWith(pullModel(repo.id, { ...opts, token: 'hf_wrong' }), 'download', /token has no access/);

  const before = hub.log.length;
  await pullModel(repo.id, { ...opts, env: { HF_TOKEN: 'hf_right' } });
  const used = hub.log.slice(before);
  assert.ok(used.filter((r) => r.server === 'hub').every((r) => r.headers.authorization === 'Bearer hf_right'));
  assert.ok(used.some((r) => r.server === 'cdn'));
  assert.ok(used.filter((r) => r.server === 'cdn').every((r) => r.headers.authorization === undefined));
});

test('progress: monotone bytes, totals that add up, a plausible rate and ETA', async (t) => {
  const repo = modelRepo('acme/progress', { weights: 1024 * 1024 });
  const { hub, opts } = await setup(t, [repo]);
  hub.faults.set('model.safetensors', { slowMs: 10 });
  const events: Progress[] = [];
  const started = Date.now();
  await pullModel(repo.id, { ...opts, concurrency: 1, onProgress: (p) => events.push(p) });
  const seconds = (Date.now() - started) / 1000;

  const total = repo.files.reduce((n, f) => n + f.data.length, 0);
  assert.ok(events.every((e) => e.totalAll === total));
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].bytesAll >= events[i - 1].bytesAll, `bytesAll went back at event ${i}`);
    const previous = events
      .slice(0, i)
      .filter((e) => e.file === events[i].file)
      .at(-1);
    assert.ok(!previous || events[i].bytes >= previous.bytes, `${events[i].file} went back at event ${i}`);
  }
  assert.deepEqual([events.at(-1)!.bytesAll, events.at(-1)!.etaSeconds], [total, 0]);
  const middle = events.filter((e) => e.file === 'model.safetensors' && e.bytes > 0 && e.bytes < e.total && e.rate > 0);
  assert.ok(middle.length >= 2, `only ${middle.length} events mid-download`);
  const average = total / seconds;
  for (const e of middle) {
    assert.ok(e.rate > average / 5 && e.rate < average * 5, `rate ${e.rate} vs average ${average}`);
    assert.ok(e.etaSeconds !== null && Math.abs(e.etaSeconds - (total - e.bytesAll) / e.rate) < 1e-9 && e.etaSeconds < 10 * seconds);
  }
});

test("a renamed repository is followed through the hub's relative redirect", async (t) => {
  const repo = { ...modelRepo('acme/new-name'), renamedFrom: 'acme/old-name' };
  const { hub, opts } = await setup(t, [repo]);
  const snapshot = await pullModel('acme/old-name', opts);
  assert.deepEqual(fs.readFileSync(path.join(snapshot, 'config.json')), file(repo, 'config.json').data);
  assert.ok(hub.log.some((r) => r.status === 307));
});

test('what cannot be pulled says why: no tokenizer, no safetensors, unknown repo or revision, no hub', async (t) => {
  const { opts } = await setup(t, [modelRepo('acme/no-tok', { omit: ['tokenizer.json'] }), modelRepo('acme/no-weights', { omit: ['model.safetensors'] })]);
  await rejectsWith(pullModel('acme/no-tok', opts), 'download', /acme\/no-tok has no tokenizer\.json/);
  await rejectsWith(pullModel('acme/no-weights', opts), 'download', /no model\.safetensors nor model\.safetensors\.index\.json/);
  await rejectsWith(pullModel('acme/missing', opts), 'download', /acme\/missing was not found on .*set HF_TOKEN/);
  await rejectsWith(pullModel('acme/no-tok@v9', opts), 'download', /has no revision "v9"/);
  await rejectsWith(pullModel('acme/no-tok', { ...opts, endpoint: 'http://127.0.0.1:1' }), 'download', /cannot reach 127\.0\.0\.1:1: .*HF_HUB_OFFLINE=1/);
  await rejectsWith(pullModel('not-a-model-id', opts), 'bad-input', /org\/name\[@revision\]/);
});

test('resolveModel: folders as they are, cached models without the network, others pulled', async (t) => {
  const repo = modelRepo('acme/resolve');
  const { hub, opts } = await setup(t, [repo]);
  const fixture = path.resolve('test/fixtures/tinycode');
  assert.equal(await resolveModel('./test/fixtures/tinycode', opts), fixture);
  await rejectsWith(resolveModel('./test/fixtures', opts), 'missing-file', /has no config\.json/);
  await rejectsWith(resolveModel('/no/such/folder', opts), 'missing-file', /does not exist/);

  const snapshot = await resolveModel(repo.id, opts);
  assert.ok(
    hub.log.some((r) => r.method === 'GET'),
    'not cached: downloaded',
  );
  const requests = hub.log.length;
  assert.equal(await resolveModel(repo.id, opts), snapshot);
  assert.equal(await resolveModel(`${repo.id}@${repo.commit}`, opts), snapshot);
  assert.equal(hub.log.length, requests, 'cached: no request');
});
