// The repository settings a call arrives with, resolved once at the engine's entry: every default
// is decided here and nowhere else, so the build, the snapshot key and the answer cannot disagree.
import { EngineError } from './errors';
import { Press } from './kv/press';
import { makePress } from './kv/presses';
import { KVZIP_CHUNK } from './kv/presses/kvzip';
import { BudgetMode, checkRatio, DEFAULT_BUDGET } from './kv/select';
import type { ModelConfig } from './model/config';
import { KvDtype } from './store/format';
import { COMPOSE_MODES, type ComposeMode, type RepoSettings } from './protocol';
import { defaultSegmentTokens } from '../repo';

export const DEFAULT_RATIO = 0.3;
export const DEFAULT_PRESS = 'kvzip';
/** What `compose` is when not set: measured in BENCHMARKS.md ("Composing segments"). */
export const DEFAULT_COMPOSE: ComposeMode = 'compact';

export interface ResolvedRepo {
  root: string;
  include?: string[];
  exclude?: string[];
  maxFileBytes?: number;
  ratio: number;
  pressName: string;
  press: Press;
  budgetMode: BudgetMode;
  dtype: KvDtype;
  chunk: number;
  segmentTokens: number;
  compose: ComposeMode;
  budgetBytes?: number;
}

export function resolveRepo(r: RepoSettings, config: ModelConfig): ResolvedRepo {
  const ratio = r.ratio ?? DEFAULT_RATIO;
  checkRatio(ratio);
  const pressName = r.press ?? DEFAULT_PRESS;
  const compose = r.compose ?? DEFAULT_COMPOSE;
  if (!COMPOSE_MODES.includes(compose)) throw new EngineError('bad-input', `compose must be one of ${COMPOSE_MODES.join(', ')}, got "${compose}"`);
  const segmentTokens = r.segmentTokens ?? defaultSegmentTokens(config.maxPositions);
  // the upper bound depends on the anchor and KVzip's pass: plan.ts checks it once both are known
  if (!Number.isInteger(segmentTokens) || segmentTokens < 64)
    throw new EngineError('bad-input', `segment tokens must be a whole number of at least 64, got ${segmentTokens}`);
  return {
    root: r.root,
    include: r.include,
    exclude: r.exclude,
    maxFileBytes: r.maxFileBytes,
    ratio,
    pressName,
    press: makePress(pressName),
    budgetMode: DEFAULT_BUDGET,
    dtype: r.kvDtype ?? 'fp16',
    chunk: KVZIP_CHUNK,
    segmentTokens,
    compose,
    budgetBytes: r.budgetBytes,
  };
}
