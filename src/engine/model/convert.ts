// The conversion cache: a model folder becomes our ONNX graph + external weights once per
// (model files' content, engine graph version, options), and is reused after that. Conversions are
// written to a temporary folder and renamed into place, completion marker last, so a crash never
// leaves a half-built graph where a load looks; the folders of killed converters are removed later.
// The marker holds each file's size and CRC-32, and every load checks them: a truncated or damaged
// conversion is deleted, built again, and the load says so.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { describeIo, EngineError, ioError } from '../errors';
import { Graph } from '../onnx/builder';
import { pidAlive } from '../pid';
import { ModelConfig } from './config';
import { buildDecoder, GraphOptions } from './graph';
import { Checkpoint } from './safetensors';
import { FileSum, WeightFile } from './weights';

/** Bump when the graph or weight layout changes: old conversions are then rebuilt. */
export const GRAPH_VERSION = 9;

export interface Converted {
  dir: string;
  graph: string;
  reused: boolean;
  /** Set when the conversion found in the cache could not be used and was rebuilt: a sentence for the user. */
  reconverted?: string;
}

export function defaultCacheRoot(): string {
  if (process.env.REPOZIP_CACHE_DIR) return process.env.REPOZIP_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'repozip');
}

const HF_BLOB = /\/blobs\/([0-9a-f]{64})$/;

/** Feeds a file to `eat` in 4 MiB pieces: gigabytes of weights never sit in memory whole. */
function eachPiece(file: string, eat: (piece: Buffer) => void): void {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    let n: number;
    let at = 0;
    while ((n = fs.readSync(fd, buf, 0, buf.length, at)) > 0) {
      eat(buf.subarray(0, n));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** sha256 of a file; files in a Hugging Face hub cache are named by it already. */
function fileDigest(file: string): string {
  const real = fs.realpathSync(file);
  const m = HF_BLOB.exec(real);
  if (m) return m[1];
  const h = crypto.createHash('sha256');
  eachPiece(real, (piece) => h.update(piece));
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
  return `v${GRAPH_VERSION}-${opts.weights}${cache}${opts.step ? '-step' : ''}${probes}`;
}

/** Written last into a conversion's folder: what it was made from, and what its files must be. */
const MARKER = 'done';
const GRAPH_FILE = 'decoder.onnx';
const WEIGHTS_FILE = 'weights.bin';

interface Marker {
  modelDir: string;
  fingerprint: string;
  opts: GraphOptions;
  createdAt: string;
  /** Absent in conversions made before the check existed: those are rebuilt. */
  files?: Record<string, FileSum>;
}

/**
 * Why the conversion in `dir` cannot be used, or undefined when every file has its recorded size
 * and CRC-32. Reads every byte, at each load. Measured on this project's 2-core test machine (page
 * cache warm): CRC-32 (zlib) 2.3–3.2 GB/s against 1.1–1.4 GB/s for sha256, and onnxruntime's
 * session creation ~1.6 s per GB of fp32 weights; so a 6 GB (1.5B fp32) model pays ~2 s on top of
 * ~10 s. It is checked before the session opens, not in the background after: a model found
 * damaged later would already have answered from garbage. A CRC is enough: it guards against
 * accidents (disks, truncation, interrupted writes, other tools); whoever can rewrite the weights
 * can rewrite the marker too. An I/O error is reported as such and condemns nothing.
 */
function damage(dir: string): string | undefined {
  const where = `cannot read the converted model in ${dir}`;
  let marker: Marker;
  try {
    marker = JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8'));
  } catch (e) {
    if (e instanceof SyntaxError) return 'its completion marker is damaged';
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'it has no completion marker';
    throw ioError(where, e);
  }
  if (!marker?.files) return 'it was made by an earlier repozip, without checksums';
  for (const name of [GRAPH_FILE, WEIGHTS_FILE]) {
    const want = marker.files[name];
    if (!want) return `its completion marker has no checksum for ${name}`;
    const file = path.join(dir, name);
    try {
      const { size } = fs.statSync(file);
      if (size < want.bytes) return `${name} is truncated: ${size} of ${want.bytes} bytes`;
      if (size > want.bytes) return `${name} has ${size} bytes, ${want.bytes} expected`;
      let crc = 0;
      eachPiece(file, (piece) => (crc = crc32(piece, crc)));
      if (crc !== want.crc32) return `${name} does not match its checksum: it was damaged after it was written`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `${name} is missing`;
      throw ioError(where, e);
    }
  }
  return undefined;
}

/** A fresh temporary folder name beside `dir`: `<dir>.tmp-<pid>-<random>`. */
function tempName(dir: string): string {
  return `${dir}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}
const TEMP = /\.tmp-(\d+)-[0-9a-f]+$/;
/**
 * A temporary folder whose weights have not been written for this long is abandoned even if its pid
 * lives (the pid was reused): a converter writes its weights file continuously, seconds apart.
 */
const ABANDONED_MS = 10 * 60_000;

/** Removes the temporary folders of converters that were killed (or whose deletion failed). */
function removeAbandoned(graphs: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(graphs);
  } catch {
    return; // no conversion yet
  }
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const tmp = path.join(graphs, name);
    const lastWrite = Math.max(...[tmp, path.join(tmp, WEIGHTS_FILE)].map((f) => fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0));
    if (pidAlive(Number(m[1])) && Date.now() - lastWrite < ABANDONED_MS) continue;
    removeIfPossible(tmp);
  }
}

/** A temporary folder that cannot be deleted yet (another process maps its files, on Windows) goes at a later load. */
function removeIfPossible(tmp: string): void {
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
  } catch {
    // removeAbandoned retries it
  }
}

/** Moves a damaged conversion out of the way (a rename: loads never see it half-deleted), then deletes it. */
function discard(dir: string, why: string): void {
  const trash = tempName(dir);
  try {
    fs.renameSync(dir, trash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // another process discarded it first
    throw new EngineError(
      'io',
      `the converted model in ${dir} cannot be used (${why}) and cannot be removed: ${describeIo(e)}; close other repozip windows, or delete it`,
    );
  }
  removeIfPossible(trash);
}

/** Returns the converted graph for a model, building it first when it is not cached or not intact. */
export function convertModel(modelDir: string, cfg: ModelConfig, opts: GraphOptions, cacheRoot = defaultCacheRoot()): Converted {
  const fingerprint = modelFingerprint(modelDir, cacheRoot);
  const dir = path.join(cacheRoot, 'graphs', `${fingerprint.slice(0, 24)}-${optionsKey(opts)}`);
  const graph = path.join(dir, GRAPH_FILE);
  removeAbandoned(path.dirname(dir));
  if (fs.existsSync(dir)) {
    const why = damage(dir);
    if (why === undefined) return { dir, graph, reused: true };
    discard(dir, why);
    build(dir, modelDir, fingerprint, cfg, opts);
    return { dir, graph, reused: false, reconverted: `the converted model in ${dir} could not be used (${why}): it was deleted and converted again` };
  }
  build(dir, modelDir, fingerprint, cfg, opts);
  return { dir, graph, reused: false };
}

/** Converts into a temporary folder, marker last, and renames it to `dir`. */
function build(dir: string, modelDir: string, fingerprint: string, cfg: ModelConfig, opts: GraphOptions): void {
  const tmp = tempName(dir);
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const g = new Graph('decoder');
    const weights = new WeightFile(g, path.join(tmp, WEIGHTS_FILE), WEIGHTS_FILE);
    let bytes: Uint8Array;
    try {
      bytes = buildDecoder(cfg, new Checkpoint(modelDir), opts, weights, g);
    } finally {
      weights.close();
    }
    fs.writeFileSync(path.join(tmp, GRAPH_FILE), bytes, { mode: 0o600 });
    // no fsync of these two: what a power cut leaves behind fails the check at the next load
    const files = { [GRAPH_FILE]: { bytes: bytes.length, crc32: crc32(bytes) }, [WEIGHTS_FILE]: weights.sum };
    const marker: Marker = { modelDir, fingerprint, opts, createdAt: new Date().toISOString(), files };
    fs.writeFileSync(path.join(tmp, MARKER), JSON.stringify(marker), { mode: 0o600 });
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // another process finished the same conversion first: use theirs
      if (!fs.existsSync(path.join(dir, MARKER))) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
