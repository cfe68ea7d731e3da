// The conversation as data: a reducer over the extension's messages, and the snapshot the webview
// keeps with vscode.setState so a reloaded panel shows the conversation before `init` arrives.
// The extension can run the same reducer over the messages it posts to keep the authoritative copy
// that `init` sends (and persist it with `capTurns`).

import { isCacheState, isTurn, type CacheState, type ToWebview, type Turn } from './protocol';

/** The turns after `msg`. Returns `turns` itself when the message does not change them. */
export function reduceTurns(turns: readonly Turn[], msg: ToWebview): readonly Turn[] {
  switch (msg.type) {
    case 'init':
      return msg.turns;
    case 'history-cleared':
      return [];
    case 'answer-start':
      if (turns.some((t) => t.id === msg.turnId)) return turns;
      return [...turns, { id: msg.turnId, question: msg.question, answer: '', status: 'streaming', startedAt: msg.at }];
    case 'answer-delta':
      return update(turns, msg.turnId, (t) => ({ ...t, answer: t.answer + msg.text }));
    case 'answer-end':
      return update(turns, msg.turnId, (t) => {
        const ended: Turn = { ...t, status: msg.status, endedAt: msg.at };
        if (msg.error !== undefined) ended.error = msg.error;
        if (msg.stats !== undefined) ended.stats = msg.stats;
        return ended;
      });
    case 'cache-state':
    case 'files':
      return turns;
  }
}

/** Only a streaming turn changes: a late delta after 'stopped' must not extend the answer. */
function update(turns: readonly Turn[], id: string, change: (t: Turn) => Turn): readonly Turn[] {
  const i = turns.findIndex((t) => t.id === id);
  if (i < 0 || turns[i].status !== 'streaming') return turns;
  return [...turns.slice(0, i), change(turns[i]), ...turns.slice(i + 1)];
}

export interface Caps {
  maxTurns: number;
  /** Characters of serialised JSON (≈ bytes for the mostly-ASCII text of answers). */
  maxChars: number;
}

// VS Code keeps webview state in memory and serialises it on every setState; a few hundred KB is
// cheap, megabytes of old answers are not.
export const DEFAULT_CAPS: Caps = { maxTurns: 50, maxChars: 256 * 1024 };

/** The newest turns that fit the caps; the newest turn is always kept. */
export function capTurns(turns: readonly Turn[], caps: Caps = DEFAULT_CAPS): Turn[] {
  let chars = 0;
  let first = turns.length;
  while (first > 0 && turns.length - first < caps.maxTurns) {
    chars += JSON.stringify(turns[first - 1]).length + 1;
    if (chars > caps.maxChars && first < turns.length) break;
    first--;
  }
  return turns.slice(first);
}

/** What the webview persists. `files` is not kept: it can be large and `init` resends it. */
export interface SavedState {
  version: 1;
  turns: Turn[];
  cache: CacheState | null;
  /** The unsent text in the input box. */
  draft: string;
}

export function saveState(turns: readonly Turn[], cache: CacheState | null, draft: string, caps: Caps = DEFAULT_CAPS): SavedState {
  return { version: 1, turns: capTurns(turns, caps), cache, draft };
}

function isSavedState(v: unknown): v is SavedState {
  const s = v as Partial<SavedState> | null | undefined;
  return s?.version === 1 && Array.isArray(s.turns) && s.turns.every(isTurn) && (s.cache === null || isCacheState(s.cache)) && typeof s.draft === 'string';
}

/** The saved state if it is one; a state from another version, or a damaged one, gives an empty one. */
export function loadState(raw: unknown): SavedState {
  return isSavedState(raw) ? raw : { version: 1, turns: [], cache: null, draft: '' };
}
