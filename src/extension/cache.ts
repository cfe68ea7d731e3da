// The workspace's compressed cache as the extension sees it: asks the engine for its state
// (debounced after file changes), builds it (one build at a time, cancellable), and schedules the
// automatic rebuild. vscode-free: main.ts supplies the engine call and the UI around a build.
import { EngineError, type IndexResult, type Method, type Methods, type NoticeEvent, type ProgressEvent } from '../engine/editor';
import { BuildProgress, BuildStep } from './progress';
import type { EngineParams } from './settings';

export type CacheStatus =
  | { kind: 'unknown' }
  | { kind: 'missing' }
  | { kind: 'building'; fraction: number; message: string }
  | { kind: 'ready'; key: string; bytes: number; keptRatio: number }
  | { kind: 'stale'; key: string; bytes: number; keptRatio: number; changedFiles: number }
  | { kind: 'error'; message: string };

/** EngineClient.call's shape, so tests can hand in a fake. */
export type EngineCall = <M extends Method>(
  method: M,
  params: Methods[M]['params'],
  opts?: { onEvent?: (e: Methods[M]['event']) => void; signal?: AbortSignal },
) => Promise<Methods[M]['result']>;

export interface TrackerDeps {
  call: EngineCall;
  params: () => EngineParams;
  onChange: (s: CacheStatus) => void;
  /** The snapshot's file list changed (for links in answers). */
  onFiles: (files: string[]) => void;
  /** The engine has something to say (e.g. the bundled model stands in for the default). */
  onNotice: (notice: NoticeEvent) => void;
  /** Whether a stale cache rebuilds by itself (autoBuild: onChange). */
  autoRebuild: () => boolean;
  /** The user is typing a question or reading a streaming answer: an automatic rebuild waits. */
  busy: () => boolean;
  /** Runs an automatic rebuild (main.ts wraps build() in a quiet progress indicator). */
  startAutoBuild: () => void;
  refreshDelayMs?: number;
  rebuildDelayMs?: number;
}

/** Phases a question goes through only when it has to build the cache first. */
const BUILD_ONLY = new Set<ProgressEvent['phase']>(['downloading', 'waiting', 'pulling', 'segments', 'prefill', 'scoring', 'writing', 'pushing']);

interface RunningBuild {
  promise: Promise<IndexResult>;
  controller: AbortController;
  listeners: Set<(s: BuildStep) => void>;
}

export class CacheTracker {
  private current: CacheStatus = { kind: 'unknown' };
  private build_: RunningBuild | null = null;
  private refreshTimer: NodeJS.Timeout | undefined;
  private rebuildTimer: NodeJS.Timeout | undefined;
  /** Only the newest status answer counts: an older one may have been overtaken by a build. */
  private refreshSeq = 0;

  constructor(private readonly deps: TrackerDeps) {}

  get status(): CacheStatus {
    return this.current;
  }

  /** The snapshot key of a cache that matches the files, if there is one. */
  get readyKey(): string | undefined {
    return this.current.kind === 'ready' ? this.current.key : undefined;
  }

  private set(s: CacheStatus): void {
    this.current = s;
    this.deps.onChange(s);
  }

  /** After a file change: ask the engine once things settle (saves come in bursts). */
  refreshSoon(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), this.deps.refreshDelayMs ?? 1500);
  }

  async refresh(): Promise<void> {
    if (this.build_) return; // the build's end refreshes
    const seq = ++this.refreshSeq;
    try {
      const r = await this.deps.call('status', this.deps.params());
      if (seq !== this.refreshSeq || this.build_) return;
      if (r.files) this.deps.onFiles(r.files);
      if (r.state === 'none' || !r.key) return this.set({ kind: 'missing' });
      const base = { key: r.key, bytes: r.bytes ?? 0, keptRatio: r.keptRatio ?? 0 };
      if (r.state === 'ready') return this.set({ kind: 'ready', ...base });
      this.set({ kind: 'stale', ...base, changedFiles: r.changedFiles ?? 0 });
      if (this.deps.autoRebuild()) this.scheduleRebuild();
    } catch (e) {
      if (seq === this.refreshSeq && !this.build_) this.set({ kind: 'error', message: (e as Error).message });
    }
  }

  private scheduleRebuild(): void {
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = setTimeout(() => {
      if (this.current.kind !== 'stale' || this.build_) return;
      if (this.deps.busy()) return this.scheduleRebuild(); // never under the user's fingers
      this.deps.startAutoBuild();
    }, this.deps.rebuildDelayMs ?? 10_000);
  }

  /**
   * Builds the cache of the current snapshot. A second caller while one build runs joins it. The
   * signal (a notification's Cancel) stops the engine at its next chunk; nothing half-written is
   * kept (the store writes a snapshot whole or not at all).
   */
  build(opts: { signal?: AbortSignal; onStep?: (s: BuildStep) => void } = {}): Promise<IndexResult> {
    clearTimeout(this.rebuildTimer);
    const running = this.build_ ?? this.startBuild();
    if (opts.onStep) running.listeners.add(opts.onStep);
    opts.signal?.addEventListener('abort', () => running.controller.abort(), { once: true });
    if (opts.signal?.aborted) running.controller.abort();
    return running.promise;
  }

  private startBuild(): RunningBuild {
    const controller = new AbortController();
    const listeners = new Set<(s: BuildStep) => void>();
    const progress = new BuildProgress();
    this.refreshSeq++; // a status answer in flight describes the cache before this build
    this.set({ kind: 'building', fraction: 0, message: 'Starting' });
    const promise = this.deps
      .call('index', this.deps.params(), {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.kind === 'notice') return this.deps.onNotice(e);
          const step = progress.update(e);
          this.set({ kind: 'building', ...step });
          listeners.forEach((l) => l(step));
        },
      })
      .finally(() => {
        this.build_ = null;
      });
    promise.then(
      () => void this.refresh(),
      (e) => (e instanceof EngineError && e.code === 'cancelled' ? void this.refresh() : this.set({ kind: 'error', message: (e as Error).message })),
    );
    this.build_ = { promise, controller, listeners };
    return this.build_;
  }

  /** Cancels the running build, if any. */
  cancel(): void {
    this.build_?.controller.abort();
  }

  /** A question built the cache itself (the engine does when it finds none): show its progress. */
  answerProgress(): (e: ProgressEvent) => void {
    const progress = new BuildProgress();
    let built = false;
    return (e) => {
      if (e.phase === 'answering') return void (built && this.refresh());
      if (!BUILD_ONLY.has(e.phase) || this.build_) return;
      built = true;
      this.set({ kind: 'building', ...progress.update(e) });
    };
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    clearTimeout(this.rebuildTimer);
    this.cancel();
  }
}
