// The external-data file of a converted model: weights laid out as the graph consumes them, each
// 64-byte aligned, so onnxruntime memory-maps the file instead of copying it into the process.
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { Graph } from '../onnx/builder';
import { f32ToF16 } from '../tensor/half';

export type WeightFormat = 'fp32' | 'fp16' | 'int8' | 'int4';
/** The quantised formats and their bits per weight (MatMulNBits, blocks of QUANT_BLOCK along k). */
export const QUANT_BITS: Partial<Record<WeightFormat, 4 | 8>> = { int8: 8, int4: 4 };
export const QUANT_BLOCK = 32;

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

  /** Stores `w` [n, k] (row = output channel, as in nn.Linear) in MatMulNBits' `bits`-bit layout. */
  nbits(name: string, w: Float32Array, n: number, k: number, bits: 4 | 8): { b: string; scales: string; zeros: string } {
    const q = quantize(w, n, k, bits);
    const blocks = Math.ceil(k / QUANT_BLOCK);
    return {
      b: this.graph.external(`${name}.q${bits}`, 'uint8', [n, blocks, (QUANT_BLOCK * bits) / 8], this.location, ...at(this.write(q.packed))),
      scales: this.graph.external(`${name}.scales`, 'float', [n, blocks], this.location, ...at(this.write(new Uint8Array(q.scales.buffer)))),
      zeros: this.graph.external(`${name}.zp`, 'uint8', [n, zeroBytes(blocks, bits)], this.location, ...at(this.write(q.zeros))),
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

/** Bytes of one row's packed zero points: `8 / bits` blocks per byte. */
const zeroBytes = (blocks: number, bits: number) => Math.ceil((blocks * bits) / 8);

/**
 * Asymmetric `bits`-bit block quantisation along k (blocks of 32), in MatMulNBits' layout: value i
 * of a block in byte i·bits/8, the low bits first (4-bit: i even in the low nibble, odd in the high;
 * 8-bit: one byte each); zero points packed the same way, one per block. Dequantised value = (q - zp) * scale.
 */
export function quantize(w: Float32Array, n: number, k: number, bits: 4 | 8): { packed: Uint8Array; scales: Float32Array; zeros: Uint8Array } {
  const blocks = Math.ceil(k / QUANT_BLOCK);
  const top = (1 << bits) - 1;
  const perByte = 8 / bits;
  const blob = QUANT_BLOCK / perByte;
  const packed = new Uint8Array(n * blocks * blob);
  const scales = new Float32Array(n * blocks);
  const zeros = new Uint8Array(n * zeroBytes(blocks, bits));
  // ORs value q into slot j of the bytes starting at `base`
  const put = (a: Uint8Array, base: number, j: number, q: number) => (a[base + Math.floor(j / perByte)] |= q << ((j % perByte) * bits));
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * QUANT_BLOCK;
      const k1 = Math.min(k, k0 + QUANT_BLOCK);
      let lo = 0;
      let hi = 0; // the range always holds 0 so that zero stays exact
      for (let i = k0; i < k1; i++) {
        const v = w[r * k + i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const scale = (hi - lo) / top || 1;
      const zp = Math.min(top, Math.max(0, Math.round(-lo / scale)));
      scales[r * blocks + b] = scale;
      put(zeros, r * zeroBytes(blocks, bits), b, zp);
      const base = (r * blocks + b) * blob;
      for (let i = k0; i < k1; i++) put(packed, base, i - k0, Math.min(top, Math.max(0, Math.round(w[r * k + i] / scale) + zp)));
      // padding past k (when k is not a multiple of 32) quantises to zp, i.e. exactly 0
      for (let j = k1 - k0; j < QUANT_BLOCK; j++) put(packed, base, j, zp);
    }
  }
  return { packed, scales, zeros };
}
