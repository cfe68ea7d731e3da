// Runs repozip's mocha suite (test/e2e/suite, bundled by run-e2e.sh) inside code-server's Node
// extension host, the way @vscode/test-web does it for VS Code web: extensionDevelopmentPath and
// extensionTestsPath go in the workbench URL's `payload`, and the workbench calls
// window.codeAutomationExit(code) when the test runner ends.
// Usage: node ext-tests.mjs <server-origin> <workspace-dir> <extension-dev-dir> <tests-module> [out-dir]
// Exits with the test runner's exit code (0 = all passed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';

import { openBrowser } from './browser.mjs';

const [origin, workspace, devPath, testsPath, outDir = path.join(os.tmpdir(), 'ext-tests-out')] = process.argv.slice(2);
if (!origin || !workspace || !devPath || !testsPath) {
  console.error('usage: node ext-tests.mjs <server-origin> <workspace-dir> <extension-dev-dir> <tests-module> [out-dir]');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const T = Number(process.env.E2E_TIMEOUT_MS || 180000);
const authority = new URL(origin).host; // remote authority = host:port of the server
const remote = (p) => `vscode-remote://${authority}${path.resolve(p)}`;
const payload = [
  ['extensionDevelopmentPath', remote(devPath)],
  ['extensionTestsPath', remote(testsPath)],
];
const url = `${origin}/?folder=${encodeURIComponent(path.resolve(workspace))}&payload=${encodeURIComponent(JSON.stringify(payload))}`;

const { page, close } = await openBrowser(outDir);
const lines = [];
page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));

let code = 1;
try {
  const exit = new Promise((resolve) => page.exposeFunction('codeAutomationExit', (c) => resolve(c)));
  // The workbench forwards its log (incl. the extension host's console, i.e. mocha's reporter) here.
  const quiet = new Set(['trace', 'debug']);
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const text = util.format(...(Array.isArray(args) ? args : [args]));
    lines.push(`[automation ${type}] ${text}`);
    if (!quiet.has(type)) console.log(text);
  });
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: T });
  code = await Promise.race([exit, new Promise((_, rej) => setTimeout(() => rej(new Error(`no codeAutomationExit within ${T} ms`)), T))]);
  console.log(`extension tests finished with exit code ${code}`);
} catch (e) {
  console.error('ext-tests failed:', e.message);
  await page.screenshot({ path: path.join(outDir, 'ext-tests-failure.png') }).catch(() => {});
  code = 1;
} finally {
  fs.writeFileSync(path.join(outDir, 'ext-tests-console.log'), lines.join('\n') + '\n');
  await close();
}
process.exit(code === 0 ? 0 : 1);
