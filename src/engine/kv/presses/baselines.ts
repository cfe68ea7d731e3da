// The query-agnostic baselines KVzip is compared with. Each is a few lines of scoring; selection and
// eviction are shared. Parameters follow the paper's baseline setup (kvzip.md §5.2) and kvpress.
import { rng } from '../../sampling';
import { contextColumns, emptyGrid, Press, PressContext } from '../press';

/** StreamingLLM: attention sinks plus the most recent tokens. */
export class StreamingPress implements Press {
  readonly name = 'streaming';
  readonly needsPrefillStats = false;

  constructor(readonly sinks = 4) {}

  async score(ctx: PressContext) {
    const grid = emptyGrid(ctx);
    const n = grid.length;
    for (let u = 0; u < grid.layers * grid.kvHeads; u++) for (let i = 0; i < n; i++) grid.data[u * n + i] = i < this.sinks ? Infinity : i;
    return grid;
  }
}

/** H2O, prefill form: the attention each entry accumulated from every prefill query. */
export class H2OPress implements Press {
  readonly name = 'h2o';
  readonly needsPrefillStats = true;

  async score(ctx: PressContext) {
    return contextColumns(ctx, ctx.stats!.received);
  }
}

/**
 * SnapKV without the question: the end of the context is the observation window; an entry's score
 * is its mean attention from the window's queries (and the group's heads), max-pooled over
 * neighbouring positions so that whole spans survive. The window itself is always kept.
 */
export class SnapKVPress implements Press {
  readonly name: string = 'snapkv';
  readonly needsPrefillStats = true;

  constructor(readonly kernel = 7) {}

  async score(ctx: PressContext) {
    const raw = contextColumns(ctx, ctx.stats!.window);
    const grid = emptyGrid(ctx);
    const n = grid.length;
    const win = ctx.stats!.windowSize;
    const r = this.kernel >> 1;
    for (let u = 0; u < grid.layers * grid.kvHeads; u++) {
      for (let i = 0; i < n; i++) {
        let m = -Infinity;
        for (let j = Math.max(0, i - r); j <= Math.min(n - 1, i + r); j++) m = Math.max(m, raw.data[u * n + j]);
        grid.data[u * n + i] = i >= n - win ? Infinity : m;
      }
    }
    return grid;
  }
}

/**
 * PyramidKV: SnapKV's scores under a pyramidal budget, lower layers keeping more (they attend
 * broadly) and upper layers less. Within a layer, the layer's heads share one top-k.
 */
export class PyramidKVPress extends SnapKVPress {
  override readonly name = 'pyramidkv';
  readonly budget = 'pyramid';
}

/** K-norm: keys with a small norm tend to draw attention (kvpress's Knorm: score = -|k|). */
export class KnormPress implements Press {
  readonly name = 'knorm';
  readonly needsPrefillStats = false;

  async score(ctx: PressContext) {
    const grid = emptyGrid(ctx);
    const n = grid.length;
    const D = ctx.model.config.headDim;
    const host = await ctx.cache.toHost(); // a baseline: reading a device cache back is fine here
    for (let l = 0; l < grid.layers; l++) {
      for (let h = 0; h < grid.kvHeads; h++) {
        const k = host.head(l, h).k;
        const u = l * grid.kvHeads + h;
        for (let i = 0; i < n; i++) {
          let s = 0;
          const row = (ctx.prefixLength + i) * D;
          for (let j = 0; j < D; j++) s += k[row + j] * k[row + j];
          grid.data[u * n + i] = -Math.sqrt(s);
        }
      }
    }
    return grid;
  }
}

/** Random scores: the floor any method must beat. */
export class RandomPress implements Press {
  readonly name = 'random';
  readonly needsPrefillStats = false;

  constructor(readonly seed = 0) {}

  async score(ctx: PressContext) {
    const grid = emptyGrid(ctx);
    const next = rng(this.seed);
    for (let i = 0; i < grid.data.length; i++) grid.data[i] = next();
    return grid;
  }
}
