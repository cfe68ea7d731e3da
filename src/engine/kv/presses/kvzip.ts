// KVzip (arXiv 2505.23416): a context entry matters as much as the model needs it to reconstruct
// the context. After prefill, each chunk of the context is fed again, teacher-forced after a
// "repeat" instruction, on top of the full unpruned cache; an entry's score is the largest
// attention probability it receives from any query of that pass (over the G query heads of its KV
// head), with the softmax taken over [prefix (sink), this chunk's cached keys, the pass's own keys].
import { throwIfCancelled } from '../../errors';
import { ChunkSizer, MAX_CHUNK, yieldToLoop } from '../../chunks';
import { Tokenizer } from '../../tokenizer';
import { emptyGrid, Press, PressContext } from '../press';

export const KVZIP_CHUNK = 2000;
const FIRST_PROMPT = '\n\nRepeat the previous context exactly.';
const NEXT_PROMPT = '\n\nRepeat the part of the previous context exactly, starting with ';
const TAIL = 8;
const SCORING_TARGET_MS = 900;

/** The exact ids fed before each chunk's context tokens in its reconstruction pass. */
export function chunkLeads(tok: Tokenizer, contextIds: number[], postfix: number[], chunk: number): number[][] {
  const leads: number[][] = [];
  for (let c0 = 0; c0 < contextIds.length; c0 += chunk) {
    const prompt = c0 === 0 ? tok.encodeControl(FIRST_PROMPT) : [...tok.encodeControl(NEXT_PROMPT), ...contextIds.slice(Math.max(0, c0 - TAIL), c0)];
    leads.push([...prompt, ...postfix]);
  }
  return leads;
}

export class KVzipPress implements Press {
  readonly name: string;
  readonly needsPrefillStats = false;

  /** `plus`: KVzip+ (KVzap, arXiv 2601.07891), each probability weighted by what the entry's value
   *  would add to the residual stream, relative to the querying token's attention input. */
  constructor(
    readonly chunk = KVZIP_CHUNK,
    readonly plus = false,
  ) {
    this.name = plus ? 'kvzip+' : 'kvzip';
  }

  async score(ctx: PressContext) {
    const { model, cache, prefixLength: sink, contextIds } = ctx;
    const grid = emptyGrid(ctx);
    const n = grid.length;
    const units = grid.layers * grid.kvHeads;
    const leads = chunkLeads(model.tokenizer, contextIds, ctx.postfix, this.chunk);
    const own = sink + n; // the pass's own keys start right after the context in every head
    // runs of up to a second: each pays a fixed cost for the whole cache beneath it, and the
    // pass's cancel latency stays within the second promised for prefill
    const sizer = new ChunkSizer(MAX_CHUNK, SCORING_TARGET_MS);
    for (let t = 0, c0 = 0; c0 < n; t++, c0 += this.chunk) {
      const c1 = Math.min(n, c0 + this.chunk);
      const input = [...leads[t], ...contextIds.slice(c0, c1)];
      const mark = cache.mark();
      // the pass itself runs in sub-chunks (bounded memory, prompt cancel); its earlier keys stay
      // in the cache until the chunk is done, so later sub-chunks see them as "own" keys
      for (let i = 0; i < input.length;) {
        throwIfCancelled(ctx.signal, 'KVzip scoring');
        const { tokens: s, out } = await sizer.run(cache, input.length - i, (s) =>
          model.forward({
            ids: input.slice(i, i + s),
            cache,
            score: { sinkEnd: sink, chunkStart: sink + c0, chunkEnd: sink + c1, ownStart: own, plus: this.plus },
          }),
        );
        const scores = out.scores!;
        const w = c1 - c0;
        for (let u = 0; u < units; u++) {
          const dst = u * n + c0;
          for (let j = 0; j < w; j++) if (scores[u * w + j] > grid.data[dst + j]) grid.data[dst + j] = scores[u * w + j];
        }
        i += s;
        await yieldToLoop();
      }
      cache.rollback(mark);
      ctx.onProgress?.(c1, n);
    }
    return grid;
  }
}
