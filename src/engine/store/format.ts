// The on-disk form of one compressed snapshot. A file is trusted only after every byte has been
// checked, because a cache that silently loads garbage answers questions about the wrong code.
//
// Byte layout (integers little-endian; sections follow each other with no padding):
//
//   0   8  magic "RZKVSNAP"
//   8   4  u32 format version (FORMAT_VERSION)
//  12   4  u32 header length H in bytes
//  16   H  header: UTF-8 JSON, a CacheHeader
//      L*Hkv*ceil(n/8)  keep bitmaps, layer-major: bit i (LSB first) of head (l, h) says whether
//                       context token i (position prefixLength + i) was kept
//      per head (l, h), layer-major, with r = prefixLength + kept[l][h] rows ordered by position:
//        fp16: K r*D u16, V r*D u16
//        int8: K scales r u16 (fp16), V scales r u16 (fp16), K r*D i8, V r*D i8
//  32      sha256 of every byte before it
//   8      end marker "RZKV-END"
//
// Positions are not stored: prefix rows sit at 0..prefixLength-1 and context rows where their bit
// says, which costs one bit per context token instead of four bytes per kept row and head.
import { createHash, type Hash } from 'node:crypto';
import { endianness } from 'node:os';
import { EngineError } from '../errors';
import { KvCache } from '../kv/cache';
import { BUDGET_MODES, type BudgetMode } from '../kv/select';
import { f16ToF32, f32ToF16, floatToHalf, halfToFloat } from '../tensor/half';

/** Bump on any change to the layout above or to the meaning of a header field. */
export const FORMAT_VERSION = 1;

const MAGIC = Buffer.from('RZKVSNAP', 'latin1');
const END = Buffer.from('RZKV-END', 'latin1');
const PREAMBLE = MAGIC.length + 8;
const TRAILER = 32 + END.length;

// Rows travel as typed-array bytes, which are little-endian on every platform Node ships for.
if (endianness() !== 'LE') throw new EngineError('internal', 'the cache format assumes a little-endian machine');

export type KvDtype = 'fp16' | 'int8';
export const KV_DTYPES: KvDtype[] = ['fp16', 'int8'];

export interface Shape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

/** Where one file sits in the context tokens: header in [headerStart, start), content in [start, end). */
export interface FileRange {
  path: string;
  headerStart: number;
  start: number;
  end: number;
}

/** What the caller knows about a snapshot that the cache itself cannot tell. */
export interface SnapshotInfo {
  snapshotKey: string;
  modelId: string;
  modelFingerprint: string;
  press: string;
  /** The requested fraction of context entries kept. */
  ratio: number;
  budgetMode: BudgetMode;
  prefixIds: number[];
  contextLength: number;
  files: FileRange[];
  /** Opaque to the store (included/skipped files, timings...); must be plain JSON. */
  meta: Record<string, unknown>;
}

/** The JSON header: the caller's info plus what the encoder read off the cache. */
export interface CacheHeader extends SnapshotInfo {
  createdAt: string;
  shape: Shape;
  dtype: KvDtype;
  prefixLength: number;
  nextPosition: number;
  /** Context rows kept per [layer][kvHead]; every head also holds all prefix rows. */
  kept: number[][];
}

/** What a loader requires of a file before using it. */
export interface Expect {
  snapshotKey: string;
  modelFingerprint?: string;
  shape?: Shape;
}

/** Random access to a file's bytes. */
export interface ByteSource {
  readonly size: number;
  /** Fills `into` with the bytes at `offset`. */
  read(into: Uint8Array, offset: number): Promise<void>;
}

const corrupt = (what: string) => new EngineError('corrupt-cache', what);

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * Checks that `cache` is a compressed snapshot of `info` (every head: the prefix rows in order, then
 * kept context rows by ascending position, nothing past the context) and returns its header plus
 * the file's bytes as a lazy sequence of chunks, so a large cache is never held twice in memory.
 */
export function encodeSnapshot(cache: KvCache, info: SnapshotInfo, dtype: KvDtype = 'fp16'): { header: CacheHeader; chunks: Generator<Uint8Array> } {
  const P = info.prefixIds.length;
  const n = info.contextLength;
  const mapBytes = Math.ceil(n / 8);
  const bitmaps = new Uint8Array(cache.layers * cache.kvHeads * mapBytes);
  const kept = cache.heads.map((row, l) =>
    row.map((head, h) => {
      const map = bitmaps.subarray((l * cache.kvHeads + h) * mapBytes, (l * cache.kvHeads + h + 1) * mapBytes);
      for (let i = 0; i < head.len; i++) {
        const p = head.pos[i];
        const ok = i < P ? p === i : p >= P && p < P + n && (i === P || p > head.pos[i - 1]);
        if (!ok)
          throw new EngineError(
            'bad-input',
            `layer ${l} head ${h}: row ${i} has position ${p}; a snapshot holds the prefix rows, then context rows by ascending position, nothing past the context`,
          );
        if (i >= P) map[(p - P) >> 3] |= 1 << ((p - P) & 7);
      }
      if (head.len < P) throw new EngineError('bad-input', `layer ${l} head ${h} lacks prefix rows (${head.len} < ${P})`);
      return head.len - P;
    }),
  );
  const header: CacheHeader = {
    snapshotKey: info.snapshotKey,
    modelId: info.modelId,
    modelFingerprint: info.modelFingerprint,
    createdAt: new Date().toISOString(),
    shape: { layers: cache.layers, kvHeads: cache.kvHeads, headDim: cache.headDim },
    dtype,
    ratio: info.ratio,
    press: info.press,
    budgetMode: info.budgetMode,
    prefixLength: P,
    contextLength: n,
    nextPosition: cache.nextPosition,
    prefixIds: info.prefixIds,
    kept,
    files: info.files.map(({ path, headerStart, start, end }) => ({ path, headerStart, start, end })),
    meta: info.meta,
  };
  // Whatever the decoder would reject must fail here, before a byte is written.
  let json: Buffer;
  try {
    json = Buffer.from(JSON.stringify(header), 'utf8');
    parseHeader(json);
  } catch (e) {
    throw new EngineError('bad-input', `cannot save snapshot: ${(e as Error).message}`);
  }

  function* chunks(): Generator<Uint8Array> {
    const hash = createHash('sha256');
    const emit = (b: Uint8Array) => (hash.update(b), b);
    const pre = Buffer.alloc(PREAMBLE);
    MAGIC.copy(pre, 0);
    pre.writeUInt32LE(FORMAT_VERSION, 8);
    pre.writeUInt32LE(json.length, 12);
    yield emit(pre);
    yield emit(json);
    yield emit(bitmaps);
    for (let l = 0; l < cache.layers; l++) {
      for (let h = 0; h < cache.kvHeads; h++) {
        const head = cache.head(l, h);
        const where = `layer ${l} head ${h}`;
        yield emit(dtype === 'fp16' ? fp16Rows(head.keys(), head.values(), where) : int8Rows(head.keys(), head.values(), cache.headDim, where));
      }
    }
    yield Buffer.concat([hash.digest(), END]);
  }
  return { header, chunks: chunks() };
}

function fp16Rows(k: Float32Array, v: Float32Array, where: string): Uint8Array {
  const out = new Uint16Array(k.length + v.length);
  out.set(f32ToF16(k), 0);
  out.set(f32ToF16(v), k.length);
  // an overflow would turn into ±inf and poison every attention score that touches it
  for (const x of out) if ((x & 0x7c00) === 0x7c00) throw new EngineError('bad-input', `${where}: a value is not finite in fp16`);
  return new Uint8Array(out.buffer);
}

/** Symmetric per-row int8: row ≈ q * scale, |q| ≤ 127, the scale itself stored as fp16. */
function int8Rows(k: Float32Array, v: Float32Array, dim: number, where: string): Uint8Array {
  const rows = k.length / dim;
  const out = new Uint8Array(rows * 2 * (2 + dim));
  const scales = new Uint16Array(out.buffer, 0, 2 * rows);
  const q = new Int8Array(out.buffer, 4 * rows, 2 * rows * dim);
  [k, v].forEach((src, t) => {
    for (let r = 0; r < rows; r++) {
      const row = src.subarray(r * dim, (r + 1) * dim);
      let max = 0;
      for (const x of row) max = Math.max(max, Math.abs(x));
      // Rounded up to the next fp16, so |x| / scale never exceeds 127 and nothing needs clamping.
      let s16 = floatToHalf(max / 127);
      if (halfToFloat(s16) < max / 127) s16++;
      const scale = halfToFloat(s16);
      if (!Number.isFinite(scale)) throw new EngineError('bad-input', `${where}: a value is too large for an int8 cache`);
      scales[t * rows + r] = s16;
      const dst = (t * rows + r) * dim;
      if (scale > 0) for (let i = 0; i < dim; i++) q[dst + i] = Math.round(row[i] / scale);
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Bytes of one (layer, head) block of `rows` rows. */
function blockBytes(dtype: KvDtype, rows: number, dim: number): number {
  return dtype === 'fp16' ? rows * 2 * dim * 2 : rows * 2 * (2 + dim);
}

async function readExactly(src: ByteSource, offset: number, length: number, hash?: Hash): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await src.read(out, offset);
  hash?.update(out);
  return out;
}

/**
 * Reads and checks everything up to the row data: magic, version, header, and that the file is
 * exactly as long as the header says. Cheap (no row is read), so listing a store can use it.
 */
export async function readHeader(src: ByteSource, hash?: Hash): Promise<{ header: CacheHeader; dataStart: number }> {
  if (src.size < PREAMBLE + TRAILER) throw corrupt(`truncated: ${src.size} bytes, a cache file has at least ${PREAMBLE + TRAILER}`);
  const pre = Buffer.from(await readExactly(src, 0, PREAMBLE, hash));
  if (!pre.subarray(0, MAGIC.length).equals(MAGIC))
    throw corrupt(`not a repozip cache file (magic ${JSON.stringify(pre.subarray(0, MAGIC.length).toString('latin1'))})`);
  const version = pre.readUInt32LE(8);
  if (version !== FORMAT_VERSION) throw corrupt(`format version ${version}, this build reads version ${FORMAT_VERSION}`);
  const headerLength = pre.readUInt32LE(12);
  if (PREAMBLE + headerLength + TRAILER > src.size) throw corrupt(`truncated: the header is ${headerLength} bytes but the file has ${src.size}`);
  const header = parseHeader(await readExactly(src, PREAMBLE, headerLength, hash));
  const dataStart = PREAMBLE + headerLength;
  const { layers, kvHeads, headDim } = header.shape;
  let size = dataStart + layers * kvHeads * Math.ceil(header.contextLength / 8) + TRAILER;
  for (const row of header.kept) for (const k of row) size += blockBytes(header.dtype, header.prefixLength + k, headDim);
  if (size !== src.size) throw corrupt(`${size > src.size ? 'truncated' : 'trailing bytes'}: the header describes ${size} bytes, the file has ${src.size}`);
  return { header, dataStart };
}

/**
 * Decodes a whole file into a new cache. Throws `corrupt-cache` on any inconsistency; the cache is
 * returned only after the checksum over the whole file has matched.
 */
export async function decodeSnapshot(src: ByteSource, expect: Expect): Promise<{ cache: KvCache; header: CacheHeader }> {
  const hash = createHash('sha256');
  const { header, dataStart } = await readHeader(src, hash);
  const end = Buffer.from(await readExactly(src, src.size - END.length, END.length));
  if (!end.equals(END)) throw corrupt('the end marker is missing (an incomplete write?)');
  checkExpected(header, expect);

  const { layers, kvHeads, headDim: D } = header.shape;
  const { prefixLength: P, contextLength: n, dtype } = header;
  const mapBytes = Math.ceil(n / 8);
  const bitmaps = await readExactly(src, dataStart, layers * kvHeads * mapBytes, hash);
  const cache = new KvCache(layers, kvHeads, D);
  cache.nextPosition = header.nextPosition;
  let at = dataStart + bitmaps.length;
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < kvHeads; h++) {
      const map = bitmaps.subarray((l * kvHeads + h) * mapBytes, (l * kvHeads + h + 1) * mapBytes);
      const positions = keptPositions(map, P, n, `layer ${l} head ${h}`);
      if (positions.length - P !== header.kept[l][h])
        throw corrupt(`layer ${l} head ${h}: the header counts ${header.kept[l][h]} kept rows, the bitmap ${positions.length - P}`);
      const rows = positions.length;
      const block = await readExactly(src, at, blockBytes(dtype, rows, D), hash);
      at += block.length;
      const { k, v } = dtype === 'fp16' ? fromFp16(block, rows * D) : fromInt8(block, rows, D);
      cache.head(l, h).append(k, v, positions);
    }
  }
  const stored = await readExactly(src, at, 32);
  if (!hash.digest().equals(stored)) throw corrupt('checksum mismatch: the file was damaged after it was written');
  return { cache, header };
}

function keptPositions(map: Uint8Array, P: number, n: number, where: string): Int32Array {
  let count = 0;
  for (const b of map) for (let x = b; x; x &= x - 1) count++;
  if (n % 8 && map[map.length - 1] >> (n % 8)) throw corrupt(`${where}: the bitmap marks tokens past the context`);
  const positions = new Int32Array(P + count);
  for (let i = 0; i < P; i++) positions[i] = i;
  let j = P;
  for (let i = 0; i < n; i++) if ((map[i >> 3] >> (i & 7)) & 1) positions[j++] = P + i;
  return positions;
}

function fromFp16(block: Uint8Array, values: number): { k: Float32Array; v: Float32Array } {
  const all = f16ToF32(new Uint16Array(block.buffer, block.byteOffset, 2 * values));
  return { k: all.subarray(0, values), v: all.subarray(values) };
}

function fromInt8(block: Uint8Array, rows: number, dim: number): { k: Float32Array; v: Float32Array } {
  const scales = f16ToF32(new Uint16Array(block.buffer, block.byteOffset, 2 * rows));
  const q = new Int8Array(block.buffer, block.byteOffset + 4 * rows, 2 * rows * dim);
  const out = new Float32Array(2 * rows * dim);
  for (let r = 0; r < 2 * rows; r++) for (let i = r * dim; i < (r + 1) * dim; i++) out[i] = q[i] * scales[r];
  return { k: out.subarray(0, rows * dim), v: out.subarray(rows * dim) };
}

function checkExpected(header: CacheHeader, expect: Expect): void {
  if (header.snapshotKey !== expect.snapshotKey) throw corrupt(`the file holds snapshot ${header.snapshotKey}, not ${expect.snapshotKey}`);
  if (expect.modelFingerprint !== undefined && header.modelFingerprint !== expect.modelFingerprint) {
    throw corrupt(`the file was made for model fingerprint ${header.modelFingerprint}, expected ${expect.modelFingerprint}`);
  }
  const s = header.shape;
  const e = expect.shape;
  if (e && (s.layers !== e.layers || s.kvHeads !== e.kvHeads || s.headDim !== e.headDim)) {
    throw corrupt(`the file's shape is ${s.layers} layers × ${s.kvHeads} KV heads × ${s.headDim}, expected ${e.layers} × ${e.kvHeads} × ${e.headDim}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Header validation: every field, so that no later step meets a value it did not expect.

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (v: unknown) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const isString = (v: unknown) => typeof v === 'string';

const preview = (v: unknown) => String(JSON.stringify(v)).slice(0, 80);

function field<T>(o: Json, name: string, ok: (v: unknown) => boolean, what: string, at = ''): T {
  if (!ok(o[name])) throw corrupt(`header field ${at}${name} must be ${what}, got ${preview(o[name])}`);
  return o[name] as T;
}

function parseHeader(bytes: Uint8Array): CacheHeader {
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw corrupt(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(h)) throw corrupt('the header is not a JSON object');
  const shapeJson = field<Json>(h, 'shape', isObject, 'an object');
  const shape: Shape = {
    layers: field(shapeJson, 'layers', isInt(1), 'a positive integer', 'shape.'),
    kvHeads: field(shapeJson, 'kvHeads', isInt(1), 'a positive integer', 'shape.'),
    headDim: field(shapeJson, 'headDim', isInt(1), 'a positive integer', 'shape.'),
  };
  const prefixLength = field<number>(h, 'prefixLength', isInt(0), 'a whole number');
  const contextLength = field<number>(h, 'contextLength', isInt(1), 'a positive integer');
  const files = field<unknown[]>(h, 'files', Array.isArray, 'a list');
  const isRange = (v: unknown): v is FileRange =>
    isObject(v) && isString(v.path) && isInt(0)(v.headerStart) && isInt(v.headerStart as number)(v.start) && isInt(v.start as number, contextLength)(v.end);
  files.forEach((f, i) => {
    if (!isRange(f)) throw corrupt(`header field files[${i}] must be {path, headerStart ≤ start ≤ end ≤ ${contextLength}}, got ${preview(f)}`);
  });
  return {
    snapshotKey: field(h, 'snapshotKey', isString, 'a string'),
    modelId: field(h, 'modelId', isString, 'a string'),
    modelFingerprint: field(h, 'modelFingerprint', isString, 'a string'),
    createdAt: field(h, 'createdAt', (v) => isString(v) && Number.isFinite(Date.parse(v as string)), 'a date'),
    shape,
    dtype: field(h, 'dtype', (v) => KV_DTYPES.includes(v as KvDtype), KV_DTYPES.join(' or ')),
    ratio: field(h, 'ratio', (v) => typeof v === 'number' && v > 0 && v <= 1, 'a number in (0, 1]'),
    press: field(h, 'press', isString, 'a string'),
    budgetMode: field(h, 'budgetMode', (v) => BUDGET_MODES.includes(v as BudgetMode), BUDGET_MODES.join(' or ')),
    prefixLength,
    contextLength,
    nextPosition: field(h, 'nextPosition', isInt(prefixLength + contextLength), `a whole number ≥ ${prefixLength + contextLength}`),
    prefixIds: field(h, 'prefixIds', (v) => Array.isArray(v) && v.length === prefixLength && v.every(isInt(0)), `${prefixLength} token ids`),
    kept: field(
      h,
      'kept',
      (v) =>
        Array.isArray(v) &&
        v.length === shape.layers &&
        v.every((row) => Array.isArray(row) && row.length === shape.kvHeads && row.every(isInt(0, contextLength))),
      `${shape.layers} × ${shape.kvHeads} counts in [0, ${contextLength}]`,
    ),
    files: (files as FileRange[]).map(({ path, headerStart, start, end }) => ({ path, headerStart, start, end })),
    meta: field(h, 'meta', isObject, 'an object'),
  };
}
