// Every press, by the id the CLI, the benchmark and the extension's settings use. A press exists
// once it is listed here: the registry test runs each entry, and the lists of ids derive from it.
import { EngineError } from '../../errors';
import { Press } from '../press';
import { BUDGET_MODES, BudgetMode } from '../select';
import { H2OPress, KnormPress, PyramidKVPress, RandomPress, SnapKVPress, StreamingPress } from './baselines';
import { ChunkedScores } from './chunked';
import { KVzipPress } from './kvzip';
import { KVzipHeadPress } from './kvzip-head';
import { ScaffoldDemotion } from './scaffold';

/** What a press may be built from; each factory takes what it needs and ignores the rest. */
export interface PressOptions {
  /** KVzip's chunk length (its own default when absent). */
  chunk?: number;
  /** The random baseline's seed. */
  seed?: number;
  /** KVzip-head's per-(layer, KV head) importance: calibration.ts computes it. */
  headScores?: Float32Array;
}

export interface PressEntry {
  readonly id: string;
  /** Built only from `headScores`: a calibration pass (a prefill and a KVzip pass) the caller runs
   *  once, before building, so that it never overlaps the context's own cache. */
  readonly needsCalibration?: boolean;
  make(opts: PressOptions): Press;
}

/** In the order the benchmark runs them by default. */
export const PRESSES: readonly PressEntry[] = [
  { id: 'kvzip', make: (o) => new KVzipPress(o.chunk) },
  { id: 'kvzip+', make: (o) => new KVzipPress(o.chunk, true) },
  { id: 'kvzip-code', make: (o) => new ScaffoldDemotion(new KVzipPress(o.chunk)) },
  { id: 'kvzip-chunk', make: (o) => new ChunkedScores(new KVzipPress(o.chunk)) },
  { id: 'kvzip-head', needsCalibration: true, make: (o) => new KVzipHeadPress(calibrated(o)) },
  { id: 'snapkv', make: () => new SnapKVPress() },
  { id: 'pyramidkv', make: () => new PyramidKVPress() },
  { id: 'h2o', make: () => new H2OPress() },
  { id: 'streaming', make: () => new StreamingPress() },
  { id: 'knorm', make: () => new KnormPress() },
  { id: 'random', make: (o) => new RandomPress(o.seed) },
];

export const PRESS_NAMES: readonly string[] = PRESSES.map((p) => p.id);

function calibrated(o: PressOptions): Float32Array {
  if (!o.headScores)
    throw new EngineError('bad-input', 'the kvzip-head press needs head scores from a calibration pass, which only `repozip eval recall` runs');
  return o.headScores;
}

export function pressEntry(id: string): PressEntry {
  const entry = PRESSES.find((p) => p.id === id);
  if (!entry) throw new EngineError('bad-input', `unknown press "${id}" (known: ${PRESS_NAMES.join(', ')})`);
  return entry;
}

export function makePress(id: string, opts: PressOptions = {}): Press {
  return pressEntry(id).make(opts);
}

/** `press` under a budget mode of its own whatever the caller's (`kvzip@global`: the paper's plain
 *  top-k beside the default, in one benchmark run). */
export function withBudget(press: Press, mode: string): Press {
  if (!BUDGET_MODES.includes(mode as BudgetMode)) throw new EngineError('bad-input', `unknown budget mode "${mode}" (known: ${BUDGET_MODES.join(', ')})`);
  return { name: `${press.name}@${mode}`, needsPrefillStats: press.needsPrefillStats, budget: mode as BudgetMode, score: (ctx) => press.score(ctx) };
}
