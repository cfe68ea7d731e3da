#!/usr/bin/env node
// Creates the workspace the end-to-end tests open: a small real repository (a few TypeScript files
// and a README, committed with git) that the tiny model can hold whole.
//   node test/e2e/fixture.mjs <dir>
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node fixture.mjs <dir>');
  process.exit(2);
}

const files = {
  'README.md': '# calc\n\nA tiny calculator: `src/math.ts` does the arithmetic, `src/main.ts` reads the command line.\n',
  'src/math.ts': [
    'export function add(a: number, b: number): number {',
    '  return a + b;',
    '}',
    '',
    'export function mul(a: number, b: number): number {',
    '  return a * b;',
    '}',
    '',
  ].join('\n'),
  'src/main.ts': [
    "import { add, mul } from './math';",
    '',
    'const [x, y] = process.argv.slice(2).map(Number);',
    'console.log(`sum ${add(x, y)}, product ${mul(x, y)}`);',
    '',
  ].join('\n'),
  'package.json': JSON.stringify({ name: 'calc', version: '1.0.0', main: 'src/main.ts' }, null, 2) + '\n',
};
for (const [rel, content] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), content);
}
// independent of the machine's git configuration (identity, hooks, default branch)
const env = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'e2e',
  GIT_AUTHOR_EMAIL: 'e2e@example.invalid',
  GIT_COMMITTER_NAME: 'e2e',
  GIT_COMMITTER_EMAIL: 'e2e@example.invalid',
};
const git = (...args) => execFileSync('git', args, { cwd: dir, env, stdio: 'ignore' });
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-q', '-m', 'calc');
console.log(`fixture repository in ${dir}`);
