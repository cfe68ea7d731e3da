// One cache from segments prefilled and compressed separately, each after the same anchor: the
// anchor's rows once, then every segment's kept rows with keys re-rotated (rope.ts) to the positions
// the segment takes here. Re-rotation is exact per segment; what composing cannot give is attention
// between segments (no segment's rows saw the ones before it). EPIC's recompute (composeRecomputed)
// repairs each later segment's first tokens, which otherwise act as false attention sinks.
import { EngineError } from '../errors';
import { KvCache } from '../kv/cache';
import type { ModelConfig } from '../model/config';
import { ropeInvFreq } from '../model/graph';
import type { Model } from '../model/model';
import { rerotateRows } from './rope';

/**
 * 'positions': each segment keeps its tokens' positions, gaps left by eviction included, segments one
 * after another. 'compact' (Finch; kvpress KeyRerotationPress): each (layer, KV head) gives its kept
 * rows consecutive positions from its own running base, so a compressed segment spends only the
 * positions its heads kept.
 */
export type Layout = 'positions' | 'compact';

export interface SegmentCache {
  /** The anchor's rows at positions 0..A-1, then the segment's kept rows at A + i (as compressContext leaves them). */
  cache: KvCache;
  /** The segment's tokens, the anchor not counted. */
  length: number;
}

/** What planning needs of a segment, without loading its rows. */
export interface SegmentShape {
  length: number;
  /** Rows each (layer, KV head) kept after the anchor, layer-major: only 'compact' reads it. */
  kept?: ArrayLike<number>;
}

export interface Composed {
  /** Host rows; its nextPosition is the number of positions the composition uses. */
  cache: KvCache;
  /** Per segment, the positions it took, [base, end); under 'compact' the hull over all heads. */
  spans: { base: number; end: number }[];
}

type RopeConfig = Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>;

/** Positions a composition will use, anchor included: what must fit the model before anything is loaded. */
export function positionsNeeded(anchorLength: number, segments: readonly SegmentShape[], layout: Layout): number {
  const budget = new PositionBudget(layout, anchorLength);
  for (const s of segments) budget.add(s);
  return budget.used;
}

/** Positions used as segments are added one by one (choosing what fits asks this once per candidate). */
export class PositionBudget {
  private readonly perHead: number[] = [];
  private tokens: number;

  constructor(
    private readonly layout: Layout,
    private readonly anchorLength = 0,
  ) {
    this.tokens = anchorLength;
  }

  get used(): number {
    return this.layout === 'positions' ? this.tokens : this.anchorLength + Math.max(0, ...this.perHead);
  }

  /** Positions used with `s` added, without adding it. */
  with(s: SegmentShape): number {
    if (this.layout === 'positions') return this.tokens + s.length;
    const kept = keptOf(s);
    let most = 0;
    for (let u = 0; u < kept.length; u++) most = Math.max(most, (this.perHead[u] ?? 0) + kept[u]);
    for (let u = kept.length; u < this.perHead.length; u++) most = Math.max(most, this.perHead[u]);
    return this.anchorLength + most;
  }

  add(s: SegmentShape): void {
    this.tokens += s.length;
    if (this.layout === 'positions') return;
    const kept = keptOf(s);
    for (let u = 0; u < kept.length; u++) this.perHead[u] = (this.perHead[u] ?? 0) + kept[u];
  }
}

function keptOf(s: SegmentShape): ArrayLike<number> {
  if (!s.kept) throw new EngineError('bad-input', "the 'compact' layout needs each segment's kept rows per head");
  return s.kept;
}

/** The anchor (taken from the first segment: every segment holds the same rows) and then each segment, placed by `layout`. */
export function composeSegments(config: RopeConfig, anchorLength: number, segments: readonly SegmentCache[], opts: { layout: Layout }): Composed {
  const c = new Composer(config, anchorLength, segments, opts.layout);
  for (const seg of segments) c.place(seg);
  return { cache: c.out, spans: c.spans };
}

/**
 * The 'positions' composition with EPIC / LegoLink (arXiv 2410.15332): each segment after the first
 * has its first `first` tokens fed again at their composed positions over everything composed before
 * it (so they attend to the anchor and the earlier segments), and their new rows replace the stored
 * ones in the heads that kept them. `ids` holds at least the segment's first `first` token ids.
 * ('compact' has no such variant: a fed token has one position in every head.)
 */
export async function composeRecomputed(
  model: Model,
  anchorLength: number,
  segments: readonly (SegmentCache & { ids: ArrayLike<number> })[],
  first: number,
): Promise<Composed> {
  const c = new Composer(model.config, anchorLength, segments, 'positions', first);
  const D = c.out.headDim;
  for (const [j, seg] of segments.entries()) {
    const n = Math.min(first, seg.length);
    if (seg.ids.length < n) throw new EngineError('bad-input', `recomputing ${n} tokens of segment ${j} needs its first ${n} ids, got ${seg.ids.length}`);
    const base = c.out.nextPosition;
    const fresh =
      j > 0 && n > 0
        ? await recompute(
            model,
            c.out,
            Array.from({ length: n }, (_, i) => seg.ids[i]),
          )
        : null;
    const starts = c.out.heads.map((row) => row.map((h) => h.len));
    c.place(seg);
    if (!fresh) continue;
    c.out.heads.forEach((row, l) =>
      row.forEach((h, i) => {
        // kept rows ascend, so the recomputed ones come first
        for (let r = starts[l][i]; r < h.len && h.pos[r] < base + n; r++) {
          const t = h.pos[r] - base;
          h.k.set(fresh[l][i].k.subarray(t * D, (t + 1) * D), r * D);
          h.v.set(fresh[l][i].v.subarray(t * D, (t + 1) * D), r * D);
        }
      }),
    );
  }
  return { cache: c.out, spans: c.spans };
}

/** The rows of `ids` fed at prefix.nextPosition.. over `prefix`, per (layer, head); the prefix is left as it was. */
async function recompute(model: Model, prefix: KvCache, ids: number[]): Promise<{ k: Float32Array; v: Float32Array }[][]> {
  const mark = prefix.mark();
  const D = prefix.headDim;
  // on a device model this uploads a copy of the prefix: the model only attends over its own kind of cache
  const resident = await model.residentCache(prefix);
  try {
    await model.forward({ ids, positions: ids.map((_, i) => mark.nextPosition + i), cache: resident });
    const host = await resident.toHost();
    return host.heads.map((row, l) =>
      row.map((h, i) => {
        const a = mark.lengths[l][i] * D;
        return { k: h.k.slice(a, a + ids.length * D), v: h.v.slice(a, a + ids.length * D) };
      }),
    );
  } finally {
    if (resident === prefix) prefix.rollback(mark);
    else resident.dispose();
  }
}

/** The composition under way: the output cache, each head's running base ('compact') and the spans so far. */
class Composer {
  readonly out: KvCache;
  readonly spans: { base: number; end: number }[] = [];
  private readonly run: Int32Array;
  private readonly inv: Float64Array;

  constructor(
    config: RopeConfig,
    private readonly A: number,
    segments: readonly SegmentCache[],
    private readonly layout: Layout,
    spareRows = 0,
  ) {
    if (segments.length === 0) throw new EngineError('bad-input', 'nothing to compose: no segment was given');
    const { layers: L, kvHeads: Hkv, headDim: D } = segments[0].cache;
    for (const s of segments) {
      const c = s.cache;
      if (c.layers !== L || c.kvHeads !== Hkv || c.headDim !== D || D !== config.headDim)
        throw new EngineError('bad-input', 'segment caches differ in shape from each other or from the model');
      if (c.heads.some((row) => row.some((h) => h.len < A || (A > 0 && h.pos[A - 1] !== A - 1))))
        throw new EngineError('bad-input', `a segment cache does not start with the ${A}-token anchor`);
    }
    this.inv = ropeInvFreq(D, config.ropeTheta, config.ropeScaling);
    this.run = new Int32Array(L * Hkv).fill(A);
    this.out = new KvCache(L, Hkv, D);
    this.out.heads.forEach((row, l) =>
      row.forEach((dst, h) => {
        dst.reserve(segments.reduce((n, s) => n + s.cache.head(l, h).len - A, A + spareRows)); // one allocation per head
        const src = segments[0].cache.head(l, h);
        dst.append(src.k.subarray(0, A * D), src.v.subarray(0, A * D), src.pos.subarray(0, A));
      }),
    );
    this.out.nextPosition = A;
  }

  /** Appends a segment's kept rows after everything placed so far, keys re-rotated to their new positions. */
  place(seg: SegmentCache): void {
    const { out, A } = this;
    const D = out.headDim;
    const base = out.nextPosition;
    let lo = Infinity;
    let hi = base;
    out.heads.forEach((row, l) =>
      row.forEach((dst, h) => {
        const u = l * out.kvHeads + h;
        const src = seg.cache.head(l, h);
        const n = src.len - A;
        const from = src.pos.subarray(A, src.len);
        const start = this.layout === 'positions' ? base : this.run[u];
        const to = new Int32Array(n);
        for (let r = 0; r < n; r++) {
          if (from[r] < A || from[r] >= A + seg.length)
            throw new EngineError('bad-input', `a segment row at position ${from[r]} lies outside its ${seg.length} tokens after the ${A}-token anchor`);
          to[r] = this.layout === 'positions' ? base + from[r] - A : start + r;
        }
        const row0 = dst.len;
        dst.append(src.k.subarray(A * D, src.len * D), src.v.subarray(A * D, src.len * D), to);
        rerotateRows(dst.k.subarray(row0 * D, dst.len * D), n, D, from, to, this.inv);
        this.run[u] = start + n;
        lo = Math.min(lo, start);
        hi = Math.max(hi, start + n);
      }),
    );
    // 'compact': every head's run ends at or before hi, so the next token goes after the longest
    const end = this.layout === 'positions' ? base + seg.length : hi;
    this.spans.push({ base: this.layout === 'positions' ? base : lo, end });
    out.nextPosition = end;
  }
}
