// Installing the project's dependencies: npm reads this project's configuration without a warning,
// and its install-script gate (package.json `allowScripts`, npm 11.16+) skips onnxruntime-node's
// postinstall, which on Linux x64 downloads the CUDA provider from NuGet and fails the install
// without network. `npm rebuild` runs the same gate `npm ci` does, in seconds; the whole `npm ci`
// from a clean clone takes minutes and is tools/ci/check-npm-ci.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/models';

const npmVersion = spawnSync('npm', ['--version'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
const [major, minor] = npmVersion.split('.').map(Number);
const tooOld =
  !(major > 11 || (major === 11 && minor >= 16)) &&
  `npm ${npmVersion || '(not found)'} ignores allowScripts (npm 11.16+): with it, install with ONNXRUNTIME_NODE_INSTALL=skip npm ci`;

test("npm runs in this project without a warning and skips onnxruntime-node's install script", { skip: tooOld }, () => {
  const run = spawnSync('npm', ['rebuild', 'onnxruntime-node', '--loglevel=info'], {
    cwd: ROOT,
    encoding: 'utf8',
    // should the script run after all, it must fail rather than download: a proxy that refuses (global-agent, which it honours)
    env: { ...process.env, GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9' },
  });
  const said = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, said);
  assert.doesNotMatch(said, /npm warn/, 'no warning (an unknown .npmrc key, an install script not covered by allowScripts)');
  assert.doesNotMatch(said, /run onnxruntime-node@\S+ postinstall/, "onnxruntime-node's postinstall did not run");
});
