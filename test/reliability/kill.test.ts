// kill -9 of the real engine process in each phase of its work: the call in flight fails with
// 'engine-crashed', the next request starts a new process and succeeds, and what the killed one was
// writing (temporary files, its build lock, its record of the build) is gone after that next start.
// A segment it finished before the kill is whole and reused; the one it was writing never appears.
// The store's own mid-write kill is test/store/store.test.ts; the extension's view is
// test/extension/engine-process.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineClient } from '../../src/engine/worker/client';
import type { EngineEvent } from '../../src/engine/protocol';
import { alive, indexParams, scratch, smallRepo, snapshotFolder, startClient, whenTempAppears } from './helpers';

const { dir, engine } = scratch('kill');
let client: EngineClient;
let crashes: string[];
before(async () => ({ client, crashes } = await startClient()));
after(() => client.dispose());

type Phase = 'building the first segment' | 'building the second segment' | 'writing a segment' | 'answering';

/** When to pull the trigger, from what the host says (or, for writes, the moment a temporary file appears). */
const TRIGGERS: Record<Phase, { event?: (e: EngineEvent) => boolean; write?: true; stored: number }> = {
  'building the first segment': { event: (e) => e.kind === 'progress' && e.phase === 'segments' && e.done === 0, stored: 0 },
  'building the second segment': { event: (e) => e.kind === 'progress' && e.phase === 'segments' && e.done === 1, stored: 1 },
  'writing a segment': { write: true, stored: 0 },
  answering: { event: (e) => e.kind === 'text', stored: 3 },
};

for (const phase of Object.keys(TRIGGERS) as Phase[]) {
  test(`kill -9 while ${phase}: the call fails with engine-crashed; the next one starts a new process, reuses what was stored, succeeds and clears what the dead one left`, async () => {
    // a repository (and snapshot folder) of its own: a fresh build of three segments
    const own = { ...engine, snapshotDir: path.join(dir, `${phase.replace(/ /g, '-')}-snapshots`) };
    const params = indexParams(own, { root: smallRepo(path.join(dir, phase.replace(/ /g, '-'))) });
    const ask = { ...params, question: 'What does mul return?', maxTokens: 64 };
    if (phase === 'answering') await client.call('index', params);
    const { pid } = await client.call('ping', {});
    // why: the kill is sent when this process hears the trigger, while the engine works on; on a busy
    // machine it could finish the phase first. At the lowest priority it waits for this process.
    os.setPriority(pid, 19);
    const kill = () => process.kill(pid, 'SIGKILL');
    const { event, write, stored } = TRIGGERS[phase];
    const unwatch = write ? whenTempAppears(path.join(own.snapshotDir, 'segments'), kill) : () => {};
    const onEvent = (e: EngineEvent) => event?.(e) && kill();
    const crashesBefore = crashes.length;
    try {
      await assert.rejects(phase === 'answering' ? client.call('ask', ask, { onEvent }) : client.call('index', params, { onEvent }), {
        code: 'engine-crashed',
      });
    } finally {
      unwatch();
    }
    assert.equal(alive(pid), false);
    assert.equal(crashes.length, crashesBefore + 1);
    assert.match(crashes.at(-1)!, /killed \(SIGKILL\)/);
    const left = snapshotFolder(own.snapshotDir);
    assert.equal(left.segments.length, stored, `segments stored before the kill: ${left.segments}`);
    if (phase !== 'answering') assert.deepEqual(left.manifests, [], 'no manifest of an unfinished build');
    if (phase === 'writing a segment') {
      // the segment's file half-written, and the manifest the build writes a line at a time
      assert.deepEqual(
        left.temps.map((t) => path.dirname(t)),
        ['manifests', 'segments'],
        `killed mid-write: ${left.temps}`,
      );
      assert.equal(left.locks.length, 1, 'killed holding the lock');
    }

    const next = phase === 'answering' ? await client.call('ask', { ...ask, maxTokens: 4 }) : await client.call('index', params);
    assert.notEqual(client.pid, pid, 'a new engine process');
    if ('bytesOnDisk' in next) assert.deepEqual(next.segments, { total: 3, reused: stored, built: 3 - stored, failed: [] });
    else assert.ok(next.tokens > 0);
    const { temps, locks, pending } = snapshotFolder(own.snapshotDir);
    assert.deepEqual({ temps, locks, pending }, { temps: [], locks: [], pending: [] });
  });
}
