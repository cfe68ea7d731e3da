// The client side of the engine host: spawns the host process, sends calls, routes events and
// results back, and restarts the host after a crash (in-flight calls fail with 'engine-crashed';
// the next call starts a fresh process).
import { ChildProcess, fork } from 'node:child_process';
import { EngineError } from '../errors';
import { FromHost, Method, Methods, ToHost } from '../protocol';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onEvent?: (e: never) => void;
}

export interface ClientOptions {
  /** Path of dist/engine-host.js. */
  hostScript: string;
  /** Node binary; in VS Code the editor's own (with ELECTRON_RUN_AS_NODE). */
  execPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Called when the host dies without being asked to. */
  onCrash?: (reason: string) => void;
  /** Host stderr lines (logs). */
  onLog?: (line: string) => void;
}

export class EngineClient {
  private child: ChildProcess | null = null;
  private ready: Promise<void> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stopping = false;

  constructor(private readonly opts: ClientOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    this.stopping = false;
    const child = fork(this.opts.hostScript, [], {
      execPath: this.opts.execPath,
      env: { ...process.env, ...this.opts.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    child.stderr?.setEncoding('utf8').on('data', (d: string) =>
      d
        .split('\n')
        .filter(Boolean)
        .forEach((l) => this.opts.onLog?.(l)),
    );
    this.ready = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.on('message', (m: FromHost) => {
        if (m.type === 'ready') return resolve();
        this.route(m);
      });
      child.once('exit', (code, signal) => {
        const reason = signal ? `the engine process was killed (${signal})` : `the engine process exited with code ${code}`;
        this.child = null;
        this.ready = null;
        for (const p of this.pending.values()) p.reject(new EngineError('engine-crashed', `${reason}; the next request starts a new one`));
        this.pending.clear();
        reject(new EngineError('engine-crashed', reason));
        if (!this.stopping) this.opts.onCrash?.(reason);
      });
    });
    return this.ready;
  }

  private route(m: Exclude<FromHost, { type: 'ready' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'event') return p.onEvent?.(m.event as never);
    this.pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.result);
    else p.reject(new EngineError(m.code, m.message));
  }

  private send(msg: ToHost): void {
    this.child?.send(msg);
  }

  /** Calls a host method; `signal` cancels it (the host stops at its next chunk boundary). */
  async call<M extends Method>(
    method: M,
    params: Methods[M]['params'],
    opts: { onEvent?: (e: Methods[M]['event']) => void; signal?: AbortSignal } = {},
  ): Promise<Methods[M]['result']> {
    await this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent: opts.onEvent as ((e: never) => void) | undefined });
      if (opts.signal) {
        if (opts.signal.aborted) this.send({ type: 'cancel', id });
        else opts.signal.addEventListener('abort', () => this.send({ type: 'cancel', id }), { once: true });
      }
      this.send({ type: 'call', id, method, params });
    });
  }

  /** Asks the host to exit; kills it if it does not within `graceMs`. */
  async dispose(graceMs = 2000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the host now (a stuck native call cannot be interrupted any other way). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }
}
