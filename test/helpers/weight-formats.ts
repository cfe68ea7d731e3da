// One model run per weight format, for the tests that hold int4 and fp16 weights to fp32.
import { Model } from '../../src/engine/model/model';
import { WeightFormat } from '../../src/engine/model/weights';
import { argmax } from './compare';

export interface FormatRun {
  /** Logits after prefilling the ids. */
  logits: Float32Array;
  /** The 8 greedy tokens that follow. */
  greedy: number[];
  weightBytes: number;
}

/** Loads `dir` with `weights` on the CPU, prefills `ids` and decodes 8 tokens greedily. */
export async function runWithWeights(dir: string, weights: WeightFormat, ids: number[], cacheRoot: string): Promise<FormatRun> {
  const m = await Model.load(dir, { device: 'cpu', weights, cacheRoot, threads: 1 });
  try {
    const cache = m.newCache();
    let out = (await m.forward({ ids, cache, logits: true })).logits!;
    const logits = out.slice();
    const greedy: number[] = [];
    for (let i = 0; i < 8; i++) {
      greedy.push(argmax(out));
      out = (await m.forward({ ids: [greedy[i]], cache, logits: true })).logits!;
    }
    return { logits, greedy, weightBytes: m.info.weightBytes };
  } finally {
    await m.dispose();
  }
}
