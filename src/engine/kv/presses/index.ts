// Presses by name, as the CLI, the benchmark and the extension's settings refer to them.
import { EngineError } from '../../errors';
import { Press } from '../press';
import { BUDGET_MODES, BudgetMode } from '../select';
import { H2OPress, KnormPress, PyramidKVPress, RandomPress, SnapKVPress, StreamingPress } from './baselines';
import { KVzipPress } from './kvzip';

export const PRESS_NAMES = ['kvzip', 'kvzip+', 'kvzip-head', 'snapkv', 'pyramidkv', 'h2o', 'streaming', 'knorm', 'random'] as const;
export type PressName = (typeof PRESS_NAMES)[number];

/** Builds a press; kvzip-head needs its calibrated head scores (see calibrateHeads). */
export function makePress(name: string, opts: { chunk?: number; seed?: number } = {}): Press {
  switch (name) {
    case 'kvzip':
      return new KVzipPress(opts.chunk);
    case 'kvzip+':
      return new KVzipPress(opts.chunk, true);
    case 'snapkv':
      return new SnapKVPress();
    case 'pyramidkv':
      return new PyramidKVPress();
    case 'h2o':
      return new H2OPress();
    case 'streaming':
      return new StreamingPress();
    case 'knorm':
      return new KnormPress();
    case 'random':
      return new RandomPress(opts.seed);
    default:
      throw new EngineError('bad-input', `unknown press "${name}" (known: ${PRESS_NAMES.filter((p) => p !== 'kvzip-head').join(', ')}; kvzip-head is built with calibrated head scores)`);
  }
}

/** `press` under a budget mode of its own whatever the caller's (`kvzip@global`: the paper's plain
 *  top-k beside the default, in one benchmark run). */
export function withBudget(press: Press, mode: string): Press {
  if (!BUDGET_MODES.includes(mode as BudgetMode)) throw new EngineError('bad-input', `unknown budget mode "${mode}" (known: ${BUDGET_MODES.join(', ')})`);
  return { name: `${press.name}@${mode}`, needsPrefillStats: press.needsPrefillStats, budget: mode as BudgetMode, score: (ctx) => press.score(ctx) };
}
