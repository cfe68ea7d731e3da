// The conversation, owned by the extension as src/webview/protocol.ts prescribes: every message to
// the panel goes through reduceTurns, the result is kept in workspaceState (capped), and `init`
// resends it whenever the panel (re)loads — so hiding the view, reopening it or reloading the
// window shows the same history. Questions from the panel, the palette and hovers all run here.
// vscode-free: main.ts supplies the store, the engine call and the panel's other actions.
import { capTurns, reduceTurns } from '../webview/history';
import { isTurn, parseFromWebview, type AnswerStats, type CacheState, type FromWebview, type ToWebview, type Turn } from '../webview/protocol';
import { describeError } from './errors';

/** vscode.Memento's shape. */
export interface Store {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

export interface AnswerOptions {
  signal: AbortSignal;
  onText: (delta: string) => void;
  maxTokens?: number;
  /** Told the snapshot key the answer came from (hover explanations are kept under it). */
  onSnapshot?: (key: string) => void;
  /** A hover's symbol files (its own first), still being looked up when the question starts. */
  symbolFiles?: PromiseLike<string[]>;
}

/** The panel messages that are not about the conversation itself. */
export type PanelAction = Extract<FromWebview, { type: 'open-file' | 'copy' | 'insert' | 'open-external' | 'build-cache' }>;

export interface ChatDeps {
  store: Store;
  /** Runs a question through the engine; resolves with the stats when the answer is complete. */
  answer: (question: string, opts: AnswerOptions) => Promise<AnswerStats>;
  act: (msg: PanelAction) => void;
  now?: () => number;
}

export const HISTORY_KEY = 'repozip.chat.turns';
/** The snapshot's files, kept too: after a reload, answers show their file links before the engine is asked again. */
export const FILES_KEY = 'repozip.chat.files';
/** workspaceState is written at most this often while an answer streams. */
const SAVE_EVERY_MS = 1000;

/** Turns saved by an earlier window; an answer that was streaming then was cut off by the reload. */
export function restoreTurns(saved: unknown, now: number): Turn[] {
  if (!Array.isArray(saved)) return [];
  return saved.filter(isTurn).map((t) => (t.status === 'streaming' ? { ...t, status: 'stopped', endedAt: now } : t));
}

export class Chat {
  private turns: readonly Turn[];
  private files: string[] = [];
  private cache: CacheState = { kind: 'missing', label: 'Checking the cache…' };
  private post: ((m: ToWebview) => void) | null = null;
  private streaming: { id: string; controller: AbortController } | null = null;
  private lastSave = 0;
  private seq = 0;
  private readonly now: () => number;

  constructor(private readonly deps: ChatDeps) {
    this.now = deps.now ?? Date.now;
    this.turns = restoreTurns(deps.store.get(HISTORY_KEY), this.now());
    const files = deps.store.get<unknown>(FILES_KEY);
    if (Array.isArray(files)) this.files = files.filter((f): f is string => typeof f === 'string');
  }

  get history(): readonly Turn[] {
    return this.turns;
  }

  /** An answer is streaming. */
  get busy(): boolean {
    return this.streaming !== null;
  }

  /** The panel loaded (or reloaded): from now on messages go to it. */
  attach(post: (m: ToWebview) => void): void {
    this.post = post;
  }

  detach(): void {
    this.post = null;
  }

  /** A message from the panel: anything but the exact shapes of protocol.ts is dropped. */
  receive(raw: unknown): void {
    const msg = parseFromWebview(raw);
    if (!msg) return;
    switch (msg.type) {
      case 'ready':
        return this.post?.({ type: 'init', turns: [...this.turns], files: this.files, cache: this.cache });
      case 'ask':
        return void this.ask(msg.question);
      case 'stop':
        return this.stop(msg.turnId);
      case 'new-chat':
        return this.clear();
      default:
        return this.deps.act(msg);
    }
  }

  setCache(cache: CacheState): void {
    this.cache = cache;
    this.post?.({ type: 'cache-state', cache });
  }

  setFiles(files: string[]): void {
    if (files.length === this.files.length && files.every((f, i) => f === this.files[i])) return;
    this.files = files;
    this.post?.({ type: 'files', files });
    void this.deps.store.update(FILES_KEY, files);
  }

  get snapshotFiles(): readonly string[] {
    return this.files;
  }

  /**
   * Asks a question and streams the answer into the panel. Resolves with the finished turn, or
   * undefined when another answer is still streaming (one at a time, as the panel allows).
   */
  async ask(question: string, opts: Pick<AnswerOptions, 'maxTokens' | 'onSnapshot' | 'symbolFiles'> = {}): Promise<Turn | undefined> {
    if (this.streaming) return undefined;
    const id = `t${this.now().toString(36)}${(this.seq++).toString(36)}`;
    const controller = new AbortController();
    this.streaming = { id, controller };
    this.emit({ type: 'answer-start', turnId: id, question, at: this.now() });
    try {
      const stats = await this.deps.answer(question, {
        ...opts,
        signal: controller.signal,
        onText: (text) => this.streaming?.id === id && this.emit({ type: 'answer-delta', turnId: id, text }),
      });
      this.end(id, { status: 'done', stats });
    } catch (e) {
      const d = describeError(e);
      this.end(id, d.cancelled || controller.signal.aborted ? { status: 'stopped' } : { status: 'error', error: d.message });
    }
    return this.turns.find((t) => t.id === id);
  }

  /** Stops the streaming answer (all of them when no id is given). The panel hears at once. */
  stop(turnId?: string): void {
    const s = this.streaming;
    if (!s || (turnId !== undefined && s.id !== turnId)) return;
    s.controller.abort();
    this.end(s.id, { status: 'stopped' });
  }

  clear(): void {
    this.stop();
    this.emit({ type: 'history-cleared' });
  }

  private end(id: string, how: { status: 'done'; stats: AnswerStats } | { status: 'stopped' } | { status: 'error'; error: string }): void {
    if (this.streaming?.id !== id) return; // already ended by stop()
    this.streaming = null;
    this.emit({ type: 'answer-end', turnId: id, at: this.now(), ...how });
  }

  private emit(msg: ToWebview): void {
    this.turns = reduceTurns(this.turns, msg);
    this.post?.(msg);
    // every delta would rewrite the whole history: during an answer, save at most once a second
    const now = this.now();
    if (msg.type !== 'answer-delta' || now - this.lastSave >= SAVE_EVERY_MS) {
      this.lastSave = now;
      void this.deps.store.update(HISTORY_KEY, capTurns(this.turns));
    }
  }
}
