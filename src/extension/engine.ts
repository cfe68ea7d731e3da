// The engine process as the extension uses it: an EngineClient (dist/engine-host.js, forked with the
// editor's own Node) whose environment follows VS Code's proxy setting and the stored Hugging Face
// token. The environment of a process is fixed at fork, so when it changes the process is replaced —
// between calls, never under one.
import { EngineClient } from '../engine/editor';
import type { EngineCall } from './cache';

export interface EngineOptions {
  hostScript: string;
  /** The variables the process needs now (proxy, HF_TOKEN). */
  env: () => Promise<Record<string, string>>;
  onLog: (line: string) => void;
  /** The process died by itself (a native crash, out of memory, killed). */
  onCrash: (reason: string) => void;
}

export class Engine {
  private client: EngineClient | null = null;
  private envKey = '';
  private inFlight = 0;

  constructor(private readonly opts: EngineOptions) {}

  get pid(): number | undefined {
    return this.client?.pid;
  }

  readonly call: EngineCall = async (method, params, callOpts) => {
    const client = await this.current();
    this.inFlight++;
    try {
      return await client.call(method, params, callOpts);
    } finally {
      this.inFlight--;
    }
  };

  private async current(): Promise<EngineClient> {
    const env = await this.opts.env();
    const key = JSON.stringify(env);
    if (this.client && (key === this.envKey || this.inFlight > 0)) return this.client;
    const old = this.client;
    this.envKey = key;
    this.client = new EngineClient({ hostScript: this.opts.hostScript, execPath: process.execPath, env, onLog: this.opts.onLog, onCrash: this.opts.onCrash });
    await old?.dispose();
    return this.client;
  }

  async dispose(): Promise<void> {
    await this.client?.dispose();
    this.client = null;
  }
}
