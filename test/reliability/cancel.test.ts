// Cancelling through the client's AbortSignal in every phase of the real engine process's work: the
// call rejects with 'cancelled' promptly, the snapshot folder holds nothing partial, the process
// stays up with no child left behind (git), and the next call works. test/extension/engine-process.test.ts
// covers a cancel while listing and while answering from the extension's side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineClient } from '../../src/engine/worker/client';
import type { EngineEvent } from '../../src/engine/worker/protocol';
import { gitInit, write } from '../repo/fixture';
import { alive, childrenOf, eventually, indexParams, phases, scratch, smallRepo, snapshotFolder, startClient, whenTempAppears } from './helpers';

const { dir, engine, snapshots } = scratch('cancel');
let client: EngineClient;
let crashes: string[];
before(async () => ({ client, crashes } = await startClient()));
after(() => client.dispose());

/** A cancel is prompt when it lands within one chunk of work (chunks aim at 0.4 s), with room for a busy machine. */
const PROMPT_MS = 3000;

type Phase = 'listing' | 'prefill' | 'scoring' | 'writing' | 'answering';

/** A git work tree of a few thousand files, so that listing (git, stat, read) takes long enough to be cancelled in. */
function wideRepo(root: string): string {
  gitInit(root);
  smallRepo(root);
  write(root, 'gen/f0.ts', 'export const x = 0;\n');
  for (let i = 1; i < 3000; i++) fs.linkSync(path.join(root, 'gen/f0.ts'), path.join(root, `gen/f${i}.ts`));
  return root;
}

const TRIGGERS: Record<Phase, { event?: (e: EngineEvent) => boolean; unfinished: string; write?: true }> = {
  listing: { event: (e) => e.kind === 'progress' && e.phase === 'listing', unfinished: 'tokenizing' },
  prefill: { event: (e) => e.kind === 'progress' && e.phase === 'prefill' && e.done < e.total, unfinished: 'scoring' },
  scoring: { event: (e) => e.kind === 'progress' && e.phase === 'prefill' && e.done === e.total, unfinished: 'scoring' },
  writing: { write: true, unfinished: '' },
  answering: { event: (e) => e.kind === 'text', unfinished: '' },
};

for (const phase of Object.keys(TRIGGERS) as Phase[]) {
  test(`cancel while ${phase}: rejects with 'cancelled' promptly, nothing partial kept, no process left over, the next call works`, async () => {
    const root = path.join(dir, phase);
    const params = indexParams(engine, { root: phase === 'listing' ? wideRepo(root) : smallRepo(root) });
    const ask = { ...params, question: 'Which file holds the config?', maxTokens: 64 };
    if (phase === 'answering') await client.call('index', params);
    const before = snapshotFolder(snapshots).caches;
    const { pid } = await client.call('ping', {});

    const controller = new AbortController();
    let abortedAt = 0;
    const abort = () => {
      abortedAt ||= performance.now();
      controller.abort();
    };
    const { event, unfinished, write: inWrite } = TRIGGERS[phase];
    // A write of a small cache takes milliseconds: the process is stopped the moment its temporary
    // file appears, so that the cancel is waiting for it when it goes on writing.
    const unwatch = inWrite
      ? whenTempAppears(snapshots, () => {
          process.kill(pid, 'SIGSTOP');
          abort();
          void sleep(50).then(() => process.kill(pid, 'SIGCONT'));
        })
      : () => {};
    const heard: EngineEvent[] = [];
    const opts = { signal: controller.signal, onEvent: (e: EngineEvent) => (heard.push(e), event?.(e) && abort()) };
    try {
      await assert.rejects(phase === 'answering' ? client.call('ask', ask, opts) : client.call('index', params, opts), { code: 'cancelled' });
    } finally {
      unwatch();
    }
    const latency = performance.now() - abortedAt;
    console.log(`# cancel while ${phase}: rejected ${latency.toFixed(0)} ms after the abort`);
    assert.ok(abortedAt > 0 && latency < PROMPT_MS, `${latency} ms`);
    if (unfinished) assert.ok(!phases(heard).includes(unfinished), `stopped before ${unfinished}: ${phases(heard)}`);

    assert.deepEqual(snapshotFolder(snapshots), { caches: before, temps: [], locks: [] }, 'nothing partial, no lock');
    assert.equal(client.pid, pid, 'the engine process stays up');
    assert.ok(alive(pid));
    assert.ok(await eventually(() => childrenOf(pid).length === 0), `no child process left (git): ${childrenOf(pid)}`);
    assert.equal(crashes.length, 0);

    const next = phase === 'answering' ? await client.call('ask', { ...ask, maxTokens: 4 }) : await client.call('index', params);
    if ('reused' in next) assert.equal(next.reused, false);
    else assert.ok(next.tokens > 0);
  });
}
