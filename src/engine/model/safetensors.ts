// Reads Hugging Face safetensors checkpoints (one file, or shards listed in
// model.safetensors.index.json) tensor by tensor, without loading whole files into memory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors';
import { f16ToF32, bf16ToF32 } from '../tensor/half';
import { readJson } from './config';

export type StDType = 'F32' | 'F16' | 'BF16';
const BYTES: Record<StDType, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorInfo {
  name: string;
  dtype: StDType;
  shape: number[];
  file: string;
  /** Absolute byte offset of the data in `file`. */
  offset: number;
  length: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

/** Parses and validates one safetensors file's header. */
export function readHeader(file: string): TensorInfo[] {
  const size = statSize(file);
  const fd = fs.openSync(file, 'r');
  try {
    if (size < 8) throw bad(file, `is ${size} bytes long, too short to hold a header`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n <= 1 || n > MAX_HEADER || 8 + n > size) throw bad(file, `declares a ${n}-byte header in a ${size}-byte file (truncated or not safetensors)`);
    const hdr = Buffer.alloc(n);
    fs.readSync(fd, hdr, 0, n, 8);
    let json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    try {
      json = JSON.parse(hdr.toString('utf8'));
    } catch {
      throw bad(file, 'has a header that is not valid JSON');
    }
    const base = 8 + n;
    const out: TensorInfo[] = [];
    for (const [name, t] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      if (!(t.dtype in BYTES))
        throw new EngineError('unsupported-model', `tensor ${name} in ${path.basename(file)} has dtype ${t.dtype} (supported: F32, F16, BF16)`);
      const dtype = t.dtype as StDType;
      const [a, b] = t.data_offsets;
      const expected = t.shape.reduce((x, y) => x * y, 1) * BYTES[dtype];
      if (b - a !== expected) throw bad(file, `tensor ${name} holds ${b - a} bytes but its shape [${t.shape}] needs ${expected}`);
      if (base + b > size) throw bad(file, `is truncated: tensor ${name} ends at byte ${base + b} of a ${size}-byte file`);
      out.push({ name, dtype, shape: t.shape, file, offset: base + a, length: b - a });
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

function statSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    throw new EngineError('missing-file', `weights file ${file} does not exist`);
  }
}

function bad(file: string, what: string): EngineError {
  return new EngineError('bad-model', `${path.basename(file)} ${what}`);
}

/** All tensors of a model folder, from model.safetensors or the shards its index names. */
export class Checkpoint {
  readonly tensors = new Map<string, TensorInfo>();

  constructor(readonly dir: string) {
    const index = path.join(dir, 'model.safetensors.index.json');
    let files: string[];
    if (fs.existsSync(index)) {
      const map = readJson(index).weight_map;
      if (!map || typeof map !== 'object' || Object.values(map).some((f) => typeof f !== 'string')) {
        throw new EngineError('bad-model', 'model.safetensors.index.json has no valid "weight_map" (tensor name → shard file)');
      }
      files = [...new Set(Object.values(map as Record<string, string>))];
      for (const f of files) {
        if (!fs.existsSync(path.join(dir, f))) throw new EngineError('missing-file', `shard ${f} named in model.safetensors.index.json is missing from ${dir}`);
      }
    } else if (fs.existsSync(path.join(dir, 'model.safetensors'))) {
      files = ['model.safetensors'];
    } else {
      throw new EngineError('missing-file', `model folder ${dir} has no model.safetensors (nor model.safetensors.index.json)`);
    }
    for (const f of files) for (const t of readHeader(path.join(dir, f))) this.tensors.set(t.name, t);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string, shape?: number[]): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new EngineError('bad-model', `checkpoint in ${this.dir} has no tensor ${name}`);
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new EngineError('bad-model', `tensor ${name} has shape [${t.shape}] but the config implies [${shape}]`);
    }
    return t;
  }

  /** Reads a tensor as float32, checking its shape when one is given. */
  read(name: string, shape?: number[]): Float32Array {
    const t = this.info(name, shape);
    const buf = Buffer.allocUnsafe(t.length);
    const fd = fs.openSync(t.file, 'r');
    try {
      let done = 0;
      while (done < t.length) {
        const n = fs.readSync(fd, buf, done, t.length - done, t.offset + done);
        if (n === 0) throw bad(t.file, `ended while reading ${name}`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    const count = t.length / BYTES[t.dtype];
    if (t.dtype === 'F32') {
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(buf);
      return out;
    }
    const halves = new Uint16Array(count);
    new Uint8Array(halves.buffer).set(buf);
    return t.dtype === 'F16' ? f16ToF32(halves) : bf16ToF32(halves);
  }
}
