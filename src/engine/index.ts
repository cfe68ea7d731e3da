// The engine's public face: what the CLI (and scripts) may use. The engine's folders are free to
// change behind it; `test/architecture/layers.test.ts` keeps the CLI importing only from here. The
// extension never loads the engine: its face is editor.ts (the engine process's client and
// protocol, and a few onnxruntime-free lists).

// running a repository
export { EngineService } from './service';
export type { AnswerContext, EngineEvent, EngineSettings, IndexResult, RepoSettings } from './protocol';
export { parseShard } from './segments/shard';
export { EngineError } from './errors';

// models and devices
export { Model, type LoadOptions } from './model/model';
export { DEVICES, type Device } from './devices';
export { WEIGHT_CHOICES, weightsNotice, type WeightChoice } from './model/choose-weights';
export { describeFallbacks, deviceClass } from './runtime/session';
export { defaultCacheRoot } from './model/convert';
export { chooseModel } from './hub/choose';
export { pullModel } from './hub/download';
export { listCachedModels } from './hub/layout';
export { hubSettings } from './hub/settings';
export { installRoot } from './hub/catalogue';
export { formatBytes, formatDuration } from './hub/format';
export type { Progress } from './hub/progress';
export { generate } from './generate';

// the cache on disk
export { SegmentStores } from './segments/snapshot';
export { collectGarbage, removeSnapshots, type Collected } from './segments/gc';
export type { ManifestEntry } from './segments/manifest';
export { DEFAULT_BUDGET_BYTES, defaultSnapshotDir } from './store/store';

// compression, measured
export { prefillContext } from './kv/compress';
export type { Press } from './kv/press';
export { pressEntry, PRESS_NAMES, withBudget } from './kv/presses';
export { chunkLeads, KVZIP_CHUNK, KVzipPress } from './kv/presses/kvzip';
export { BUDGET_MODES, DEFAULT_BUDGET, type BudgetMode } from './kv/select';
export { calibrationDir, headScores } from './calibration';
export { contextLimit } from './limits';
export { evalRecall, type RecallReport } from './eval/recall';
export { evalSegmentRecall, RECALL_MODES, type RecallMode, type SegmentRecallReport } from './eval/segment-recall';
export { recallPlot } from './eval/plot';
