// What an answer was given from: `ask` returns its context (mode, segments used of how many, files).
// A repository that fits the model's positions is used whole; a larger one is ranked for the
// question, and the editor's active file puts its segment first. The manifest on disk is the
// reference for which segment holds which files. On the `recall` fixture (2048 positions).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Manifest } from '../../src/engine/segments/manifest';
import { SegmentStores } from '../../src/engine/segments/snapshot';
import { EngineService } from '../../src/engine/service';
import { DEFAULT_COMPOSE } from '../../src/engine/settings';
import type { AskParams, EditorContext } from '../../src/engine/protocol';
import { scratchDir } from '../helpers/models';
import { moduleRepo, modulePath, RECALL } from './segmented-repo';

const { dir, cacheRoot } = scratchDir('segmented-ask');
const noop = { signal: new AbortController().signal, emit: () => {} };
const service = new EngineService();
after(() => service.dispose());
const stores = new SegmentStores(path.join(cacheRoot, 'snapshots'));

async function indexed(root: string): Promise<{ ask: (question: string, editor?: EditorContext) => ReturnType<EngineService['ask']>; m: Manifest }> {
  const params = { engine: { model: RECALL, device: 'cpu' as const, cacheDir: cacheRoot }, repo: { root } };
  const { key } = await service.index(params, noop);
  const m = (await stores.manifests.load(key))!;
  const ask = (question: string, editor?: EditorContext) => service.ask({ ...params, question, maxTokens: 2, editor } satisfies AskParams, noop);
  return { ask, m };
}

/** The files of the segment holding `file`, in the order the segment holds them. */
function segmentFiles(m: Manifest, file: string): string[] {
  const seg = m.segments.find((s) => s.pieces.some((p) => p.path === file))!;
  return [...new Set(seg.pieces.map((p) => p.path))];
}

test('a repository that fits: every segment is used; the active file’s segment comes first', async () => {
  const { ask, m } = await indexed(moduleRepo(path.join(dir, 'small'), 8));
  assert.ok(m.segments.length > 1, `${m.segments.length} segments`);
  const r = await ask('What does scale3 return?');
  assert.ok(r.tokens > 0);
  assert.deepEqual(
    { ...r.context, files: [...r.context.files].sort() },
    { mode: 'all', segments: m.segments.length, totalSegments: m.segments.length, files: m.listing.map(([f]) => f).sort() },
  );
  const last = m.listing.at(-1)![0];
  const first = segmentFiles(m, last);
  const active = await ask('What does scale3 return?', { activeFile: last });
  assert.deepEqual(active.context.files.slice(0, first.length), first);
});

test('a repository larger than the model’s positions: the best-ranked segments that fit, the active file’s first', async () => {
  const { ask, m } = await indexed(moduleRepo(path.join(dir, 'large'), 100));
  const asked = modulePath(42);
  const r = await ask('What does scale42 return?');
  assert.equal(r.context.mode, DEFAULT_COMPOSE);
  assert.equal(r.context.totalSegments, m.segments.length);
  assert.ok(r.context.segments > 0 && r.context.segments < m.segments.length, `${r.context.segments} of ${m.segments.length}`);
  const used = m.segments.filter((s) => s.pieces.some((p) => r.context.files.includes(p.path)));
  assert.equal(used.length, r.context.segments, 'the files are those of the segments used');
  assert.deepEqual(r.context.files.slice(0, segmentFiles(m, asked).length), segmentFiles(m, asked), 'the question’s own file ranks first');

  const active = modulePath(5); // another folder, another segment
  assert.ok(!segmentFiles(m, asked).includes(active));
  const steered = await ask('What does scale42 return?', { activeFile: active });
  assert.deepEqual(steered.context.files.slice(0, segmentFiles(m, active).length), segmentFiles(m, active));
  assert.ok(steered.context.files.includes(asked), 'and the question’s segment still follows');
});
