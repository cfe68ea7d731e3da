#!/usr/bin/env node
// The test suite. `npm test` builds the bundles, runs every test file with node's own runner
// (TypeScript through tsx), then the real-workbench e2e (code-server + Chromium). Node 20 has no
// glob for --test, so this collects the files.
//
//   npm test                 everything
//   npm test -- engine gpu   only test files whose path holds "engine" or "gpu" (no e2e)
//   npm test -- e2e          only the e2e
//   npm test -- format       only the formatting check (Prettier; the whole run checks it first)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2);
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

// the package, e2e and engine-process tests use the bundles
if (run(process.execPath, ['tools/build.mjs']) !== 0) process.exit(1);

const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !['fixtures', 'e2e', '.tmp', 'node_modules'].includes(e.name)) walk(p);
    else if (e.name.endsWith('.test.ts') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(path.relative(root, p));
  }
})(path.join(root, 'test'));
files.sort();

let status = 0;
// one formatting for everyone (.prettierrc.json): `npx prettier --write <the globs below>` fixes it
if (filters.length === 0 || filters.includes('format')) {
  const globs = ['src/**/*.ts', 'test/**/*.{ts,mjs}', 'bench/**/*.ts', 'tools/**/*.{mjs,js}'];
  const fmt = run(process.execPath, [path.join(root, 'node_modules/prettier/bin/prettier.cjs'), '--check', '--log-level', 'warn', ...globs]);
  console.log(
    fmt === 0
      ? '# format: every file is formatted'
      : `# format: the files above are not formatted: npx prettier --write ${globs.map((g) => `"${g}"`).join(' ')}`,
  );
  status ||= fmt;
}
if (files.length) status = run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files]);

const wantE2e = filters.length === 0 || filters.includes('e2e');
if (wantE2e) {
  const missing = ['chromium', 'rg'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  if (missing.length && process.getuid?.() !== 0) {
    console.log(`# e2e skipped: ${missing.join(', ')} not installed and not root to apt-get them (bash .ci/run installs them)`);
  } else {
    console.log('# e2e: repozip in a real VS Code workbench (code-server + Chromium)');
    const e2e = run('bash', ['test/e2e/run-e2e.sh']);
    console.log(e2e === 0 ? '# e2e: 1 passed, 0 failed' : '# e2e: 0 passed, 1 failed');
    status ||= e2e;
  }
}
process.exit(status);
