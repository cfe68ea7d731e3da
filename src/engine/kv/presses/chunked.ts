// ChunkKV (arXiv 2502.00299; kvpress's ChunkKVPress): keep and evict runs of consecutive entries,
// not single ones. A continuation is read from consecutive positions of the context, so an eviction
// that leaves every third token of a passage costs every copy from it, while the same budget spent
// on whole passages leaves those intact. Each entry's score becomes the mean of its aligned chunk's
// in its (layer, KV head); the shared selection then takes whole chunks (a tie at the threshold
// takes a chunk's first entries).
import { Press } from '../press';
import type { ScoreGrid } from '../select';
import { ScoreWrapper } from './wrapper';

/** Entries per chunk: kvpress's ChunkKVPress default, not tuned here. */
export const CHUNK_LENGTH = 20;

export class ChunkedScores extends ScoreWrapper {
  constructor(
    inner: Press,
    readonly chunkLength = CHUNK_LENGTH,
  ) {
    super(inner, 'chunk');
  }

  protected reshape(grid: ScoreGrid): void {
    const { data, length: n } = grid;
    for (let u = 0; u < grid.layers * grid.kvHeads; u++) {
      for (let c0 = u * n; c0 < (u + 1) * n; c0 += this.chunkLength) {
        const c1 = Math.min(c0 + this.chunkLength, (u + 1) * n);
        let sum = 0;
        for (let i = c0; i < c1; i++) sum += data[i];
        data.fill(sum / (c1 - c0), c0, c1);
      }
    }
  }
}
