// KVzip-head: context-independent head importance. KVzip scores are computed once per model on a
// calibration text (calibration.ts); a head's score is the largest score any of its entries got. At
// compression time every entry of a head gets its head's score, so the global top-k keeps or drops
// whole heads and no per-context scoring pass is needed.
import { emptyGrid, Press, PressContext } from '../press';
import { BudgetMode } from '../select';

export class KVzipHeadPress implements Press {
  readonly name = 'kvzip-head';
  readonly needsPrefillStats = false;
  /** Whole heads kept or dropped: a per-head floor would keep the first entries of dropped heads. */
  readonly budget: BudgetMode = 'global';

  constructor(readonly headScores: Float32Array) {}

  async score(ctx: PressContext) {
    const grid = emptyGrid(ctx);
    for (let u = 0; u < grid.layers * grid.kvHeads; u++) grid.data.fill(this.headScores[u], u * grid.length, (u + 1) * grid.length);
    return grid;
  }
}
