// Damaged cache files met through the engine's own calls. test/store/corrupt.test.ts covers every
// defect byte by byte at the store; here each kind is met by `index` and by `ask`: the damage is
// noticed before a byte of the file is used, said in a notice, the cache is built again, the
// question is answered, and no other snapshot's file is touched.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineService } from '../../src/engine/service';
import { indexParams, phases, recorder, scratch, smallRepo } from './helpers';

const { dir, engine, snapshots } = scratch('cache-files');
const service = new EngineService();
after(() => service.dispose());

// A small context: every case below builds twice.
const params = (root: string) => indexParams(engine, { root, maxContextTokens: 200 });
const repoA = smallRepo(path.join(dir, 'a'));
const repoB = smallRepo(path.join(dir, 'b'), 1);
const fileOf = (key: string) => path.join(snapshots, `${key}.rzkv`);

let keyA = '';
let keyB = '';
let goodA = Buffer.alloc(0);
let goodB = Buffer.alloc(0);
before(async () => {
  keyA = (await service.index(params(repoA), recorder())).key;
  keyB = (await service.index(params(repoB), recorder())).key;
  goodA = fs.readFileSync(fileOf(keyA));
  goodB = fs.readFileSync(fileOf(keyB));
});

const flip = (b: Buffer, at: number) => ((b[at] ^= 0x10), b);
const headerEnd = (b: Buffer) => 16 + b.readUInt32LE(12);

/**
 * Each fault: what it does to A's good file, and what the report must say. index and ask share the
 * check, so ask meets only a few kinds (`ask`): every rebuild costs a second on a busy machine.
 */
const FAULTS: Record<string, { damage: (good: Buffer) => Buffer; says: RegExp; ask?: true }> = {
  'truncated to half': { damage: (g) => g.subarray(0, g.length >> 1), says: /truncated/, ask: true },
  'zero-length': { damage: () => Buffer.alloc(0), says: /truncated: 0 bytes/ },
  'a bit flipped in the header': { damage: (g) => flip(g, headerEnd(g) - 40), says: /header|checksum mismatch/ },
  'a bit flipped in the middle': { damage: (g) => flip(g, g.length >> 1), says: /checksum mismatch/, ask: true },
  'a bit flipped at the end': { damage: (g) => flip(g, g.length - 1), says: /end marker is missing/ },
  'another format version': { damage: (g) => (g.writeUInt32LE(99, 8), g), says: /format version 99/ },
  "another snapshot's file": { damage: () => Buffer.from(goodB), says: /holds snapshot/, ask: true },
};

/** Puts the damaged file in place, with the engine's loaded cache moved to B so that A is read from disk. */
async function damageA(damage: (good: Buffer) => Buffer): Promise<void> {
  await service.index(params(repoB), recorder());
  fs.writeFileSync(fileOf(keyA), damage(Buffer.from(goodA)));
}

function assertReported(notices: string[], says: RegExp): void {
  assert.equal(notices.length, 1, `one notice: ${notices.join(' | ')}`);
  assert.ok(notices[0].startsWith(fileOf(keyA)), notices[0]);
  assert.match(notices[0], says);
  assert.match(notices[0], /the file was deleted; building it again$/);
}

/** B's file is byte for byte what it was, and A's new file is whole: the next question is answered from it. */
async function assertRecovered(): Promise<void> {
  assert.ok(fs.readFileSync(fileOf(keyB)).equals(goodB), "B's cache is untouched");
  const r = await service.ask({ ...params(repoA), question: 'What does add do?', maxTokens: 4 }, recorder());
  assert.equal(r.cacheReused, true);
  assert.ok(r.tokens > 0);
}

for (const [name, { damage, says, ask }] of Object.entries(FAULTS)) {
  test(`cache file ${name}: index notices it, says so and builds it again`, async () => {
    await damageA(damage);
    const ctx = recorder();
    const r = await service.index(params(repoA), ctx);
    assert.equal(r.key, keyA);
    assert.equal(r.reused, false, 'a damaged file is not reused');
    assertReported(ctx.notices(), says);
    assert.ok(phases(ctx.events).includes('prefill'), 'built again');
    await assertRecovered();
  });

  if (!ask) continue;
  test(`cache file ${name}: ask notices it, says so, builds it again and answers`, async () => {
    await damageA(damage);
    const ctx = recorder();
    const r = await service.ask({ ...params(repoA), question: 'Where is mul?', maxTokens: 4 }, ctx);
    assert.equal(r.cacheReused, false);
    assert.ok(r.tokens > 0);
    assertReported(ctx.notices(), says);
    await assertRecovered();
  });
}
