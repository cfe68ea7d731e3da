// `repozip model pull|ls` in a child process (piped, so pull writes JSON events) against a fake hub.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FakeHub, modelRepo, tempDir } from './fakeHub';

const root = path.resolve(__dirname, '../..');
const script = `require('./src/cli/model.ts').modelCommand.run(process.argv.slice(1), new AbortController().signal)
  .then((code) => { process.exitCode = code; }, (e) => { console.error(e.code + ': ' + e.message); process.exitCode = 3; })`;

async function repozipModel(args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; code: number }> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script, ...args], { cwd: root, env: { PATH: process.env.PATH, ...env } }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
  );
}

test('model pull writes progress and done events as JSON lines; model ls lists the download', async (t) => {
  const repo = modelRepo('acme/cli', { token: 'hf_cli' });
  const hub = await FakeHub.start([repo]);
  t.after(() => hub.close());
  const env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: tempDir(t), HOME: tempDir(t) };

  const pulled = await repozipModel(['pull', repo.id, '--token', 'hf_cli'], env);
  assert.equal(pulled.code, 0, pulled.stderr);
  const events = pulled.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const done = events.pop();
  assert.equal(done.event, 'done');
  assert.ok(fs.existsSync(path.join(done.path, 'model.safetensors')));
  assert.ok(events.length > 0 && events.every((e) => e.event === 'progress' && typeof e.bytesAll === 'number' && typeof e.rate === 'number'));
  assert.equal(events.at(-1).bytesAll, events.at(-1).totalAll);

  const [listed, plain, gated, usage] = await Promise.all([
    repozipModel(['ls', '--json'], env),
    repozipModel(['ls'], env),
    repozipModel(['pull', repo.id, '--json'], env),
    repozipModel(['pull'], env),
  ]);
  const [model] = JSON.parse(listed.stdout);
  assert.deepEqual([model.id, model.revisions[0].path, model.revisions[0].refs, model.revisions[0].complete], [repo.id, done.path, ['main'], true]);
  assert.match(plain.stdout, new RegExp(`^acme/cli  \\d+ KiB  .*\\n  ${repo.commit.slice(0, 10)} \\(main\\)  `));
  assert.equal(gated.code, 3);
  assert.match(gated.stderr, /^download: acme\/cli is gated/);
  assert.match(usage.stderr, /^bad-input: model pull takes one model id\nusage: repozip model pull/);
});
