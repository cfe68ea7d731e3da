// The real engine process (the bundled host, forked by EngineClient) on the tiny model: a cancelled
// build keeps nothing, a cancelled answer leaves the engine ready for the next, a killed process
// fails its call and the next question starts a new one, and dispose leaves no process behind.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import * as esbuild from 'esbuild';
import { EngineClient } from '../../src/engine/worker/client';
import { Engine } from '../../src/extension/engine';
import type { AskParams, IndexParams } from '../../src/engine/protocol';
import { commit, gitInit, tempDir, write } from '../repo/fixture';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'tinycode');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function setup() {
  const dir = tempDir('engine-process');
  const hostScript = path.join(dir, 'engine-host.js');
  await esbuild.build({
    entryPoints: [path.resolve(__dirname, '..', '..', 'src', 'engine', 'worker', 'host.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['onnxruntime-node'],
    outfile: hostScript,
    logLevel: 'warning',
  });
  const root = path.join(dir, 'repo');
  gitInit(root);
  write(
    root,
    'src/math.ts',
    'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function mul(a: number, b: number): number {\n  return a * b;\n}\n',
  );
  write(root, 'src/main.ts', "import { add, mul } from './math';\n\nconsole.log(add(2, mul(3, 4)));\n");
  write(root, 'README.md', '# demo\n\nAdds and multiplies numbers.\n');
  commit(root, '2026-01-01T00:00:00Z');
  const snapshotDir = path.join(dir, 'snapshots');
  const index: IndexParams = { engine: { model: TINY, device: 'cpu', cacheDir: path.join(dir, 'models'), snapshotDir }, repo: { root, ratio: 0.5 } };
  const crashes: string[] = [];
  // a real EngineClient with nothing faked: the host process, its IPC, onnxruntime
  const client = new EngineClient({ hostScript, onCrash: (r) => crashes.push(r) });
  const ask = (over: Partial<AskParams> = {}): AskParams => ({ ...index, question: 'What does add do?', maxTokens: 400, temperature: 0, ...over });
  // segments (segments/*.rzkv), manifests (manifests/*.json) and temporary files of either
  const leftovers = () =>
    fs.existsSync(snapshotDir) ? (fs.readdirSync(snapshotDir, { recursive: true }) as string[]).filter((f) => /\.(rzkv|json|tmp)$/.test(f)) : [];
  return { client, hostScript, index, ask, crashes, leftovers };
}

test('real engine process: cancel, crash and recovery on the tiny model', async (t) => {
  const { client, index, ask, crashes, leftovers } = await setup();
  t.after(() => client.kill());

  await t.test('cancelling a build stops it and keeps no partial cache', async () => {
    const controller = new AbortController();
    const phases: string[] = [];
    const build = client.call('index', index, {
      signal: controller.signal,
      onEvent: (e) => {
        phases.push(e.kind === 'progress' ? e.phase : e.kind);
        if (e.kind === 'progress' && e.phase === 'listing') controller.abort();
      },
    });
    await assert.rejects(build, { code: 'cancelled' });
    assert.ok(!phases.includes('writing'), `stopped before writing: ${phases}`);
    assert.deepEqual(leftovers(), []);
    assert.equal((await client.call('status', index)).state, 'none');
  });

  await t.test('cancelling an answer stops it; the next question is answered from the cache', async () => {
    const built = await client.call('index', index);
    assert.equal(built.reused, false);
    const controller = new AbortController();
    let deltas = 0;
    const answer = client.call('ask', ask(), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.kind === 'text' && ++deltas === 1) controller.abort();
      },
    });
    await assert.rejects(answer, { code: 'cancelled' });
    assert.ok(deltas >= 1 && deltas < 400, `${deltas} deltas`);
    const next = await client.call('ask', ask({ maxTokens: 8 }));
    assert.equal(next.cacheReused, true);
    assert.ok(next.tokens > 0 && next.tokens <= 8);
    assert.equal(next.key, built.key);
  });

  await t.test('killing the engine mid-answer fails that call; the next question starts a new process', async () => {
    const first = client.pid!;
    const answer = client.call('ask', ask(), { onEvent: (e) => e.kind === 'text' && client.kill() });
    await assert.rejects(answer, { code: 'engine-crashed' });
    assert.equal(crashes.length, 1);
    assert.match(crashes[0], /killed \(SIGKILL\)/);
    const r = await client.call('ask', ask({ maxTokens: 4 }));
    assert.ok(r.tokens > 0);
    assert.notEqual(client.pid, first);
    assert.equal(alive(first), false);
  });

  await t.test('dispose ends the process', async () => {
    const pid = client.pid!;
    await client.dispose();
    assert.equal(alive(pid), false);
    assert.equal(crashes.length, 1, 'a requested exit is no crash');
    assert.deepEqual(
      leftovers().filter((f) => f.endsWith('.tmp')),
      [],
    );
  });
});

test("the extension's engine gets a fresh process when its environment changes (proxy, token), not before", async () => {
  const { hostScript } = await setup();
  let env: Record<string, string> = { HTTPS_PROXY: 'http://proxy-a:3128' };
  const engine = new Engine({ hostScript, env: async () => env, onLog: () => {}, onCrash: () => assert.fail('no crash') });
  try {
    await engine.call('ping', {});
    const first = engine.pid!;
    await engine.call('ping', {});
    assert.equal(engine.pid, first, 'same environment, same process');
    env = { HTTPS_PROXY: 'http://proxy-b:3128', HF_TOKEN: 'hf_x' };
    await engine.call('ping', {});
    assert.notEqual(engine.pid, first);
    assert.equal(alive(first), false, 'the old process is gone');
  } finally {
    await engine.dispose();
  }
});
