// A real S3-compatible server for the remote-store tests: s3rver (npm, MIT) on 127.0.0.1 on a free
// port, keeping its objects in the test's scratch folder. The AWS SDK is pointed at it the way a
// user points it at MinIO: AWS_ENDPOINT_URL and the standard credential variables; the shared
// config files and the instance metadata service are switched off, so nothing else is reached.
import * as path from 'node:path';
import S3rver from '@20minutes/s3rver';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import AWSAccount from '@20minutes/s3rver/lib/models/account.js';

export const BUCKET = 'team-cache';
/** A secret no output or cache file may contain. */
export const SECRET = 'rz-secret-7f3a9c1e5d2b8046';
const ACCESS_KEY = 'REPOZIPTEST';

export interface TestServer {
  /** The environment that points the SDK at this server (also set on process.env for in-process engines). */
  env: Record<string, string>;
  /** Direct access to the bucket, for what a test does behind the engine's back. */
  get(key: string): Promise<Buffer | undefined>;
  put(key: string, body: Buffer | string): Promise<void>;
  /** The names of the objects under a prefix. */
  list(prefix: string): Promise<string[]>;
  remove(key: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a server; the caller stops it (after its tests). */
export async function startServer(dir: string): Promise<TestServer> {
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(ACCESS_KEY, SECRET);
  // s3rver canonicalizes a listing's query differently from the SDK; the signature is not what is tested here
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    allowMismatchedSignatures: true,
    directory: path.join(dir, 's3'),
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = (await server.run()) as { port: number };
  const env = {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
  };
  Object.assign(process.env, env);
  const client = new S3Client({ forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    await server.close();
  };
  return {
    env,
    async get(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        return Buffer.from(await r.Body!.transformToByteArray());
      } catch (e) {
        if ((e as Error).name === 'NoSuchKey') return undefined;
        throw e;
      }
    },
    put: async (key, body) => void (await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }))),
    list: async (prefix) => ((await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!),
    remove: async (key) => void (await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }))),
    stop,
  };
}
