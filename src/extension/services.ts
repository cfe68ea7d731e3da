// What activation builds once and every feature shares: the engine call, the cache, the chat and
// the reporting around them. main.ts builds them; each feature file takes them in its
// register(context, services), as vscode-extension-samples' chat-sample does.
import type * as vscode from 'vscode';
import type { IndexResult } from '../engine/editor';
import type { AnswerStats } from '../webview/protocol';
import type { CacheTracker, EngineCall } from './cache';
import type { AnswerOptions, Chat } from './chat';
import type { BackgroundRun } from './explain';
import type { EngineParams, Settings } from './settings';

export interface Services {
  log: vscode.LogOutputChannel;
  /** The workspace folder repozip answers about; undefined when none is open. */
  folder: string | undefined;
  settings: () => Settings;
  params: () => EngineParams;
  call: EngineCall;
  tracker: CacheTracker;
  chat: Chat;
  /** Builds the cache with a progress notification (quiet: only the status bar's spinner). */
  build: (opts?: { quiet?: boolean; signal?: AbortSignal }) => Thenable<IndexResult>;
  /** One question through the engine, with the editor's context; builds the cache first when the settings allow. */
  answer: (question: string, opts: AnswerOptions) => Promise<AnswerStats>;
  /** Shows a failure as a notification; a cancel is none. */
  report: (e: unknown, what: string) => void;
  /** The hover's background explanation; a question from the user stops it. */
  background: BackgroundRun;
  /** The palette's question box is open: an automatic rebuild waits until it closes. */
  askInput: { open: boolean };
}
