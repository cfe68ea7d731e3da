#!/usr/bin/env node
// Bundles the extension, the CLI, the engine host process and the webview script with esbuild.
// onnxruntime-node (native binaries) and vscode (provided by the editor) stay external.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';

const watch = process.argv.includes('--watch');
// `node tools/build.mjs webview` builds only the entries whose source path contains "webview".
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['vscode', 'onnxruntime-node'],
  logLevel: 'warning',
};
const entries = [
  { ...node, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { ...node, entryPoints: ['src/engine/worker/host.ts'], outfile: 'dist/engine-host.js' },
  { bundle: true, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: ['src/webview/main.ts'], outfile: 'media/chat.js', logLevel: 'warning' },
].filter((e) => fs.existsSync(e.entryPoints[0]) && (only.length === 0 || only.some((o) => e.entryPoints[0].includes(o))));

for (const e of entries) {
  if (watch) await (await esbuild.context(e)).watch();
  else await esbuild.build(e);
}
if (fs.existsSync('dist/cli.js')) fs.chmodSync('dist/cli.js', 0o755);
// The webview's CSP allows fonts only from the extension, so the codicon font ships in media/.
if (entries.some((e) => e.outfile === 'media/chat.js')) {
  for (const f of ['codicon.css', 'codicon.ttf']) fs.copyFileSync(`node_modules/@vscode/codicons/dist/${f}`, `media/${f}`);
}
console.log(`built ${entries.map((e) => e.outfile).join(', ')}`);
