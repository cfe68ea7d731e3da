// A snapshot's segments shared through an S3-compatible bucket: a team's builder (CI) pushes them
// once, and every client pulls what it lacks before building only what is still missing. Layout
// under the prefix: `segments/<key>.rzkv` (content-addressed: a key names the same content, so an
// object already there is not uploaded again; a segment rebuilt elsewhere may differ in bytes, its
// header carrying the build time, which is why listings carry checksums) and
// `manifests/<snapshotKey>/<part>.json` (listing.ts: each builder's checksums, signed when it has a key). A download is used only after
// the local store's own full check (format, checksum, model fingerprint, key) and, when listed,
// its sha256 matching the listing; anything else is rejected, named, and built here instead.
import { createHash, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { EngineError, throwIfCancelled } from '../errors';
import { eachLimited } from '../hub/download';
import type { EngineEvent, RemoteSettings } from '../protocol';
import type { SegmentStores } from '../segments/snapshot';
import { Bucket } from './bucket';
import { checkListing, makeListing, readKey } from './listing';

/** Transfers at a time: enough to hide an object store's latency, few enough for a laptop's uplink. */
const PARALLEL = 8;

export interface RemoteCounts {
  /** Segments downloaded and verified. */
  pulled: number;
  /** Segments downloaded but refused (damaged, another model's, not the listed bytes): built here. */
  rejected: string[];
  /** Segments uploaded (those already there are not). */
  pushed: number;
  /** Segments (or the listing) that could not be uploaded. */
  unpushed: string[];
}

export class RemoteCache {
  readonly counts: RemoteCounts = { pulled: 0, rejected: [], pushed: 0, unpushed: [] };
  private readonly bucket: Bucket;
  private readonly keys: { signing?: KeyObject; trusted?: KeyObject };
  /** The checksums the snapshot's usable listings give, by segment (a key two parts list may have two); filled by pull. */
  private readonly listed = new Map<string, Set<string>>();

  constructor(
    readonly settings: RemoteSettings,
    private readonly stores: SegmentStores,
    private readonly modelFingerprint: string,
    private readonly ctx: { signal: AbortSignal; emit: (e: EngineEvent) => void },
  ) {
    this.bucket = new Bucket(settings.url);
    // read now: a key that cannot be used is the caller's mistake, said before any work
    this.keys = {
      signing: settings.signingKey === undefined ? undefined : readKey(settings.signingKey, 'signing'),
      trusted: settings.trustedKey === undefined ? undefined : readKey(settings.trustedKey, 'trusted'),
    };
  }

  /** Downloads those of `keys` the local store lacks and the bucket has; a failure to reach the bucket leaves them to be built. */
  async pull(snapshotKey: string, keys: string[]): Promise<void> {
    const missing: string[] = [];
    for (const key of keys) if (!(await this.stores.segments.has(key))) missing.push(key);
    if (missing.length === 0) return;
    try {
      await this.readListings(snapshotKey);
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      return this.notice(`${e.message}; the segments are built here`);
    }
    let done = 0;
    const progress = () => this.ctx.emit({ kind: 'progress', phase: 'pulling', done, total: missing.length });
    progress();
    await eachLimited(missing, PARALLEL, this.ctx.signal, async (key) => {
      throwIfCancelled(this.ctx.signal, 'pulling the cache');
      await this.pullOne(key, this.listed.get(key));
      done++;
      progress();
    });
  }

  /**
   * Uploads those of `keys` the bucket lacks (or holds as other bytes, below), and, under `part`,
   * the listing of their checksums. Nothing when read-only. A failed upload is said and counted,
   * never thrown: the local cache is complete either way.
   */
  async push(snapshotKey: string, keys: string[], part?: string): Promise<void> {
    if (this.settings.readOnly) return;
    const sums = new Map<string, string>();
    let done = 0;
    const progress = () => this.ctx.emit({ kind: 'progress', phase: 'pushing', done, total: keys.length });
    progress();
    await eachLimited(keys, PARALLEL, this.ctx.signal, async (key) => {
      throwIfCancelled(this.ctx.signal, 'pushing the cache');
      const name = segmentName(key);
      try {
        const file = this.stores.segments.pathOf(key);
        const sum = await sha256File(file);
        sums.set(key, sum);
        // Built twice, a segment is the same cache but not the same bytes (its header's date), so
        // a builder makes the object its listing's bytes; a client replaces only an object no
        // listing vouches for (a damaged listed one stays for its builder to put right).
        const there = await this.bucket.head(name);
        if (!there || (there.sha256 !== sum && (part !== undefined || !this.listed.has(key)))) {
          await this.bucket.upload(name, file, sum);
          this.counts.pushed++;
        }
      } catch (e) {
        this.counts.unpushed.push(key);
        this.notice(`${this.bucket.where(name)} was not uploaded: ${(e as Error).message}`);
      }
      done++;
      progress();
    });
    if (!part || this.counts.unpushed.length) return;
    const name = `manifests/${snapshotKey}/${part}.json`;
    const listing = makeListing(snapshotKey, this.modelFingerprint, sums, this.keys.signing);
    try {
      await this.bucket.put(name, JSON.stringify(listing) + '\n');
    } catch (e) {
      this.counts.unpushed.push(name);
      this.notice((e as Error).message);
    }
  }

  close(): void {
    this.bucket.close();
  }

  /** Reads every usable part's checksums for this snapshot; a part that may not be used is named, and why. */
  private async readListings(snapshotKey: string): Promise<void> {
    for (const name of await this.bucket.list(`manifests/${snapshotKey}`)) {
      if (!name.endsWith('.json')) continue;
      const text = (await this.bucket.get(name))?.toString('utf8');
      if (text === undefined) continue;
      const part = checkListing(text, { snapshotKey, modelFingerprint: this.modelFingerprint, trustedKey: this.keys.trusted });
      if (typeof part === 'string') this.notice(`${this.bucket.where(name)} is not used: ${part}`);
      else for (const [key, sum] of part) this.listed.set(key, (this.listed.get(key) ?? new Set<string>()).add(sum));
    }
  }

  /** One segment downloaded under a temporary name, checked, and renamed into the store; a refusal is said. */
  private async pullOne(key: string, sums: Set<string> | undefined): Promise<void> {
    if (!sums && this.keys.trusted) return; // only what the trusted builder signed for
    const name = segmentName(key);
    const tmp = this.stores.segments.tempPath(key);
    try {
      await fsp.mkdir(this.stores.segments.dir, { recursive: true, mode: 0o700 });
      const got = await this.bucket.download(name, tmp);
      if (got === undefined) return;
      if (sums && !sums.has(got)) throw new EngineError('corrupt-cache', 'its bytes are not the ones its listing gives (damaged or replaced)');
      await this.stores.segments.adopt(tmp, key, { modelFingerprint: this.modelFingerprint });
      this.counts.pulled++;
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      if (e.code === 'corrupt-cache') this.counts.rejected.push(key);
      this.notice(
        `${this.bucket.where(name)} ${e.code === 'corrupt-cache' ? `was rejected: ${e.message}` : `could not be read: ${e.message}`}; the segment is built here`,
      );
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  private notice(message: string): void {
    this.ctx.emit({ kind: 'notice', message });
  }
}

function segmentName(key: string): string {
  return `segments/${key}.rzkv`;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
