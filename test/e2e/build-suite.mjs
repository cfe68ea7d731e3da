#!/usr/bin/env node
// Bundles the extension-host suite (suite/index.ts and extension.suite.ts) into test/e2e/out/suite/,
// inside the repository so that the external `mocha` resolves from its node_modules. Prints the
// runner's path (what extensionTestsPath takes). Used by run-e2e.sh and electron.mjs.
import * as esbuild from 'esbuild';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
export const suiteDir = path.join(here, 'out', 'suite');

export async function buildSuite() {
  await esbuild.build({
    entryPoints: [path.join(here, 'suite', 'index.ts'), path.join(here, 'suite', 'extension.suite.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode', 'mocha'],
    outdir: suiteDir,
    logLevel: 'warning',
  });
  return path.join(suiteDir, 'index.js');
}

if (process.argv[1] === new URL(import.meta.url).pathname) console.log(await buildSuite());
