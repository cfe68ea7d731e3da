// The extension's settings (contributes.configuration in package.json) and what they become in the
// engine's calls. vscode-free: main.ts hands in a getter over workspace.getConfiguration('repozip').
import {
  WEIGHT_CHOICES,
  DEVICES,
  COMPOSE_MODES,
  type WeightChoice,
  type Device,
  type AskParams,
  type ComposeMode,
  type EditorContext,
  type EngineSettings,
  type RepoSettings,
} from '../engine/editor';

export const AUTO_BUILD = ['onFirstQuestion', 'onChange', 'never'] as const;
export const HOVER_MODES = ['off', 'link', 'auto'] as const;

export interface Settings {
  /** A hub id or a model folder; '' lets the engine pick the catalogue default for the device. */
  model: string;
  device: Device;
  /** auto: the engine decides per device and memory (fp16 on a GPU; fp32 or int4 on the CPU) and says so. */
  weights: WeightChoice;
  /** Fraction of the context's KV entries kept. */
  ratio: number;
  include: string[];
  exclude: string[];
  /** Tokens per segment; 0: chosen from the model's positions. */
  segmentTokens: number;
  compose: ComposeMode;
  maxAnswerTokens: number;
  temperature: number;
  /** Disk budget for this workspace's snapshots; older ones are evicted beyond it. */
  cacheBudgetMB: number;
  autoBuild: (typeof AUTO_BUILD)[number];
  hoverMode: (typeof HOVER_MODES)[number];
  /** A team's segment store, s3://bucket/prefix; '' for none. */
  remoteCache: string;
  /** Only pull from it (a developer's machine); false also uploads what was built here. */
  remoteCacheReadOnly: boolean;
  /** A PEM Ed25519 public key file: only segments the builder with its private key signed for are used. */
  remoteCacheTrustedKey: string;
}

/** The same defaults as package.json (a test keeps the two equal). */
export const DEFAULTS: Settings = {
  model: '',
  device: 'auto',
  weights: 'auto',
  ratio: 0.3,
  include: [],
  exclude: [],
  segmentTokens: 0,
  compose: 'compact',
  maxAnswerTokens: 512,
  temperature: 0,
  cacheBudgetMB: 4096,
  autoBuild: 'onFirstQuestion',
  hoverMode: 'link',
  remoteCache: '',
  remoteCacheReadOnly: true,
  remoteCacheTrustedKey: '',
};

/** Setting names as VS Code spells them under `repozip.` (hover.mode is nested). */
export const KEYS: { [K in keyof Settings]: string } = {
  model: 'model',
  device: 'device',
  weights: 'weights',
  ratio: 'ratio',
  include: 'include',
  exclude: 'exclude',
  segmentTokens: 'segmentTokens',
  compose: 'compose',
  maxAnswerTokens: 'maxAnswerTokens',
  temperature: 'temperature',
  cacheBudgetMB: 'cacheBudgetMB',
  autoBuild: 'autoBuild',
  hoverMode: 'hover.mode',
  remoteCache: 'remoteCache',
  remoteCacheReadOnly: 'remoteCacheReadOnly',
  remoteCacheTrustedKey: 'remoteCacheTrustedKey',
};

type Get = (key: string) => unknown;

const oneOf = <T extends string>(options: readonly T[], v: unknown, d: T): T => (options.includes(v as T) ? (v as T) : d);
const numberIn = (v: unknown, d: number, min: number, max: number): number => (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : d);
const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && s.trim() !== '') : []);

/**
 * The settings, each checked: settings.json is hand-edited, and a wrong type or a value out of
 * range falls back to the default instead of reaching the engine.
 */
export function readSettings(get: Get): Settings {
  const v = (k: keyof Settings) => get(KEYS[k]);
  return {
    model: text(v('model')),
    device: oneOf(DEVICES, v('device'), DEFAULTS.device),
    weights: oneOf(WEIGHT_CHOICES, v('weights'), DEFAULTS.weights),
    ratio: numberIn(v('ratio'), DEFAULTS.ratio, 0.01, 1),
    include: strings(v('include')),
    exclude: strings(v('exclude')),
    segmentTokens: Math.floor(numberIn(v('segmentTokens'), DEFAULTS.segmentTokens, 0, 1_000_000)),
    compose: oneOf(COMPOSE_MODES, v('compose'), DEFAULTS.compose),
    maxAnswerTokens: Math.floor(numberIn(v('maxAnswerTokens'), DEFAULTS.maxAnswerTokens, 1, 32_768)),
    temperature: numberIn(v('temperature'), DEFAULTS.temperature, 0, 2),
    cacheBudgetMB: numberIn(v('cacheBudgetMB'), DEFAULTS.cacheBudgetMB, 1, 1_048_576),
    autoBuild: oneOf(AUTO_BUILD, v('autoBuild'), DEFAULTS.autoBuild),
    hoverMode: oneOf(HOVER_MODES, v('hoverMode'), DEFAULTS.hoverMode),
    remoteCache: text(v('remoteCache')),
    remoteCacheReadOnly: typeof v('remoteCacheReadOnly') === 'boolean' ? (v('remoteCacheReadOnly') as boolean) : DEFAULTS.remoteCacheReadOnly,
    remoteCacheTrustedKey: text(v('remoteCacheTrustedKey')),
  };
}

/** Where things live: the workspace folder, converted models (shared), snapshots (per workspace). */
export interface Places {
  root: string;
  /** globalStorageUri: converted graphs are per model, not per workspace. */
  modelCacheDir: string;
  /** storageUri/snapshots: a workspace's caches go away with the workspace's storage. */
  snapshotDir: string;
}

export interface EngineParams {
  engine: EngineSettings;
  repo: RepoSettings;
}

export function engineParams(s: Settings, places: Places): EngineParams {
  const engine: EngineSettings = { device: s.device, weights: s.weights, cacheDir: places.modelCacheDir, snapshotDir: places.snapshotDir };
  if (s.model) engine.model = s.model;
  if (s.remoteCache)
    engine.remote = { url: s.remoteCache, readOnly: s.remoteCacheReadOnly, ...(s.remoteCacheTrustedKey && { trustedKey: s.remoteCacheTrustedKey }) };
  const repo: RepoSettings = { root: places.root, ratio: s.ratio, budgetBytes: Math.round(s.cacheBudgetMB * 1024 * 1024) };
  if (s.include.length) repo.include = s.include;
  if (s.exclude.length) repo.exclude = s.exclude;
  if (s.segmentTokens > 0) repo.segmentTokens = s.segmentTokens;
  if (s.compose !== DEFAULTS.compose) repo.compose = s.compose;
  return { engine, repo };
}

/** A question's parameters; `build` lets the engine build a missing cache unless the user said never. */
export function askParams(s: Settings, p: EngineParams, question: string, maxTokens = s.maxAnswerTokens, editor?: EditorContext): AskParams {
  return { ...p, question, maxTokens, temperature: s.temperature, build: s.autoBuild !== 'never', ...(editor && { editor }) };
}

/**
 * The engine process's proxy variables from VS Code's `http.proxy` / `http.noProxy`: the engine
 * downloads models with its own HTTP client, which reads these (hub/http.ts), not VS Code's
 * settings. Both spellings are set because lower case wins there (the curl convention) and the
 * inherited environment may hold either. An unset `http.proxy` leaves the inherited ones alone.
 */
export function proxyEnv(httpProxy: unknown, noProxy: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  const proxy = typeof httpProxy === 'string' ? httpProxy.trim() : '';
  if (proxy) for (const k of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) env[k] = proxy;
  const hosts = strings(noProxy);
  if (hosts.length) env.no_proxy = env.NO_PROXY = hosts.join(',');
  return env;
}
