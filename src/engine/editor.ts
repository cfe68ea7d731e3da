// The engine as the editor sees it: the engine process's client and protocol, the errors it
// reports, and the lists the settings and pickers show. Nothing here loads onnxruntime or runs a
// model: the extension host imports only this file (test/architecture/layers.test.ts keeps it so),
// and the model runs in the engine process behind EngineClient. The CLI's face is index.ts.
export { EngineClient } from './worker/client';
export {
  COMPOSE_MODES,
  type AskParams,
  type ComposeMode,
  type DownloadEvent,
  type EditorContext,
  type EngineSettings,
  type IndexResult,
  type Method,
  type Methods,
  type NoticeEvent,
  type ProgressEvent,
  type RepoSettings,
} from './protocol';
export { CancelledError, EngineError } from './errors';
export { DEVICES, type Device } from './devices';
export { WEIGHT_CHOICES, type WeightChoice } from './model/choose-weights';
export { BUNDLED_ID, catalogue, type CatalogueEntry } from './hub/catalogue';
export { formatBytes, formatCount, formatDuration } from './hub/format';
