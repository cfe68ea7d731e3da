// `repozip cache ...`: see, delete and trim the snapshots on disk, so that a cache that misbehaves
// is one command away from gone, and nobody has to find the folder first. A snapshot is a manifest
// naming segments; a segment is stored once however many snapshots name it, so sizes count shared
// segments once, and deleting snapshots deletes only the segments that no snapshot names any more.
import {
  Collected,
  collectGarbage,
  DEFAULT_BUDGET_BYTES,
  defaultCacheRoot,
  defaultSnapshotDir,
  EngineError,
  formatBytes,
  ManifestEntry,
  removeSnapshots,
  SegmentStores,
} from '../engine';
import { parse } from './args';
import { remoteCache, remoteCacheUsage } from './cache-remote';
import { Command, printJson } from './command';

const usage = [
  'repozip cache ls [--cache-dir D] [--json]',
  '       repozip cache rm <key>... | --all [--cache-dir D] [--json]',
  '       repozip cache gc [--budget SIZE] [--cache-dir D] [--json]',
  `       ${remoteCacheUsage}`,
  '  D: the cache root, as for every command (snapshots live in D/snapshots)',
  '  key: any unique prefix of a snapshot key, or a whole segment key (named by an error about it)',
  '  SIZE: bytes, or 500M, 4G, 1.5T (binary units); default 4G',
].join('\n');

const options = { 'cache-dir': { type: 'string' }, json: { type: 'boolean' }, all: { type: 'boolean' }, budget: { type: 'string' } } as const;

export const cacheCommand: Command = {
  name: 'cache',
  summary: 'list, delete or trim the compressed repository caches on disk; push them to or pull them from a team’s S3 store',
  usage,
  async run(argv, signal) {
    const [sub, ...rest] = argv;
    if (sub === 'push' || sub === 'pull') return remoteCache(sub, rest, signal);
    const { values: v, positionals } = parse(rest, options, usage);
    if (sub !== 'rm' && positionals.length) throw new EngineError('bad-input', `unexpected argument "${positionals[0]}"\nusage: ${usage}`);
    const stores = new SegmentStores(defaultSnapshotDir(v['cache-dir'] ?? defaultCacheRoot()));
    if (sub === 'ls') return ls(stores, v.json);
    if (sub === 'rm') return rm(stores, positionals, v.all, v.json);
    if (sub === 'gc') return gc(stores, parseSize(v.budget ?? String(DEFAULT_BUDGET_BYTES)), v.json);
    throw new EngineError('bad-input', `unknown cache command "${sub ?? ''}"\nusage: ${usage}`);
  },
};

/** What `ls --json` prints per snapshot: the manifest's summary, not its segments. */
function summary(e: ManifestEntry, sizes: ReadonlyMap<string, number>) {
  const m = e.manifest;
  const keys = new Set(m?.keys);
  return {
    key: e.key,
    segments: m?.keys.length,
    bytes: [...keys].reduce((n, k) => n + (sizes.get(k) ?? 0), 0),
    lastUsed: e.lastUsed.toISOString(),
    created: m?.createdAt,
    modelId: m?.modelId,
    ratio: m?.settings.ratio,
    dtype: m?.settings.dtype,
    press: m?.settings.press,
    files: m?.listing.length,
    repo: m?.root,
    problem: e.problem,
  };
}

async function ls(stores: SegmentStores, json?: boolean): Promise<number> {
  const entries = await stores.manifests.scan();
  const files = await stores.segments.files();
  const sizes = new Map(files.map((f) => [f.key, f.bytes]));
  const rows = entries.map((e) => summary(e, sizes));
  const named = new Set(entries.flatMap((e) => e.manifest?.keys ?? []));
  const count = (fs: typeof files) => ({ count: fs.length, bytes: fs.reduce((n, f) => n + f.bytes, 0) });
  const segments = count(files.filter((f) => named.has(f.key)));
  const unreferenced = count(files.filter((f) => !named.has(f.key)));
  if (json) {
    printJson({ dir: stores.dir, snapshots: rows, segments, unreferenced });
    return 0;
  }
  const when = (iso?: string) => (iso ? iso.slice(0, 16).replace('T', ' ') : '');
  const table = [
    ['KEY', 'SEGMENTS', 'SIZE', 'LAST USED', 'CREATED', 'MODEL', 'RATIO', 'KV', 'REPO'],
    ...rows.map((r) =>
      r.problem
        ? [r.key.slice(0, 16), '', '', when(r.lastUsed), `damaged: ${r.problem}`]
        : [
            r.key.slice(0, 16),
            String(r.segments),
            formatBytes(r.bytes),
            when(r.lastUsed),
            when(r.created),
            r.modelId ?? '',
            String(r.ratio),
            r.dtype ?? '',
            r.repo ?? '',
          ],
    ),
  ];
  // the last cell of a row is never padded, so it does not widen its column (a long problem text)
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => (i < row.length - 1 ? row[i].length : 0))));
  for (const row of table) console.log(row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]) : c)).join('  '));
  console.log(
    `${plural(rows.length, 'snapshot')}, ${plural(segments.count, 'segment')}, ${formatBytes(segments.bytes)} in ${stores.dir} (a segment shared by snapshots counts once)`,
  );
  if (unreferenced.count)
    console.log(`${plural(unreferenced.count, 'segment')} (${formatBytes(unreferenced.bytes)}) named by no snapshot: repozip cache gc deletes them`);
  return 0;
}

async function rm(stores: SegmentStores, prefixes: string[], all?: boolean, json?: boolean): Promise<number> {
  if (Boolean(all) === prefixes.length > 0) throw new EngineError('bad-input', `give the keys to delete, or --all\nusage: ${usage}`);
  const keys = (await stores.manifests.scan()).map((e) => e.key);
  const chosen: { key: string; segment?: true }[] = all ? keys.map((key) => ({ key })) : await Promise.all(prefixes.map((p) => chooseKey(stores, keys, p)));
  const segments = chosen.filter((c) => c.segment).map((c) => c.key);
  for (const key of segments) await stores.segments.remove(key);
  const r = await removeSnapshots(stores, [...new Set(chosen.filter((c) => !c.segment).map((c) => c.key))]);
  if (all) await stores.cleanupStale();
  if (json) printJson({ removed: r.keys, segments: r.segments + segments.length, bytes: r.bytes });
  else console.log(`deleted ${deleted(r, segments.length)}`);
  return 0;
}

/**
 * The one snapshot a key prefix names. A whole segment key names that segment, or whatever is in
 * its way (a folder): the engine's error about it says to remove it with `cache rm <key>`.
 */
async function chooseKey(stores: SegmentStores, keys: string[], prefix: string): Promise<{ key: string; segment?: true }> {
  const hits = keys.filter((k) => k.startsWith(prefix));
  if (hits.length === 0 && (await stores.segments.occupied(prefix))) return { key: prefix, segment: true };
  if (hits.length !== 1)
    throw new EngineError(
      'bad-input',
      hits.length ? `"${prefix}" matches ${hits.length} snapshots; give more of the key` : `no snapshot key starts with "${prefix}"`,
    );
  return { key: hits[0] };
}

async function gc(stores: SegmentStores, budget: number, json?: boolean): Promise<number> {
  await stores.cleanupStale();
  const r = await collectGarbage(stores, budget);
  if (json) printJson({ removed: r.keys, segments: r.segments, bytes: r.bytes, left: r.left, budget });
  else console.log(`deleted ${deleted(r)}; ${formatBytes(r.left)} left (budget ${formatBytes(budget)})`);
  return 0;
}

/** "2 snapshots and 5 segments (1.2 MiB)" */
function deleted(r: Collected, moreSegments = 0): string {
  return `${plural(r.removed, 'snapshot')} and ${plural(r.segments + moreSegments, 'segment')} (${formatBytes(r.bytes)})`;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** "4G" → 4 GiB; plain numbers are bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(s.trim());
  if (!m) throw new EngineError('bad-input', `--budget must be a size like 500M or 4G, got "${s}"`);
  return Math.floor(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' '));
}
