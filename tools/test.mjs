#!/usr/bin/env node
// Runs the test suite with node's own runner (TypeScript through tsx). Node 20 has no glob for
// --test, so this collects the files. `npm test -- engine` runs only files whose path has "engine".
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !['fixtures', 'e2e', '.tmp', 'node_modules'].includes(e.name)) walk(p);
    else if (e.name.endsWith('.test.ts') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(path.relative(root, p));
  }
})(path.join(root, 'test'));
files.sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
