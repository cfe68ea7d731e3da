// What to keep when the repository does not fit the token budget. The rule:
//   1. files are ranked by kind — key files (the root README, build manifests anywhere), then
//      source, then docs and examples, then tests and their fixtures: a question about a
//      repository is most often about what its code does, and tests mostly restate it;
//   2. within a kind, smaller files first (by bytes, then path): more of the repository's files
//      get represented, and one huge file cannot crowd out dozens of others;
//   3. files are taken greedily in that rank while they fit; one that does not fit is left out and
//      the next, smaller-ranked one is still tried.
// The chosen files keep their stability order in the context (order.ts); this rank only decides
// who is in.
import { comparePaths } from './list';

export type FileKind = 'key' | 'source' | 'docs' | 'tests';

const KIND_RANK: Record<FileKind, number> = { key: 0, source: 1, docs: 2, tests: 3 };

const MANIFESTS = new Set([
  'package.json',
  'tsconfig.json',
  'deno.json',
  'Cargo.toml',
  'pyproject.toml',
  'setup.py',
  'setup.cfg',
  'requirements.txt',
  'go.mod',
  'pom.xml',
  'build.gradle',
  'build.gradle.kts',
  'settings.gradle',
  'CMakeLists.txt',
  'Makefile',
  'meson.build',
  'Gemfile',
  'composer.json',
  'mix.exs',
  'pubspec.yaml',
  'Package.swift',
  'BUILD.bazel',
  'MODULE.bazel',
]);
const TEST_DIRS = new Set(['test', 'tests', '__tests__', 'spec', 'specs', 'e2e', 'fixtures', '__fixtures__', 'testdata', '__snapshots__', '__mocks__']);
const TEST_NAME = /^test_|_test\.|\.test\.|\.spec\.|Tests?\.(java|kt|cs|swift)$/;
const DOC_DIRS = new Set(['docs', 'doc', 'documentation', 'examples', 'example']);
const DOC_NAME = /\.(md|mdx|markdown|rst|txt|adoc|org|csv|tsv)$|^(LICENSE|LICENCE|COPYING|NOTICE|AUTHORS|CHANGELOG|CHANGES)$/i;

export function fileKind(p: string): FileKind {
  const parts = p.split('/');
  const base = parts[parts.length - 1];
  if (MANIFESTS.has(base) || (parts.length === 1 && /^readme\b/i.test(base))) return 'key';
  const dirs = parts.slice(0, -1);
  if (dirs.some((d) => TEST_DIRS.has(d)) || TEST_NAME.test(base)) return 'tests';
  if (dirs.some((d) => DOC_DIRS.has(d)) || DOC_NAME.test(base)) return 'docs';
  return 'source';
}

/** `files` in the order the budget considers them (rules 1 and 2). */
export function budgetRank<T extends { path: string; bytes: number }>(files: readonly T[]): T[] {
  const rank = new Map(files.map((f) => [f, KIND_RANK[fileKind(f.path)]]));
  return [...files].sort((a, b) => rank.get(a)! - rank.get(b)! || a.bytes - b.bytes || comparePaths(a.path, b.path));
}
