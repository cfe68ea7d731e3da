// The built webview script: it exists, loads nothing from the network, and the codicon font ships
// next to it. URLs may appear only inside bundled libraries (markdown-it's doc links and
// linkify's "http://" prefixing), never in our own code.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '../..');

describe('webview bundle', () => {
  const build = spawnSync(process.execPath, ['tools/build.mjs', 'webview'], { cwd: root, encoding: 'utf8' });

  it('builds media/chat.js and copies the codicons', () => {
    assert.equal(build.status, 0, build.stderr);
    for (const f of ['chat.js', 'chat.css', 'codicon.css', 'codicon.ttf']) assert.ok(fs.statSync(path.join(root, 'media', f)).size > 0, f);
  });

  it('makes no network requests', () => {
    const js = fs.readFileSync(path.join(root, 'media/chat.js'), 'utf8');
    assert.doesNotMatch(js, /\bfetch\(|XMLHttpRequest|WebSocket|EventSource|sendBeacon|importScripts|\bimport\(|\beval\(|new Function\(/);
    // esbuild marks each module with a `// path` comment and gathers license comments (with
    // their URLs) after the code; split the code on the markers.
    const code = js.slice(0, js.lastIndexOf('})();'));
    const modules = code.split(/^ {2}\/\/ (\S+)$/m);
    const ours = modules.filter((_, i) => i % 2 === 0 && modules[i - 1]?.startsWith('src/'));
    assert.ok(ours.length >= 5, 'the bundle keeps its module markers');
    for (const source of ours) assert.doesNotMatch(source, /https?:\/\//);
  });

  it('uses the codicon font from next to its CSS', () => {
    const css = fs.readFileSync(path.join(root, 'media/codicon.css'), 'utf8');
    const urls = [...css.matchAll(/url\(["']?([^"')]+)/g)].map((m) => m[1]);
    assert.deepEqual(
      urls.map((u) => u.replace(/\?.*/, '')),
      ['./codicon.ttf'],
    );
  });
});
