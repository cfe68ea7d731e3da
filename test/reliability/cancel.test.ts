// Cancelling through the client's AbortSignal in every phase of the real engine process's work: the
// call rejects with 'cancelled' promptly, the snapshot folder holds nothing partial (segments
// finished before the cancel are whole, and the next index reuses them; no manifest, temporary
// file, lock or build record), the process stays up with no child left behind (git), and the next
// call works. test/extension/engine-process.test.ts covers a cancel while listing and while
// answering from the extension's side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineClient } from '../../src/engine/worker/client';
import type { EngineEvent } from '../../src/engine/protocol';
import { gitInit, write } from '../repo/fixture';
import { alive, childrenOf, eventually, indexParams, phases, scratch, smallRepo, snapshotFolder, startClient, whenTempAppears } from './helpers';

const { dir, engine } = scratch('cancel');
let client: EngineClient;
let crashes: string[];
before(async () => ({ client, crashes } = await startClient()));
after(() => client.dispose());

/** A cancel is prompt when it lands within one chunk of work (chunks aim at 0.4 s), with room for a busy machine. */
const PROMPT_MS = 3000;

type Phase = 'listing' | 'building the first segment' | 'building the second segment' | 'writing' | 'answering';

const segmentsDone = (heard: EngineEvent[]) => Math.max(-1, ...heard.flatMap((e) => (e.kind === 'progress' && e.phase === 'segments' ? [e.done] : [])));

/** A git work tree of a few thousand files, so that listing (git, stat, read) takes long enough to be cancelled in. */
function wideRepo(root: string): string {
  gitInit(root);
  smallRepo(root);
  write(root, 'gen/f0.ts', 'export const x = 0;\n');
  for (let i = 1; i < 3000; i++) fs.linkSync(path.join(root, 'gen/f0.ts'), path.join(root, `gen/f${i}.ts`));
  return root;
}

/** When to cancel, and what must not have been heard by then. */
const TRIGGERS: Record<Phase, { event?: (e: EngineEvent) => boolean; unfinished: (heard: EngineEvent[]) => boolean; write?: true }> = {
  listing: { event: (e) => e.kind === 'progress' && e.phase === 'listing', unfinished: (h) => !phases(h).includes('tokenizing') },
  'building the first segment': { event: (e) => e.kind === 'progress' && e.phase === 'segments' && e.done === 0, unfinished: (h) => segmentsDone(h) === 0 },
  'building the second segment': { event: (e) => e.kind === 'progress' && e.phase === 'segments' && e.done === 1, unfinished: (h) => segmentsDone(h) === 1 },
  writing: { write: true, unfinished: () => true },
  answering: { event: (e) => e.kind === 'text', unfinished: () => true },
};

for (const phase of Object.keys(TRIGGERS) as Phase[]) {
  test(`cancel while ${phase}: rejects with 'cancelled' promptly, nothing partial kept, no process left over, the next call works`, async () => {
    const root = path.join(dir, phase.replace(/ /g, '-'));
    // a snapshot folder of its own: the repositories are alike, and would share their segments
    const snapshots = `${root}-snapshots`;
    const params = indexParams({ ...engine, snapshotDir: snapshots }, { root: phase === 'listing' ? wideRepo(root) : smallRepo(root) });
    const ask = { ...params, question: 'Which file holds the config?', maxTokens: 64 };
    const answered = phase === 'answering' ? await client.call('index', params) : undefined;
    const before = snapshotFolder(snapshots);
    const { pid } = await client.call('ping', {});

    const controller = new AbortController();
    let abortedAt = 0;
    const abort = () => {
      abortedAt ||= performance.now();
      controller.abort();
    };
    const { event, unfinished, write: inWrite } = TRIGGERS[phase];
    // A write of a small segment takes milliseconds: the process is stopped the moment its temporary
    // file appears, so that the cancel is waiting for it when it goes on writing.
    const unwatch = inWrite
      ? whenTempAppears(path.join(snapshots, 'segments'), () => {
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
    assert.ok(unfinished(heard), `stopped in time: ${phases(heard)}`);

    const after = snapshotFolder(snapshots);
    const kept = after.segments.filter((s) => !before.segments.includes(s));
    assert.deepEqual({ ...after, segments: undefined }, { ...before, segments: undefined }, 'no manifest, temporary file, lock or build record');
    // a write caught in the act is stopped, or (a small segment) already renamed into place: whole either way
    const finished = { 'building the second segment': [1], writing: [0, 1] }[phase as string] ?? [0];
    assert.ok(finished.includes(kept.length), `segments finished before the cancel: ${kept}`);
    assert.equal(client.pid, pid, 'the engine process stays up');
    assert.ok(alive(pid));
    assert.ok(await eventually(() => childrenOf(pid).length === 0), `no child process left (git): ${childrenOf(pid)}`);
    assert.equal(crashes.length, 0);

    const next = phase === 'answering' ? await client.call('ask', { ...ask, maxTokens: 4 }) : await client.call('index', params);
    if ('bytesOnDisk' in next)
      assert.deepEqual([next.segments.reused, next.segments.built], [kept.length, next.segments.total - kept.length], 'what was finished is reused');
    else assert.ok(next.tokens > 0 && next.key === answered?.key);
  });
}
