// The conversion cache: a model folder becomes our ONNX graph + external weights once per
// (model files' content, engine graph version, options), and is reused after that. Conversions are
// written to a temporary folder and renamed into place, so a crash never leaves a half-built graph.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Graph } from '../onnx/builder';
import { ModelConfig } from './config';
import { buildDecoder, GraphOptions } from './graph';
import { Checkpoint } from './safetensors';
import { WeightFile } from './weights';

/** Bump when the graph or weight layout changes: old conversions are then rebuilt. */
export const GRAPH_VERSION = 9;

export interface Converted {
  dir: string;
  graph: string;
  reused: boolean;
}

export function defaultCacheRoot(): string {
  if (process.env.REPOZIP_CACHE_DIR) return process.env.REPOZIP_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'repozip');
}

const HF_BLOB = /\/blobs\/([0-9a-f]{64})$/;

/** sha256 of a file; files in a Hugging Face hub cache are named by it already. */
function fileDigest(file: string): string {
  const real = fs.realpathSync(file);
  const m = HF_BLOB.exec(real);
  if (m) return m[1];
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(real, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    let n: number;
    let at = 0;
    while ((n = fs.readSync(fd, buf, 0, buf.length, at)) > 0) {
      h.update(buf.subarray(0, n));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Content fingerprint of a model folder: config, tokenizer and every weight file. The digest of
 * each large file is remembered by (path, size, mtime) so a reload does not rehash gigabytes.
 */
export function modelFingerprint(dir: string, cacheRoot = defaultCacheRoot()): string {
  const names = fs
    .readdirSync(dir)
    .filter((f) => /^(config|generation_config|tokenizer|tokenizer_config)\.json$|\.safetensors(\.index\.json)?$/.test(f))
    .sort();
  const memoFile = path.join(cacheRoot, 'digests.json');
  let memo: Record<string, string> = {};
  try {
    memo = JSON.parse(fs.readFileSync(memoFile, 'utf8'));
  } catch {
    // no memo yet, or unreadable: rehash
  }
  let changed = false;
  const h = crypto.createHash('sha256');
  for (const name of names) {
    const file = path.join(dir, name);
    const st = fs.statSync(file);
    const key = `${fs.realpathSync(file)}:${st.size}:${st.mtimeMs}`;
    let digest = memo[key];
    if (!digest) {
      digest = fileDigest(file);
      if (st.size > 1 << 20) ((memo[key] = digest), (changed = true));
    }
    h.update(`${name}\0${digest}\0`);
  }
  if (changed) {
    fs.mkdirSync(cacheRoot, { recursive: true, mode: 0o700 });
    const tmp = `${memoFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(memo), { mode: 0o600 });
    fs.renameSync(tmp, memoFile);
  }
  return h.digest('hex');
}

function optionsKey(opts: GraphOptions): string {
  const probes = opts.probeLayers?.length ? `-probe${opts.probeLayers.join('_')}` : '';
  // the host graph keeps its old key: conversions made before the device graph existed stay valid
  const cache = opts.cache === 'device' ? '-device' : '';
  return `v${GRAPH_VERSION}-${opts.weights}${cache}${probes}`;
}

/** Returns the converted graph for a model, building it first when it is not cached. */
export function convertModel(modelDir: string, cfg: ModelConfig, opts: GraphOptions, cacheRoot = defaultCacheRoot()): Converted {
  const fingerprint = modelFingerprint(modelDir, cacheRoot);
  const dir = path.join(cacheRoot, 'graphs', `${fingerprint.slice(0, 24)}-${optionsKey(opts)}`);
  const graph = path.join(dir, 'decoder.onnx');
  if (fs.existsSync(path.join(dir, 'done'))) return { dir, graph, reused: true };

  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const g = new Graph('decoder');
    const weights = new WeightFile(g, path.join(tmp, 'weights.bin'), 'weights.bin');
    let bytes: Uint8Array;
    try {
      bytes = buildDecoder(cfg, new Checkpoint(modelDir), opts, weights, g);
    } finally {
      weights.close();
    }
    fs.writeFileSync(path.join(tmp, 'decoder.onnx'), bytes, { mode: 0o600 });
    fs.writeFileSync(path.join(tmp, 'done'), JSON.stringify({ modelDir, fingerprint, opts, createdAt: new Date().toISOString() }), { mode: 0o600 });
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // another process finished the same conversion first: use theirs
      if (!fs.existsSync(path.join(dir, 'done'))) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir, graph, reused: false };
}
