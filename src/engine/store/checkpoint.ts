// The prefill checkpoint of a repository: its last full (uncompressed) cache, context ids and
// KVzip scores. Files are ordered most-stable-first, so after a typical edit the new context shares
// a long prefix with the old one; the next build then prefills only what follows the common prefix
// and rescores only the chunks that are not inside it. One checkpoint per repository and settings:
// each build replaces it. The cache goes through the snapshot format (validated, atomic); the ids
// and scores sit beside it in a small file with its own checksum.
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { EngineError, ioError } from '../errors';
import { Cache, KvCache } from '../kv/cache';
import { ScoreGrid } from '../kv/select';
import { GcResult, SnapshotEntry, SnapshotStore } from './store';

/** Loaded, the cache is a host one; saved, it may be on the device (it is read back). */
export interface Checkpoint<C extends Cache = KvCache> {
  cache: C;
  prefixIds: number[];
  contextIds: number[];
  /** Scores of the context under the chunk size they were computed with. */
  scores: ScoreGrid;
  chunk: number;
}

const MAGIC = 'RZCKPT1\n';

/** Checkpoints live inside the snapshot folder, so that whatever clears the snapshots can clear them too. */
export function checkpointDir(snapshotDir: string): string {
  return path.join(snapshotDir, 'checkpoints');
}

export class CheckpointStore {
  private readonly caches: SnapshotStore;

  constructor(readonly dir: string) {
    this.caches = new SnapshotStore(dir);
  }

  private sidecar(name: string): string {
    return path.join(this.dir, `${name}.scores`);
  }

  /** A checkpoint's bytes on disk: its cache and its scores. */
  private async bytesOf(e: SnapshotEntry): Promise<number> {
    return e.bytes + ((await fsp.stat(this.sidecar(e.key)).catch(() => undefined))?.size ?? 0);
  }

  /** `root`: the repository's folder, so that clearing its caches finds its checkpoint too. */
  async save(name: string, ck: Checkpoint<Cache>, modelFingerprint: string, root: string): Promise<void> {
    const { layers, kvHeads, length, data } = ck.scores;
    // The two files are renamed into place one after the other; a crash in between leaves a new
    // score file beside the old cache. Both carry this token, and only a matching pair is loaded.
    const pair = crypto.randomBytes(8).toString('hex');
    const header = Buffer.from(JSON.stringify({ contextIds: ck.contextIds, chunk: ck.chunk, layers, kvHeads, length, pair }));
    const body = Buffer.concat([Buffer.from(MAGIC), u32(header.length), header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
    const file = this.sidecar(name);
    // named like the store's temporary files, so that its cleanupStale() removes it after a crash
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fsp.writeFile(tmp, Buffer.concat([body, crypto.createHash('sha256').update(body).digest()]), { mode: 0o600 });
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw ioError(`cannot write ${file}`, e);
    }
    await this.caches.save(ck.cache, {
      snapshotKey: name,
      modelId: 'checkpoint',
      modelFingerprint,
      press: 'none',
      ratio: 1,
      budgetMode: 'global',
      prefixIds: ck.prefixIds,
      contextLength: ck.contextIds.length,
      files: [],
      meta: { pair, root },
    });
  }

  /** Deletes the checkpoints of the repository at `root`; returns the bytes freed. */
  async removeFor(root: string): Promise<number> {
    let bytes = 0;
    for (const e of await this.caches.list()) {
      if (e.header?.meta.root !== root) continue;
      bytes += await this.bytesOf(e);
      await this.remove(e.key);
    }
    return bytes;
  }

  /** Every checkpoint with its bytes (cache and scores), most recently used first. */
  async list(): Promise<{ name: string; bytes: number }[]> {
    const out: { name: string; bytes: number }[] = [];
    for (const e of await this.caches.files()) out.push({ name: e.key, bytes: await this.bytesOf(e) });
    return out;
  }

  async remove(name: string): Promise<void> {
    await this.caches.remove(name);
    await fsp.rm(this.sidecar(name), { force: true });
  }

  /** Deletes temporary files left by killed writers (see SnapshotStore.cleanupStale). */
  cleanupStale(): Promise<string[]> {
    return this.caches.cleanupStale();
  }

  /** The checkpoint, or null when there is none or it does not fit (another model, damaged files). */
  async load(name: string, modelFingerprint: string, prefixIds: number[]): Promise<Checkpoint | null> {
    try {
      const raw = await fsp.readFile(this.sidecar(name));
      const body = raw.subarray(0, raw.length - 32);
      if (!crypto.createHash('sha256').update(body).digest().equals(raw.subarray(raw.length - 32)) || body.toString('latin1', 0, MAGIC.length) !== MAGIC) return null;
      const n = body.readUInt32LE(MAGIC.length);
      const h = JSON.parse(body.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + n)) as { contextIds: number[]; chunk: number; layers: number; kvHeads: number; length: number; pair: string };
      const bytes = body.subarray(MAGIC.length + 4 + n);
      if (bytes.length !== h.layers * h.kvHeads * h.length * 4 || h.contextIds.length !== h.length) return null;
      const loaded = await this.caches.load(name, { modelFingerprint });
      if (!loaded || typeof h.pair !== 'string' || loaded.header.meta.pair !== h.pair || loaded.header.contextLength !== h.length || JSON.stringify(loaded.header.prefixIds) !== JSON.stringify(prefixIds)) return null;
      const data = new Float32Array(bytes.length / 4);
      new Uint8Array(data.buffer).set(bytes);
      return { cache: loaded.cache, prefixIds, contextIds: h.contextIds, chunk: h.chunk, scores: { layers: h.layers, kvHeads: h.kvHeads, length: h.length, data } };
    } catch (e) {
      if (e instanceof EngineError || (e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) return null; // no usable checkpoint: build from scratch
      throw e;
    }
  }
}

/**
 * Trims a snapshot folder to `budget` bytes, its checkpoints included (each is a full, uncompressed
 * cache: several times a snapshot). Checkpoints go first, least recently used first, since they
 * only speed up rebuilds; then snapshots by last use. `keep`: snapshot keys and checkpoint names
 * never deleted (what the build that just finished wrote).
 */
export async function trimCaches(store: SnapshotStore, budget: number, keep: readonly string[] = []): Promise<GcResult & { checkpoints: string[] }> {
  const checkpoints = new CheckpointStore(checkpointDir(store.dir));
  const cks = await checkpoints.list();
  let ckBytes = cks.reduce((n, c) => n + c.bytes, 0);
  const snapBytes = (await store.files()).reduce((n, e) => n + e.bytes, 0);
  const dropped: string[] = [];
  for (const c of cks.reverse()) {
    if (snapBytes + ckBytes <= budget) break;
    if (keep.includes(c.name)) continue;
    await checkpoints.remove(c.name);
    ckBytes -= c.bytes;
    dropped.push(c.name);
  }
  const r = await store.gc(Math.max(0, budget - ckBytes), keep);
  return { removed: r.removed, bytes: r.bytes + ckBytes, checkpoints: dropped };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Length of the common prefix of two token sequences. */
export function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
