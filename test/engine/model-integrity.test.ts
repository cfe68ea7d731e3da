// A converted model (graphs/<digest>/: decoder.onnx, weights.bin, the completion marker) damaged
// after it was written: every load checks each file's size and CRC-32, deletes what fails, converts
// again and says so in `info.reconverted`; the rebuilt model computes the same logits as before the
// damage. Temporary folders of killed converters are never loaded and are removed. A converter
// killed for real, through the engine process, is test/reliability/model-conversion.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Model } from '../../src/engine/model/model';
import { scratchDir } from '../helpers/models';
import { FAMILY_SPECS, makeRandomModel } from '../helpers/random-model';

const { dir: tmp, cacheRoot } = scratchDir('model-integrity');
const modelDir = makeRandomModel(path.join(tmp, 'model'), FAMILY_SPECS.qwen2);
const IDS = [5, 17, 300, 42, 4000, 7];

async function load(): Promise<{ info: Model['info']; logits: Float32Array }> {
  const model = await Model.load(modelDir, { cacheRoot, threads: 1 });
  try {
    const { logits } = await model.forward({ ids: IDS, cache: model.newCache(), logits: true });
    return { info: model.info, logits: logits!.slice() };
  } finally {
    await model.dispose();
  }
}

const reference = load();

/** Flips `n` bytes (XOR 0xff) in the middle of a file, keeping its size. */
function flipMiddle(file: string, n: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const at = Math.floor(fs.fstatSync(fd).size / 2);
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, at);
    for (let i = 0; i < n; i++) buf[i] ^= 0xff;
    fs.writeSync(fd, buf, 0, n, at);
  } finally {
    fs.closeSync(fd);
  }
}

const editMarker = (dir: string, edit: (m: Record<string, unknown>) => void) => {
  const file = path.join(dir, 'done');
  const m = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(m);
  fs.writeFileSync(file, JSON.stringify(m));
};

const FAULTS: Record<string, { damage: (dir: string) => void; says: RegExp }> = {
  'four bytes flipped in the middle of weights.bin': {
    damage: (d) => flipMiddle(path.join(d, 'weights.bin'), 4),
    says: /weights\.bin does not match its checksum/,
  },
  'weights.bin truncated to half': {
    damage: (d) => fs.truncateSync(path.join(d, 'weights.bin'), Math.floor(fs.statSync(path.join(d, 'weights.bin')).size / 2)),
    says: /weights\.bin is truncated: \d+ of \d+ bytes/,
  },
  'weights.bin cut by 64 bytes': {
    damage: (d) => fs.truncateSync(path.join(d, 'weights.bin'), fs.statSync(path.join(d, 'weights.bin')).size - 64),
    says: /weights\.bin is truncated/,
  },
  'weights.bin empty': { damage: (d) => fs.truncateSync(path.join(d, 'weights.bin'), 0), says: /weights\.bin is truncated: 0 of \d+ bytes/ },
  'weights.bin missing': { damage: (d) => fs.rmSync(path.join(d, 'weights.bin')), says: /weights\.bin is missing/ },
  'weights.bin grown by a byte': { damage: (d) => fs.appendFileSync(path.join(d, 'weights.bin'), 'x'), says: /weights\.bin has \d+ bytes, \d+ expected/ },
  'one byte flipped in decoder.onnx': { damage: (d) => flipMiddle(path.join(d, 'decoder.onnx'), 1), says: /decoder\.onnx does not match its checksum/ },
  'no completion marker': { damage: (d) => fs.rmSync(path.join(d, 'done')), says: /it has no completion marker/ },
  'the completion marker cut in half': { damage: (d) => fs.truncateSync(path.join(d, 'done'), 20), says: /its completion marker is damaged/ },
  'a marker without checksums (an earlier repozip)': {
    damage: (d) => editMarker(d, (m) => delete m.files),
    says: /made by an earlier repozip, without checksums/,
  },
};

test('an intact conversion is reused, its files checked, and nothing is said', async () => {
  const first = await reference;
  assert.equal(first.info.converted, true);
  const again = await load();
  assert.deepEqual([again.info.converted, again.info.reconverted], [false, undefined]);
  assert.deepEqual(again.logits, first.logits);
});

for (const [name, { damage, says }] of Object.entries(FAULTS)) {
  test(`converted model with ${name}: the load notices, deletes it, converts again, says so; the logits are the undamaged ones`, async () => {
    const { info, logits } = await reference;
    damage(info.graphDir);
    const after = await load();
    assert.equal(after.info.converted, true, 'converted again');
    assert.equal(after.info.graphDir, info.graphDir);
    assert.match(after.info.reconverted ?? '', says);
    assert.ok(after.info.reconverted!.includes(info.graphDir), `names the folder: ${after.info.reconverted}`);
    assert.match(after.info.reconverted!, /deleted and converted again/);
    assert.deepEqual(after.logits, logits);
    const next = await load();
    assert.deepEqual([next.info.converted, next.info.reconverted], [false, undefined], 'the rebuilt conversion passes the check');
    const graphs = fs.readdirSync(path.dirname(info.graphDir));
    assert.deepEqual(graphs, [path.basename(info.graphDir)], 'the damaged files are gone, no temporary folder left');
  });
}

test("a killed converter's temporary folder is never loaded and is removed; a live converter's is left alone", async () => {
  const { info, logits } = await reference;
  const graphs = path.dirname(info.graphDir);
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  // complete copies with their markers: only the rename makes a conversion, so even these are not used
  const dead = `${info.graphDir}.tmp-${deadPid}-0a1b2c3d`;
  const reusedPid = `${info.graphDir}.tmp-${process.pid}-11111111`;
  const live = `${info.graphDir}.tmp-${process.pid}-22222222`;
  for (const t of [dead, reusedPid, live]) fs.cpSync(info.graphDir, t, { recursive: true });
  fs.rmSync(info.graphDir, { recursive: true });
  // a pid alive but nothing written for 11 minutes: the pid was reused by another process
  const old = new Date(Date.now() - 11 * 60_000);
  for (const f of [reusedPid, path.join(reusedPid, 'weights.bin')]) fs.utimesSync(f, old, old);

  const after = await load();
  assert.equal(after.info.converted, true, 'converted: no temporary folder was taken for a conversion');
  assert.equal(after.info.reconverted, undefined);
  assert.deepEqual(after.logits, logits);
  assert.deepEqual(fs.readdirSync(graphs).sort(), [path.basename(info.graphDir), path.basename(live)]);
  fs.rmSync(live, { recursive: true });
});
