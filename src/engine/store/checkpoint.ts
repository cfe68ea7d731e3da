// The prefill checkpoint of a repository: its last full (uncompressed) cache, context ids and
// KVzip scores. Files are ordered most-stable-first, so after a typical edit the new context shares
// a long prefix with the old one; the next build then prefills only what follows the common prefix
// and rescores only the chunks that are not inside it. One checkpoint per repository and settings:
// each build replaces it. The cache goes through the snapshot format (validated, atomic); the ids
// and scores sit beside it in a small file with its own checksum.
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { EngineError } from '../errors';
import { KvCache } from '../kv/cache';
import { ScoreGrid } from '../kv/select';
import { SnapshotStore } from './store';

export interface Checkpoint {
  cache: KvCache;
  prefixIds: number[];
  contextIds: number[];
  /** Scores of the context under the chunk size they were computed with. */
  scores: ScoreGrid;
  chunk: number;
}

const MAGIC = 'RZCKPT1\n';

export class CheckpointStore {
  private readonly caches: SnapshotStore;

  constructor(readonly dir: string) {
    this.caches = new SnapshotStore(dir);
  }

  private sidecar(name: string): string {
    return path.join(this.dir, `${name}.scores`);
  }

  async save(name: string, ck: Checkpoint, modelFingerprint: string): Promise<void> {
    const { layers, kvHeads, length, data } = ck.scores;
    const header = Buffer.from(JSON.stringify({ contextIds: ck.contextIds, chunk: ck.chunk, layers, kvHeads, length }));
    const body = Buffer.concat([Buffer.from(MAGIC), u32(header.length), header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
    const file = this.sidecar(name);
    const tmp = `${file}.${process.pid}.tmp`;
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await fsp.writeFile(tmp, Buffer.concat([body, crypto.createHash('sha256').update(body).digest()]), { mode: 0o600 });
    await fsp.rename(tmp, file);
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
      meta: {},
    });
  }

  /** The checkpoint, or null when there is none or it does not fit (another model, damaged files). */
  async load(name: string, modelFingerprint: string, prefixIds: number[]): Promise<Checkpoint | null> {
    try {
      const raw = await fsp.readFile(this.sidecar(name));
      const body = raw.subarray(0, raw.length - 32);
      if (!crypto.createHash('sha256').update(body).digest().equals(raw.subarray(raw.length - 32)) || body.toString('latin1', 0, MAGIC.length) !== MAGIC) return null;
      const n = body.readUInt32LE(MAGIC.length);
      const h = JSON.parse(body.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + n)) as { contextIds: number[]; chunk: number; layers: number; kvHeads: number; length: number };
      const bytes = body.subarray(MAGIC.length + 4 + n);
      if (bytes.length !== h.layers * h.kvHeads * h.length * 4 || h.contextIds.length !== h.length) return null;
      const loaded = await this.caches.load(name, { modelFingerprint });
      if (!loaded || loaded.header.contextLength !== h.length || JSON.stringify(loaded.header.prefixIds) !== JSON.stringify(prefixIds)) return null;
      const data = new Float32Array(bytes.length / 4);
      new Uint8Array(data.buffer).set(bytes);
      return { cache: loaded.cache, prefixIds, contextIds: h.contextIds, chunk: h.chunk, scores: { layers: h.layers, kvHeads: h.kvHeads, length: h.length, data } };
    } catch (e) {
      if (e instanceof EngineError || (e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) return null; // no usable checkpoint: build from scratch
      throw e;
    }
  }
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
