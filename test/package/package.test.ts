// The platform VSIX files as `npm run package` makes them (tools/package.mjs). The linux-x64 one —
// the e2e installs it — is packaged and read back with `unzip -l`: under the size budget, its own
// onnxruntime binary, no other platform's. The file lists of all five targets come from vsce on the
// same stage folders without zipping, and are held to the same rules. About 10 s for the VSIX and
// 3 s per list on a busy 2-core machine. `npm run package:check` builds the bundles, then runs this.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const TARGETS = ['linux-x64', 'linux-arm64', 'win32-x64', 'win32-arm64', 'darwin-arm64'];
const BUDGET_MB = 40;
const BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
const BUNDLES = ['dist/extension.js', 'dist/engine-host.js', 'media/chat.js'];
const built = BUNDLES.every((f) => fs.existsSync(path.join(root, f)));
const skip = built ? false : `the bundles are not built (${BUNDLES.join(', ')}): npm run build`;

const packageTool = (...args: string[]) =>
  execFileSync(process.execPath, ['tools/package.mjs', '--no-build', ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const filesOf = (dir: string) => fs.readdirSync(path.join(root, dir)).map((f) => `${dir}/${f}`);

/** Paths of another platform: under a folder named after another OS or architecture, or a native library outside the target's own folder. */
function foreign(files: string[], target: string): string[] {
  const [platform, arch] = target.split('-');
  const others = new Set(TARGETS.flatMap((t) => t.split('-')).filter((w) => w !== platform && w !== arch));
  const own = `${BIN}/${platform}/${arch}/`;
  return files.filter((f) => f.split('/').some((s) => others.has(s)) || (/\.(node|dll|dylib|so(\.\d+)*)$/.test(f) && !f.startsWith(own)));
}

/** What the installed extension runs on, by its path in the checkout. */
function required(target: string): string[] {
  const [platform, arch] = target.split('-');
  const steps: { media: { markdown: string } }[] = pkg.contributes.walkthroughs.flatMap((w: { steps: unknown[] }) => w.steps);
  return [
    'package.json',
    'README.md',
    'LICENSE',
    'ThirdPartyNotices.md',
    'CHANGELOG.md',
    pkg.icon,
    'media/repozip.svg',
    ...BUNDLES,
    'media/chat.css',
    'media/codicon.css',
    'media/codicon.ttf',
    ...steps.map((s) => s.media.markdown),
    ...filesOf('media/calibration'),
    ...filesOf('test/fixtures/tinycode'),
    'node_modules/onnxruntime-node/dist/index.js',
    'node_modules/onnxruntime-common/dist/cjs/index.js',
    `${BIN}/${platform}/${arch}/onnxruntime_binding.node`,
  ];
}

/** Files that have no business in a VSIX: sources, source maps, tests, tools, other dependencies, README images. */
const stray = (files: string[]) =>
  files.filter(
    (f) =>
      /\.(ts|map)$/.test(f) ||
      /^(src|tools|bench|native|scratch|media\/screenshots)\//.test(f) ||
      (f.startsWith('test/') && !f.startsWith('test/fixtures/tinycode/')) ||
      (f.startsWith('node_modules/') && !/^node_modules\/onnxruntime-(node|common)\//.test(f)),
  );

test('the linux-x64 VSIX: under the size budget, its own onnxruntime binary and no other platform’s', { skip }, (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'repozip-vsix-'));
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const started = Date.now();
  packageTool('linux-x64', '--out', out);
  const vsix = path.join(out, `repozip-linux-x64-${pkg.version}.vsix`);
  const mb = fs.statSync(vsix).size / 1024 / 1024;
  t.diagnostic(`linux-x64 VSIX: ${mb.toFixed(1)} MB, packaged in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  assert.ok(mb <= BUDGET_MB, `${mb.toFixed(1)} MB > ${BUDGET_MB} MB`);

  // unzip -l: a header, the entries ("length date time name"), a footer; the extension lives under extension/
  const listing = execFileSync('unzip', ['-l', vsix], { encoding: 'utf8' });
  const files = [...listing.matchAll(/^\s*\d+\s+\S+\s+\S+\s+extension\/(.+)$/gm)].map((m) => m[1]);
  assert.ok(files.length > 20, listing);
  assert.deepEqual(foreign(files, 'linux-x64'), []);
  for (const f of [
    `${BIN}/linux/x64/onnxruntime_binding.node`,
    `${BIN}/linux/x64/libonnxruntime.so.1`,
    'dist/engine-host.js',
    'test/fixtures/tinycode/model.safetensors',
  ])
    assert.ok(files.includes(f), f);
  assert.deepEqual(stray(files), []);
});

test('every target lists what the extension runs on, with its own binaries only', { skip }, () => {
  const lists: Record<string, string[]> = JSON.parse(packageTool('--list').trim().split('\n').at(-1)!);
  assert.deepEqual(Object.keys(lists).sort(), [...TARGETS].sort());
  for (const target of TARGETS) {
    const files = lists[target];
    assert.deepEqual(foreign(files, target), [], target);
    assert.deepEqual(
      required(target).filter((f) => !files.includes(f)),
      [],
      `${target}: missing`,
    );
    assert.deepEqual(stray(files), [], target);
  }
});

test('the rules catch another platform’s binaries', () => {
  const files = [
    `${BIN}/linux/x64/onnxruntime_binding.node`,
    `${BIN}/linux/arm64/onnxruntime_binding.node`,
    `${BIN}/win32/x64/onnxruntime.dll`,
    'lib/darwin/x.js',
    'bin/libonnxruntime.so.1',
  ];
  assert.deepEqual(foreign(files, 'linux-x64'), files.slice(1));
  assert.deepEqual(foreign(files, 'win32-x64'), [files[0], files[1], files[3], files[4]]);
});
