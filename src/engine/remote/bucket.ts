// An S3-compatible bucket under a prefix (AWS S3, MinIO, Ceph RGW, R2...), reached with the
// official SDK configured as every AWS tool is: the endpoint from AWS_ENDPOINT_URL, the region and
// the credentials from the SDK's default chain. Nothing here sees a secret, so no message can hold
// one: errors are reported by their S3 code and the object's address only.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { EngineError } from '../errors';

export class Bucket {
  readonly bucket: string;
  /** The prefix, without slashes at its ends ('' for the bucket's root). */
  readonly prefix: string;
  private readonly client: S3Client;

  constructor(readonly url: string) {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
    if (!m) throw new EngineError('bad-input', `the remote cache must be an s3://bucket/prefix address, got "${url}"`);
    this.bucket = m[1];
    this.prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
    // a custom endpoint (MinIO, Ceph, a local server) rarely has a DNS name per bucket; the SDK's
    // default checksums are newer than most of them, so they are sent only where S3 requires them
    const custom = Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL);
    // the SDK warns on stderr that its releases after 2026 need Node 22; this pinned one runs on 20
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({ forcePathStyle: custom, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  }

  /** The object's address for messages: s3://bucket/prefix/name. */
  where(name: string): string {
    return `s3://${this.bucket}/${this.key(name)}`;
  }

  /** Whether an object is there, and the sha256 its uploader said it has (put's `sha256`); undefined when there is none. */
  async head(name: string): Promise<{ sha256?: string } | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
      return { sha256: r.Metadata?.sha256 };
    } catch (e) {
      if (notFound(e)) return undefined;
      throw this.failed('look for', name, e);
    }
  }

  /** An object's bytes; undefined when there is none. */
  async get(name: string): Promise<Buffer | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (notFound(e)) return undefined;
      throw this.failed('read', name, e);
    }
  }

  /** Streams an object into `file` (created, never overwritten) and returns the sha256 of its bytes; undefined when there is none. */
  async download(name: string, file: string): Promise<string | undefined> {
    let body: NodeJS.ReadableStream;
    try {
      body = (await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(name) }))).Body as NodeJS.ReadableStream;
    } catch (e) {
      if (notFound(e)) return undefined;
      throw this.failed('read', name, e);
    }
    const hash = createHash('sha256');
    const out = fs.createWriteStream(file, { flags: 'wx', mode: 0o600 });
    try {
      for await (const chunk of body) {
        hash.update(chunk as Buffer);
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
    } catch (e) {
      throw this.failed('read', name, e);
    } finally {
      await new Promise<void>((resolve) => out.end(resolve));
    }
    return hash.digest('hex');
  }

  /** Writes an object; `sha256`, the body's, is kept with it (user metadata) for a later head(). */
  async put(name: string, body: Buffer | string, sha256?: string): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(name), Body: body, Metadata: sha256 ? { sha256 } : undefined }));
    } catch (e) {
      throw this.failed('write', name, e);
    }
  }

  /** Uploads a local file (read whole: a segment is a few MB). */
  async upload(name: string, file: string, sha256: string): Promise<void> {
    await this.put(name, await fsp.readFile(file), sha256);
  }

  /** The names of the objects under `dir` (relative to the prefix). */
  async list(dir: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      try {
        const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(dir) + '/', ContinuationToken: token }));
        for (const o of r.Contents ?? []) if (o.Key) names.push(o.Key.slice(this.key('').length));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } catch (e) {
        throw this.failed('list', dir, e);
      }
    } while (token);
    return names;
  }

  close(): void {
    this.client.destroy();
  }

  private key(name: string): string {
    return this.prefix ? `${this.prefix}/${name}` : name;
  }

  /** The SDK's error as the user can act on it: what was asked of which object, and S3's code (never the request, which is signed). */
  private failed(what: string, name: string, e: unknown): EngineError {
    const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const why = [err.name, err.$metadata?.httpStatusCode, err.message].filter(Boolean).join(' ');
    return new EngineError('io', `cannot ${what} ${this.where(name)}: ${why}`);
  }
}

function notFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}
