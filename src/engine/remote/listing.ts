// What a builder says it pushed: the sha256 of every segment file of its share of a snapshot, as
// one small JSON object per builder (`manifests/<snapshotKey>/<part>.json`, a part per shard, so
// builders never write the same object). A client downloads a listed segment only when its bytes
// hash to the listed sum, and, when it trusts one builder's key, only segments of parts that key
// signed (Ed25519 over the part's JSON without its signature).
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import * as fs from 'node:fs';
import { EngineError } from '../errors';
import { FORMAT_VERSION } from '../store/format';

export const LISTING_VERSION = 1;

export interface Listing {
  version: number;
  snapshotKey: string;
  modelFingerprint: string;
  /** The .rzkv format version of the segments. */
  format: number;
  /** Segment key → sha256 of its file's bytes, keys sorted. */
  segments: Record<string, string>;
  /** base64 Ed25519 signature of the JSON above (absent: unsigned). */
  signature?: string;
}

/** The bytes a signature covers: the fields in this order, with no signature. */
function signed(l: Listing): Buffer {
  const { version, snapshotKey, modelFingerprint, format, segments } = l;
  return Buffer.from(JSON.stringify({ version, snapshotKey, modelFingerprint, format, segments }));
}

export function makeListing(snapshotKey: string, modelFingerprint: string, sums: Map<string, string>, signingKey?: KeyObject): Listing {
  const segments = Object.fromEntries([...sums].sort(([a], [b]) => (a < b ? -1 : 1)));
  const l: Listing = { version: LISTING_VERSION, snapshotKey, modelFingerprint, format: FORMAT_VERSION, segments };
  if (signingKey) l.signature = sign(null, signed(l), signingKey).toString('base64');
  return l;
}

/**
 * The part's checksums when it may be used for this snapshot, or why not: another snapshot, model
 * or format, malformed, or (with a trusted key) unsigned or signed by another key.
 */
export function checkListing(text: string, want: { snapshotKey: string; modelFingerprint: string; trustedKey?: KeyObject }): Map<string, string> | string {
  let l: Listing;
  try {
    l = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  if (l?.version !== LISTING_VERSION || typeof l.segments !== 'object' || l.segments === null) return `it is not a version ${LISTING_VERSION} listing`;
  if (l.snapshotKey !== want.snapshotKey) return `it lists snapshot ${String(l.snapshotKey)}`;
  if (l.modelFingerprint !== want.modelFingerprint) return 'it holds another model’s segments';
  if (l.format !== FORMAT_VERSION) return `its segments are in format ${String(l.format)}, this repozip reads ${FORMAT_VERSION}`;
  if (want.trustedKey) {
    if (typeof l.signature !== 'string') return 'it is not signed, and a trusted key is configured';
    const ok = verify(null, signed(l), want.trustedKey, Buffer.from(l.signature, 'base64'));
    if (!ok) return 'its signature is not the trusted key’s';
  }
  const sums = new Map<string, string>();
  for (const [key, sum] of Object.entries(l.segments)) if (typeof sum === 'string' && /^[0-9a-f]{64}$/.test(sum)) sums.set(key, sum);
  return sums;
}

/** A PEM key file: the builder's private key (signing), or its public key (trusted). */
export function readKey(file: string, what: 'signing' | 'trusted'): KeyObject {
  try {
    const pem = fs.readFileSync(file, 'utf8');
    return what === 'signing' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (e) {
    throw new EngineError(
      'bad-input',
      `cannot use ${file} as the ${what} key (a PEM Ed25519 ${what === 'signing' ? 'private' : 'public'} key): ${(e as Error).message}`,
    );
  }
}
