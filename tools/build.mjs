#!/usr/bin/env node
// Bundles the extension, the CLI, the engine host process and the webview script with esbuild.
// onnxruntime-node (native binaries) and vscode (provided by the editor) stay external.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';

const watch = process.argv.includes('--watch');
const node = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, external: ['vscode', 'onnxruntime-node'], logLevel: 'warning' };
const entries = [
  { ...node, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { ...node, entryPoints: ['src/engine/worker/host.ts'], outfile: 'dist/engine-host.js' },
  { bundle: true, platform: 'browser', target: 'es2022', format: 'iife', entryPoints: ['src/webview/main.ts'], outfile: 'media/chat.js', logLevel: 'warning' },
].filter((e) => fs.existsSync(e.entryPoints[0]));

for (const e of entries) {
  if (watch) await (await esbuild.context(e)).watch();
  else await esbuild.build(e);
}
if (fs.existsSync('dist/cli.js')) fs.chmodSync('dist/cli.js', 0o755);
console.log(`built ${entries.map((e) => e.outfile).join(', ')}`);
