// Proxies: HTTP_PROXY as a forward proxy for http endpoints, HTTPS_PROXY as a CONNECT tunnel for
// https ones (the real hub), NO_PROXY exemptions. The proxy here is a small one started by the test.
// tls/cert.pem is a self-signed certificate for IP 127.0.0.1, valid until 2126, made with
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 \
//     -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { pullModel } from '../../src/engine/hub/download';
import { proxyFor } from '../../src/engine/hub/http';
import { FakeHub, modelRepo, tempDir } from './fakeHub';

type After = { after(fn: () => void | Promise<void>): void };

/** A forward proxy (absolute-form requests) that also tunnels CONNECT, logging what it carried. */
async function startProxy(t: After): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const tunnels = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const upstream = http.request(new URL(req.url!), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    tunnels.add(socket);
    const [host, port] = req.url!.split(':');
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket).on('error', () => {});
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Tunnelled sockets leave the server's bookkeeping (its close callback would never come): end them here.
  t.after(() => {
    tunnels.forEach((s) => s.destroy());
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

test('HTTP_PROXY carries every request to an http hub and its CDN; NO_PROXY exempts hosts', async (t) => {
  const repo = modelRepo('acme/proxied');
  const hub = await FakeHub.start([repo]);
  t.after(() => hub.close());
  const proxy = await startProxy(t);

  await pullModel(repo.id, { cacheDir: tempDir(t), endpoint: hub.endpoint, env: { HTTP_PROXY: proxy.url } });
  assert.equal(proxy.seen.length, hub.log.length);
  assert.ok(proxy.seen.includes(`HEAD ${hub.endpoint}/acme/proxied/resolve/main/config.json`), proxy.seen.join('\n'));
  assert.ok(proxy.seen.some((s) => s.startsWith(`GET ${hub.cdn}/blobs/`)));

  const carried = proxy.seen.length;
  await pullModel(repo.id, { cacheDir: tempDir(t), endpoint: hub.endpoint, env: { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' } });
  assert.equal(proxy.seen.length, carried, 'NO_PROXY bypassed the proxy');
});

test('HTTPS_PROXY tunnels TLS to an https hub with CONNECT (a fresh process trusting a test CA)', async (t) => {
  const tls = { key: fs.readFileSync(path.join(__dirname, 'tls/key.pem'), 'utf8'), cert: fs.readFileSync(path.join(__dirname, 'tls/cert.pem'), 'utf8') };
  const repo = modelRepo('acme/tunnelled');
  const hub = await FakeHub.start([repo], tls);
  t.after(() => hub.close());
  const proxy = await startProxy(t);
  const cacheDir = tempDir(t);

  // NODE_EXTRA_CA_CERTS is read at start-up only, hence a child process; it gets a clean environment.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: cacheDir,
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: cacheDir,
    HTTPS_PROXY: proxy.url,
    NODE_EXTRA_CA_CERTS: path.join(__dirname, 'tls/cert.pem'),
  };
  const script = `require('./src/engine/hub/download.ts').pullModel(process.argv[1]).then((p) => console.log(p), (e) => { console.error(e.message); process.exit(1); })`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script, repo.id], { cwd: path.resolve(__dirname, '../..'), env });

  const snapshot = stdout.trim();
  assert.deepEqual(fs.readFileSync(path.join(snapshot, 'model.safetensors')), repo.files.find((f) => f.name === 'model.safetensors')!.data);
  const host = (url: string) => new URL(url).host;
  assert.ok(proxy.seen.length > 0 && proxy.seen.every((s) => s === `CONNECT ${host(hub.endpoint)}` || s === `CONNECT ${host(hub.cdn)}`), proxy.seen.join('\n'));
  assert.ok(proxy.seen.includes(`CONNECT ${host(hub.cdn)}`));
  assert.equal(hub.log.length, proxy.seen.length, 'one tunnel per request');
});

test('proxyFor follows the curl conventions', () => {
  const https = new URL('https://huggingface.co/x');
  const http = new URL('http://mirror.example.com:8080/x');
  assert.equal(proxyFor(https, {}), undefined);
  assert.equal(proxyFor(https, { HTTPS_PROXY: 'proxy.corp:3128' })?.href, 'http://proxy.corp:3128/');
  assert.equal(proxyFor(https, { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' })?.host, 'lower:2');
  assert.equal(proxyFor(http, { HTTPS_PROXY: 'http://p:1' }), undefined, 'http targets use HTTP_PROXY');
  assert.equal(proxyFor(http, { HTTP_PROXY: 'http://p:1' })?.host, 'p:1');
  const exempt = (url: URL, noProxy: string) => proxyFor(url, { HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://p:1', NO_PROXY: noProxy }) === undefined;
  assert.ok(exempt(https, 'huggingface.co'));
  assert.ok(exempt(new URL('https://cdn.huggingface.co/'), '.huggingface.co'));
  assert.ok(exempt(new URL('https://cdn.huggingface.co/'), 'huggingface.co'));
  assert.ok(!exempt(new URL('https://nothuggingface.co/'), 'huggingface.co'));
  assert.ok(exempt(https, 'a.b, *'));
  assert.ok(exempt(http, 'example.com:8080') && !exempt(http, 'example.com:9090'));
  assert.ok(exempt(new URL('http://[::1]:8080/'), '[::1]:8080'));
  assert.throws(() => proxyFor(https, { HTTPS_PROXY: 'http://' }), /not a URL/);
});
