// HTTP for the downloader, on node's http/https modules rather than the global fetch: Node 20's
// fetch ignores HTTPS_PROXY/NO_PROXY, and a user behind a corporate proxy must still get a model.
// https targets go through the proxy in a CONNECT tunnel (TLS stays end to end; the proxy sees only
// host:port); http targets use it as a forward proxy. undici's EnvHttpProxyAgent would do the same
// for fetch, but as a new dependency for what fits in this file.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface HttpRequest {
  method: 'HEAD' | 'GET';
  url: URL;
  headers: Record<string, string>;
  /** Proxy variables are read from here. */
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** A connection that sends nothing for this long fails, so a dead network cannot hang a pull. */
const IDLE_MS = 30_000;

/** Sends a request; resolves with the response (any status) once its headers arrive. */
export async function send(req: HttpRequest): Promise<http.IncomingMessage> {
  const proxy = proxyFor(req.url, req.env);
  const options: https.RequestOptions = { method: req.method, headers: req.headers, signal: req.signal, timeout: IDLE_MS };
  let r: http.ClientRequest;
  if (!proxy) {
    r = client(req.url).request(req.url, options);
  } else if (req.url.protocol === 'http:') {
    r = client(proxy).request(proxy, { ...options, path: req.url.href, headers: { ...req.headers, host: req.url.host, ...proxyAuth(proxy) } });
  } else {
    const socket = await tunnel(proxy, req.url, req.signal);
    const host = bare(req.url.hostname);
    // No agent: the request runs on the tunnelled TLS socket created here.
    r = https.request(req.url, { ...options, createConnection: () => tls.connect({ socket, host, servername: net.isIP(host) ? undefined : host }) });
  }
  return new Promise((resolve, reject) => {
    r.on('response', resolve);
    r.on('error', reject);
    r.on('timeout', () => r.destroy(new Error(`${req.url.host} sent nothing for ${IDLE_MS / 1000} s`)));
    r.end();
  });
}

/** The proxy for a URL under the curl conventions: lower-case variables win, NO_PROXY exempts hosts. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv): URL | undefined {
  const raw = url.protocol === 'https:' ? env.https_proxy || env.HTTPS_PROXY : env.http_proxy || env.HTTP_PROXY;
  if (!raw || exempt(url, env.no_proxy ?? env.NO_PROXY ?? '')) return undefined;
  try {
    return new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new Error(`the proxy setting "${raw}" is not a URL`);
  }
}

/** NO_PROXY entries: `*`, a host name (its subdomains too, with or without a leading dot), an IP, each optionally with :port. */
function exempt(url: URL, noProxy: string): boolean {
  const host = bare(url.hostname).toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true;
      const m = /^(.*?)(?::(\d+))?$/.exec(entry.startsWith('[') ? entry.replace(/^\[(.*)\]/, '$1') : entry)!;
      const name = m[1].replace(/^\*?\./, '').toLowerCase();
      return (!m[2] || m[2] === port) && (host === name || host.endsWith(`.${name}`));
    });
}

function tunnel(proxy: URL, target: URL, signal?: AbortSignal): Promise<net.Socket> {
  const hostPort = `${target.hostname}:${target.port || 443}`;
  return new Promise((resolve, reject) => {
    const r = client(proxy).request(proxy, { method: 'CONNECT', path: hostPort, headers: { host: hostPort, ...proxyAuth(proxy) }, signal, timeout: IDLE_MS });
    r.on('connect', (res, socket) => {
      if (res.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(new Error(`proxy ${proxy.host} refused a tunnel to ${hostPort} (HTTP ${res.statusCode})`));
    });
    r.on('error', reject);
    r.on('timeout', () => r.destroy(new Error(`proxy ${proxy.host} sent nothing for ${IDLE_MS / 1000} s`)));
    r.end();
  });
}

function proxyAuth(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(user).toString('base64')}` };
}

const client = (url: URL) => (url.protocol === 'https:' ? https : http);
const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
