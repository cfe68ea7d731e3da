// Disk budget for segments. A segment may be named by many manifests (branches, snapshots that share
// files), so segments are never deleted one by one: manifests are, least recently used first, and
// then every segment that no remaining manifest names is collected.
import { SegmentStores } from './snapshot';

export interface Collected {
  /** Manifests removed. */
  removed: number;
  /** Their snapshot keys. */
  keys: string[];
  /** Segment files deleted. */
  segments: number;
  /** Bytes freed (segments and manifests). */
  bytes: number;
  /** Bytes of the segments left. */
  left: number;
}

/** Deletes the segments that no manifest and no running build names; returns what it freed and what is left. */
async function sweep(stores: SegmentStores): Promise<{ freed: number; segments: number; left: number }> {
  const named = await stores.manifests.pendingSegments();
  for (const e of await stores.manifests.list()) for (const s of e.manifest.segments) named.add(s.key);
  let freed = 0;
  let segments = 0;
  let left = 0;
  for (const f of await stores.segments.files()) {
    if (named.has(f.key)) left += f.bytes;
    else if (await stores.segments.remove(f.key)) {
      freed += f.bytes;
      segments++;
    }
  }
  return { freed, segments, left };
}

/** Removes least recently used snapshots until what is left fits `budgetBytes`; `keep` (snapshot keys) stay. */
export async function collectGarbage(stores: SegmentStores, budgetBytes: number, keep: readonly string[] = []): Promise<Collected> {
  const first = await sweep(stores);
  const out: Collected = { removed: 0, keys: [], segments: first.segments, bytes: first.freed, left: first.left };
  const manifests = await stores.manifests.list(); // newest first
  for (const e of manifests.reverse()) {
    if (out.left <= budgetBytes) break;
    if (keep.includes(e.manifest.snapshotKey)) continue;
    await stores.manifests.remove(e.manifest.snapshotKey);
    out.removed++;
    out.keys.push(e.manifest.snapshotKey);
    const s = await sweep(stores);
    out.segments += s.segments;
    out.bytes += s.freed + e.bytes;
    out.left = s.left;
  }
  return out;
}

/** Deletes the snapshots `keys` (damaged manifests too) and then the segments no other snapshot names. */
export async function removeSnapshots(stores: SegmentStores, keys: readonly string[]): Promise<Collected> {
  const sizes = new Map((await stores.manifests.scan()).map((e) => [e.key, e.bytes]));
  let bytes = 0;
  for (const key of keys) {
    await stores.manifests.remove(key);
    bytes += sizes.get(key) ?? 0;
  }
  const s = await sweep(stores);
  return { removed: keys.length, keys: [...keys], segments: s.segments, bytes: bytes + s.freed, left: s.left };
}

/** Deletes every snapshot of the repository at `root` (absolute) and the segments only they named. */
export async function removeRepository(stores: SegmentStores, root: string): Promise<Collected> {
  const keys = (await stores.manifests.list()).filter((e) => e.manifest.root === root).map((e) => e.manifest.snapshotKey);
  return removeSnapshots(stores, keys);
}
