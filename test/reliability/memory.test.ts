// Building a segment that would not fit in memory is refused before any work, with a way out in
// the message, and nothing is written. REPOZIP_MEMORY_LIMIT stands in for the machine's free memory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../../src/engine/errors';
import { MAX_CHUNK } from '../../src/engine/chunks';
import { estimatePeak } from '../../src/engine/memory';
import { readConfig } from '../../src/engine/model/config';
import { EngineService } from '../../src/engine/service';
import { write } from '../repo/fixture';
import { indexParams, recorder, scratch, TINY } from './helpers';

const { dir, engine } = scratch('memory');
const service = new EngineService();
after(() => service.dispose());

function withMemoryLimit<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
  process.env.REPOZIP_MEMORY_LIMIT = String(bytes);
  return fn().finally(() => delete process.env.REPOZIP_MEMORY_LIMIT);
}

test('too little memory: index is refused with out-of-memory before building, the message names a segment size that fits, nothing is written', async () => {
  // the same repository into two snapshot folders: one built normally to learn the sizes, one refused
  const root = path.join(dir, 'repo');
  // one segment of about 400 tokens: the engine proposes a smaller size only when it stays above 256
  write(root, 'src/table.ts', Array.from({ length: 27 }, (_, i) => `export const rate${i} = ${i * 7} / 100;`).join('\n') + '\n');
  const settings = { root, segmentTokens: 480 };
  const sized = await service.index(indexParams({ ...engine, snapshotDir: path.join(dir, 'sized') }, settings), recorder());
  assert.equal(sized.segments.total, 1);
  const tokens = sized.tokens.prefix + sized.tokens.context;
  assert.ok(tokens > 320, `${tokens} tokens`);
  const config = readConfig(TINY);
  // auto loaded fp32 weights and, with the room a test machine has, an int8 set for decoding: both count
  const graphs = path.join(engine.cacheDir!, 'graphs');
  const bytes = (key: string) =>
    fs.statSync(
      path.join(
        graphs,
        fs.readdirSync(graphs).find((g) => g.endsWith(key))!,
        'weights.bin',
      ),
    ).size;
  const sets = { weights: 'fp32', weightBytes: bytes('-fp32'), decode: { weights: 'int8', weightBytes: bytes('-int8-step') } } as const;
  const peak = (n: number) => estimatePeak(config, sets, n, MAX_CHUNK).total;
  const refused = { ...engine, snapshotDir: path.join(dir, 'refused') };

  // Between what 80 % of the tokens and all of them need: the message proposes that smaller segment size.
  const fitsFewer = (peak(Math.floor(tokens * 0.8)) + peak(tokens)) / 2 / 0.9;
  // Less than the weights and the runtime alone: no segment size helps.
  const fitsNothing = 64 * 1024 ** 2;
  for (const [limit, says] of [
    [fitsFewer, new RegExp(`set segmentTokens to about ${Math.floor(tokens * 0.8)}`)],
    [fitsNothing, /use a smaller model or int4 weights/],
  ] as const) {
    await withMemoryLimit(limit, () =>
      assert.rejects(service.index(indexParams(refused, settings), recorder()), (e: unknown) => {
        assert.ok(e instanceof EngineError, String(e));
        assert.equal(e.code, 'out-of-memory', e.message);
        assert.match(
          e.message,
          /^building this cache needs about [\d.]+ GB \(weights [\d.]+, KV [\d.]+, activations [\d.]+\) but only [\d.]+ GB are available: /,
        );
        assert.match(e.message, says);
        return true;
      }),
    );
    const files = (fs.readdirSync(refused.snapshotDir, { recursive: true, withFileTypes: true }) as fs.Dirent[]).filter((e) => e.isFile());
    assert.deepEqual(files, [], 'nothing written');
  }

  // with the memory back, the same call builds
  const r = await service.index(indexParams(refused, settings), recorder());
  assert.equal(r.reused, false);
  assert.equal(r.key, sized.key);
});
