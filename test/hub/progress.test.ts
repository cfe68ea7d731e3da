// The progress meter on a fake clock: totals, throttling, the smoothed rate and the ETA.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Progress, ProgressMeter } from '../../src/engine/hub/progress';

test('bytes add up, events are throttled to 200 ms, the rate is smoothed and resumed bytes do not count as speed', () => {
  let now = 0;
  const events: Progress[] = [];
  const meter = new ProgressMeter(
    1000,
    (p) => events.push(p),
    () => now,
  );
  const last = () => events.at(-1)!;

  meter.finish('config.json', 100); // already cached
  assert.deepEqual(last(), { file: 'config.json', bytes: 100, total: 100, bytesAll: 100, totalAll: 1000, rate: 0, etaSeconds: null });
  now = 100;
  meter.start('model.safetensors', 900, 300); // 300 bytes left by an earlier pull
  assert.deepEqual([last().bytes, last().bytesAll, last().rate], [300, 400, 0]);
  now = 150;
  meter.receive('model.safetensors', 900, 100);
  assert.equal(events.length, 2, 'within 200 ms of the last event: no new one');
  now = 400;
  meter.receive('model.safetensors', 900, 100); // 200 B in 0.4 s
  assert.deepEqual([last().bytes, last().bytesAll, last().rate, last().etaSeconds], [500, 600, 500, 0.8]);
  now = 600;
  meter.receive('model.safetensors', 900, 200); // 200 B in 0.2 s: 1000 B/s, smoothed
  assert.deepEqual([last().bytesAll, last().rate], [800, 500 + 0.3 * (1000 - 500)]);
  assert.ok(Math.abs(last().etaSeconds! - 200 / 650) < 1e-12);
  now = 650;
  meter.receive('model.safetensors', 900, 200);
  meter.finish('model.safetensors', 900); // forced, however soon
  assert.deepEqual([last().bytes, last().bytesAll, last().etaSeconds], [900, 1000, 0]);
});

test('a server that ignored Range restarts a file at zero: its bytes and the total drop back', () => {
  const events: Progress[] = [];
  const meter = new ProgressMeter(1000, (p) => events.push(p));
  meter.start('w', 1000, 600);
  meter.start('w', 1000, 0);
  assert.deepEqual(
    events.map((e) => [e.bytes, e.bytesAll]),
    [
      [600, 600],
      [0, 0],
    ],
  );
});
