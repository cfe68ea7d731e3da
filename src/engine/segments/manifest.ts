// A snapshot of a repository is a small manifest naming its segments; the segments themselves are
// compressed caches stored by content (store.ts). The manifest is what a question reads to choose
// segments without opening them: each segment's pieces (files and line ranges), its token count,
// the rows each of its heads kept (to plan compact positions), and its term counts (ranking).
//
// File: `<snapshotKey>.json`, JSON lines. The first line is the sha256 hex of everything after it,
// the second the head (settings, anchor, listing), then one line per segment in repository order.
// A build writes segment lines as it goes, to a temporary name, and the checksum last, so that
// neither writing nor reading (gc, status, index: key and size of each segment only) holds a large
// repository's manifest in memory; only a question reads it whole. A damaged manifest is deleted
// and counts as none, and since its segments are stored by content, writing it again costs no
// model work.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Piece } from '../../repo';
import { describeIo, EngineError, ioError } from '../errors';
import { pidAlive } from '../pid';

export const MANIFEST_VERSION = 2;
const EXT = '.json';
// A build in progress names the segments it will reference here, so that a garbage collection in
// another process does not take the ones it already wrote before its manifest exists.
const PENDING = '.pending';
const KEY = /^[0-9a-f]{64}$/;
/** The first line before the checksum is known: as long as the checksum. */
const PLACEHOLDER = ' '.repeat(64);
const FLUSH_CHARS = 1 << 20;

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

/** Everything but the segments: known before the first segment is built. */
export interface ManifestHead {
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
  skipped: { path: string; reason: string }[];
  /** Every included file with its sha256, for "stale · N files changed". */
  listing: [string, string][];
  createdAt: string;
}

export interface Manifest extends ManifestHead {
  segments: ManifestSegment[];
}

/** A segment that could not be built: its files and why. */
export interface FailedSegment {
  files: string[];
  message: string;
}

/** What all but a question need of a manifest: the head, and of the segments only keys, tokens and failures. */
export interface ManifestSummary extends ManifestHead {
  /** Segment keys in repository order. */
  keys: string[];
  /** Context tokens of all segments. */
  tokens: number;
  failed: FailedSegment[];
}

/** The summary of a manifest read whole. */
export function summarize(m: Manifest): ManifestSummary {
  const { segments, ...head } = m;
  const sum = new Summarizer(head);
  for (const seg of segments) sum.add(seg);
  return sum.summary;
}

export interface ManifestEntry {
  key: string;
  lastUsed: Date;
  bytes: number;
  /** Absent when the file cannot be read as this key's manifest; `problem` then says why. */
  manifest?: ManifestSummary;
  problem?: string;
}

/** Folds segments into a summary as they are read or written. */
export class Summarizer {
  readonly summary: ManifestSummary;

  constructor(head: ManifestHead) {
    this.summary = { ...head, keys: [], tokens: 0, failed: [] };
  }

  add(seg: ManifestSegment): void {
    this.summary.keys.push(seg.key);
    this.summary.tokens += seg.tokens;
    if (seg.failed) this.summary.failed.push({ files: [...new Set(seg.pieces.map((p) => p.path))], message: seg.failed });
  }
}

export class ManifestStore {
  constructor(readonly dir: string) {}

  pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error(`manifest key ${JSON.stringify(key)} is not a sha256`);
    return path.join(this.dir, key + EXT);
  }

  /** Starts writing the manifest of `head.snapshotKey`: segments are added in order, and commit() puts it in place. */
  create(head: ManifestHead): Promise<ManifestWriter> {
    return ManifestWriter.open(this.pathOf(head.snapshotKey), this.dir, head);
  }

  /** Writes a whole manifest at once. */
  async save(m: Manifest): Promise<void> {
    const { segments, ...head } = m;
    const w = await this.create(head);
    try {
      for (const seg of segments) await w.add(seg);
      await w.commit();
    } catch (e) {
      await w.discard();
      throw e;
    }
  }

  /** The whole manifest (what a question reads), or undefined when there is none; one that fails its checks is deleted and `onDamaged` says so. */
  async load(key: string, onDamaged?: (why: string) => void): Promise<Manifest | undefined> {
    const text = await this.read(key, () => fsp.readFile(this.pathOf(key), 'utf8'));
    if (text === undefined) return undefined;
    const segments: ManifestSegment[] = [];
    const r = parseText(text, key, (seg) => segments.push(seg));
    return this.checked(key, r, onDamaged, (head) => ({ ...head, segments }));
  }

  /** The manifest's head and what it says of its segments, read line by line (memory: a key a segment). */
  async summary(key: string, onDamaged?: (why: string) => void): Promise<ManifestSummary | undefined> {
    let sum: Summarizer | undefined;
    const r = await this.read(key, () => readSummary(this.pathOf(key), key, (s) => (sum = s)));
    if (r === undefined) return undefined;
    return this.checked(key, r, onDamaged, () => sum!.summary);
  }

  /** Reads the file, or undefined when there is none; what the engine did not write (a folder) is named. */
  private async read<T>(key: string, how: () => Promise<T>): Promise<T | undefined> {
    const file = this.pathOf(key);
    return how().catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      // what the engine did not write is left alone, and the way out is named
      if (e.code === 'EISDIR') throw new EngineError('corrupt-cache', `${file} is not a regular file; remove it (repozip cache rm ${key})`);
      throw ioError(`cannot read ${file}`, e);
    });
  }

  private async checked<T>(
    key: string,
    r: ManifestHead | string,
    onDamaged: ((why: string) => void) | undefined,
    ok: (head: ManifestHead) => T,
  ): Promise<T | undefined> {
    const file = this.pathOf(key);
    if (typeof r === 'string') {
      await fsp.rm(file, { force: true }).catch(() => {});
      onDamaged?.(`${file}: ${r}; the file was deleted`);
      return undefined;
    }
    const now = new Date();
    await fsp.utimes(file, now, now).catch(() => {}); // last use, for gc
    return ok(r);
  }

  /** Every readable manifest's summary with its last use, newest first; damaged ones are skipped (load() deals with them). */
  async list(): Promise<{ manifest: ManifestSummary; lastUsed: Date; bytes: number }[]> {
    return (await this.scan()).flatMap(({ manifest, lastUsed, bytes }) => (manifest ? [{ manifest, lastUsed, bytes }] : []));
  }

  /** Every manifest file, newest first: summarized, or with why it cannot be (`repozip cache` shows and removes those too). */
  async scan(): Promise<ManifestEntry[]> {
    const out: ManifestEntry[] = [];
    for (const name of await fsp.readdir(this.dir).catch(() => [] as string[])) {
      const key = name.slice(0, -EXT.length);
      if (!name.endsWith(EXT) || !KEY.test(key)) continue;
      const file = path.join(this.dir, name);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st) continue; // removed meanwhile
      let sum: Summarizer | undefined;
      const r = st.isFile()
        ? await readSummary(file, key, (s) => (sum = s)).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : `cannot read it: ${describeIo(e)}`))
        : 'not a regular file';
      if (r === null) continue;
      out.push({ key, lastUsed: st.mtime, bytes: st.size, ...(typeof r === 'string' ? { problem: r } : { manifest: sum!.summary }) });
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

/** Writes one manifest: the head now, segment lines as they come (buffered), the checksum at commit. */
export class ManifestWriter {
  private buffered: string[] = [];
  private chars = 0;
  private at = 0;
  private readonly hash: Hash = createHash('sha256');

  private constructor(
    private readonly fh: fsp.FileHandle,
    private readonly file: string,
    private readonly tmp: string,
  ) {}

  static async open(file: string, dir: string, head: ManifestHead): Promise<ManifestWriter> {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    let fh: fsp.FileHandle | undefined;
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      fh = await fsp.open(tmp, 'wx', 0o600);
    } catch (e) {
      throw ioError(`cannot write ${file}`, e);
    }
    const w = new ManifestWriter(fh, file, tmp);
    w.at = Buffer.byteLength(PLACEHOLDER) + 1;
    await w.line(JSON.stringify(head));
    return w;
  }

  add(seg: ManifestSegment): Promise<void> {
    return this.line(JSON.stringify(seg));
  }

  /** Flushes, writes the checksum line and renames the file into place. */
  async commit(): Promise<void> {
    try {
      await this.flush();
      await this.fh.write(`${this.hash.digest('hex')}\n`, 0, 'utf8');
      await this.fh.close();
      await fsp.rename(this.tmp, this.file);
    } catch (e) {
      await this.discard();
      throw ioError(`cannot write ${this.file}`, e);
    }
  }

  /** Closes and deletes the temporary file (a build that failed or was cancelled). */
  async discard(): Promise<void> {
    await this.fh.close().catch(() => {});
    await fsp.rm(this.tmp, { force: true }).catch(() => {});
  }

  private async line(json: string): Promise<void> {
    const text = json + '\n';
    this.hash.update(text);
    this.buffered.push(text);
    this.chars += text.length;
    if (this.chars >= FLUSH_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.buffered.length === 0) return;
    const bytes = Buffer.from(this.buffered.join(''), 'utf8');
    this.buffered = [];
    this.chars = 0;
    try {
      await this.fh.write(bytes, 0, bytes.length, this.at);
    } catch (e) {
      await this.discard();
      throw ioError(`cannot write ${this.file}`, e);
    }
    this.at += bytes.length;
  }
}

/** Reads `file` in chunks, line by line; `onHead` receives the summarizer the segments are folded into. */
async function readSummary(file: string, key: string, onHead: (s: Summarizer) => void): Promise<ManifestHead | string> {
  let sum: Summarizer | undefined;
  const p = new LineParser(
    key,
    (seg) => sum?.add(seg),
    (head) => onHead((sum = new Summarizer(head))),
  );
  let carry = '';
  for await (const chunk of fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    const parts = (carry + (chunk as string)).split('\n');
    carry = parts.pop()!;
    for (const line of parts) p.line(line);
  }
  return p.end(carry);
}

/** The whole file's text, parsed; segments go to `onSegment`. */
function parseText(text: string, key: string, onSegment: (seg: ManifestSegment) => void): ManifestHead | string {
  const p = new LineParser(key, onSegment);
  const lines = text.split('\n');
  const rest = lines.pop()!;
  for (const line of lines) p.line(line);
  return p.end(rest);
}

/**
 * One manifest's lines in order (each without its newline): the checksum, the head, the segments.
 * Segments go to `onSegment` as they are read, before the checksum is known: a caller keeps them
 * only when end() returns a head.
 */
class LineParser {
  /** Undefined before the first line; null when the first line is not a checksum. */
  private checksum: string | null | undefined;
  private head: ManifestHead | undefined;
  private readonly hash = createHash('sha256');
  private invalid = false;

  constructor(
    private readonly key: string,
    private readonly onSegment: (seg: ManifestSegment) => void,
    private readonly onHead?: (head: ManifestHead) => void,
  ) {}

  line(text: string): void {
    if (this.checksum === undefined) {
      this.checksum = /^[0-9a-f]{64}$/.test(text) ? text : null;
      return;
    }
    this.hash.update(text + '\n');
    if (this.invalid || this.checksum === null) return;
    try {
      const value: unknown = JSON.parse(text);
      if (!this.head) {
        this.head = value as ManifestHead;
        if (this.head.version === MANIFEST_VERSION) this.onHead?.(this.head);
      } else if (this.head.version === MANIFEST_VERSION) {
        this.onSegment(value as ManifestSegment); // another version's lines are not read as this one's segments
      }
    } catch {
      this.invalid = true;
    }
  }

  /** `rest`: what follows the last newline (nothing, in a whole file). The head, or why this is not `key`'s manifest. */
  end(rest: string): ManifestHead | string {
    if (!this.checksum) return 'not a manifest (no checksum line)';
    if (this.hash.update(rest).digest('hex') !== this.checksum) return 'checksum mismatch (the file was damaged)';
    if (this.invalid || !this.head) return 'not valid JSON';
    const m = this.head;
    if (m.version !== MANIFEST_VERSION) return `manifest version ${m.version}, this repozip reads ${MANIFEST_VERSION}`;
    if (m.snapshotKey !== this.key) return `the file holds snapshot ${m.snapshotKey}, not ${this.key}`;
    if (!Array.isArray(m.anchor) || !Array.isArray(m.listing)) return 'missing fields';
    return m;
  }
}
