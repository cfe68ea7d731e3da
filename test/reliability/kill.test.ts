// kill -9 of the real engine process in each phase of its work: the call in flight fails with
// 'engine-crashed', the next request starts a new process and succeeds, and what the killed one was
// writing (temporary files, its build lock) is gone after that next start. The store's own
// mid-write kill is test/store/store.test.ts; the extension's view is test/extension/engine-process.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineClient } from '../../src/engine/worker/client';
import type { EngineEvent } from '../../src/engine/worker/protocol';
import { alive, indexParams, phases, scratch, smallRepo, snapshotFolder, startClient, whenTempAppears } from './helpers';

const { dir, engine, snapshots } = scratch('kill');
let client: EngineClient;
let crashes: string[];
before(async () => ({ client, crashes } = await startClient()));
after(() => client.dispose());

type Phase = 'prefill' | 'scoring' | 'writing the checkpoint' | 'writing' | 'answering';

/** When to pull the trigger, from what the host says (or, for writes, the moment its temporary file appears). */
const TRIGGERS: Record<Phase, { event?: (e: EngineEvent) => boolean; tempIn?: string }> = {
  prefill: { event: (e) => e.kind === 'progress' && e.phase === 'prefill' && e.done < e.total },
  // scoring starts as the prefill ends and reports only when it is done
  scoring: { event: (e) => e.kind === 'progress' && e.phase === 'prefill' && e.done === e.total },
  'writing the checkpoint': { tempIn: path.join(snapshots, 'checkpoints') },
  writing: { tempIn: snapshots },
  answering: { event: (e) => e.kind === 'text' },
};

/** What must not have been heard yet when the kill lands in `phase`, and what the killed process left. */
function assertKilledIn(phase: Phase, heard: EngineEvent[], left: ReturnType<typeof snapshotFolder>, key?: string): void {
  const said = phases(heard);
  if (phase === 'prefill') assert.ok(heard.every((e) => e.kind !== 'progress' || e.phase !== 'prefill' || e.done < e.total), `prefill unfinished: ${said}`);
  if (phase === 'scoring') assert.ok(!said.includes('scoring'), `scoring unfinished: ${said}`);
  if (phase.startsWith('writing')) {
    assert.equal(left.temps.length, 1, `killed mid-write, its temporary file is there: ${left.temps}`);
    assert.ok(!left.caches.includes(`${key}.rzkv`), 'and no snapshot was renamed into place');
  }
  if (phase !== 'answering') assert.equal(left.locks.length, 1, 'the killed builder held the lock');
}

for (const phase of Object.keys(TRIGGERS) as Phase[]) {
  test(`kill -9 while ${phase}: the call fails with engine-crashed; the next one starts a new process, succeeds and clears what the dead one left`, async () => {
    // a repository of its own: a fresh build, with no checkpoint of an earlier one to shorten it
    const params = indexParams(engine, { root: smallRepo(path.join(dir, phase.replace(/ /g, '-'))) });
    const ask = { ...params, question: 'What does mul return?', maxTokens: 64 };
    const key = phase === 'answering' ? (await client.call('index', params)).key : undefined;
    const { pid } = await client.call('ping', {});
    // why: the kill is sent when this process hears the trigger, while the engine works on; on a busy
    // machine it could finish the phase first. At the lowest priority it waits for this process.
    os.setPriority(pid, 19);
    const kill = () => process.kill(pid, 'SIGKILL');
    const { event, tempIn } = TRIGGERS[phase];
    const unwatch = tempIn ? whenTempAppears(tempIn, kill) : () => {};
    const heard: EngineEvent[] = [];
    const onEvent = (e: EngineEvent) => (heard.push(e), event?.(e) && kill());
    const crashesBefore = crashes.length;
    try {
      await assert.rejects(phase === 'answering' ? client.call('ask', ask, { onEvent }) : client.call('index', params, { onEvent }), { code: 'engine-crashed' });
    } finally {
      unwatch();
    }
    assert.equal(alive(pid), false);
    assert.equal(crashes.length, crashesBefore + 1);
    assert.match(crashes.at(-1)!, /killed \(SIGKILL\)/);
    assertKilledIn(phase, heard, snapshotFolder(snapshots), key);

    const next = phase === 'answering' ? await client.call('ask', { ...ask, maxTokens: 4 }) : await client.call('index', params);
    assert.notEqual(client.pid, pid, 'a new engine process');
    if ('reused' in next) assert.equal(next.reused, false, 'built by the new process');
    else assert.ok(next.tokens > 0);
    const { temps, locks } = snapshotFolder(snapshots);
    assert.deepEqual({ temps, locks }, { temps: [], locks: [] });
  });
}
