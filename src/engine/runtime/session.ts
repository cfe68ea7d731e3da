// onnxruntime sessions and the choice of execution provider. An EP that cannot start makes session
// creation throw (onnxruntime does not fall back by itself), so `auto` tries each candidate in turn
// and records why the ones before it failed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors';

export type Device = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';
export const DEVICES: Device[] = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'];

export interface SessionOptions {
  device: Device;
  /** Threads for one run; 0 = onnxruntime's default (physical cores). */
  threads?: number;
  /** Fail instead of silently running unsupported nodes on the CPU (tests of GPU paths). */
  forbidCpuFallback?: boolean;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  device: Exclude<Device, 'auto'>;
  /** Why each EP tried before the chosen one failed. */
  fallbacks: { device: Device; reason: string }[];
}

/** Where onnxruntime-node keeps its native libraries on this platform. */
function ortBinDir(): string {
  return path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Whether an EP can possibly start here. Trying one that cannot costs a second and prints native
 * errors, so `auto` skips EPs whose libraries are missing: CUDA needs the provider library that
 * onnxruntime-node's install script downloads; WebGPU on Linux needs a Vulkan loader.
 */
export function epLikelyAvailable(device: Exclude<Device, 'auto'>, platform = process.platform): boolean {
  if (device === 'cuda') return fs.existsSync(path.join(ortBinDir(), 'libonnxruntime_providers_cuda.so'));
  if (device === 'webgpu' && platform === 'linux') {
    const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)];
    return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
  }
  return true;
}

/** EPs `auto` tries, best first, on this platform. */
export function autoCandidates(platform = process.platform, arch = process.arch): Exclude<Device, 'auto'>[] {
  const backends = new Set(ort.listSupportedBackends().map((b) => b.name));
  const order: Exclude<Device, 'auto'>[] =
    platform === 'win32' ? ['webgpu', 'dml'] : platform === 'darwin' ? ['webgpu', 'coreml'] : arch === 'x64' ? ['cuda', 'webgpu'] : [];
  return [...order.filter((d) => backends.has(d) && epLikelyAvailable(d, platform)), 'cpu'];
}

/** Whether a run on `device` will likely use a GPU: it decides which default model fits. */
export function deviceClass(device: Device): 'gpu' | 'cpu' {
  if (device === 'cpu') return 'cpu';
  return device === 'auto' ? (autoCandidates()[0] === 'cpu' ? 'cpu' : 'gpu') : 'gpu';
}

function providers(device: Exclude<Device, 'auto'>): ort.InferenceSession.ExecutionProviderConfig[] {
  return [device === 'dml' ? { name: 'dml' } : device];
}

export async function openSession(modelPath: string, opts: SessionOptions): Promise<OpenedSession> {
  const candidates = opts.device === 'auto' ? autoCandidates() : [opts.device];
  const fallbacks: OpenedSession['fallbacks'] = [];
  for (const device of candidates) {
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: providers(device),
        graphOptimizationLevel: 'all',
        intraOpNumThreads: opts.threads ?? 0,
        extra: {
          session: {
            // idle worker threads must not burn the user's CPU between tokens
            'intra_op.allow_spinning': '0',
            ...(opts.forbidCpuFallback ? { disable_cpu_ep_fallback: '1' } : {}),
          },
        },
      });
      return { session, device, fallbacks };
    } catch (e) {
      fallbacks.push({ device, reason: (e as Error).message.split('\n')[0] });
    }
  }
  const why = fallbacks.map((f) => `${f.device}: ${f.reason}`).join('; ');
  throw new EngineError('device', `no execution provider could start (${why})`);
}
