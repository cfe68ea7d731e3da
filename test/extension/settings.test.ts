// Settings → engine parameters: defaults agree with package.json, bad values fall back, and each
// setting lands where the engine reads it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { WEIGHT_CHOICES } from '../../src/engine/model/choose-weights';
import { DEVICES } from '../../src/engine/devices';
import { COMPOSE_MODES } from '../../src/engine/protocol';
import { askParams, AUTO_BUILD, DEFAULTS, engineParams, HOVER_MODES, KEYS, proxyEnv, readSettings, Settings } from '../../src/extension/settings';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
const props: Record<string, { default: unknown; enum?: unknown[]; description?: string; markdownDescription?: string }> =
  pkg.contributes.configuration.properties;
const PLACES = { root: '/ws', modelCacheDir: '/global', snapshotDir: '/storage/snapshots' };

test('every setting is contributed, described, with the default the code uses', () => {
  assert.deepEqual(
    Object.keys(props).sort(),
    Object.values(KEYS)
      .map((k) => `repozip.${k}`)
      .sort(),
  );
  for (const [name, key] of Object.entries(KEYS) as [keyof Settings, string][]) {
    const p = props[`repozip.${key}`];
    assert.deepEqual(p.default, DEFAULTS[name], key);
    assert.ok((p.description ?? p.markdownDescription ?? '').length > 20, `${key} has a description`);
  }
  // a malicious repository's .vscode/settings.json must not pick the model or what is read
  const restricted = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
  for (const k of ['repozip.model', 'repozip.device']) assert.ok(restricted.includes(k), k);
  // nor send questions' caches to, or take them from, a store it names
  for (const k of ['repozip.remoteCache', 'repozip.remoteCacheReadOnly', 'repozip.remoteCacheTrustedKey']) assert.ok(restricted.includes(k), k);
});

test("every setting's choices are the lists the code checks them against, the engine's own where it has one", () => {
  const lists: Record<string, readonly string[]> = {
    'repozip.device': DEVICES,
    'repozip.weights': WEIGHT_CHOICES,
    'repozip.autoBuild': AUTO_BUILD,
    'repozip.hover.mode': HOVER_MODES,
    'repozip.compose': COMPOSE_MODES,
  };
  const withEnum = Object.keys(props).filter((k) => props[k].enum);
  assert.deepEqual(withEnum.sort(), Object.keys(lists).sort(), 'a new setting with choices names its list here');
  for (const [key, list] of Object.entries(lists)) assert.deepEqual(props[key].enum, list, key);
});

test('hand-edited settings: wrong types and out-of-range values fall back to the defaults', () => {
  const bad: Record<string, unknown> = {
    model: 42,
    device: 'tpu',
    weights: 'int2',
    ratio: 3,
    include: 'src/**',
    exclude: ['', 7, 'dist/**'],
    segmentTokens: -1,
    compose: 'sideways',
    maxAnswerTokens: 0,
    temperature: 'hot',
    cacheBudgetMB: NaN,
    autoBuild: 'always',
    'hover.mode': 'loud',
    remoteCache: 7,
    remoteCacheReadOnly: 'no',
    remoteCacheTrustedKey: ['k.pem'],
  };
  assert.deepEqual(
    readSettings((k) => bad[k]),
    { ...DEFAULTS, exclude: ['dist/**'] },
  );
  assert.deepEqual(
    readSettings(() => undefined),
    DEFAULTS,
  );
});

test('settings map onto the engine call parameters', () => {
  const s = readSettings(
    (k) =>
      ({
        model: ' Qwen/Qwen2.5-Coder-0.5B-Instruct ',
        device: 'cpu',
        weights: 'int4',
        ratio: 0.5,
        include: ['src/**'],
        exclude: ['**/*.min.js'],
        segmentTokens: 512,
        compose: 'select',
        cacheBudgetMB: 2,
        'hover.mode': 'auto',
      })[k],
  );
  assert.deepEqual(engineParams(s, PLACES), {
    engine: { model: 'Qwen/Qwen2.5-Coder-0.5B-Instruct', device: 'cpu', weights: 'int4', cacheDir: '/global', snapshotDir: '/storage/snapshots' },
    repo: { root: '/ws', ratio: 0.5, budgetBytes: 2 * 1024 * 1024, include: ['src/**'], exclude: ['**/*.min.js'], segmentTokens: 512, compose: 'select' },
  });
  assert.equal(s.hoverMode, 'auto');
  // defaults: no model (the engine picks the device's default), no limits the engine would apply as given
  const d = engineParams(DEFAULTS, PLACES);
  assert.equal('model' in d.engine, false);
  assert.deepEqual(Object.keys(d.repo).sort(), ['budgetBytes', 'ratio', 'root']);
  assert.equal('remote' in d.engine, false);
});

test('the remote cache: read-only unless turned off, with its trusted key', () => {
  const remote = (over: Partial<Settings>) => engineParams({ ...DEFAULTS, ...over }, PLACES).engine.remote;
  assert.deepEqual(remote({ remoteCache: 's3://team/repozip' }), { url: 's3://team/repozip', readOnly: true });
  assert.deepEqual(remote({ remoteCache: 's3://team/repozip', remoteCacheReadOnly: false, remoteCacheTrustedKey: '/keys/ci.pub.pem' }), {
    url: 's3://team/repozip',
    readOnly: false,
    trustedKey: '/keys/ci.pub.pem',
  });
});

test('a question carries the answer settings; autoBuild never forbids building in the engine', () => {
  const p = engineParams(DEFAULTS, PLACES);
  assert.deepEqual(askParams({ ...DEFAULTS, temperature: 0.7 }, p, 'q'), { ...p, question: 'q', maxTokens: 512, temperature: 0.7, build: true });
  assert.equal(askParams({ ...DEFAULTS, autoBuild: 'never' }, p, 'q', 64).build, false);
  assert.equal(askParams(DEFAULTS, p, 'q', 64).maxTokens, 64);
  const editor = { activeFile: 'src/a.ts', selection: 'add(' };
  assert.deepEqual(askParams(DEFAULTS, p, 'q', 64, editor), { ...p, question: 'q', maxTokens: 64, temperature: 0, build: true, editor });
});

test('http.proxy reaches the engine process in both spellings', () => {
  assert.deepEqual(proxyEnv(undefined, undefined), {});
  assert.deepEqual(proxyEnv('  ', []), {});
  const env = proxyEnv('http://proxy.corp:3128', ['localhost', '.corp']);
  for (const k of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) assert.equal(env[k], 'http://proxy.corp:3128');
  assert.equal(env.NO_PROXY, 'localhost,.corp');
  assert.equal(env.no_proxy, 'localhost,.corp');
});
