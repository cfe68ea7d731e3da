// Stand-ins for what the extension's vscode-free modules are handed: an engine whose calls the test
// settles by hand (and which rejects a call the moment its signal aborts, as the real client's host
// does at its next chunk), and a Memento.
import { EngineError } from '../../src/engine/errors';
import type { Method, Methods } from '../../src/engine/protocol';
import type { EngineCall } from '../../src/extension/cache';
import type { Store } from '../../src/extension/chat';

export interface FakeCall {
  method: Method;
  params: unknown;
  signal?: AbortSignal;
  emit: (e: unknown) => void;
  resolve: (r: unknown) => void;
  reject: (e: Error) => void;
  settled: boolean;
}

export function fakeEngine() {
  const calls: FakeCall[] = [];
  const call = ((method: Method, params: unknown, opts: { onEvent?: (e: unknown) => void; signal?: AbortSignal } = {}) =>
    new Promise((resolve, reject) => {
      const c: FakeCall = {
        method,
        params,
        signal: opts.signal,
        emit: (e) => opts.onEvent?.(e),
        resolve: (r) => {
          c.settled = true;
          resolve(r as never);
        },
        reject: (e) => {
          c.settled = true;
          reject(e);
        },
        settled: false,
      };
      calls.push(c);
      const abort = () => !c.settled && c.reject(new EngineError('cancelled', `${method} was cancelled`));
      if (opts.signal?.aborted) abort();
      opts.signal?.addEventListener('abort', abort, { once: true });
    })) as EngineCall;
  return {
    call,
    calls,
    /** Calls the engine would still be working on. */
    running: () => calls.filter((c) => !c.settled),
    last: (method: Method) => [...calls].reverse().find((c) => c.method === method),
  };
}

export type Result<M extends Method> = Methods[M]['result'];

export class MemoryStore implements Store {
  readonly data = new Map<string, unknown>();
  writes = 0;

  get<T>(key: string): T | undefined {
    // a real Memento hands back a copy of what was stored (JSON)
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as T);
  }

  update(key: string, value: unknown): Promise<void> {
    this.writes++;
    this.data.set(key, value);
    return Promise.resolve();
  }
}

/** Lets pending promise callbacks run. */
export const flush = () => new Promise((r) => setImmediate(r));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
