// Small WebGPU sessions that move a device-resident KV cache, one (layer, head)'s K and V per run.
// onnxruntime-node shares one WebGPU device between sessions, so their GPU tensors feed each other.
// - upload: host arrays in, GPU tensors out (loading a saved snapshot);
// - download: GPU tensors in, host arrays out through CPU-located outputs: in onnxruntime-node 1.30
//   getData() on a GPU tensor aborts the process, so this is the only way back;
// - gather: keep the listed rows, GPU to GPU (eviction, copies).
// A session with GPU outputs is always asked for all of them (asking for a subset fails in 1.30).
import * as ort from 'onnxruntime-node';
import { Graph } from '../onnx/builder';
import { createSession } from './session';

export type KvPair = [k: ort.Tensor, v: ort.Tensor];

/** `op` applied to K and V alike: inputs k, v (and `rows` when it takes row indices), outputs k_out, v_out. */
function pairGraph(op: (g: Graph, x: string, rows: string) => string, takesRows: boolean): Uint8Array {
  const g = new Graph('kv');
  const rows = takesRows ? g.input('rows', 'int64', ['N']) : '';
  for (const x of ['k', 'v']) g.output(`${x}_out`, op(g, g.input(x, 'float', ['R', 'D']), rows), 'float', [takesRows ? 'N' : 'R', 'D']);
  return g.encode('repozip-kv');
}

export class DeviceOps {
  /** Rows moved so far (a K row and its V row count once): tests and benchmarks check what crossed the bus. */
  readonly moved = { up: 0, down: 0, gathered: 0 };

  private constructor(
    private readonly up: ort.InferenceSession,
    private readonly down: ort.InferenceSession,
    private readonly pick: ort.InferenceSession,
  ) {}

  static async create(opts: { forbidCpuFallback?: boolean } = {}): Promise<DeviceOps> {
    const identity = pairGraph((g, x) => g.op('Identity', [x]), false);
    const gather = pairGraph((g, x, rows) => g.op('Gather', [x, rows], { axis: 0 }), true);
    const gpu = ['k_out', 'v_out'];
    const o = { threads: 1, forbidCpuFallback: opts.forbidCpuFallback };
    return new DeviceOps(
      await createSession({ model: identity, gpuOutputs: gpu }, 'webgpu', o),
      await createSession({ model: identity }, 'webgpu', o),
      await createSession({ model: gather, gpuOutputs: gpu }, 'webgpu', o),
    );
  }

  /** `rows` rows of `dim` floats each, from host arrays to GPU tensors. */
  async upload(k: Float32Array, v: Float32Array, rows: number, dim: number): Promise<KvPair> {
    const out = await this.up.run({ k: new ort.Tensor('float32', k, [rows, dim]), v: new ort.Tensor('float32', v, [rows, dim]) });
    this.moved.up += rows;
    return [out.k_out, out.v_out];
  }

  /** Copies of the tensors' data on the host; the tensors stay where they are. */
  async download(k: ort.Tensor, v: ort.Tensor): Promise<[Float32Array, Float32Array]> {
    const out = await this.down.run({ k, v });
    this.moved.down += k.dims[0];
    return [out.k_out.data as Float32Array, out.v_out.data as Float32Array];
  }

  /** New GPU tensors holding the listed rows of k and v; the inputs are left as they are. */
  async gather(k: ort.Tensor, v: ort.Tensor, rows: ArrayLike<number>): Promise<KvPair> {
    const idx = new ort.Tensor('int64', BigInt64Array.from(Array.from(rows), BigInt), [rows.length]);
    const out = await this.pick.run({ k, v, rows: idx });
    this.moved.gathered += rows.length;
    return [out.k_out, out.v_out];
  }

  async release(): Promise<void> {
    await Promise.all([this.up.release(), this.down.release(), this.pick.release()]);
  }
}
