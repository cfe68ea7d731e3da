// `index` and `ask` through EngineService with device 'webgpu': the snapshot is built on the device
// (prefill, KVzip scoring, eviction), read back once and saved; an answer uploads the saved file
// once. Snapshots are host data whatever built them, so the CPU answers from the WebGPU-built file
// exactly as from its own, and both devices give the same greedy answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { CallContext, EngineService } from '../../src/engine/service';
import type { EngineSettings } from '../../src/engine/protocol';
import { ROOT, scratchDir } from '../helpers/models';
import { write } from '../repo/fixture';
import { WEBGPU_SKIP } from './webgpu';

const { dir } = scratchDir('gpu-service');
const TINY = path.join(ROOT, 'test', 'fixtures', 'tinycode');
const repo = path.join(dir, 'repo');
write(repo, 'README.md', '# kv\n\nParses and formats key=value lines.\n');
write(
  repo,
  'src/parse.ts',
  "export function parse(line: string): Record<string, string> {\n  const out: Record<string, string> = {};\n  for (const pair of line.split(';')) {\n    const [key, value] = pair.split('=');\n    if (key) out[key.trim()] = (value ?? '').trim();\n  }\n  return out;\n}\n",
);
write(
  repo,
  'src/format.ts',
  "export function format(fields: Record<string, string>): string {\n  return Object.entries(fields).map(([k, v]) => `${k}=${v}`).join('; ');\n}\n",
);

const ctx = (): CallContext & { notices: string[] } => {
  const notices: string[] = [];
  return { signal: new AbortController().signal, notices, emit: (e) => e.kind === 'notice' && notices.push(e.message) };
};
const params = (engine: EngineSettings) => ({ engine, repo: { root: repo, ratio: 0.3 }, question: 'What does parse return?', maxTokens: 16 });

test('index + ask with device webgpu == the CPU; a WebGPU-built snapshot answers on the CPU', { skip: WEBGPU_SKIP }, async (t) => {
  const gpuEngine: EngineSettings = { model: TINY, device: 'webgpu', cacheDir: path.join(dir, 'gpu') };
  const gpu = new EngineService();
  let answer: string;
  try {
    const built = await gpu.index(params(gpuEngine), ctx());
    assert.equal(built.reused, false);
    assert.equal(gpu.placement?.device, 'webgpu');
    t.diagnostic(`built on WebGPU: ${built.tokens.context} tokens, timings ${JSON.stringify(built.timings)}`);
    const first = await gpu.ask(params(gpuEngine), ctx());
    assert.ok(first.cacheReused && first.tokens > 0);
    answer = first.text;
    const again = await gpu.ask(params(gpuEngine), ctx()); // the cache already on the device
    assert.equal(again.text, answer);
    t.diagnostic(`WebGPU answer ${JSON.stringify(answer)}; first token ${first.firstTokenMs.toFixed(0)} ms, ${first.decodeMsPerToken.toFixed(1)} ms/token`);
  } finally {
    await gpu.dispose();
  }

  const cpu = new EngineService();
  try {
    const own = await cpu.ask(params({ model: TINY, device: 'cpu', cacheDir: path.join(dir, 'cpu') }), ctx());
    assert.equal(own.cacheReused, false);
    assert.equal(answer, own.text, 'WebGPU and CPU answers differ');
    const fromGpuFile = await cpu.ask(params({ ...gpuEngine, device: 'cpu' }), ctx());
    assert.ok(fromGpuFile.cacheReused, 'the CPU did not find the WebGPU-built snapshot');
    assert.equal(fromGpuFile.text, answer);
  } finally {
    await cpu.dispose();
  }
});
