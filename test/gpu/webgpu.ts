// Whether this machine can run the WebGPU EP: a GPU with a Vulkan (or D3D12, Metal) driver, or
// Mesa's software Vulkan driver lavapipe on CI (tools/ci/lavapipe.sh installs it and prints what to
// export). Probed in a child process, once per test file: a driver that crashes takes only the
// probe down, and the GPU tests are skipped with the probe's reason.
import { spawnSync } from 'node:child_process';
import { Graph } from '../../src/engine/onnx/builder';
import { ROOT } from '../helpers/models';

function probe(): string | false {
  const g = new Graph('probe');
  g.output('y', g.op('Identity', [g.input('x', 'float', [1])]), 'float', [1]);
  const model = Buffer.from(g.encode('probe')).toString('base64');
  const script = `require('onnxruntime-node').InferenceSession.create(Buffer.from(process.argv[1], 'base64'), { executionProviders: ['webgpu'] })
    .then(() => process.exit(0), (e) => { console.error(e.message.split('\\n')[0]); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script, model], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return false;
  const last =
    (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`)
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('Warning'))
      .pop() ?? '';
  const why = last.replace(/^.*was false\.\s*/, ''); // onnxruntime's source location and check, then the message
  return `no WebGPU adapter (${why}); without a GPU, run tools/ci/lavapipe.sh and export what it prints`;
}

/** false when a WebGPU session can be created here, else why the GPU tests are skipped (printed with each). */
export const WEBGPU_SKIP = probe();
