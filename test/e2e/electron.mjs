#!/usr/bin/env node
// `npm run test:electron`: the extension-host suite in desktop VS Code through @vscode/test-electron,
// for machines that have VS Code (a developer's laptop, CI with a cached build). VSCODE_EXECUTABLE
// names an installed `code`; without it test-electron downloads VS Code. Where neither is possible
// (no network to the VS Code update server, as on the project's machines) this says so and exits 0:
// the same suite runs in code-server through `npm run test:e2e`. Headless Linux needs `xvfb-run -a`.
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSuite } from './build-suite.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..', '..');
const VERSION = '1.100.3'; // the engines.vscode floor, and code-server 4.100.3's VS Code

const offline = (e) =>
  /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|fetch failed|getaddrinfo|socket hang up/i.test(`${e?.code ?? ''} ${e?.message ?? e}`);

let executable = process.env.VSCODE_EXECUTABLE;
if (!executable) {
  try {
    executable = await downloadAndUnzipVSCode({ version: VERSION, cachePath: path.join(root, '.e2e', 'vscode-test') });
  } catch (e) {
    if (!offline(e)) throw e;
    console.log(`SKIP test:electron: desktop VS Code ${VERSION} cannot be downloaded here (${(e.message ?? String(e)).split('\n')[0]}).`);
    console.log('Set VSCODE_EXECUTABLE=/path/to/code to run the suite in an installed VS Code; `npm run test:e2e` runs it in code-server.');
    process.exit(0);
  }
}

execFileSync(process.execPath, [path.join(root, 'tools', 'build.mjs')], { cwd: root, stdio: 'inherit' });
const tests = await buildSuite();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repozip-electron-'));
try {
  const ws = path.join(tmp, 'calc');
  execFileSync(process.execPath, [path.join(here, 'fixture.mjs'), ws], { stdio: 'inherit' });
  const user = path.join(tmp, 'user-data', 'User');
  fs.mkdirSync(user, { recursive: true });
  const settings = {
    'repozip.model': path.join(root, 'test', 'fixtures', 'tinycode'),
    'repozip.device': 'cpu',
    'repozip.maxAnswerTokens': 64,
    'security.workspace.trust.enabled': false,
  };
  fs.writeFileSync(path.join(user, 'settings.json'), JSON.stringify(settings, null, 2));
  await runTests({
    vscodeExecutablePath: executable,
    extensionDevelopmentPath: root,
    extensionTestsPath: tests,
    launchArgs: [ws, '--disable-extensions', `--user-data-dir=${path.join(tmp, 'user-data')}`, `--extensions-dir=${path.join(tmp, 'extensions')}`],
  });
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
