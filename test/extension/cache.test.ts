// The cache tracker against a fake engine: states from status answers, one build at a time,
// cancellation that leaves no engine call running, and the automatic rebuild that waits for the user.
import assert from 'node:assert/strict';
import test from 'node:test';
import { CacheStatus, CacheTracker, TrackerDeps } from '../../src/extension/cache';
import { engineParams, readSettings } from '../../src/extension/settings';
import { fakeEngine, flush, Result, sleep } from './fakes';

const PARAMS = engineParams(
  readSettings(() => undefined),
  { root: '/ws', modelCacheDir: '/g', snapshotDir: '/s/snapshots' },
);

function setup(over: Partial<TrackerDeps> = {}) {
  const engine = fakeEngine();
  const states: CacheStatus[] = [];
  const files: string[][] = [];
  const auto = { enabled: false, busy: false, started: 0 };
  const tracker = new CacheTracker({
    call: engine.call,
    params: () => PARAMS,
    onChange: (s) => states.push(s),
    onFiles: (f) => files.push(f),
    onNotice: () => {},
    autoRebuild: () => auto.enabled,
    busy: () => auto.busy,
    startAutoBuild: () => auto.started++,
    refreshDelayMs: 5,
    rebuildDelayMs: 20,
    ...over,
  });
  return { engine, tracker, states, files, auto };
}

const indexResult = (reused = false) =>
  ({
    key: 'k1',
    reused,
    files: { included: 2, skipped: [] },
    tokens: { prefix: 0, context: 100 },
    segments: { total: 1, reused: 0, built: 1, failed: [] },
    keptRatio: 0.3,
    bytesOnDisk: 2048,
    timings: {},
  }) satisfies Result<'index'>;

test('status answers become states, with the snapshot files', async () => {
  const { engine, tracker, states, files } = setup();
  assert.deepEqual(tracker.status, { kind: 'unknown' });
  const r = tracker.refresh();
  engine
    .last('status')!
    .resolve({ state: 'stale', key: 'k0', bytes: 1000, keptRatio: 0.3, changedFiles: 2, files: ['a.ts', 'b.ts'] } satisfies Result<'status'>);
  await r;
  assert.deepEqual(tracker.status, { kind: 'stale', key: 'k0', bytes: 1000, keptRatio: 0.3, changedFiles: 2 });
  assert.equal(tracker.readyKey, undefined, 'a stale cache has no key for hovers');
  assert.deepEqual(files, [['a.ts', 'b.ts']]);
  assert.deepEqual(engine.last('status')!.params, PARAMS);

  const r2 = tracker.refresh();
  engine.last('status')!.resolve({ state: 'none' });
  await r2;
  assert.equal(states.at(-1)!.kind, 'missing');

  const r3 = tracker.refresh();
  engine.last('status')!.reject(new Error('engine exploded'));
  await r3;
  assert.deepEqual(tracker.status, { kind: 'error', message: 'engine exploded' });
});

test('a build reports monotonic progress, is shared by a second caller, and ends ready', async () => {
  const { engine, tracker, states } = setup();
  const steps: number[] = [];
  const first = tracker.build({ onStep: (s) => steps.push(s.fraction) });
  const second = tracker.build();
  assert.equal(engine.calls.filter((c) => c.method === 'index').length, 1, 'one build at a time');
  const index = engine.last('index')!;
  for (const [phase, done, total] of [
    ['listing', 0, 1],
    ['prefill', 50, 100],
    ['scoring', 1, 4],
    ['prefill', 10, 100],
    ['writing', 1, 1],
  ] as const)
    index.emit({ kind: 'progress', phase, done, total });
  assert.ok(
    steps.every((f, i) => i === 0 || f >= steps[i - 1]),
    `never goes back: ${steps}`,
  );
  assert.equal(steps.at(-1), 1);
  assert.equal(states.at(-1)!.kind, 'building');
  index.resolve(indexResult());
  assert.equal(await first, await second);
  await flush();
  engine.last('status')!.resolve({ state: 'ready', key: 'k1', bytes: 2048, keptRatio: 0.3, changedFiles: 0, files: [] });
  await flush();
  assert.deepEqual(tracker.status, { kind: 'ready', key: 'k1', bytes: 2048, keptRatio: 0.3 });
  assert.equal(tracker.readyKey, 'k1');
});

test('cancelling a build leaves no engine call running and re-reads the state', async () => {
  const { engine, tracker } = setup();
  const controller = new AbortController();
  const build = tracker.build({ signal: controller.signal });
  engine.last('index')!.emit({ kind: 'progress', phase: 'prefill', done: 1, total: 10 });
  controller.abort();
  await assert.rejects(build, { code: 'cancelled' });
  await flush();
  assert.deepEqual(
    engine.running().map((c) => c.method),
    ['status'],
    'only the status re-read is left',
  );
  engine.last('status')!.resolve({ state: 'none' });
  await flush();
  assert.equal(tracker.status.kind, 'missing');
  assert.equal(engine.running().length, 0);

  // cancel() does the same for a build started elsewhere (the status bar's Cancel)
  const again = tracker.build();
  tracker.cancel();
  await assert.rejects(again, { code: 'cancelled' });
  assert.equal(engine.last('index')!.signal!.aborted, true);
});

test("a failed build is an error state with the engine's sentence", async () => {
  const { engine, tracker } = setup();
  const build = tracker.build();
  engine.last('index')!.reject(Object.assign(new Error('no file of /ws could be included'), { code: 'bad-input' }));
  await assert.rejects(build);
  await flush();
  assert.deepEqual(tracker.status, { kind: 'error', message: 'no file of /ws could be included' });
});

test('a status answer that a build overtook is ignored; refresh waits while building', async () => {
  const { engine, tracker } = setup();
  const r = tracker.refresh();
  const build = tracker.build();
  engine.calls.find((c) => c.method === 'status')!.resolve({ state: 'none' });
  await r;
  assert.equal(tracker.status.kind, 'building', 'the old "none" does not undo the build state');
  await tracker.refresh();
  assert.equal(engine.calls.filter((c) => c.method === 'status').length, 1, 'no status call during a build');
  engine.last('index')!.resolve(indexResult());
  await build;
});

test('file changes are debounced into one status call', async () => {
  const { engine, tracker } = setup();
  for (let i = 0; i < 5; i++) tracker.refreshSoon();
  await sleep(30);
  assert.equal(engine.calls.filter((c) => c.method === 'status').length, 1);
  tracker.dispose();
});

test('automatic rebuild: only when enabled, and never while the user is busy', async () => {
  const { engine, tracker, auto } = setup();
  const stale = { state: 'stale', key: 'k0', bytes: 1, keptRatio: 0.3, changedFiles: 1 } satisfies Result<'status'>;
  let r = tracker.refresh();
  engine.last('status')!.resolve(stale);
  await r;
  await sleep(40);
  assert.equal(auto.started, 0, 'autoBuild is not onChange');

  auto.enabled = true;
  auto.busy = true;
  r = tracker.refresh();
  engine.last('status')!.resolve(stale);
  await r;
  await sleep(50);
  assert.equal(auto.started, 0, 'postponed while typing');
  auto.busy = false;
  await sleep(40);
  assert.equal(auto.started, 1, 'runs once the user is done');
  tracker.dispose();
});

test('a question that builds the cache shows the build in the state', async () => {
  const { engine, tracker } = setup();
  const onProgress = tracker.answerProgress();
  onProgress({ kind: 'progress', phase: 'listing', done: 0, total: 1 });
  assert.equal(tracker.status.kind, 'unknown', 'listing happens for every question');
  onProgress({ kind: 'progress', phase: 'composing', done: 0, total: 1 });
  assert.equal(tracker.status.kind, 'unknown', 'loading the segments happens for every question');
  onProgress({ kind: 'progress', phase: 'scoring', done: 1, total: 2 });
  assert.equal(tracker.status.kind, 'building');
  onProgress({ kind: 'progress', phase: 'answering', done: 0, total: 1 });
  assert.equal(engine.last('status')?.method, 'status', 'the state is read again once the answer starts');
});

test('a question that builds the segments of a cache shows the build in the state', () => {
  const { tracker } = setup();
  tracker.answerProgress()({ kind: 'progress', phase: 'segments', done: 1, total: 4 });
  assert.deepEqual(tracker.status, { kind: 'building', fraction: 0.12 + 0.25 * (0.95 - 0.12), message: 'Compressing the repository, segment by segment 25%' });
});
