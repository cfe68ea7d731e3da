// A stand-in for the Hugging Face hub on 127.0.0.1, speaking the protocol huggingface_hub reads:
// `resolve/<rev>/<file>` answers HEAD and GET with X-Repo-Commit, ETag / X-Linked-Etag and sizes;
// LFS files redirect (302) to a separate "CDN" server, so the redirect crosses origins as the real
// one does. Faults switched on per file exercise resume, verification and cancellation.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';

export interface FakeFile {
  name: string;
  data: Buffer;
  /** Stored with LFS: served from the CDN and named by its sha256. */
  lfs: boolean;
}

export interface FakeRepo {
  id: string;
  commit: string;
  files: FakeFile[];
  /** Gated: only this token may read it. */
  token?: string;
  /** An old id that redirects here, as the hub does after a rename. */
  renamedFrom?: string;
}

export interface Fault {
  /** Cut the connection after this many body bytes... */
  dropAfter?: number;
  /** ...this many times. */
  drops?: number;
  /** Serve bytes that do not match the ETag. */
  corrupt?: boolean;
  /** Answer Range requests with the whole file (200). */
  ignoreRange?: boolean;
  /** Pause this long after each 16 KiB of body. */
  slowMs?: number;
}

export interface Served {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  status: number;
  /** Body bytes written. */
  bytes: number;
}

export const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
/** The id git gives a file's content (`git hash-object`). */
export const gitSha1 = (data: Buffer) => crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
export const etagOf = (f: FakeFile) => (f.lfs ? sha256(f.data) : gitSha1(f.data));

const PIECE = 16 * 1024;

export class FakeHub {
  readonly log: Served[] = [];
  readonly faults = new Map<string, Fault>();
  private hubServer!: http.Server;
  private cdnServer!: http.Server;

  private constructor(readonly repos: FakeRepo[]) {}

  /** Starts the hub and its CDN; over TLS when a key and certificate are given. */
  static async start(repos: FakeRepo[], tls?: { key: string; cert: string }): Promise<FakeHub> {
    const hub = new FakeHub(repos);
    const make = (handler: http.RequestListener) => (tls ? https.createServer(tls, handler) : http.createServer(handler));
    hub.hubServer = make((req, res) => void hub.onHub(req, res));
    hub.cdnServer = make((req, res) => void hub.onCdn(req, res));
    await Promise.all([hub.hubServer, hub.cdnServer].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    return hub;
  }

  get endpoint(): string {
    return this.urlOf(this.hubServer);
  }

  get cdn(): string {
    return this.urlOf(this.cdnServer);
  }

  /** Requests for one file's bytes (GETs that carried a body). */
  downloads(name: string): Served[] {
    const file = this.repos.flatMap((r) => r.files).find((f) => f.name === name)!;
    return this.log.filter((s) => s.method === 'GET' && (s.path.endsWith(`/${name}`) || s.path.endsWith(`/blobs/${etagOf(file)}`)));
  }

  async close(): Promise<void> {
    for (const s of [this.hubServer, this.cdnServer]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  private urlOf(s: http.Server): string {
    return `${s instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }

  private async onHub(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const entry = this.record('hub', req);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(new URL(req.url!, 'http://x').pathname);
    const fail = (status: number, code: string) => this.finish(entry, res, status, { 'x-error-code': code });
    if (!m) return fail(404, 'RepoNotFound');
    const [, id, rev, name] = m.map(decodeURIComponent);
    const renamed = this.repos.find((r) => r.renamedFrom === id);
    if (renamed) return this.finish(entry, res, 307, { location: `/${renamed.id}/resolve/${m[2]}/${m[3]}` });
    const repo = this.repos.find((r) => r.id === id);
    if (!repo) return fail(401, 'RepoNotFound');
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) return fail(req.headers.authorization ? 403 : 401, 'GatedRepo');
    if (rev !== 'main' && rev !== repo.commit) return fail(404, 'RevisionNotFound');
    const file = repo.files.find((f) => f.name === name);
    if (!file) return fail(404, 'EntryNotFound');
    if (file.lfs) {
      // The redirect's own ETag and length describe the redirect; the file's are in X-Linked-*.
      return this.finish(entry, res, 302, {
        location: `${this.cdn}/blobs/${sha256(file.data)}`,
        'x-repo-commit': repo.commit,
        'x-linked-etag': `"${sha256(file.data)}"`,
        'x-linked-size': String(file.data.length),
        etag: 'W/"redirect"',
      });
    }
    await this.serve(entry, req, res, file, { 'x-repo-commit': repo.commit, etag: `"${gitSha1(file.data)}"` });
  }

  private async onCdn(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const entry = this.record('cdn', req);
    const sha = /^\/blobs\/([0-9a-f]{64})$/.exec(req.url!)?.[1];
    const file = this.repos.flatMap((r) => r.files).find((f) => f.lfs && sha256(f.data) === sha);
    if (!file) return this.finish(entry, res, 404, {});
    await this.serve(entry, req, res, file, { etag: `"${sha}"` });
  }

  /** Serves a file's bytes with Range support and the file's faults. */
  private async serve(entry: Served, req: http.IncomingMessage, res: http.ServerResponse, file: FakeFile, headers: http.OutgoingHttpHeaders): Promise<void> {
    const fault = this.faults.get(file.name) ?? {};
    const data = fault.corrupt ? Buffer.from(file.data.map((b, i) => (i === 0 ? b ^ 0xff : b))) : file.data;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range && !fault.ignoreRange ? Number(range[1]) : 0;
    const body = data.subarray(start);
    entry.status = start ? 206 : 200;
    res.writeHead(entry.status, {
      ...headers,
      'content-length': body.length,
      'accept-ranges': 'bytes',
      ...(start ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const drop = fault.drops ? fault.dropAfter! : Infinity;
    if (fault.drops) fault.drops--;
    for (let at = 0; at < Math.min(body.length, drop); at += PIECE) {
      const piece = body.subarray(at, Math.min(at + PIECE, body.length, drop));
      const ok = await new Promise<boolean>((r) => res.write(piece, (err) => r(!err)));
      if (!ok || res.destroyed) return;
      entry.bytes += piece.length;
      if (fault.slowMs) await new Promise((r) => setTimeout(r, fault.slowMs));
    }
    if (drop < body.length) res.socket?.destroy();
    else res.end();
  }

  private record(server: Served['server'], req: http.IncomingMessage): Served {
    const entry: Served = { server, method: req.method!, path: req.url!, headers: req.headers, status: 0, bytes: 0 };
    this.log.push(entry);
    return entry;
  }

  private finish(entry: Served, res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders): void {
    entry.status = status;
    res.writeHead(status, { ...headers, 'content-length': 0 }).end();
  }
}

/** A model repository with small random weights and real-looking JSON files. */
export function modelRepo(id: string, opts: { weights?: number; shards?: number; omit?: string[]; token?: string } = {}): FakeRepo {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const files: FakeFile[] = [
    { name: 'config.json', data: json({ model_type: 'llama', hidden_size: 64 }), lfs: false },
    { name: 'generation_config.json', data: json({ eos_token_id: 2 }), lfs: false },
    { name: 'tokenizer.json', data: json({ model: { type: 'BPE', vocab: { a: 0 } } }), lfs: false },
    { name: 'tokenizer_config.json', data: json({ eos_token: '</s>' }), lfs: false },
  ];
  const size = opts.weights ?? 256 * 1024;
  if (opts.shards) {
    const names = Array.from({ length: opts.shards }, (_, i) => `model-0000${i + 1}-of-0000${opts.shards}.safetensors`);
    const weightMap = Object.fromEntries(
      names.flatMap((n, i) => [
        [`layers.${i}.a`, n],
        [`layers.${i}.b`, n],
      ]),
    );
    files.push({ name: 'model.safetensors.index.json', data: json({ metadata: {}, weight_map: weightMap }), lfs: false });
    names.forEach((name) => files.push({ name, data: crypto.randomBytes(size), lfs: true }));
  } else {
    files.push({ name: 'model.safetensors', data: crypto.randomBytes(size), lfs: true });
  }
  const commit = crypto.createHash('sha1').update(id).digest('hex');
  return { id, commit, files: files.filter((f) => !opts.omit?.includes(f.name)), token: opts.token };
}

/** A fresh folder under the OS temp dir, removed when the test ends. */
export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repozip-hub-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
