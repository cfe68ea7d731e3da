// onnxruntime sessions and the choice of execution provider. An EP that cannot start makes session
// creation throw (onnxruntime does not fall back by itself), so `auto` tries each candidate in turn
// and records why the ones before it were skipped or failed (`fallbacks`: the CLI and the extension
// show them).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors';

import type { Device } from '../devices';

/** Where the KV cache lives between runs: decided by the EP (cacheResidence), built into the graph
 *  (model/graph.ts's header says how the two differ). */
export type CacheResidence = 'host' | 'device';

export interface SessionOptions {
  device: Device;
  /** Threads for one run; 0 = onnxruntime's default (physical cores). */
  threads?: number;
  /** Fail instead of silently running unsupported nodes on the CPU (tests of GPU paths). */
  forbidCpuFallback?: boolean;
  /** onnxruntime's per-node profile, written to `<profile>_<date>.json` when the session releases (bench/profile-decode.ts). */
  profile?: string;
  /**
   * Worker threads spin between ops instead of sleeping. A decode step is ~2,000 small ops, and
   * waking a sleeping worker for each parallel one costs more than the op: spinning made an int8
   * step 0.87-0.90x as long at 4K and 16K (BENCHMARKS.md, interleaved A/B). The spin is bounded:
   * after a run the workers burn ~30-50 ms of CPU, then sleep, so an idle engine costs nothing.
   */
  spin?: boolean;
}

/** What to open on one EP: the graph, and which of its outputs stay in GPU memory. */
export interface SessionPlan {
  model: string | Uint8Array;
  gpuOutputs?: string[];
}

export interface Fallback {
  device: Device;
  reason: string;
}

export interface OpenedSession<P extends SessionPlan = SessionPlan> {
  session: ort.InferenceSession;
  device: Exclude<Device, 'auto'>;
  /** What was opened there. */
  plan: P;
  /** Why each EP tried (or skipped) before the chosen one was not used. */
  fallbacks: Fallback[];
}

/** Where onnxruntime-node keeps its native libraries on this platform. */
function ortBinDir(): string {
  return path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu'];

/**
 * Why an EP cannot possibly start here, or null when it may. Trying one that cannot costs a second
 * and prints native errors, so `auto` skips these. CUDA needs the provider library that
 * onnxruntime-node's install script downloads. WebGPU on Linux needs a Vulkan loader and a GPU: with
 * no GPU device node only a software Vulkan driver (lavapipe) could answer, slower than the CPU EP.
 */
export function epUnavailable(device: Exclude<Device, 'auto'>, platform = process.platform): string | null {
  if (device === 'cuda' && !fs.existsSync(path.join(ortBinDir(), 'libonnxruntime_providers_cuda.so')))
    return 'the CUDA provider libraries are not installed (node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12)';
  if (device === 'webgpu' && platform === 'linux') {
    const dirs = [...LIB_DIRS, ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)];
    if (!dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return 'no Vulkan loader (libvulkan.so.1)';
    const gpuNode = ['/dev/dri', '/dev'].some((d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => /^(renderD\d+|nvidia\d+|dxg)$/.test(f)));
    if (!gpuNode) return 'no GPU device (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg): only a software Vulkan driver could run it';
  }
  return null;
}

/** EPs `auto` tries, best first, on this platform, and why the others it would try are skipped. */
export function autoCandidates(platform = process.platform, arch = process.arch): { candidates: Exclude<Device, 'auto'>[]; skipped: Fallback[] } {
  const backends = new Set(ort.listSupportedBackends().map((b) => b.name));
  const order: Exclude<Device, 'auto'>[] =
    platform === 'win32' ? ['webgpu', 'dml'] : platform === 'darwin' ? ['webgpu', 'coreml'] : arch === 'x64' ? ['cuda', 'webgpu'] : [];
  const skipped: Fallback[] = [];
  const candidates = order.filter((d) => {
    const why = backends.has(d) ? epUnavailable(d, platform) : 'not in this build of onnxruntime-node';
    if (why) skipped.push({ device: d, reason: why });
    return !why;
  });
  return { candidates: [...candidates, 'cpu'], skipped };
}

/** One line for the user: where the model runs and why the EPs before it were not used. */
export function describeFallbacks(device: string, fallbacks: Fallback[]): string {
  return `running on ${device}; ${fallbacks.map((f) => `${f.device} not used: ${f.reason}`).join('; ')}`;
}

/** Whether a run on `device` will likely use a GPU: it decides which default model fits. */
export function deviceClass(device: Device): 'gpu' | 'cpu' {
  if (device === 'cpu') return 'cpu';
  return device === 'auto' ? (autoCandidates().candidates[0] === 'cpu' ? 'cpu' : 'gpu') : 'gpu';
}

/**
 * Where the KV cache lives between runs on `device`. Only WebGPU can keep onnxruntime outputs in
 * GPU memory from Node (1.30); on CUDA, DML and CoreML every input and output crosses to the host
 * on every run anyway, so they take the host cache and its graph.
 */
export function cacheResidence(device: Exclude<Device, 'auto'>): CacheResidence {
  return device === 'webgpu' ? 'device' : 'host';
}

function providers(device: Exclude<Device, 'auto'>): ort.InferenceSession.ExecutionProviderConfig[] {
  return [device === 'dml' ? { name: 'dml' } : device];
}

/** A session on one EP; throws when the EP cannot start (or, with forbidCpuFallback, cannot run every node). */
export async function createSession(plan: SessionPlan, device: Exclude<Device, 'auto'>, opts: Omit<SessionOptions, 'device'>): Promise<ort.InferenceSession> {
  const gpu = plan.gpuOutputs ?? [];
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providers(device),
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads ?? 0,
    ...(opts.profile ? { enableProfiling: true, profileFilePrefix: opts.profile } : {}),
    ...(gpu.length ? { preferredOutputLocation: Object.fromEntries(gpu.map((n) => [n, 'gpu-buffer' as const])) } : {}),
    extra: {
      session: {
        // an idle engine must not burn the user's CPU: workers sleep, unless spinning was asked for (bounded)
        'intra_op.allow_spinning': opts.spin ? '1' : '0',
        ...(opts.forbidCpuFallback ? { disable_cpu_ep_fallback: '1' } : {}),
      },
    },
  };
  // a path (external weights are memory-mapped from beside it) or the bytes of a small graph: two overloads
  return typeof plan.model === 'string' ? ort.InferenceSession.create(plan.model, options) : ort.InferenceSession.create(plan.model, options);
}

/**
 * Opens the first EP that starts, among `opts.device` or, for `auto`, this platform's candidates.
 * `plan` says what to open on each: the graph depends on where the KV cache will live.
 */
export async function openSession<P extends SessionPlan>(plan: (device: Exclude<Device, 'auto'>) => P, opts: SessionOptions): Promise<OpenedSession<P>> {
  const auto = opts.device === 'auto' ? autoCandidates() : { candidates: [opts.device as Exclude<Device, 'auto'>], skipped: [] };
  const fallbacks: Fallback[] = [...auto.skipped];
  for (const device of auto.candidates) {
    const p = plan(device);
    try {
      return { session: await createSession(p, device, opts), device, plan: p, fallbacks };
    } catch (e) {
      fallbacks.push({ device, reason: (e as Error).message.split('\n')[0] });
    }
  }
  const why = fallbacks.map((f) => `${f.device}: ${f.reason}`).join('; ');
  throw new EngineError('device', `no execution provider could start (${why})`);
}
