// The editor never runs a model in its own process: the extension, bundled as it ships, holds none
// of the engine's model code and does not load onnxruntime; the model lives behind EngineClient, in
// the engine process (whose crashes and hangs kill.test.ts and cancel.test.ts inject).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { ROOT } from '../helpers/models';

test('the extension bundle holds no model code and does not load onnxruntime', async () => {
  const { metafile } = await esbuild.build({
    entryPoints: [path.join(ROOT, 'src', 'extension', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['vscode', 'onnxruntime-node'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(metafile.inputs).filter((f) => f.startsWith('src/'));
  const imports = Object.values(metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
  assert.ok(inputs.includes('src/engine/worker/client.ts'), 'it talks to the engine process');
  // what loads or runs a model (reading a config.json to describe a model is fine)
  const modelCode = [
    'src/engine/runtime/',
    'src/engine/onnx/',
    'src/engine/kv/',
    'src/engine/model/model.ts',
    'src/engine/model/graph.ts',
    'src/engine/service.ts',
    'src/engine/worker/host.ts',
    'src/engine/generate.ts',
    'src/engine/segments/build.ts',
    'src/engine/segments/compose.ts',
    'src/engine/segments/context.ts',
    'src/engine/segments/snapshot.ts',
  ];
  assert.deepEqual(
    inputs.filter((f) => modelCode.some((m) => f.startsWith(m))),
    [],
  );
  assert.ok(!imports.includes('onnxruntime-node'), 'onnxruntime is not required by the extension');
});
