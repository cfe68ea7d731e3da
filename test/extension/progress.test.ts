// Progress as the notification and status bar show it.
import assert from 'node:assert/strict';
import test from 'node:test';
import { statusBarText, panelState } from '../../src/extension/cacheLabels';
import { BuildProgress, downloadMessage, Increments } from '../../src/extension/progress';

test('build progress: phases fill their share of the bar, with readable messages', () => {
  const p = new BuildProgress();
  assert.deepEqual(p.update({ kind: 'progress', phase: 'listing', done: 0, total: 1 }), { fraction: 0.04, message: 'Listing files' });
  const prefill = p.update({ kind: 'progress', phase: 'prefill', done: 512, total: 1024 });
  assert.equal(prefill.message, 'Reading the repository (prefill) 50%');
  assert.ok(Math.abs(prefill.fraction - 0.31) < 1e-9);
  assert.equal(p.update({ kind: 'progress', phase: 'scoring', done: 1024, total: 1024 }).fraction, 0.95);
  assert.equal(p.update({ kind: 'progress', phase: 'listing', done: 0, total: 1 }).fraction, 0.95, 'never goes back');
  assert.match(
    new BuildProgress().update({ kind: 'progress', phase: 'downloading', done: 512 * 1024 ** 2, total: 1024 ** 3 }).message,
    /^Downloading the model 50% 512 MiB of 1 GiB$/,
  );
});

test('a segmented build: the segments phase fills the share of the work, composing is no build step', () => {
  const p = new BuildProgress();
  p.update({ kind: 'progress', phase: 'tokenizing', done: 1, total: 1 });
  const half = p.update({ kind: 'progress', phase: 'segments', done: 3, total: 6 });
  assert.ok(Math.abs(half.fraction - (0.12 + 0.5 * (0.95 - 0.12))) < 1e-9, String(half.fraction));
  assert.match(half.message, /segment by segment 50%$/);
  assert.equal(p.update({ kind: 'progress', phase: 'composing', done: 1, total: 2 }).fraction, half.fraction);
});

test('increments add up to the fraction reported, never negative', () => {
  const inc = new Increments();
  const steps = [0.1, 0.05, 0.5, 0.5, 1].map((f) => inc.next(f));
  assert.ok(steps.every((s) => s >= 0));
  assert.equal(
    steps.reduce((a, b) => a + b, 0),
    100,
  );
});

test('download message: bytes, rate and time left', () => {
  assert.equal(
    downloadMessage({ kind: 'download', file: 'model.safetensors', bytesAll: 300 * 1024 ** 2, totalAll: 1024 ** 3, rate: 10 * 1024 ** 2, etaSeconds: 72 }),
    '300 MiB of 1 GiB · 10 MiB/s · 1m12s left',
  );
  assert.equal(downloadMessage({ kind: 'download', file: 'config.json', bytesAll: 0, totalAll: 2048, rate: 0, etaSeconds: null }), '0 B of 2 KiB');
});

test('cache states in the status bar and the panel', () => {
  assert.equal(statusBarText({ kind: 'missing' }).text, '$(circle-slash) repozip: no cache');
  assert.equal(statusBarText({ kind: 'building', fraction: 0.426, message: 'KVzip scoring 40%' }).text, '$(sync~spin) repozip: building 43%');
  assert.equal(statusBarText({ kind: 'ready', key: 'k', bytes: 1.5 * 1024 ** 2, keptRatio: 0.3 }).text, '$(database) repozip: ready · 1.5 MiB · 30% kept');
  assert.equal(statusBarText({ kind: 'stale', key: 'k', bytes: 1, keptRatio: 0.3, changedFiles: 1 }).text, '$(warning) repozip: stale · 1 file changed');
  assert.match(statusBarText({ kind: 'error', message: 'disk full' }).tooltip, /disk full/);
  assert.deepEqual(panelState({ kind: 'building', fraction: 0.5, message: 'Tokenizing' }), {
    kind: 'building',
    label: 'Building the cache',
    detail: 'Tokenizing',
    progress: 0.5,
  });
  assert.deepEqual(panelState({ kind: 'stale', key: 'k', bytes: 1, keptRatio: 0.3, changedFiles: 3 }), {
    kind: 'stale',
    label: 'Stale',
    detail: '3 files changed',
  });
  assert.equal(panelState({ kind: 'error', message: 'line one\nstack' }).detail, 'line one');
});
