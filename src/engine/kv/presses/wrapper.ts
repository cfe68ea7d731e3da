// A press made of another press's scores, changed in place: its id is the inner one's with a
// suffix, and what it needs (prefill statistics) and its budget shape are the inner press's.
import { Press, PressContext } from '../press';
import type { ScoreGrid } from '../select';

export abstract class ScoreWrapper implements Press {
  readonly name: string;
  readonly needsPrefillStats: boolean;
  readonly budget: Press['budget'];

  constructor(
    readonly inner: Press,
    suffix: string,
  ) {
    this.name = `${inner.name}-${suffix}`;
    this.needsPrefillStats = inner.needsPrefillStats;
    this.budget = inner.budget;
  }

  async score(ctx: PressContext): Promise<ScoreGrid> {
    const grid = await this.inner.score(ctx);
    this.reshape(grid, ctx);
    return grid;
  }

  /** Changes the inner press's scores in place. */
  protected abstract reshape(grid: ScoreGrid, ctx: PressContext): void;
}
