// The messages between the extension host and the chat webview.
//
// The extension trusts nothing the webview sends: the page renders model output, so a rendering
// bug could let a prompt-injected answer post messages of its own. Every message from the webview
// therefore goes through `parseFromWebview`, which accepts only the exact shapes below and returns
// a fresh object holding nothing else. Messages to the webview come from the extension and are
// only checked for shape where they are stored (`isTurn`, `isCacheState` on restore).
//
// What the extension side does:
//  - HTML: `chatHtml` (html.ts) with a fresh `makeNonce()` per document, `enableScripts: true`,
//    `localResourceRoots: [<extension>/media]`.
//  - On `ready` (sent on every load, including the reload after the view was hidden): post
//    `init`. The extension owns the conversation: it runs `reduceTurns` (history.ts) over every
//    message it posts and persists the result with `capTurns`, so `init` can resend it, including
//    the partial text of an answer still streaming.
//  - On `ask`: ignore it while an answer streams; otherwise post `answer-start` at once (the
//    panel shows nothing until then), `answer-delta`s, then exactly one `answer-end`. Questions
//    asked from the palette or a hover use the same three messages.
//  - `stop`: cancel that turn, then `answer-end` with status 'stopped'. `new-chat`: stop any
//    answer, clear, post `history-cleared`.
//  - `open-file`: the path is syntactically safe (relative, no `..`), but still check that it is
//    in the snapshot's file list, or that `Uri.joinPath(folder, path)` stays inside the workspace
//    folder, before opening it. Line and column are 1-based.
//  - `open-external`: `env.openExternal` (http/https only, checked here). `copy`:
//    `env.clipboard.writeText`. `insert`: a plain-text edit at the active editor's selection (not
//    `insertSnippet`, which would expand `$1` in code).

// ---------------------------------------------------------------------------------------------
// Shared types

export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'error';
export type EndStatus = Exclude<TurnStatus, 'streaming'>;

/** How an answer was produced, shown under it. */
export interface AnswerStats {
  /** The compressed cache came from disk (or memory) instead of being built for this question. */
  cacheReused: boolean;
  /** Milliseconds from the question to the first answer token. */
  firstTokenMs: number;
  /** Answer tokens generated. */
  tokens: number;
  tokensPerSecond: number;
  /** Which part of the repository the answer was read from (absent: the engine did not say). */
  context?: AnswerContext;
}

/**
 * The engine's account of an answer's context (its AskResult.context): how many of the snapshot's
 * segments were loaded and the files in them, those of the best-ranked segment first. `mode`
 * 'all': every segment fit; 'select': the best-ranked at their own positions; 'compact': the
 * best-ranked with their kept entries renumbered so that more fit.
 */
export interface AnswerContext {
  mode: 'all' | 'select' | 'compact';
  segments: number;
  totalSegments: number;
  files: string[];
}

/** One question and its answer. */
export interface Turn {
  /** Assigned by the extension; stable across reloads. */
  id: string;
  question: string;
  /** Markdown, growing while `status` is 'streaming'. */
  answer: string;
  status: TurnStatus;
  /** Set when status is 'error': a sentence for the user. */
  error?: string;
  stats?: AnswerStats;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt?: number;
}

/**
 * The compressed cache of the current snapshot. `kind` picks the icon and whether a Build button
 * is offered (missing, stale, error); `label` and `detail` are the extension's own words, e.g.
 * label "Cache ready", detail "1.2 MB · 30 % kept", or label "Stale", detail "3 files changed".
 */
export type CacheKind = 'missing' | 'building' | 'ready' | 'stale' | 'error';
export interface CacheState {
  kind: CacheKind;
  label: string;
  detail?: string;
  /** 0..1 while building. */
  progress?: number;
}

// ---------------------------------------------------------------------------------------------
// Extension → webview

export type ToWebview =
  /** Answer to `ready` (and on any reset): the whole state. `files` are the snapshot's
   *  workspace-relative paths ('/'-separated); only these become clickable file links. */
  | { type: 'init'; turns: Turn[]; files: string[]; cache: CacheState }
  /** A question began; `at` is epoch ms. Sent for questions asked from anywhere (panel, palette, hover). */
  | { type: 'answer-start'; turnId: string; question: string; at: number }
  /** More answer text, appended as is. */
  | { type: 'answer-delta'; turnId: string; text: string }
  /** The answer finished, was stopped, or failed (`error` says why). */
  | { type: 'answer-end'; turnId: string; status: EndStatus; at: number; error?: string; stats?: AnswerStats }
  | { type: 'cache-state'; cache: CacheState }
  /** The snapshot's file list changed. */
  | { type: 'files'; files: string[] }
  /** The conversation was cleared (New chat, from the panel or a command). */
  | { type: 'history-cleared' };

// ---------------------------------------------------------------------------------------------
// Webview → extension

export type FromWebview =
  /** The script loaded; the extension answers with `init`. */
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  | { type: 'stop'; turnId: string }
  | { type: 'new-chat' }
  /** A file link: a workspace-relative path that was in the snapshot's list, 1-based line/column. */
  | { type: 'open-file'; path: string; line?: number; column?: number }
  /** Copy to the clipboard through the extension (`vscode.env.clipboard`). */
  | { type: 'copy'; text: string }
  /** Insert a code block at the cursor of the active editor. */
  | { type: 'insert'; text: string }
  /** An http(s) link from an answer; the extension opens it with `vscode.env.openExternal`. */
  | { type: 'open-external'; url: string }
  | { type: 'build-cache' };

export const LIMITS = {
  question: 20_000,
  /** Code blocks and whole answers are copied, so this is generous. */
  text: 1_000_000,
  path: 1_024,
  url: 2_048,
  line: 10_000_000,
};

// ---------------------------------------------------------------------------------------------
// Validation

type Check = (v: unknown) => boolean;

const isString =
  (max: number): Check =>
  (v) =>
    typeof v === 'string' && v.length <= max;
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isPositiveInt: Check = (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= LIMITS.line;
const isTurnId: Check = (v) => typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v);
const isQuestion: Check = (v) => isString(LIMITS.question)(v) && /\S/.test(v as string) && !(v as string).includes('\0');

/**
 * A workspace-relative path the extension may resolve against a workspace folder: '/'-separated,
 * no empty, '.' or '..' segments (no escaping the folder), no backslashes (Windows separators and
 * UNC prefixes), no colon in the first segment (drive letters like `C:` and URI schemes like
 * `file:`), no control characters.
 */
export function isRelativePath(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS.path) return false;
  if (/[\u0000-\u001f\u007f\\]/.test(v)) return false;
  const segments = v.split('/');
  if (segments[0].includes(':')) return false;
  return segments.every((s) => s !== '' && s !== '.' && s !== '..');
}

/**
 * An http(s) URL worth handing to the OS: parses, has a host, no credentials (which hide the real
 * host: `https://github.com@evil.example`), no whitespace or control characters (which browsers
 * strip, so what the user sees would not be what opens).
 */
export function isWebUrl(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > LIMITS.url || /[\s\u0000-\u001f\u007f]/.test(v)) return false;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '';
}

interface Field {
  check: Check;
  optional?: true;
}

/** The fields of every message the webview may send, besides `type`. */
const FROM_WEBVIEW: { [T in FromWebview['type']]: Record<string, Field> } = {
  ready: {},
  ask: { question: { check: isQuestion } },
  stop: { turnId: { check: isTurnId } },
  'new-chat': {},
  'open-file': { path: { check: isRelativePath }, line: { check: isPositiveInt, optional: true }, column: { check: isPositiveInt, optional: true } },
  copy: { text: { check: isString(LIMITS.text) } },
  insert: { text: { check: isString(LIMITS.text) } },
  'open-external': { url: { check: isWebUrl } },
  'build-cache': {},
};

/** The object's fields if they match `fields` exactly (no unknown keys), as a fresh object; else null. */
function pick(raw: Record<string, unknown>, fields: Record<string, Field>): Record<string, unknown> | null {
  for (const key of Object.keys(raw)) if (!Object.hasOwn(fields, key)) return null;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const value = Object.hasOwn(raw, key) ? raw[key] : undefined;
    if (value === undefined) {
      if (field.optional) continue;
      return null;
    }
    if (!field.check(value)) return null;
    out[key] = value;
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The message if it is exactly one of `FromWebview`, as a fresh object; null otherwise. */
export function parseFromWebview(raw: unknown): FromWebview | null {
  if (!isRecord(raw)) return null;
  const { type, ...rest } = raw;
  if (typeof type !== 'string' || !Object.hasOwn(FROM_WEBVIEW, type)) return null;
  const fields = pick(rest, FROM_WEBVIEW[type as FromWebview['type']]);
  return fields && ({ type, ...fields } as FromWebview);
}

// Shape checks for what the webview stores and restores (vscode.getState survives extension
// updates, so an old or damaged state must not break the panel).

const CONTEXT: Record<string, Field> = {
  mode: { check: (v) => v === 'all' || v === 'select' || v === 'compact' },
  segments: { check: isNumber },
  totalSegments: { check: isNumber },
  files: { check: (v) => Array.isArray(v) && v.every((f) => typeof f === 'string') },
};
const STATS: Record<string, Field> = {
  cacheReused: { check: (v) => typeof v === 'boolean' },
  firstTokenMs: { check: isNumber },
  tokens: { check: isNumber },
  tokensPerSecond: { check: isNumber },
  context: { check: (v) => isRecord(v) && pick(v, CONTEXT) !== null, optional: true },
};
const TURN: Record<string, Field> = {
  id: { check: isTurnId },
  question: { check: (v) => typeof v === 'string' },
  answer: { check: (v) => typeof v === 'string' },
  status: { check: (v) => v === 'streaming' || v === 'done' || v === 'stopped' || v === 'error' },
  error: { check: (v) => typeof v === 'string', optional: true },
  stats: { check: (v) => isRecord(v) && pick(v, STATS) !== null, optional: true },
  startedAt: { check: isNumber },
  endedAt: { check: isNumber, optional: true },
};
const CACHE: Record<string, Field> = {
  kind: { check: (v) => v === 'missing' || v === 'building' || v === 'ready' || v === 'stale' || v === 'error' },
  label: { check: (v) => typeof v === 'string' },
  detail: { check: (v) => typeof v === 'string', optional: true },
  progress: { check: (v) => isNumber(v) && (v as number) >= 0 && (v as number) <= 1, optional: true },
};

export const isTurn = (v: unknown): v is Turn => isRecord(v) && pick(v, TURN) !== null;
export const isCacheState = (v: unknown): v is CacheState => isRecord(v) && pick(v, CACHE) !== null;
