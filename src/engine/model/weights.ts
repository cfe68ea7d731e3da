// The external-data file of a converted model: weights laid out as the graph consumes them, each
// 64-byte aligned, so onnxruntime memory-maps the file instead of copying it into the process.
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { Graph } from '../onnx/builder';
import { f32ToF16 } from '../tensor/half';

export type WeightFormat = 'fp32' | 'fp16' | 'int4';
export const INT4_BLOCK = 32;

/** A file's size and CRC-32, as the conversion's completion marker records them. */
export interface FileSum {
  bytes: number;
  crc32: number;
}

export class WeightFile {
  private offset = 0;
  // summed as written: the marker gets the checksum without reading gigabytes back
  private crc = 0;
  private readonly fd: number;

  constructor(
    private readonly graph: Graph,
    readonly path: string,
    private readonly location: string,
  ) {
    this.fd = fs.openSync(path, 'w', 0o600);
  }

  private write(bytes: Uint8Array): { offset: number; length: number } {
    const pad = (64 - (this.offset % 64)) % 64;
    if (pad) {
      const zeros = new Uint8Array(pad);
      fs.writeSync(this.fd, zeros, 0, pad, this.offset);
      this.crc = crc32(zeros, this.crc);
    }
    const at = this.offset + pad;
    fs.writeSync(this.fd, bytes, 0, bytes.length, at);
    this.crc = crc32(bytes, this.crc);
    this.offset = at + bytes.length;
    return { offset: at, length: bytes.length };
  }

  /** Stores a float tensor (as fp32, or fp16 when `half`) and returns its initializer name. */
  tensor(name: string, data: Float32Array, dims: number[], half = false): string {
    const bytes = half ? new Uint8Array(f32ToF16(data).buffer) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const { offset, length } = this.write(bytes);
    return this.graph.external(name, half ? 'float16' : 'float', dims, this.location, offset, length);
  }

  /** Stores `w` [n, k] (row = output channel, as in nn.Linear) in MatMulNBits' int4 layout. */
  int4(name: string, w: Float32Array, n: number, k: number): { b: string; scales: string; zeros: string } {
    const q = quantizeInt4(w, n, k);
    const blocks = Math.ceil(k / INT4_BLOCK);
    return {
      b: this.graph.external(`${name}.q4`, 'uint8', [n, blocks, INT4_BLOCK / 2], this.location, ...at(this.write(q.packed))),
      scales: this.graph.external(`${name}.scales`, 'float', [n, blocks], this.location, ...at(this.write(new Uint8Array(q.scales.buffer)))),
      zeros: this.graph.external(`${name}.zp`, 'uint8', [n, Math.ceil(blocks / 2)], this.location, ...at(this.write(q.zeros))),
    };
  }

  /** What has been written so far. */
  get sum(): FileSum {
    return { bytes: this.offset, crc32: this.crc };
  }

  close(): void {
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}

const at = (r: { offset: number; length: number }): [number, number] => [r.offset, r.length];

/** Transposes a row-major [rows, cols] matrix. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/**
 * Asymmetric 4-bit block quantisation along k (blocks of 32), in MatMulNBits' layout:
 * value i of a block in the low nibble of byte i/2 when i is even, the high nibble when odd;
 * zero points packed two blocks per byte the same way. Dequantised value = (q - zp) * scale.
 */
export function quantizeInt4(w: Float32Array, n: number, k: number): { packed: Uint8Array; scales: Float32Array; zeros: Uint8Array } {
  const blocks = Math.ceil(k / INT4_BLOCK);
  const packed = new Uint8Array(n * blocks * (INT4_BLOCK / 2));
  const scales = new Float32Array(n * blocks);
  const zeros = new Uint8Array(n * Math.ceil(blocks / 2));
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * INT4_BLOCK;
      const k1 = Math.min(k, k0 + INT4_BLOCK);
      let lo = 0;
      let hi = 0; // the range always holds 0 so that zero stays exact
      for (let i = k0; i < k1; i++) {
        const v = w[r * k + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const scale = (hi - lo) / 15 || 1;
      const zp = Math.min(15, Math.max(0, Math.round(-lo / scale)));
      scales[r * blocks + b] = scale;
      const zi = r * Math.ceil(blocks / 2) + (b >> 1);
      zeros[zi] |= b & 1 ? zp << 4 : zp;
      const base = (r * blocks + b) * (INT4_BLOCK / 2);
      for (let i = k0; i < k1; i++) {
        const q = Math.min(15, Math.max(0, Math.round(w[r * k + i] / scale) + zp));
        const j = i - k0;
        packed[base + (j >> 1)] |= j & 1 ? q << 4 : q;
      }
      // padding past k (when k is not a multiple of 32) quantises to zp, i.e. exactly 0
      for (let j = k1 - k0; j < INT4_BLOCK; j++) packed[base + (j >> 1)] |= j & 1 ? zp << 4 : zp;
    }
  }
  return { packed, scales, zeros };
}
