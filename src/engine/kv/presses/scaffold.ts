// Code is full of tokens that carry layout rather than content: indentation, newlines, brackets,
// commas, semicolons. kvpress's PR #288 measured that a KVzip-family press at high eviction spends
// about half its budget on punctuation, whitespace and list scaffolding, and that demoting them
// helps; a model re-creates most of them from the syntax around. This wrapper scales the scores of
// such tokens down, so that under a tight budget names and literals are kept first. Which tokens
// those are is decided by each token's own text: whitespace and ASCII punctuation only.
import { Press, PressContext } from '../press';
import type { ScoreGrid } from '../select';
import { ScoreWrapper } from './wrapper';

/** How much a scaffolding token's score is scaled by. */
export const SCAFFOLD_FACTOR = 0.5;

/** Whitespace and ASCII punctuation only (an empty text counts: nothing to lose). */
export function isScaffold(text: string): boolean {
  return /^[\s!-/:-@[-`{-~]*$/.test(text);
}

export class ScaffoldDemotion extends ScoreWrapper {
  constructor(
    inner: Press,
    readonly factor = SCAFFOLD_FACTOR,
  ) {
    super(inner, 'code');
  }

  protected reshape(grid: ScoreGrid, ctx: PressContext): void {
    const tok = ctx.model.tokenizer;
    const seen = new Map<number, boolean>();
    const scaffold = ctx.contextIds.map((id) => {
      let s = seen.get(id);
      if (s === undefined) seen.set(id, (s = isScaffold(tok.decode([id]))));
      return s;
    });
    const n = grid.length;
    for (let u = 0; u < grid.layers * grid.kvHeads; u++) for (let i = 0; i < n; i++) if (scaffold[i]) grid.data[u * n + i] *= this.factor;
  }
}
