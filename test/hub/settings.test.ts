// The hub settings read the variables huggingface_hub reads, with explicit options winning.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { hubSettings } from '../../src/engine/hub/settings';
import { tempDir } from './fakeHub';

test('the cache folder: HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache', () => {
  assert.equal(hubSettings({ env: {} }).cacheDir, path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  assert.equal(hubSettings({ env: { XDG_CACHE_HOME: '/xdg' } }).cacheDir, '/xdg/huggingface/hub');
  assert.equal(hubSettings({ env: { XDG_CACHE_HOME: '/xdg', HF_HOME: '/hf' } }).cacheDir, '/hf/hub');
  assert.equal(hubSettings({ env: { HF_HOME: '/hf', HF_HUB_CACHE: '/cache' } }).cacheDir, '/cache');
  assert.equal(hubSettings({ env: { HF_HOME: '~/hf' } }).cacheDir, path.join(os.homedir(), 'hf', 'hub'));
  assert.equal(hubSettings({ env: { HF_HUB_CACHE: '/cache' }, cacheDir: '/mine' }).cacheDir, '/mine');
});

test('endpoint and offline mode', () => {
  assert.equal(hubSettings({ env: {} }).endpoint, 'https://huggingface.co');
  assert.equal(hubSettings({ env: { HF_ENDPOINT: 'https://mirror.example/' } }).endpoint, 'https://mirror.example');
  assert.equal(hubSettings({ env: { HF_ENDPOINT: 'https://mirror.example' }, endpoint: 'http://127.0.0.1:9' }).endpoint, 'http://127.0.0.1:9');
  for (const v of ['1', 'ON', 'yes', 'True']) assert.equal(hubSettings({ env: { HF_HUB_OFFLINE: v } }).offline, true, v);
  for (const v of ['', '0', 'no', 'false']) assert.equal(hubSettings({ env: { HF_HUB_OFFLINE: v } }).offline, false, v);
  assert.equal(hubSettings({ env: { HF_HUB_OFFLINE: '1' }, offline: false }).offline, false);
});

test("the token: the option, else HF_TOKEN, else the file huggingface_hub's login wrote", (t) => {
  const home = tempDir(t);
  assert.equal(hubSettings({ env: { HF_HOME: home } }).token, undefined);
  fs.writeFileSync(path.join(home, 'token'), 'hf_from_file\n');
  assert.equal(hubSettings({ env: { HF_HOME: home } }).token, 'hf_from_file');
  assert.equal(hubSettings({ env: { HF_HOME: home, HF_TOKEN: 'hf_env' } }).token, 'hf_env');
  assert.equal(hubSettings({ env: { HF_HOME: home, HF_TOKEN: 'hf_env' }, token: 'hf_option' }).token, 'hf_option');
  fs.writeFileSync(path.join(home, 'elsewhere'), 'hf_path');
  assert.equal(hubSettings({ env: { HF_HOME: home, HF_TOKEN_PATH: path.join(home, 'elsewhere') } }).token, 'hf_path');
});
