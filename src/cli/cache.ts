// `repozip cache ...`: see, delete and trim the compressed snapshots on disk, so that a cache that
// misbehaves is one command away from gone, and nobody has to find the folder first.
import * as fsp from 'node:fs/promises';
import { EngineError } from '../engine/errors';
import { formatBytes } from '../engine/hub/format';
import { defaultCacheRoot } from '../engine/model/convert';
import { checkpointDir, CheckpointStore, trimCaches } from '../engine/store/checkpoint';
import { DEFAULT_BUDGET_BYTES, defaultSnapshotDir, SnapshotEntry, SnapshotStore } from '../engine/store/store';
import { parse } from './args';
import { Command, printJson } from './command';

const usage = [
  'repozip cache ls [--cache-dir D] [--json]',
  '       repozip cache rm <key>... | --all [--cache-dir D] [--json]',
  '       repozip cache gc [--budget SIZE] [--cache-dir D] [--json]   (prefill checkpoints count too, and go first)',
  '  D: the cache root, as for every command (snapshots live in D/snapshots)',
  '  key: any unique prefix of a snapshot key',
  '  SIZE: bytes, or 500M, 4G, 1.5T (binary units); default 4G',
].join('\n');

const options = { 'cache-dir': { type: 'string' }, json: { type: 'boolean' }, all: { type: 'boolean' }, budget: { type: 'string' } } as const;

export const cacheCommand: Command = {
  name: 'cache',
  summary: 'list, delete or trim the compressed repository caches on disk',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    const { values: v, positionals } = parse(rest, options, usage);
    if (sub !== 'rm' && positionals.length) throw new EngineError('bad-input', `unexpected argument "${positionals[0]}"\nusage: ${usage}`);
    const store = new SnapshotStore(defaultSnapshotDir(v['cache-dir'] ?? defaultCacheRoot()));
    if (sub === 'ls') return ls(store, v.json);
    if (sub === 'rm') return rm(store, positionals, v.all, v.json);
    if (sub === 'gc') return gc(store, parseSize(v.budget ?? String(DEFAULT_BUDGET_BYTES)), v.json);
    throw new EngineError('bad-input', `unknown cache command "${sub ?? ''}"\nusage: ${usage}`);
  },
};

/** What `ls --json` prints per snapshot: the header's summary, not its file map. */
function summary(e: SnapshotEntry) {
  const h = e.header;
  const repo = h && (h.meta.repoRoot ?? h.meta.repoName);
  return {
    key: e.key,
    bytes: e.bytes,
    lastUsed: e.lastUsed.toISOString(),
    created: h?.createdAt,
    modelId: h?.modelId,
    ratio: h?.ratio,
    dtype: h?.dtype,
    press: h?.press,
    contextLength: h?.contextLength,
    files: h?.files.length,
    repo: typeof repo === 'string' ? repo : undefined,
    problem: e.problem,
  };
}

async function ls(store: SnapshotStore, json?: boolean): Promise<number> {
  const rows = (await store.list()).map(summary);
  const cks = await new CheckpointStore(checkpointDir(store.dir)).list();
  const checkpoints = { count: cks.length, bytes: cks.reduce((n, c) => n + c.bytes, 0) };
  if (json) {
    printJson({ dir: store.dir, snapshots: rows, checkpoints });
    return 0;
  }
  const when = (iso?: string) => (iso ? iso.slice(0, 16).replace('T', ' ') : '');
  const table = [
    ['KEY', 'SIZE', 'LAST USED', 'CREATED', 'MODEL', 'RATIO', 'KV', 'REPO'],
    ...rows.map((r) =>
      r.problem
        ? [r.key.slice(0, 16), formatBytes(r.bytes), when(r.lastUsed), `damaged: ${r.problem}`]
        : [r.key.slice(0, 16), formatBytes(r.bytes), when(r.lastUsed), when(r.created), r.modelId ?? '', String(r.ratio), r.dtype ?? '', r.repo ?? ''],
    ),
  ];
  // the last cell of a row is never padded, so it does not widen its column (a long problem text)
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => (i < row.length - 1 ? row[i].length : 0))));
  for (const row of table) console.log(row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]) : c)).join('  '));
  const total = rows.reduce((n, r) => n + r.bytes, 0);
  console.log(`${rows.length} snapshot${rows.length === 1 ? '' : 's'}, ${formatBytes(total)} in ${store.dir}`);
  // each repository's last full, uncompressed cache, kept so that the next build after an edit is incremental
  if (checkpoints.count) console.log(`${checkpoints.count} prefill checkpoint${checkpoints.count === 1 ? '' : 's'}, ${formatBytes(checkpoints.bytes)} in ${checkpointDir(store.dir)}`);
  return 0;
}

async function rm(store: SnapshotStore, prefixes: string[], all?: boolean, json?: boolean): Promise<number> {
  if (Boolean(all) === prefixes.length > 0) throw new EngineError('bad-input', `give the keys to delete, or --all\nusage: ${usage}`);
  const keys = (await store.list()).map((e) => e.key);
  const chosen = all ? keys : await Promise.all(prefixes.map((p) => chooseKey(store, keys, p)));
  for (const key of chosen) await store.remove(key);
  if (all) {
    await store.cleanupStale();
    // each repository's last full, uncompressed cache: derived from its code as much as a snapshot is
    await fsp.rm(checkpointDir(store.dir), { recursive: true, force: true });
  }
  if (json) printJson({ removed: chosen });
  else console.log(`deleted ${chosen.length} snapshot${chosen.length === 1 ? '' : 's'}`);
  return 0;
}

/**
 * The one snapshot a key prefix names. A whole key also names whatever is in a snapshot's way (a
 * folder): the engine's error about it says to remove it with `cache rm <key>`.
 */
async function chooseKey(store: SnapshotStore, keys: string[], prefix: string): Promise<string> {
  const hits = keys.filter((k) => k.startsWith(prefix));
  if (hits.length === 0 && (await store.occupied(prefix))) return prefix;
  if (hits.length !== 1) throw new EngineError('bad-input', hits.length ? `"${prefix}" matches ${hits.length} snapshots; give more of the key` : `no snapshot key starts with "${prefix}"`);
  return hits[0];
}

async function gc(store: SnapshotStore, budget: number, json?: boolean): Promise<number> {
  await store.cleanupStale();
  const r = await trimCaches(store, budget);
  if (json) printJson({ removed: r.removed, checkpoints: r.checkpoints, bytes: r.bytes, budget });
  else console.log(`deleted ${r.removed.length} snapshot${r.removed.length === 1 ? '' : 's'} and ${r.checkpoints.length} prefill checkpoint${r.checkpoints.length === 1 ? '' : 's'}; ${formatBytes(r.bytes)} left (budget ${formatBytes(budget)})`);
  return 0;
}

/** "4G" → 4 GiB; plain numbers are bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(s.trim());
  if (!m) throw new EngineError('bad-input', `--budget must be a size like 500M or 4G, got "${s}"`);
  return Math.floor(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' '));
}
