// ARCHITECTURE.md's layers, read from the imports of every file under src/: a forbidden import fails
// with its file:line, and so does an import cycle between the engine's parts (its folders, and each
// file at its top level) other than the ones listed below with the reason they remain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ImportEdge, importsOf, scanImports } from './imports';

const ROOT = path.resolve(__dirname, '..', '..');

interface Rule {
  /** Files under this folder… */
  from: string;
  /** …import none of these: a folder (ending in '/') or a package name. */
  forbid: string[];
  /** …except these exact targets (a folder's index file). */
  allow?: string[];
  why: string;
}

const ONNXRUNTIME = ['onnxruntime-node', 'onnxruntime-common'];
const RULES: Rule[] = [
  { from: 'src/engine/', forbid: ['vscode', 'src/extension/', 'src/cli/'], why: 'the engine runs in a child process and under the CLI, below both' },
  { from: 'src/webview/', forbid: ['vscode', 'src/engine/'], why: 'the chat panel is bundled into a browser page' },
  { from: 'src/repo/', forbid: ['vscode', ...ONNXRUNTIME, 'src/engine/'], why: 'listing and layout serve the engine and the CLI and run no model' },
  { from: 'src/engine/kv/presses/', forbid: ['src/repo/'], why: 'a press scores what it is given; calibration.ts reads the calibration repository' },
  { from: 'src/cli/', forbid: ['vscode', 'src/extension/'], why: 'the CLI runs without VS Code' },
  { from: 'src/cli/', forbid: ['src/engine/'], allow: ['src/engine'], why: "the CLI uses the engine's public face, src/engine/index.ts" },
  { from: 'src/extension/', forbid: ONNXRUNTIME, why: "the extension host's event loop never runs a model" },
  {
    from: 'src/extension/',
    forbid: ['src/engine/'],
    allow: ['src/engine/editor'],
    why: "the extension uses the engine's face for the editor, src/engine/editor.ts: the engine process's client, its protocol, onnxruntime-free lists",
  },
];

function forbids(rule: Rule, e: ImportEdge): boolean {
  if (!e.file.startsWith(rule.from) || rule.allow?.includes(e.target)) return false;
  return rule.forbid.some((f) => (f.endsWith('/') ? `${e.target}/`.startsWith(f) : e.target === f));
}

function violations(edges: ImportEdge[]): string[] {
  return edges.flatMap((e) => RULES.filter((r) => forbids(r, e)).map((r) => `${e.file}:${e.line} imports '${e.specifier}' (${r.from} must not: ${r.why})`));
}

const ENGINE = 'src/engine/';

/** The engine part a file belongs to: its folder under src/engine, or the top-level file itself. */
function part(file: string): string {
  const [first, ...rest] = file.slice(ENGINE.length).split('/');
  return rest.length ? first : first.replace(/\.ts$/, '');
}

/**
 * Imports between engine parts that close a cycle and stay, each with what keeps it. The rest of
 * the graph must be acyclic with these left out.
 */
const ALLOWED_BACK_EDGES: Record<string, string> = {
  'kv -> model':
    'kv/ holds both the cache, which model.ts builds and feeds, and compression, which runs the model (press.ts, compress.ts). ' +
    'Moving cache.ts and device-cache.ts to a folder of their own below model/ removes it (service.ts, store/ and segments/ import them from kv/).',
};

/** Distinct edges between engine parts, each with one import that makes it. */
function partGraph(edges: ImportEdge[]): Map<string, ImportEdge> {
  const graph = new Map<string, ImportEdge>();
  for (const e of edges) {
    if (!e.file.startsWith(ENGINE) || !e.target.startsWith(ENGINE)) continue;
    const [a, b] = [part(e.file), part(e.target)];
    if (a !== b && !graph.has(`${a} -> ${b}`)) graph.set(`${a} -> ${b}`, e);
  }
  return graph;
}

/** One cycle of the graph, as its edges, or null when it has none. */
function findCycle(graph: Map<string, ImportEdge>): string[] | null {
  const out = new Map<string, string[]>();
  for (const key of graph.keys()) {
    const [a, b] = key.split(' -> ');
    out.set(a, [...(out.get(a) ?? []), b]);
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of out.get(n) ?? []) {
      if (state.get(m) === 'open') {
        const loop = [...stack.slice(stack.indexOf(m)), m];
        return loop.slice(1).map((x, i) => `${loop[i]} -> ${x}`);
      }
      const found = state.has(m) ? null : visit(m);
      if (found) return found;
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of out.keys()) {
    const found = state.has(n) ? null : visit(n);
    if (found) return found;
  }
  return null;
}

const where = (graph: Map<string, ImportEdge>, edge: string) => `${edge} (${graph.get(edge)!.file}:${graph.get(edge)!.line})`;

test('no file imports across a layer boundary (ARCHITECTURE.md)', () => {
  const edges = scanImports(ROOT, 'src');
  assert.ok(
    edges.length > 300 && edges.some((e) => e.file === 'src/engine/kv/compress.ts' && e.target === 'src/engine/kv/select'),
    'the scan reads the sources',
  );
  assert.deepEqual(violations(edges), []);
});

test('the layer check finds a forbidden import wherever the syntax puts it, and ignores comments and strings', () => {
  const text = [
    "// import * as vscode from 'vscode';",
    'const s = "require(\'vscode\')";',
    'import {',
    '  buildRepoContext,',
    "} from '../../../repo';",
    "export { x } from '../../../extension/models';",
    "const ort = require('onnxruntime-node');",
    "import type { Disposable } from 'vscode';",
  ].join('\n');
  assert.deepEqual(violations(importsOf('src/engine/kv/presses/new.ts', text)), [
    "src/engine/kv/presses/new.ts:5 imports '../../../repo' (src/engine/kv/presses/ must not: a press scores what it is given; calibration.ts reads the calibration repository)",
    "src/engine/kv/presses/new.ts:6 imports '../../../extension/models' (src/engine/ must not: the engine runs in a child process and under the CLI, below both)",
    "src/engine/kv/presses/new.ts:8 imports 'vscode' (src/engine/ must not: the engine runs in a child process and under the CLI, below both)",
  ]);
  assert.deepEqual(violations(importsOf('src/repo/list.ts', "import * as ort from 'onnxruntime-node';\nimport { x } from './ignore';")).length, 1);
});

test('no import cycle between the engine parts but the listed ones, and each listed one still exists', () => {
  const graph = partGraph(scanImports(ROOT, 'src/engine'));
  for (const edge of Object.keys(ALLOWED_BACK_EDGES)) assert.ok(graph.has(edge), `${edge} is gone: remove it from ALLOWED_BACK_EDGES`);
  for (const edge of Object.keys(ALLOWED_BACK_EDGES)) graph.delete(edge);
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import cycle: ${cycle?.map((e) => where(graph, e)).join(', ')}`);
});

test('the cycle check reports a cycle through the engine parts', () => {
  const edges = [
    ...importsOf('src/engine/kv/compress.ts', "import { ChunkSizer } from '../generate';"),
    ...importsOf('src/engine/generate.ts', "import { Cache } from './kv/cache';"),
    ...importsOf('src/engine/store/store.ts', "import { Cache } from '../kv/cache';"),
  ];
  assert.deepEqual(findCycle(partGraph(edges)), ['kv -> generate', 'generate -> kv']);
});
