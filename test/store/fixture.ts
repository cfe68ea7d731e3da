// Snapshot-shaped caches for the store tests: random rows, evicted by the real global top-k over
// random scores, so every head keeps its own ragged set of positions with holes. A per-head score
// bias (`skew`) makes some heads keep everything and others nothing.
import { createHash } from 'node:crypto';
import { KvCache } from '../../src/engine/kv/cache';
import { keptRows } from '../../src/engine/kv/compress';
import { selectKeep } from '../../src/engine/kv/select';
import { rng } from '../../src/engine/sampling';
import { Manifest, MANIFEST_VERSION } from '../../src/engine/segments/manifest';
import type { FileRange, SnapshotInfo } from '../../src/engine/store/format';

export interface CacheSpec {
  layers: number;
  kvHeads: number;
  headDim: number;
  prefix: number;
  context: number;
  ratio: number;
  /** Score bias added per head index: 0 spreads the budget evenly, ≥ 1 gives whole heads or none. */
  skew?: number;
  seed?: number;
}

export { rng };

export const SMALL: CacheSpec = { layers: 2, kvHeads: 3, headDim: 16, prefix: 5, context: 37, ratio: 0.4, skew: 1 };

export function snapshotCache(spec: CacheSpec): KvCache {
  const { layers: L, kvHeads: H, headDim: D, prefix: P, context: n } = spec;
  const rand = rng(spec.seed ?? 1);
  const cache = new KvCache(L, H, D);
  const total = P + n;
  const positions = Array.from({ length: total }, (_, i) => i);
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const k = new Float32Array(total * D);
      const v = new Float32Array(total * D);
      // row magnitudes over four decades, so int8's per-row scale matters
      for (let r = 0; r < total; r++) {
        const scale = 10 ** (rand() * 4 - 2);
        for (let i = r * D; i < (r + 1) * D; i++) {
          k[i] = (rand() * 2 - 1) * scale;
          v[i] = (rand() * 2 - 1) * scale;
        }
      }
      cache.head(l, h).append(k, v, positions);
    }
  }
  cache.nextPosition = total;
  const data = new Float32Array(L * H * n);
  for (let u = 0; u < L * H; u++) for (let i = 0; i < n; i++) data[u * n + i] = rand() + u * (spec.skew ?? 0);
  cache.retain(keptRows(cache, selectKeep({ layers: L, kvHeads: H, length: n, data }, spec.ratio, 'global'), P, n));
  return cache;
}

/** A plausible SnapshotInfo for `cache`: a file map over the context, meta with non-ASCII text. */
export function snapshotInfo(spec: CacheSpec, over: Partial<SnapshotInfo> = {}): SnapshotInfo {
  const files: FileRange[] = [];
  for (let at = 0, i = 0; at < spec.context; i++) {
    const end = Math.min(spec.context, at + 3 + ((i * 7) % 11));
    files.push({ path: `src/dir ${i}/fïle-${i}.ts`, headerStart: at, start: Math.min(end, at + 2), end });
    at = end;
  }
  return {
    snapshotKey: createHash('sha256').update(JSON.stringify(spec)).digest('hex'),
    modelId: 'tinycode',
    modelFingerprint: 'f'.repeat(64),
    press: 'kvzip',
    ratio: spec.ratio,
    budgetMode: 'global',
    prefixIds: Array.from({ length: spec.prefix }, (_, i) => 100 + i),
    contextLength: spec.context,
    files,
    meta: { repoRoot: '/home/ünïcode/repo', included: files.length, skipped: [{ path: 'a.bin', reason: 'binary' }], timings: { prefillMs: 12.5 } },
    ...over,
  };
}

/** A manifest naming `segments` (each a SMALL-shaped cache in the segment store) for the repository at `root`. */
export function manifestFor(snapshotKey: string, root: string, segments: string[], over: Partial<Manifest> = {}): Manifest {
  return {
    version: MANIFEST_VERSION,
    snapshotKey,
    root,
    repoName: root.split('/').pop()!,
    modelId: 'tinycode',
    modelFingerprint: 'f'.repeat(64),
    anchor: [100, 101, 102, 103, 104],
    segmentTokens: 128,
    settings: { press: 'kvzip', ratio: SMALL.ratio, budgetMode: 'global', dtype: 'fp16', chunk: 16 },
    segments: segments.map((key, i) => ({
      key,
      tokens: SMALL.context,
      kept: [],
      pieces: [{ path: `src/f${i}.ts`, firstLine: 1, lastLine: 3, split: false, headerStart: 0, start: 2, end: SMALL.context }],
      terms: [],
    })),
    skipped: [],
    listing: segments.map((_, i): [string, string] => [`src/f${i}.ts`, 'e'.repeat(64)]),
    createdAt: new Date().toISOString(),
    ...over,
  };
}
