// Choosing the next token: greedy, or temperature + top-p with a seeded generator so that a
// sampled answer can be reproduced.

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  seed: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topP: 1, seed: 0 };

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export class Sampler {
  private readonly next: () => number;

  constructor(private readonly opts: SamplingOptions) {
    this.next = rng(opts.seed);
  }

  sample(logits: Float32Array): number {
    const { temperature, topP } = this.opts;
    if (temperature <= 0) return argmax(logits);
    // softmax at temperature, then the smallest set of tokens whose mass reaches topP
    const m = logits[argmax(logits)];
    const probs = new Float64Array(logits.length);
    let z = 0;
    for (let i = 0; i < logits.length; i++) z += probs[i] = Math.exp((logits[i] - m) / temperature);
    // only tokens within 1e-9 of the top one can matter: sorting 150k logits per token would not pay
    const order: number[] = [];
    for (let i = 0; i < probs.length; i++) if (probs[i] > 1e-9) order.push(i);
    order.sort((a, b) => probs[b] - probs[a]);
    let mass = 0;
    let cut = 0;
    while (cut < order.length && mass < topP * z) mass += probs[order[cut++]];
    let r = this.next() * mass;
    for (let i = 0; i < cut; i++) {
      r -= probs[order[i]];
      if (r <= 0) return order[i];
    }
    return order[cut - 1];
  }
}
