// The KV cache of a WebGPU session, resident in GPU memory: KvCache's role (per (layer, KV head)
// rows, each with its original position) with the rows in GPU tensors and the bookkeeping on the
// host. The 'device' graph returns every head's whole updated cache as a new tensor (past ‖ new),
// so appending replaces a head's tensors, and rolling back returns to the tensors current at the
// mark: the compressed base cache is never written, only pinned while a mark holds it. A tensor no
// head or mark can reach is disposed at once: the garbage collector does not see GPU memory.
import * as ort from 'onnxruntime-node';
import { DeviceOps, KvPair } from '../runtime/device-ops';
import { Cache, CacheMark, checkRows, KvCache } from './cache';

interface DeviceHead {
  k: ort.Tensor;
  v: ort.Tensor;
  /** Original positions of the rows, valid in [0, len). */
  pos: Int32Array;
  len: number;
}

/** A mark also holds the tensors current when it was taken, per head. */
interface DeviceMark extends CacheMark {
  tensors: KvPair[];
}

export class DeviceCache implements Cache {
  nextPosition = 0;
  private readonly heads: DeviceHead[];
  /** Marks not rolled back yet, oldest first: their tensors are pinned. */
  private marks: DeviceMark[] = [];

  constructor(
    private readonly ops: DeviceOps,
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
  ) {
    // an empty past is a CPU tensor: onnxruntime copies its zero rows in
    const empty = () => new ort.Tensor('float32', new Float32Array(0), [0, headDim]);
    this.heads = Array.from({ length: layers * kvHeads }, () => ({ k: empty(), v: empty(), pos: new Int32Array(64), len: 0 }));
  }

  /** A device copy of a host cache (a loaded snapshot): one upload per head. */
  static async upload(ops: DeviceOps, host: KvCache): Promise<DeviceCache> {
    const c = new DeviceCache(ops, host.layers, host.kvHeads, host.headDim);
    for (let l = 0; l < host.layers; l++) {
      for (let h = 0; h < host.kvHeads; h++) {
        const src = host.head(l, h);
        const head = c.head(l, h);
        [head.k, head.v] = await ops.upload(src.keys(), src.values(), src.len, host.headDim);
        appendPositions(head, src.pos.subarray(0, src.len));
      }
    }
    c.nextPosition = host.nextPosition;
    return c;
  }

  private head(l: number, h: number): DeviceHead {
    return this.heads[l * this.kvHeads + h];
  }

  length(l: number, h: number): number {
    return this.head(l, h).len;
  }

  entries(): number {
    return this.heads.reduce((n, h) => n + h.len, 0);
  }

  /** The (layer, head)'s K and V, [len, headDim] each, as a 'device' graph takes them. */
  tensors(l: number, h: number): KvPair {
    const head = this.head(l, h);
    return [head.k, head.v];
  }

  /** Takes a 'device' graph's outputs for tokens at `positions`: each head's past ‖ new rows. */
  appendPresent(present: (l: number, h: number) => KvPair, positions: number[]): void {
    this.heads.forEach((head, i) => {
      const old = [head.k, head.v];
      [head.k, head.v] = present(Math.floor(i / this.kvHeads), i % this.kvHeads);
      for (const t of old) if (!this.marks.some((m) => m.tensors[i].includes(t))) t.dispose();
      appendPositions(head, positions);
    });
    this.nextPosition = Math.max(this.nextPosition, positions[positions.length - 1] + 1);
  }

  mark(): CacheMark {
    const m: DeviceMark = {
      lengths: Array.from({ length: this.layers }, (_, l) => Array.from({ length: this.kvHeads }, (_, h) => this.length(l, h))),
      nextPosition: this.nextPosition,
      tensors: this.heads.map((h) => [h.k, h.v]),
    };
    this.marks.push(m);
    return m;
  }

  /** Back to the tensors of `mark`; it and every mark taken after it are closed. */
  rollback(mark: CacheMark): void {
    const at = this.marks.indexOf(mark as DeviceMark);
    if (at < 0) throw new Error('rollback: not an open mark of this cache (a mark rolls back once; eviction closes them all)');
    const m = this.marks[at];
    const closed = this.marks.splice(at);
    const before = [...this.heads.flatMap((h) => [h.k, h.v]), ...closed.flatMap((c) => c.tensors.flat())];
    this.heads.forEach((head, i) => {
      [head.k, head.v] = m.tensors[i];
      head.len = m.lengths[Math.floor(i / this.kvHeads)][i % this.kvHeads];
    });
    this.nextPosition = m.nextPosition;
    const live = this.live();
    for (const t of new Set(before)) if (!live.has(t)) t.dispose();
  }

  /** Eviction on the device: one gather per head; the rows never leave the GPU. */
  async retain(rows: ArrayLike<number>[][]): Promise<void> {
    if (this.marks.length) throw new Error('retain: roll back every mark first');
    for (let l = 0; l < this.layers; l++) {
      for (let h = 0; h < this.kvHeads; h++) {
        const head = this.head(l, h);
        const keep = rows[l][h];
        checkRows(keep, head.len);
        const [k, v] = await this.ops.gather(head.k, head.v, keep);
        head.k.dispose();
        head.v.dispose();
        [head.k, head.v] = [k, v];
        for (let j = 0; j < keep.length; j++) head.pos[j] = head.pos[keep[j]];
        head.len = keep.length;
      }
    }
  }

  async clone(): Promise<DeviceCache> {
    const c = new DeviceCache(this.ops, this.layers, this.kvHeads, this.headDim);
    for (let i = 0; i < this.heads.length; i++) {
      const src = this.heads[i];
      [c.heads[i].k, c.heads[i].v] = await this.ops.gather(
        src.k,
        src.v,
        Array.from({ length: src.len }, (_, j) => j),
      );
      appendPositions(c.heads[i], src.pos.subarray(0, src.len));
    }
    c.nextPosition = this.nextPosition;
    return c;
  }

  /** Reads every head back (to save a snapshot): the cache itself stays on the device. */
  async toHost(): Promise<KvCache> {
    const host = new KvCache(this.layers, this.kvHeads, this.headDim);
    for (let l = 0; l < this.layers; l++) {
      for (let h = 0; h < this.kvHeads; h++) {
        const head = this.head(l, h);
        const [k, v] = await this.ops.download(head.k, head.v);
        host.head(l, h).append(k, v, head.pos.subarray(0, head.len));
      }
    }
    host.nextPosition = this.nextPosition;
    return host;
  }

  dispose(): void {
    for (const t of this.live()) t.dispose();
    this.marks = [];
  }

  private live(): Set<ort.Tensor> {
    return new Set([...this.heads.flatMap((h) => [h.k, h.v]), ...this.marks.flatMap((m) => m.tensors.flat())]);
  }
}

function appendPositions(head: DeviceHead, positions: ArrayLike<number>): void {
  const n = head.len + positions.length;
  if (n > head.pos.length) {
    const grown = new Int32Array(Math.max(n, Math.ceil(head.pos.length * 1.5)));
    grown.set(head.pos.subarray(0, head.len));
    head.pos = grown;
  }
  head.pos.set(positions, head.len);
  head.len = n;
}
