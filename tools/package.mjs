#!/usr/bin/env node
// `npm run package`: one VSIX per platform that onnxruntime-node has binaries for, each carrying only
// its own platform's binaries, into dist-vsix/ (repozip-<target>-<version>.vsix).
//   node tools/package.mjs [target…]   only these targets (linux-x64, darwin-arm64, …)
//   --out DIR     write the VSIX files there instead
//   --no-build    package the bundles as they are (the tests: never rewrite a dist/ file that an
//                 editor or e2e run may be loading)
//   --list        print each target's file list as JSON instead of packaging
//
// vsce packages the folder it runs in and reads every file under it before .vscodeignore filters
// them; in a checkout that means test scratch folders and e2e caches, minutes of matching. So each
// target is packaged from a stage folder holding only what .vscodeignore's allow-list names, the
// production dependency tree (vsce asks `npm ls` for it, which fails on a partial tree), and of
// onnxruntime-node's binaries the target's own folder. Nothing is fetched.
import { createVSIX, listFiles } from '@vscode/vsce';
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// onnxruntime-node lays its binaries out as <platform>/<arch>, the two halves of a vsce target.
const available = fs.readdirSync(path.join(root, BIN)).flatMap((p) => fs.readdirSync(path.join(root, BIN, p)).map((a) => `${p}-${a}`));
const { values: opts, positionals: asked } = parseArgs({
  options: { out: { type: 'string' }, 'no-build': { type: 'boolean' }, list: { type: 'boolean' } },
  allowPositionals: true,
});
const out = path.resolve(opts.out ?? path.join(root, 'dist-vsix'));
const unknown = asked.filter((t) => !available.includes(t));
if (unknown.length) {
  console.error(`no onnxruntime-node binaries for ${unknown.join(', ')}; targets: ${available.join(', ')}`);
  process.exit(2);
}
const targets = asked.length ? asked : available;

/** What the stage holds besides the dependency tree: the allow-list's paths, each cut before its first wildcard. */
function allowListed() {
  const patterns = fs
    .readFileSync(path.join(root, '.vscodeignore'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('!'));
  return patterns.map((p) => {
    const parts = p.slice(1).split('/');
    const wild = parts.findIndex((s) => /[*?[{]/.test(s));
    return parts.slice(0, wild < 0 ? parts.length : wild).join('/');
  });
}

/** The production dependency tree's folders, relative to the root (the root itself left out). */
function dependencyTree() {
  const out = execSync('npm ls --omit=dev --all --parseable', { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .split('\n')
    .filter((d) => d && path.resolve(d) !== root)
    .map((d) => path.relative(root, d));
}

/** Whether rel lies in onnxruntime-node's binaries but neither in ownBin nor on the way to it. */
const otherBinary = (rel, ownBin) => rel.startsWith(`${BIN}/`) && !rel.startsWith(`${ownBin}/`) && !`${ownBin}/`.startsWith(`${rel}/`);

/** Copies rel (a file, or a folder recursively) from the checkout into the stage, minus other targets' binaries. */
function copy(rel, stage, ownBin) {
  const from = path.join(root, rel);
  if (otherBinary(rel, ownBin)) return;
  if (!fs.existsSync(from)) return; // an allow-listed file not built or written yet: the package test names it
  if (fs.statSync(from).isDirectory()) return fs.readdirSync(from).forEach((e) => copy(`${rel}/${e}`, stage, ownBin));
  fs.mkdirSync(path.dirname(path.join(stage, rel)), { recursive: true });
  fs.copyFileSync(from, path.join(stage, rel));
}

/** Runs fn on a fresh stage folder for target, then removes the folder. */
async function inStage(target, fn) {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `repozip-${target}-`));
  try {
    const ownBin = `${BIN}/${target.replace('-', '/')}`;
    for (const rel of ['.vscodeignore', ...entries]) copy(rel, stage, ownBin);
    // The bundles are built once for all targets; vsce would otherwise rebuild them in every stage.
    const { 'vscode:prepublish': _, ...scripts } = manifest.scripts;
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ ...manifest, scripts }, null, 2));
    return await fn(stage);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

const entries = [...new Set([...allowListed(), ...dependencyTree()])];
if (opts.list) {
  const lists = {};
  for (const target of targets) lists[target] = (await inStage(target, (stage) => listFiles({ cwd: stage }))).sort();
  console.log(JSON.stringify(lists));
} else {
  if (!opts['no-build']) execSync('npm run --silent vscode:prepublish', { cwd: root, stdio: 'inherit' });
  fs.mkdirSync(out, { recursive: true });
  const sizes = [];
  for (const target of targets) {
    const vsix = path.join(out, `${manifest.name}-${target}-${manifest.version}.vsix`);
    await inStage(target, (stage) => createVSIX({ cwd: stage, target, packagePath: vsix }));
    const shown = vsix.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), vsix) : vsix;
    sizes.push(`${shown}  ${(fs.statSync(vsix).size / 1024 / 1024).toFixed(1)} MB`);
  }
  console.log(`\n${sizes.join('\n')}`); // after vsce's file trees, one line per VSIX
}
