// The messages between an engine client (the extension, or the CLI) and the engine host process.
// onnxruntime's run() blocks its thread and a native crash takes its process down, so the model
// lives in a child process; this typed request/event/result protocol is all that crosses over.
import type { ErrorCode } from './errors';
import type { WeightChoice } from './model/choose-weights';
import type { Device } from './devices';

/** Each method: what the caller sends, what it gets back, what it hears while waiting. */
export interface Methods {
  ping: { params: Record<string, never>; result: { pid: number; node: string }; event: never };
  index: { params: IndexParams; result: IndexResult; event: ProgressEvent | NoticeEvent };
  ask: { params: AskParams; result: AskResult; event: ProgressEvent | TextEvent | NoticeEvent };
  status: { params: StatusParams; result: StatusResult; event: never };
  /** Gets a model (a hub id is downloaded unless cached; a folder is checked) without loading it. */
  pull: { params: PullParams; result: PullResult; event: DownloadEvent };
  /** Deletes the repository's snapshots. */
  clear: { params: StatusParams; result: ClearResult; event: never };
}
export type Method = keyof Methods;

export interface EngineSettings {
  /** A model folder or a hub id `org/name[@revision]`; absent: the default for the device. */
  model?: string;
  device?: Device;
  /** Absent: auto (fp16 on a GPU; on the CPU fp32, with int8 for decoding when both fit, unless fp32 would crowd memory, then int4: choose-weights.ts). */
  weights?: WeightChoice;
  /** Where converted models are kept (and snapshots, unless snapshotDir says otherwise). */
  cacheDir?: string;
  /** Where snapshots are kept; default `<cacheDir>/snapshots`. The extension keeps them per workspace. */
  snapshotDir?: string;
  /** A team's segment store on an S3-compatible bucket: segments are pulled from it before building, and built ones pushed. */
  remote?: RemoteSettings;
}

/**
 * The bucket is reached as the AWS SDK is configured (AWS_ENDPOINT_URL, the region and the default
 * credential chain): no credential is ever part of the settings.
 */
export interface RemoteSettings {
  /** s3://bucket/prefix */
  url: string;
  /** Never upload (clients): only pull. */
  readOnly?: boolean;
  /** A PEM Ed25519 private key file: the builder signs the checksums it pushes. */
  signingKey?: string;
  /** A PEM Ed25519 public key file: only segments whose checksums this key signed are pulled. */
  trustedKey?: string;
}

/** One of `count` machines building a repository together: `index` is 1..count. */
export interface Shard {
  index: number;
  count: number;
}

export interface RepoSettings {
  root: string;
  include?: string[];
  exclude?: string[];
  maxFileBytes?: number;
  ratio?: number;
  press?: string;
  kvDtype?: 'fp16' | 'int8';
  /** Cache size budget in bytes (least recently used snapshots and the segments only they name go first). */
  budgetBytes?: number;
  /** Tokens per segment; absent: chosen from the model's positions (defaultSegmentTokens). */
  segmentTokens?: number;
  /** How segments are placed when composed (default 'compact': BENCHMARKS.md, "Whole repositories"). */
  compose?: ComposeMode;
}

/** 'select': the best-ranked segments at their own positions; 'compact': kept entries renumbered so more fit. */
export const COMPOSE_MODES = ['select', 'compact'] as const;
export type ComposeMode = (typeof COMPOSE_MODES)[number];

export interface IndexParams {
  engine: EngineSettings;
  repo: RepoSettings;
  /** Build only this share of the segments (the others are left to the other shards; no manifest is written). */
  shard?: Shard;
  /** false: only pull from the remote store, build nothing (`repozip cache pull`). */
  build?: boolean;
}

export interface IndexResult {
  key: string;
  /** No segment had to be built (every one was on disk, or built by another process meanwhile). */
  reused: boolean;
  files: { included: number; skipped: { path: string; reason: string }[] };
  tokens: { prefix: number; context: number };
  /** The snapshot's segments: how many, how many were already on disk (or pulled), how many this call built,
   *  the ones whose build failed (the others stay usable), and how many it left to others (a shard, a pull). */
  segments: { total: number; reused: number; built: number; failed: { files: string[]; message: string }[]; left?: number };
  /** With a remote store: segments pulled, rejected (built here instead), pushed, and those that could not be pushed. */
  remote?: { pulled: number; rejected: string[]; pushed: number; unpushed: string[] };
  keptRatio: number;
  bytesOnDisk: number;
  timings: Record<string, number>;
}

export interface AskParams {
  engine: EngineSettings;
  repo: RepoSettings;
  question: string;
  maxTokens?: number;
  temperature?: number;
  /** Build the cache first when there is none for the current snapshot; false: build nothing (what
   *  is missing is still pulled from the remote store, when there is one). */
  build?: boolean;
  /** What the editor knows besides the question; it steers which segments are loaded. */
  editor?: EditorContext;
}

export interface EditorContext {
  /** The active editor's file, relative to the repository root. */
  activeFile?: string;
  /** The selected text (bounded by the caller). */
  selection?: string;
  /** For a hover: the files of the symbol's definition and references, its own first. */
  symbolFiles?: string[];
}

/** Which part of the repository an answer was given from. */
export interface AnswerContext {
  /** 'all': every segment fit. */
  mode: 'all' | ComposeMode;
  segments: number;
  totalSegments: number;
  /** Files in the loaded segments, those of the best-ranked segment first. */
  files: string[];
}

export interface AskResult {
  text: string;
  /** Why the answer ended: generate.ts's StopReason ('eos', 'stop-string', 'max-tokens', 'window'). */
  stop: string;
  cacheReused: boolean;
  key: string;
  /** As for an index: how many segments were on disk or pulled, and built for this question. */
  segments: IndexResult['segments'];
  remote?: IndexResult['remote'];
  /** From the call (model already loaded) to the first answer token: snapshot, cache load, question prefill, first token. */
  firstTokenMs: number;
  /** Where time went: loading the model (once per process), finding the snapshot (listing, or the
   *  stat shortcut), loading the compressed cache, prefilling the question. */
  timings: { modelMs: number; snapshotMs: number; loadMs: number; questionPrefillMs: number };
  tokens: number;
  decodeMsPerToken: number;
  /** Files of the snapshot, for turning paths in the answer into links. */
  files: string[];
  context: AnswerContext;
}

export interface StatusParams {
  engine: EngineSettings;
  repo: RepoSettings;
}

export interface StatusResult {
  state: 'none' | 'ready' | 'stale';
  key?: string;
  bytes?: number;
  keptRatio?: number;
  /** Files changed since the newest cached snapshot of this repository. */
  changedFiles?: number;
  /** The files of that snapshot, for turning paths in answers into links. */
  files?: string[];
}

export interface PullParams {
  /** A hub id `org/name[@revision]` or a model folder. */
  model: string;
}

export interface PullResult {
  dir: string;
}

export interface ClearResult {
  removed: number;
  bytes: number;
}

/** Download progress of a pull: bytes of the current file and of all files, rate, ETA. */
export interface DownloadEvent {
  kind: 'download';
  file: string;
  bytesAll: number;
  totalAll: number;
  /** Bytes per second, smoothed. */
  rate: number;
  etaSeconds: number | null;
}

export interface ProgressEvent {
  kind: 'progress';
  phase:
    | 'downloading'
    | 'loading'
    | 'listing'
    | 'tokenizing'
    | 'segments'
    | 'pulling'
    | 'prefill'
    | 'scoring'
    | 'writing'
    | 'pushing'
    | 'waiting'
    | 'composing'
    | 'answering';
  done: number;
  total: number;
}

/** Something the user should read (e.g. the bundled model stands in for one that could not be had). */
export interface NoticeEvent {
  kind: 'notice';
  message: string;
  /** 'info': how things run, for the log and the CLI's stderr, not a warning (a notification). */
  level?: 'info';
}

export interface TextEvent {
  kind: 'text';
  delta: string;
}

export type EngineEvent = ProgressEvent | TextEvent | NoticeEvent | DownloadEvent;

export type ToHost = { type: 'call'; id: number; method: Method; params: unknown } | { type: 'cancel'; id: number } | { type: 'shutdown' };

export type FromHost =
  | { type: 'ready'; pid: number }
  | { type: 'event'; id: number; event: EngineEvent }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; code: ErrorCode; message: string };
