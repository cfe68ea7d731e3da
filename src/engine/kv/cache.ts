// The host-side KV cache, and the Cache interface every kind of cache answers to. Every (layer,
// KV head) is its own growable buffer, so after KVzip's global top-k each head keeps exactly what
// it kept: no padding, no mask over the past. Each entry remembers its original position; keys are
// stored post-RoPE, so attention never needs the position again, but eviction bookkeeping, the disk
// format and the next token's position do.

/** One KV head of one layer: `len` rows of `dim` floats each for K and V. */
export class HeadCache {
  k: Float32Array;
  v: Float32Array;
  pos: Int32Array;
  len = 0;

  constructor(
    readonly dim: number,
    capacity = 64,
  ) {
    this.k = new Float32Array(capacity * dim);
    this.v = new Float32Array(capacity * dim);
    this.pos = new Int32Array(capacity);
  }

  get capacity(): number {
    return this.pos.length;
  }

  /** Grows geometrically, so appending n tokens one by one costs O(n) copies in all. */
  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const cap = Math.max(rows, Math.ceil(this.capacity * 1.5));
    const grow = <T extends Float32Array | Int32Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a.subarray(0, this.len * (a.length / this.capacity)));
      return b;
    };
    this.k = grow(this.k, cap * this.dim);
    this.v = grow(this.v, cap * this.dim);
    this.pos = grow(this.pos, cap);
  }

  /** Appends rows: k and v hold `n` rows each, `positions` their original positions. */
  append(k: Float32Array, v: Float32Array, positions: ArrayLike<number>): void {
    const n = positions.length;
    this.reserve(this.len + n);
    this.k.set(k, this.len * this.dim);
    this.v.set(v, this.len * this.dim);
    for (let i = 0; i < n; i++) this.pos[this.len + i] = positions[i];
    this.len += n;
  }

  /** Zero-copy views of the valid rows. */
  keys(): Float32Array {
    return this.k.subarray(0, this.len * this.dim);
  }

  values(): Float32Array {
    return this.v.subarray(0, this.len * this.dim);
  }

  /** Keeps only the rows whose indices are given (ascending), compacting in place in one pass. */
  retain(indices: ArrayLike<number>): void {
    checkRows(indices, this.len);
    const d = this.dim;
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j];
      if (i === j) continue;
      this.k.copyWithin(j * d, i * d, (i + 1) * d);
      this.v.copyWithin(j * d, i * d, (i + 1) * d);
      this.pos[j] = this.pos[i];
    }
    this.len = indices.length;
  }
}

/** Row indices to keep must be ascending and below `len` (so compaction can run in place). */
export function checkRows(indices: ArrayLike<number>, len: number): void {
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!Number.isInteger(i) || i < j || i >= len || (j > 0 && i <= indices[j - 1])) throw new Error('retain: indices must be ascending and in range');
  }
}

/** Lengths of every head plus the next position: enough to roll a cache back after a question. */
export interface CacheMark {
  lengths: number[][];
  nextPosition: number;
}

/**
 * What the engine asks of a KV cache wherever its rows live: KvCache below (host memory: the CPU
 * EP, and CUDA/DML/CoreML, which copy inputs and outputs every run anyway) or DeviceCache (GPU
 * memory, WebGPU). `Model.newCache()` makes the one its session feeds on.
 */
export interface Cache {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Position of the next token to be fed (the original length, even after eviction). */
  nextPosition: number;
  /** Rows held by (layer, head). */
  length(l: number, h: number): number;
  /** Entries over all (layer, head). */
  entries(): number;
  mark(): CacheMark;
  /** Drops everything appended after `mark` (a question and its answer, a scoring pass). */
  rollback(mark: CacheMark): void;
  /** Keeps only the listed rows of each head, `rows[l][h]` ascending. Marks taken before are void. */
  retain(rows: ArrayLike<number>[][]): Promise<void> | void;
  /** An independent copy on the same side. */
  clone(): Promise<Cache>;
  /** The rows as host arrays: the cache itself when it is one, else a copy read back. */
  toHost(): Promise<KvCache>;
  /** Frees what the garbage collector cannot see (GPU memory). */
  dispose(): void;
}

export class KvCache implements Cache {
  readonly heads: HeadCache[][];
  /** Position of the next token to be fed (the original length, even after eviction). */
  nextPosition = 0;

  constructor(
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
  ) {
    this.heads = Array.from({ length: layers }, () => Array.from({ length: kvHeads }, () => new HeadCache(headDim)));
  }

  head(l: number, h: number): HeadCache {
    return this.heads[l][h];
  }

  length(l: number, h: number): number {
    return this.heads[l][h].len;
  }

  /**
   * Appends a graph's `present` output [L, 2, Hkv, S, D] for tokens at `positions`.
   */
  appendPresent(present: Float32Array, positions: number[]): void {
    const S = positions.length;
    const block = S * this.headDim;
    for (let l = 0; l < this.layers; l++) {
      for (let h = 0; h < this.kvHeads; h++) {
        const k0 = ((l * 2 + 0) * this.kvHeads + h) * block;
        const v0 = ((l * 2 + 1) * this.kvHeads + h) * block;
        this.heads[l][h].append(present.subarray(k0, k0 + block), present.subarray(v0, v0 + block), positions);
      }
    }
    this.nextPosition = Math.max(this.nextPosition, positions[S - 1] + 1);
  }

  mark(): CacheMark {
    return { lengths: this.heads.map((row) => row.map((h) => h.len)), nextPosition: this.nextPosition };
  }

  /** Drops everything appended after `mark` (e.g. a question and its answer). */
  rollback(mark: CacheMark): void {
    this.heads.forEach((row, l) =>
      row.forEach((h, i) => {
        if (mark.lengths[l][i] > h.len) throw new Error('rollback: the cache is shorter than the mark');
        h.len = mark.lengths[l][i];
      }),
    );
    this.nextPosition = mark.nextPosition;
  }

  retain(rows: ArrayLike<number>[][]): void {
    this.heads.forEach((row, l) => row.forEach((h, i) => h.retain(rows[l][i])));
  }

  async clone(): Promise<KvCache> {
    const out = new KvCache(this.layers, this.kvHeads, this.headDim);
    this.heads.forEach((row, l) => row.forEach((a, h) => out.head(l, h).append(a.keys(), a.values(), a.pos.subarray(0, a.len))));
    out.nextPosition = this.nextPosition;
    return out;
  }

  async toHost(): Promise<KvCache> {
    return this;
  }

  dispose(): void {
    // host arrays: the garbage collector's
  }

  entries(): number {
    let n = 0;
    for (const row of this.heads) for (const h of row) n += h.len;
    return n;
  }

  /** Bytes the kept entries take at `bytesPerValue` (K and V). */
  bytes(bytesPerValue = 4): number {
    return this.entries() * 2 * this.headDim * bytesPerValue;
  }
}
