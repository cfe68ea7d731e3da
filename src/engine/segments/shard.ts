// Machines building a repository together (a CI matrix, a Job with n completions): shard i of n
// builds the segments whose key falls to it. Keys are sha256 hex, so the share is even, the same on
// every machine, and an edit moves only the segments it changes, not the others' shards.
import { EngineError } from '../errors';
import type { Shard } from '../protocol';

/** "2/4" → { index: 2, count: 4 }. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  return checkShard(m ? { index: Number(m[1]), count: Number(m[2]) } : undefined, text);
}

/** The shard, checked (it may come from another process). */
export function checkShard(s: Shard | undefined, text = JSON.stringify(s)): Shard {
  if (!s || !Number.isInteger(s.count) || !Number.isInteger(s.index) || s.count < 1 || s.index < 1 || s.index > s.count)
    throw new EngineError('bad-input', `a shard is i/n with 1 ≤ i ≤ n (e.g. 1/4), got ${text}`);
  return s;
}

export function inShard(key: string, s: Shard): boolean {
  return parseInt(key.slice(0, 8), 16) % s.count === s.index - 1;
}
