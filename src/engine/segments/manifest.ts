// A snapshot of a repository is a small manifest naming its segments; the segments themselves are
// compressed caches stored by content (store.ts). The manifest is what a question reads to choose
// segments without opening them: each segment's pieces (files and line ranges), its token count,
// the rows each of its heads kept (to plan compact positions), and its term counts (ranking).
//
// File: `<snapshotKey>.json` whose first line is the sha256 hex of everything after it. Written to
// a temporary name and renamed, checked on every read; a damaged one is deleted and counts as none,
// and since its segments are stored by content, writing it again costs no model work.
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Piece } from '../../repo';
import { describeIo, EngineError, ioError } from '../errors';
import { pidAlive } from '../pid';

export const MANIFEST_VERSION = 1;
const EXT = '.json';
// A build in progress names the segments it will reference here, so that a garbage collection in
// another process does not take the ones it already wrote before its manifest exists.
const PENDING = '.pending';
const KEY = /^[0-9a-f]{64}$/;

/** A piece of a segment (a file, or a line range of one) as the manifest keeps it: the file's hash is in `listing`. */
export type ManifestPiece = Omit<Piece, 'sha256'>;

export interface ManifestSegment {
  /** Content address in the segment store. */
  key: string;
  /** Context tokens (the anchor not counted). */
  tokens: number;
  /** Context rows each (layer, KV head) kept, layer-major: the positions a compact composition needs. */
  kept: number[];
  pieces: ManifestPiece[];
  /** Term counts for ranking (rank.ts's stored form). */
  terms: [string, number][];
  /** Present when this segment's build failed: why. The other segments are still usable. */
  failed?: string;
}

export interface Manifest {
  version: number;
  snapshotKey: string;
  /** Absolute root of the repository it was built from (status and clear find a repository's manifests by it). */
  root: string;
  repoName: string;
  modelId: string;
  modelFingerprint: string;
  /** Token ids of the anchor every segment was prefilled after. */
  anchor: number[];
  segmentTokens: number;
  settings: { press: string; ratio: number; budgetMode: string; dtype: string; chunk: number };
  segments: ManifestSegment[];
  skipped: { path: string; reason: string }[];
  /** Every included file with its sha256, for "stale · N files changed". */
  listing: [string, string][];
  createdAt: string;
}

export interface ManifestEntry {
  key: string;
  lastUsed: Date;
  bytes: number;
  /** Absent when the file cannot be read as this key's manifest; `problem` then says why. */
  manifest?: Manifest;
  problem?: string;
}

export class ManifestStore {
  constructor(readonly dir: string) {}

  pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error(`manifest key ${JSON.stringify(key)} is not a sha256`);
    return path.join(this.dir, key + EXT);
  }

  async save(m: Manifest): Promise<void> {
    const file = this.pathOf(m.snapshotKey);
    const body = JSON.stringify(m);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fsp.writeFile(tmp, `${sha256(body)}\n${body}`, { mode: 0o600, flag: 'wx' });
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw ioError(`cannot write ${file}`, e);
    }
  }

  /** The manifest, or undefined when there is none; one that fails its checksum is deleted and `onDamaged` says so. */
  async load(key: string, onDamaged?: (why: string) => void): Promise<Manifest | undefined> {
    const file = this.pathOf(key);
    const text = await fsp.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      // what the engine did not write is left alone, and the way out is named
      if (e.code === 'EISDIR') throw new EngineError('corrupt-cache', `${file} is not a regular file; remove it (repozip cache rm ${key})`);
      throw ioError(`cannot read ${file}`, e);
    });
    if (text === undefined) return undefined;
    const m = parse(text, key);
    if (typeof m === 'string') {
      await fsp.rm(file, { force: true }).catch(() => {});
      onDamaged?.(`${file}: ${m}; the file was deleted`);
      return undefined;
    }
    const now = new Date();
    await fsp.utimes(file, now, now).catch(() => {}); // last use, for gc
    return m;
  }

  /** Every readable manifest with its last use, newest first; damaged ones are skipped (load() deals with them). */
  async list(): Promise<{ manifest: Manifest; lastUsed: Date; bytes: number }[]> {
    return (await this.scan()).flatMap(({ manifest, lastUsed, bytes }) => (manifest ? [{ manifest, lastUsed, bytes }] : []));
  }

  /** Every manifest file, newest first: read, or with why it cannot be (`repozip cache` shows and removes those too). */
  async scan(): Promise<ManifestEntry[]> {
    const out: ManifestEntry[] = [];
    for (const name of await fsp.readdir(this.dir).catch(() => [] as string[])) {
      const key = name.slice(0, -EXT.length);
      if (!name.endsWith(EXT) || !KEY.test(key)) continue;
      const file = path.join(this.dir, name);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st) continue; // removed meanwhile
      const m = st.isFile()
        ? await fsp.readFile(file, 'utf8').then(
            (text) => parse(text, key),
            (e) => `cannot read it: ${describeIo(e)}`,
          )
        : 'not a regular file';
      out.push({ key, lastUsed: st.mtime, bytes: st.size, ...(typeof m === 'string' ? { problem: m } : { manifest: m }) });
    }
    return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
  }

  /** Deletes the manifest (whatever is at its path). */
  async remove(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key), { recursive: true, force: true });
  }

  /** Says that this process is building snapshot `key` from `segments`, until removePending. */
  async savePending(key: string, segments: readonly string[]): Promise<void> {
    const file = this.pathOf(key) + PENDING;
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fsp.writeFile(file, JSON.stringify({ pid: process.pid, segments }), { mode: 0o600 });
    } catch (e) {
      await fsp.rm(file, { force: true }).catch(() => {}); // created before the disk said it was full
      throw ioError(`cannot write ${file}`, e);
    }
  }

  async removePending(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key) + PENDING, { force: true });
  }

  /** Segments named by builds still running; the records of dead builders are deleted. */
  async pendingSegments(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const name of await fsp.readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith(EXT + PENDING)) continue;
      const file = path.join(this.dir, name);
      try {
        const rec = JSON.parse(await fsp.readFile(file, 'utf8')) as { pid: number; segments: string[] };
        if (pidAlive(rec.pid)) rec.segments.forEach((k) => out.add(k));
        else await fsp.rm(file, { force: true });
      } catch {
        await fsp.rm(file, { force: true }).catch(() => {}); // half-written by a killed builder
      }
    }
    return out;
  }
}

/** The manifest, or why the text is not one for `key`. */
function parse(text: string, key: string): Manifest | string {
  const nl = text.indexOf('\n');
  if (nl !== 64) return 'not a manifest (no checksum line)';
  const body = text.slice(nl + 1);
  if (sha256(body) !== text.slice(0, nl)) return 'checksum mismatch (the file was damaged)';
  let m: Manifest;
  try {
    m = JSON.parse(body) as Manifest;
  } catch {
    return 'not valid JSON';
  }
  if (m.version !== MANIFEST_VERSION) return `manifest version ${m.version}, this repozip reads ${MANIFEST_VERSION}`;
  if (m.snapshotKey !== key) return `the file holds snapshot ${m.snapshotKey}, not ${key}`;
  if (!Array.isArray(m.segments) || !Array.isArray(m.anchor)) return 'missing fields';
  return m;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
