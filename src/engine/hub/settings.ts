// Where the hub cache lives and how the hub is reached, read from the same environment variables
// as Python's huggingface_hub, so a model downloaded by either is found by the other.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** What a caller may set explicitly; anything left out comes from the environment. */
export interface HubOptions {
  /** The hub cache (the folder holding models--org--name). Default HF_HUB_CACHE, else $HF_HOME/hub. */
  cacheDir?: string;
  /** Default HF_ENDPOINT, else the official hub. */
  endpoint?: string;
  /** Default HF_TOKEN, else the token file `hf auth login` wrote. */
  token?: string;
  /** Use only what is cached. Default HF_HUB_OFFLINE. */
  offline?: boolean;
  /** The environment to read (default process.env); proxy variables are read from it too. */
  env?: NodeJS.ProcessEnv;
}

export interface HubSettings {
  cacheDir: string;
  /** Without a trailing slash. */
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  env: NodeJS.ProcessEnv;
}

const TRUTHY = new Set(['1', 'on', 'yes', 'true']); // huggingface_hub's reading of boolean variables

export function hubSettings(opts: HubOptions = {}): HubSettings {
  const env = opts.env ?? process.env;
  const hfHome = env.HF_HOME ? expandHome(env.HF_HOME) : path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface');
  return {
    cacheDir: opts.cacheDir ?? (env.HF_HUB_CACHE ? expandHome(env.HF_HUB_CACHE) : path.join(hfHome, 'hub')),
    endpoint: (opts.endpoint ?? (env.HF_ENDPOINT || DEFAULT_ENDPOINT)).replace(/\/+$/, ''),
    token: opts.token || env.HF_TOKEN || readToken(env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH) : path.join(hfHome, 'token')),
    offline: opts.offline ?? TRUTHY.has((env.HF_HUB_OFFLINE ?? '').trim().toLowerCase()),
    env,
  };
}

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') || p.startsWith('~\\') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** A user who logged in with huggingface_hub's CLI has a token file; using it saves a second login. */
function readToken(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
