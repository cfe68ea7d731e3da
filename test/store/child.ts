// The other process in the store tests (run with `node --import tsx`):
//   write <dir> <key>                    saves a large snapshot; the parent kills it mid-write
//   race <dir> <key> <marker>  creates <marker>.ready.<pid>, waits for <marker>.go, then builds the
//                              snapshot under the build lock (appending its pid to <marker> when it
//                              builds); prints {outcome, waited, builder} once it has loaded it
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { withBuildLock } from '../../src/engine/store/lock';
import { SnapshotStore } from '../../src/engine/store/store';
import { SMALL, snapshotCache, snapshotInfo } from './fixture';

async function main([mode, dir, key, marker]: string[]): Promise<void> {
  const store = new SnapshotStore(dir);
  if (mode === 'write') {
    const spec = { layers: 24, kvHeads: 2, headDim: 64, prefix: 8, context: 3000, ratio: 1 };
    await store.save(snapshotCache(spec), snapshotInfo(spec, { snapshotKey: key, meta: { writer: 'killed child' } }));
  } else if (mode === 'race') {
    fs.writeFileSync(`${marker}.ready.${process.pid}`, '');
    while (!fs.existsSync(`${marker}.go`)) await sleep(5);
    let waited = false;
    const outcome = await withBuildLock(dir, key, { ready: () => store.has(key), onWait: () => (waited = true), heartbeatMs: 50 }, async () => {
      fs.appendFileSync(marker, `${process.pid}\n`);
      await sleep(500);
      await store.save(snapshotCache(SMALL), snapshotInfo(SMALL, { snapshotKey: key, meta: { builder: process.pid } }));
    });
    const loaded = await store.load(key);
    console.log(JSON.stringify({ outcome, waited, builder: loaded?.header.meta.builder }));
  } else throw new Error(`unknown mode ${mode}`);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e);
  process.exit(1);
});
