// The check activation makes before starting the engine: is onnxruntime-node's binary for this
// platform in the installed extension, and if not, does the message name the platform and a way out.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';
import { bindingPath, RUNTIME_PLATFORMS, runtimeProblem } from '../../src/extension/runtime';

const EXT = path.join('/ext', 'repozip.repozip-0.1.0-linux-x64');
/** An installed extension holding the binaries of these targets only. */
const installed = (...targets: string[]) => {
  const files = new Set(targets.map((t) => bindingPath(EXT, ...(t.split('-') as [string, string]))));
  return (file: string) => files.has(file);
};

test('the binary for this platform in place: no problem', () => {
  assert.equal(runtimeProblem(EXT, 'linux', 'x64', installed('linux-x64')), undefined);
  assert.equal(runtimeProblem(EXT, 'darwin', 'arm64', installed('darwin-arm64')), undefined);
});

test('macOS on Intel: no onnxruntime build; the message names it, the platforms that work and what to do', () => {
  const m = runtimeProblem(EXT, 'darwin', 'x64', installed('darwin-arm64'));
  assert.ok(m);
  assert.match(m, /macOS x64 \(darwin-x64\)/);
  assert.match(m, /no build for it/);
  assert.match(m, /Linux x64, Linux arm64, Windows x64, Windows arm64, macOS arm64/);
  assert.match(m, /Remote - SSH|dev container/);
  assert.match(m, /Apple-silicon build of VS Code/);
});

test('any other platform without a build (Linux on 32-bit ARM, FreeBSD) gets the same answer, without the Mac hint', () => {
  for (const [platform, arch, name] of [
    ['linux', 'arm', 'Linux arm'],
    ['freebsd', 'x64', 'freebsd x64'],
  ]) {
    const m = runtimeProblem(EXT, platform, arch, installed('linux-x64'));
    assert.ok(m);
    assert.ok(m.includes(`${name} (${platform}-${arch})`), m);
    assert.doesNotMatch(m, /Apple-silicon/);
  }
});

test("a supported platform whose binary is missing: the wrong platform's VSIX was installed", () => {
  const m = runtimeProblem(EXT, 'linux', 'arm64', installed('linux-x64'));
  assert.ok(m);
  assert.match(m, /packaged for another platform/);
  assert.match(m, /repozip-linux-arm64-<version>\.vsix/);
  // another architecture's binary of the same OS does not count
  assert.ok(runtimeProblem(EXT, 'win32', 'x64', installed('win32-arm64')));
});

test('the supported platforms are exactly those onnxruntime-node ships binaries for, where bindingPath looks', () => {
  const bin = path.join(__dirname, '..', '..', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
  const shipped = fs.readdirSync(bin).flatMap((p) => fs.readdirSync(path.join(bin, p)).map((a) => `${p}-${a}`));
  assert.deepEqual([...shipped].sort(), [...RUNTIME_PLATFORMS].sort());
  for (const t of RUNTIME_PLATFORMS) assert.ok(fs.existsSync(bindingPath(path.join(__dirname, '..', '..'), ...(t.split('-') as [string, string]))), t);
});
