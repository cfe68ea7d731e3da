// One blob from the hub into the cache. Bytes go to blobs/<etag>.incomplete, which outlives a
// dropped connection, a failure or a cancel, so the next attempt resumes it with a Range request.
// The finished file is checked against its ETag before it is renamed to blobs/<etag>: a blob in
// the cache is always whole (the model converter trusts a blob's name as its sha256).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledError, EngineError } from '../errors';
import { ProgressMeter } from './progress';
import { Hub, NetworkError, RemoteFile } from './remote';

export interface TransferOptions {
  meter: ProgressMeter;
  /** Automatic resumptions after a dropped connection before giving up. */
  retries: number;
  signal?: AbortSignal;
}

const RETRY_DELAY_MS = 1000; // times the attempt number: a brief network blip passes

export async function fetchBlob(hub: Hub, file: RemoteFile, blob: string, opts: TransferOptions): Promise<void> {
  const partial = `${blob}.incomplete`;
  for (let attempt = 0; ; attempt++) {
    try {
      await appendRest(hub, file, partial, opts);
      break;
    } catch (e) {
      if (opts.signal?.aborted) throw new CancelledError(`download of ${file.name}`);
      const transient = !(e instanceof EngineError) || e instanceof NetworkError;
      if (!transient) throw e;
      if (attempt >= opts.retries) {
        throw e instanceof EngineError
          ? e
          : new EngineError('download', `downloading ${file.name} failed: ${(e as Error).message}; pull again to resume where it stopped`);
      }
      await sleep(RETRY_DELAY_MS * (attempt + 1), undefined, { signal: opts.signal }).catch(() => {
        throw new CancelledError(`download of ${file.name}`);
      });
    }
  }
  const mismatch = await digestMismatch(partial, file);
  if (mismatch) {
    fs.rmSync(partial, { force: true });
    throw new EngineError('download', `${file.name} of ${hub.repo} arrived corrupted (${mismatch}); the bad copy was deleted, pull again to retry`);
  }
  fs.renameSync(partial, blob);
}

/** Downloads what `partial` lacks; throws a plain Error when the connection ends early. */
async function appendRest(hub: Hub, file: RemoteFile, partial: string, opts: TransferOptions): Promise<void> {
  let have = sizeOf(partial);
  if (have > file.size) have = 0; // not a prefix of this file: start over
  if (have === file.size) return;
  const res = await hub.get(file.url, have ? { range: `bytes=${have}-` } : {}, opts.signal);
  if (res.statusCode === 200) {
    have = 0; // a server that ignores Range sends the whole file
  } else if (!String(res.headers['content-range']).startsWith(`bytes ${have}-`)) {
    res.destroy();
    throw new EngineError('download', `${file.url.host} answered a request for bytes ${have}- with ${String(res.headers['content-range'])}`);
  }
  opts.meter.start(file.name, file.size, have);
  const out = await fs.promises.open(partial, have ? 'a' : 'w');
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      await out.write(chunk);
      opts.meter.receive(file.name, file.size, chunk.length); // counted once on disk, so a resume never counts twice
    }
  } finally {
    await out.close();
  }
  const got = sizeOf(partial);
  if (got < file.size) throw new Error(`the connection closed after ${got} of ${file.size} bytes`);
}

/**
 * What an ETag promises about the bytes: a 64-hex ETag is the sha256 of an LFS file, a 40-hex one
 * the git blob sha1 of a small file (sha1 of "blob <size>\0" + bytes). Other forms (a mirror's own
 * ETags) promise only the size. Returns a description of the mismatch, or null.
 */
async function digestMismatch(file: string, remote: RemoteFile): Promise<string | null> {
  const size = sizeOf(file);
  if (size !== remote.size) return `${size} bytes instead of ${remote.size}`;
  let hash: crypto.Hash;
  if (/^[0-9a-f]{64}$/.test(remote.etag)) {
    hash = crypto.createHash('sha256');
  } else if (/^[0-9a-f]{40}$/.test(remote.etag)) {
    hash = crypto.createHash('sha1').update(`blob ${size}\0`);
  } else {
    return null;
  }
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  return digest === remote.etag ? null : `checksum ${digest} instead of ${remote.etag}`;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
