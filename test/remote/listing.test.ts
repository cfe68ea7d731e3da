// The checksum listings a builder pushes: what a client accepts and what it refuses, and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { checkListing, makeListing } from '../../src/engine/remote/listing';
import { FORMAT_VERSION } from '../../src/engine/store/format';

const want = { snapshotKey: 'snap', modelFingerprint: 'model' };
const sums = new Map([
  ['b'.repeat(64), '2'.repeat(64)],
  ['a'.repeat(64), '1'.repeat(64)],
]);
const pair = () => generateKeyPairSync('ed25519');

test('an unsigned listing: its sums, keys sorted; another snapshot, model, format or version is refused', () => {
  const l = makeListing('snap', 'model', sums);
  assert.deepEqual(Object.keys(l.segments), ['a'.repeat(64), 'b'.repeat(64)]);
  assert.deepEqual(checkListing(JSON.stringify(l), want), new Map([...sums].sort()));
  assert.match(checkListing(JSON.stringify(l), { ...want, snapshotKey: 'other' }) as string, /lists snapshot snap/);
  assert.match(checkListing(JSON.stringify(l), { ...want, modelFingerprint: 'other' }) as string, /another model/);
  assert.match(checkListing(JSON.stringify({ ...l, format: FORMAT_VERSION + 1 }), want) as string, /in format/);
  assert.match(checkListing(JSON.stringify({ ...l, version: 99 }), want) as string, /not a version 1 listing/);
  assert.equal(checkListing('{"version": 1, "segm', want), 'it is not JSON');
});

test('a signed listing: accepted with its key; refused when changed, with another key, or unsigned', () => {
  const builder = pair();
  const l = makeListing('snap', 'model', sums, builder.privateKey);
  assert.ok(l.signature);
  assert.equal((checkListing(JSON.stringify(l), { ...want, trustedKey: builder.publicKey }) as Map<string, string>).size, 2);
  const changed = { ...l, segments: { ...l.segments, ['a'.repeat(64)]: '3'.repeat(64) } };
  assert.match(checkListing(JSON.stringify(changed), { ...want, trustedKey: builder.publicKey }) as string, /not the trusted key/);
  assert.match(checkListing(JSON.stringify(l), { ...want, trustedKey: pair().publicKey }) as string, /not the trusted key/);
  const { signature: _, ...unsigned } = l;
  assert.match(checkListing(JSON.stringify(unsigned), { ...want, trustedKey: builder.publicKey }) as string, /not signed/);
  // a key given as PEM, as read from the settings' files
  const pem = createPublicKey(builder.publicKey.export({ type: 'spki', format: 'pem' }));
  assert.ok(
    checkListing(JSON.stringify(makeListing('snap', 'model', sums, createPrivateKey(builder.privateKey.export({ type: 'pkcs8', format: 'pem' })))), {
      ...want,
      trustedKey: pem,
    }) instanceof Map,
  );
});
