// The prefill checkpoint (a repository's last full cache, so that the next build prefills only what
// changed) is two files renamed into place one after the other. A crash between the two renames
// leaves the new build's token ids beside the previous build's cache; using that pair would give the
// next build keys and values of code that is no longer there, with nothing to show for it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineService } from '../../src/engine/service';
import { write } from '../repo/fixture';
import { indexParams, recorder, scratch } from './helpers';

const { dir, engine, snapshots } = scratch('checkpoint');
const service = new EngineService();
after(() => service.dispose());

/** One file of about 350 tokens; `rate` sits in its first line, so an edit of it is shared by no checkpoint. */
function writeRepo(root: string, rate: number): void {
  const lines = [`export const base = ${rate};`, ...Array.from({ length: 20 }, (_, i) => `export const rate${i} = base * ${i + 2} / 100;`)];
  write(root, 'src/rates.ts', lines.join('\n') + '\n');
}

const checkpointCache = () => {
  const [name] = fs.readdirSync(path.join(snapshots, 'checkpoints')).filter((n) => n.endsWith('.rzkv'));
  return path.join(snapshots, 'checkpoints', name);
};
test('a checkpoint torn by a crash between its two files is not used: the next build starts from scratch', async () => {
  const root = path.join(dir, 'repo');
  const params = indexParams(engine, { root });
  writeRepo(root, 3);
  await service.index(params, recorder());
  const oldCheckpoint = fs.readFileSync(checkpointCache());

  writeRepo(root, 4); // the same number of tokens, other values from the first line on
  const honest = await service.index(params, recorder());
  assert.equal(honest.timings.reusedTokens, 0, 'the edit is before anything a checkpoint could share');

  // What a kill between the renames of that build leaves: its score file, the previous build's
  // cache, and no snapshot.
  fs.writeFileSync(checkpointCache(), oldCheckpoint);
  fs.rmSync(path.join(snapshots, `${honest.key}.rzkv`));
  const again = await service.index(params, recorder());
  assert.equal(again.key, honest.key);
  assert.equal(again.timings.reusedTokens, 0, 'the torn checkpoint is not used');

  // while an intact one is: the same files again reuse all of it
  fs.rmSync(path.join(snapshots, `${again.key}.rzkv`));
  const reused = await service.index(params, recorder());
  assert.equal(reused.timings.reusedTokens, reused.tokens.context);
});
