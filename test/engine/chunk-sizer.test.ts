// The chunk sizer against simulated run times ms = fixed(past) + perToken·S: it must aim at its target
// when runs cost per token only, and never let a run's fixed cost (which grows with the cache)
// dominate, where a per-token average would shrink chunks without end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkSizer } from '../../src/engine/chunks';

function drive(sizer: ChunkSizer, cost: (S: number, done: number) => number, total: number): number[] {
  const sizes: number[] = [];
  for (let done = 0; done < total;) {
    const S = sizer.next(total - done, done);
    sizer.record(S, done, cost(S, done));
    sizes.push(S);
    done += S;
  }
  return sizes;
}

test('per-token cost only: chunks settle where a run takes the target time', () => {
  const sizes = drive(new ChunkSizer(512, 400), (S) => 2 * S, 20000);
  for (const s of sizes.slice(3, -1)) assert.equal(s, 200);
});

test('a fixed cost growing with the cache: chunks grow so it stays under a quarter of each run', () => {
  // 0.5B-like: 4 ms per token, and 40 ms of fixed cost per 1000 cached tokens
  const cost = (S: number, done: number) => 30 + 4 * S + 0.04 * done;
  const sizes = drive(new ChunkSizer(512, 400), cost, 8000);
  let done = 0;
  for (const [i, s] of sizes.entries()) {
    if (i >= 3 && done + s < 8000) {
      const fixed = 30 + 0.04 * done;
      // (0.26: the chunk is rounded to whole tokens)
      assert.ok(fixed <= 0.26 * cost(s, done) || s === 512, `at ${done} cached tokens: chunk ${s}, fixed ${fixed} of ${cost(s, done)} ms`);
      assert.ok(s >= (400 - fixed) / 4 - 2, `chunk ${s} at ${done}: shorter than the time target allows`);
    }
    done += s;
  }
  // the average over the last runs: what a per-token estimate alone would have driven down to 16
  const tail = sizes.slice(-6, -1);
  assert.ok(tail.reduce((a, b) => a + b) / tail.length > 200, `late chunks ${tail}`);
});

test('noise in the timings does not break the fit', () => {
  let seed = 1;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2;
  const sizes = drive(new ChunkSizer(512, 400), (S, done) => (4 * S + 0.04 * done) * (1 + noise()), 8000);
  for (const s of sizes) assert.ok(s >= 16 && s <= 512);
  assert.equal(
    sizes.reduce((a, b) => a + b),
    8000,
  );
});
