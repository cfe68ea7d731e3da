// Disk budget for segments. A segment may be named by many manifests (branches, snapshots that share
// files), so segments are never deleted one by one: manifests are, least recently used first, and
// then every segment that no remaining manifest names is collected.
import type { ManifestSummary } from './manifest';
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

/**
 * What the store holds, read once: how many manifests name each segment, which segments running
 * builds name, every segment file's size. Removing a manifest then frees exactly the segments it
 * was the last to name, without reading every manifest again.
 */
class Collector {
  readonly out: Collected = { removed: 0, keys: [], segments: 0, bytes: 0, left: 0 };

  private constructor(
    private readonly stores: SegmentStores,
    private readonly pending: Set<string>,
    private readonly uses: Map<string, number>,
    private readonly sizes: Map<string, number>,
  ) {
    for (const bytes of sizes.values()) this.out.left += bytes;
  }

  static async open(stores: SegmentStores, manifests: readonly Listed[]): Promise<Collector> {
    const uses = new Map<string, number>();
    for (const e of manifests) for (const key of segmentKeys(e)) uses.set(key, (uses.get(key) ?? 0) + 1);
    const sizes = new Map((await stores.segments.files()).map((f) => [f.key, f.bytes]));
    const c = new Collector(stores, await stores.manifests.pendingSegments(), uses, sizes);
    for (const key of [...sizes.keys()]) await c.dropIfUnnamed(key);
    return c;
  }

  /** Removes one manifest (whose file takes `bytes`) and the segments only it named. */
  async removeManifest(key: string, bytes: number, segments: Iterable<string>): Promise<void> {
    await this.stores.manifests.remove(key);
    this.out.removed++;
    this.out.keys.push(key);
    this.out.bytes += bytes;
    for (const seg of segments) {
      this.uses.set(seg, (this.uses.get(seg) ?? 1) - 1);
      await this.dropIfUnnamed(seg);
    }
  }

  /** Deletes a segment file that no manifest and no running build names. */
  private async dropIfUnnamed(key: string): Promise<void> {
    const bytes = this.sizes.get(key);
    if (bytes === undefined || this.pending.has(key) || (this.uses.get(key) ?? 0) > 0) return;
    this.sizes.delete(key);
    this.out.left -= bytes;
    if (await this.stores.segments.remove(key)) {
      this.out.segments++;
      this.out.bytes += bytes;
    }
  }
}

/** A readable manifest with its file's size. */
type Listed = { manifest: ManifestSummary; bytes: number };

const segmentKeys = (e: Listed): Set<string> => new Set(e.manifest.keys);

/** Removes least recently used snapshots until what is left fits `budgetBytes`; `keep` (snapshot keys) stay. */
export async function collectGarbage(stores: SegmentStores, budgetBytes: number, keep: readonly string[] = []): Promise<Collected> {
  const manifests = await stores.manifests.list(); // newest first
  const c = await Collector.open(stores, manifests);
  for (const e of [...manifests].reverse()) {
    if (c.out.left <= budgetBytes) break;
    if (!keep.includes(e.manifest.snapshotKey)) await c.removeManifest(e.manifest.snapshotKey, e.bytes, segmentKeys(e));
  }
  return c.out;
}

/** Deletes the snapshots `keys` (damaged manifests too) and then the segments no other snapshot names. */
export async function removeSnapshots(stores: SegmentStores, keys: readonly string[]): Promise<Collected> {
  const scanned = await stores.manifests.scan(); // damaged manifests too: they are removed by key
  const manifests = scanned.flatMap(({ manifest, bytes }) => (manifest ? [{ manifest, bytes }] : []));
  const c = await Collector.open(stores, manifests);
  const sizes = new Map(scanned.map((e) => [e.key, e.bytes]));
  const named = new Map(manifests.map((e) => [e.manifest.snapshotKey, segmentKeys(e)]));
  for (const key of new Set(keys)) await c.removeManifest(key, sizes.get(key) ?? 0, named.get(key) ?? []); // once each: a key given twice must not count its segments down twice
  return c.out;
}

/** Deletes every snapshot of the repository at `root` (absolute) and the segments only they named. */
export async function removeRepository(stores: SegmentStores, root: string): Promise<Collected> {
  const keys = (await stores.manifests.list()).filter((e) => e.manifest.root === root).map((e) => e.manifest.snapshotKey);
  return removeSnapshots(stores, keys);
}
