// The hub's file protocol, as huggingface_hub speaks it:
//   HEAD {endpoint}/{repo}/resolve/{revision}/{file}
//     → 200 (a git file) or 302 to a CDN (an LFS file), carrying X-Repo-Commit, the ETag
//       (X-Linked-Etag for LFS files: their sha256) and the size (X-Linked-Size / Content-Length).
//       Relative redirects (a renamed repository) are followed; the CDN redirect is not.
//   GET  the CDN location (or the resolve URL at the commit), following redirects, with Range to resume.
// The token goes only to the endpoint's origin: CDN URLs are signed and must not see it.
import { IncomingMessage } from 'node:http';
import { CancelledError, EngineError } from '../errors';
import { COMMIT } from './layout';
import { send } from './http';
import { HubSettings } from './settings';

/** One file of a repository at a commit, as the hub describes it. */
export interface RemoteFile {
  name: string;
  commit: string;
  /** sha256 for LFS files, git blob sha1 otherwise; also the blob's name in the cache. */
  etag: string;
  size: number;
  /** Where the bytes are. */
  url: URL;
}

/** A failure that may pass: the network, or a server's 429/5xx. Downloads retry these. */
export class NetworkError extends EngineError {
  constructor(message: string) {
    super('download', message);
  }
}

const MAX_REDIRECTS = 10;
const SAFE_ETAG = /^[\w.-]+$/; // it becomes a file name

export class Hub {
  constructor(
    private readonly settings: HubSettings,
    readonly repo: string,
  ) {}

  fileUrl(revision: string, name: string): URL {
    return new URL(`${this.settings.endpoint}/${this.repo}/resolve/${encodeURIComponent(revision)}/${name.split('/').map(encodeURIComponent).join('/')}`);
  }

  /** The file's metadata at a revision; null when the repository has no such file. */
  async head(revision: string, name: string, signal?: AbortSignal): Promise<RemoteFile | null> {
    let url = this.fileUrl(revision, name);
    for (let hop = 0; ; hop++) {
      const res = await this.request('HEAD', url, {}, signal);
      res.resume();
      const location = res.headers.location;
      if (isRedirect(res.statusCode) && location && !/^[a-z][a-z0-9+.-]*:/i.test(location) && hop < MAX_REDIRECTS) {
        url = new URL(location, url);
        continue;
      }
      if (res.statusCode === 404 && !['RepoNotFound', 'RevisionNotFound'].includes(String(res.headers['x-error-code']))) return null;
      if (res.statusCode! >= 400) throw this.refusal(res, revision);
      const commit = String(res.headers['x-repo-commit'] ?? '');
      const etag = String(res.headers['x-linked-etag'] ?? res.headers.etag ?? '')
        .replace(/^W\//, '')
        .replace(/"/g, '');
      const size = Number(res.headers['x-linked-size'] ?? res.headers['content-length']);
      if (!COMMIT.test(commit) || !SAFE_ETAG.test(etag) || etag.startsWith('.') || !Number.isSafeInteger(size)) {
        throw new EngineError(
          'download',
          `${this.settings.endpoint} described ${this.repo}/${name} without a commit, ETag or size: is HF_ENDPOINT a Hugging Face hub?`,
        );
      }
      return { name, commit, etag, size, url: location ? new URL(location, url) : this.fileUrl(commit, name) };
    }
  }

  /** GETs a file's bytes, following redirects; resolves with a 200 or 206 response. */
  async get(url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.request('GET', url, headers, signal);
      if (res.statusCode === 200 || res.statusCode === 206) return res;
      res.resume();
      if (!isRedirect(res.statusCode) || !res.headers.location) {
        const message = `${url.host} answered HTTP ${res.statusCode} for ${url.pathname}; try the pull again later`;
        throw res.statusCode === 429 || res.statusCode! >= 500 ? new NetworkError(message) : new EngineError('download', message);
      }
      url = new URL(res.headers.location, url);
    }
    throw new EngineError('download', `too many redirects fetching ${url.href}`);
  }

  private async request(method: 'HEAD' | 'GET', url: URL, extra: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
    const headers: Record<string, string> = { 'user-agent': 'repozip (node)', 'accept-encoding': 'identity', ...extra };
    if (this.settings.token && url.origin === new URL(this.settings.endpoint).origin) headers.authorization = `Bearer ${this.settings.token}`;
    try {
      return await send({ method, url, headers, env: this.settings.env, signal });
    } catch (e) {
      throw this.unreachable(e, url, signal);
    }
  }

  /** Turns a network failure into an error that says what to do; cancellation stays cancellation. */
  private unreachable(e: unknown, url: URL, signal?: AbortSignal): Error {
    if (signal?.aborted) return new CancelledError(`download of ${this.repo}`);
    if (e instanceof EngineError) return e;
    const err = e as NodeJS.ErrnoException;
    const tlsHint = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(`${err.code} ${err.message}`)
      ? ' If a proxy inspects TLS, point NODE_EXTRA_CA_CERTS at its CA certificate.'
      : '';
    return new NetworkError(
      `cannot reach ${url.host}: ${err.message}. Check the network or the proxy (HTTPS_PROXY), or set HF_HUB_OFFLINE=1 to use only downloaded models.${tlsHint}`,
    );
  }

  private refusal(res: IncomingMessage, revision: string): EngineError {
    const code = String(res.headers['x-error-code'] ?? '');
    const page = `${this.settings.endpoint}/${this.repo}`;
    const withToken = this.settings.token !== undefined;
    if (code === 'RepoNotFound') {
      return new EngineError(
        'download',
        `${this.repo} was not found on ${this.settings.endpoint}${withToken ? '' : ' (if it is private, set HF_TOKEN or pass --token)'}`,
      );
    }
    if (code === 'RevisionNotFound') return new EngineError('download', `${this.repo} has no revision "${revision}"`);
    if (res.statusCode === 401 || res.statusCode === 403) {
      return new EngineError(
        'download',
        withToken
          ? `${this.repo} is gated and your token has no access to it: open ${page}, accept the licence with the account the token belongs to (approval can take a while), then pull again`
          : `${this.repo} is gated: open ${page}, accept its licence, create a read token at ${this.settings.endpoint}/settings/tokens, then set HF_TOKEN (or pass --token) and pull again`,
      );
    }
    return new EngineError('download', `${this.settings.endpoint} answered HTTP ${res.statusCode} for ${this.repo}; try the pull again later`);
  }
}

const isRedirect = (status: number | undefined) => status !== undefined && status >= 300 && status < 400;
