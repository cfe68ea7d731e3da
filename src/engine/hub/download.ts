// Models from the Hugging Face hub. pullModel downloads the files repozip needs (files.ts) into
// the shared hub cache (layout.ts); resolveModel turns what a user typed — a folder, or
// org/name[@revision] — into a model folder, downloading only when the cache lacks the model.
//
// Why not wrap @huggingface/hub (2.17.5)? Its downloadFileToCacheDir writes the same cache layout,
// but it rewrites .incomplete from scratch (no resume), reports no progress, verifies nothing,
// reads none of HF_ENDPOINT, HF_HUB_OFFLINE, HF_TOKEN, fetches through the global fetch unless
// handed another (Node's ignores HTTPS_PROXY) and brings @huggingface/tasks and a WASM module
// along. What we would reuse, the layout, is a few lines of layout.ts; the rest is needed anyway.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError, throwIfCancelled } from '../errors';
import { CONFIG, isComplete, missingFiles, OPTIONAL_FILES, REQUIRED_FILES, shardNames, WEIGHTS, WEIGHTS_INDEX } from './files';
import { parseHubId, RepoCache } from './layout';
import { Progress, ProgressMeter } from './progress';
import { Hub, RemoteFile } from './remote';
import { expandHome, HubOptions, hubSettings } from './settings';
import { fetchBlob } from './transfer';

export interface PullOptions extends HubOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Files downloaded at once, 1 or 2 (default 2): the second hides one file's connection setup. */
  concurrency?: number;
  /** Automatic resumptions of a file after a dropped connection (default 3). */
  retries?: number;
}

/**
 * Downloads `org/name[@revision]` (default main) into the hub cache and returns its snapshot
 * folder. Files already cached are not fetched again; partial files are resumed. Offline, returns
 * the cached snapshot or throws naming what is missing.
 */
export async function pullModel(spec: string, opts: PullOptions = {}): Promise<string> {
  const { repo, revision } = parseHubId(spec);
  const settings = hubSettings(opts);
  const cache = new RepoCache(settings.cacheDir, repo);
  if (settings.offline) return cachedSnapshot(cache, spec, revision);
  throwIfCancelled(opts.signal, `download of ${repo}`);
  const hub = new Hub(settings, repo);
  const retries = opts.retries ?? 3;
  const { commit, files } = await listFiles(hub, cache, revision, retries, opts.signal);

  const meter = new ProgressMeter(
    files.reduce((n, f) => n + f.size, 0),
    opts.onProgress,
  );
  const snapshot = cache.snapshot(commit);
  const todo = files.filter((f) => {
    const cached = fs.existsSync(path.join(snapshot, f.name));
    if (cached) meter.finish(f.name, f.size);
    return !cached;
  });
  await eachLimited(todo, Math.min(2, Math.max(1, opts.concurrency ?? 2)), opts.signal, async (f, signal) => {
    await place(hub, cache, f, meter, retries, signal);
    meter.finish(f.name, f.size);
  });
  // Written last: until a snapshot is complete, the revision keeps naming the previous one.
  cache.setRef(revision, commit);
  return snapshot;
}

/**
 * A model folder for `spec`: a local folder (it must hold config.json) or a hub id. A complete
 * cached snapshot is used without asking the hub, so loading a model never depends on the
 * network; `repozip model pull` is how a newer revision arrives.
 */
export async function resolveModel(spec: string, opts: PullOptions = {}): Promise<string> {
  const folder = expandHome(spec);
  if (path.isAbsolute(folder) || spec.startsWith('.') || spec.includes('\\') || fs.existsSync(folder)) {
    if (!fs.existsSync(folder)) throw new EngineError('missing-file', `model folder ${folder} does not exist`);
    if (!fs.existsSync(path.join(folder, CONFIG))) throw new EngineError('missing-file', `model folder ${folder} has no ${CONFIG}`);
    return path.resolve(folder);
  }
  const { repo, revision } = parseHubId(spec);
  const cache = new RepoCache(hubSettings(opts).cacheDir, repo);
  const commit = cache.commitOf(revision);
  if (commit && isComplete(cache.snapshot(commit))) return cache.snapshot(commit);
  return pullModel(spec, opts);
}

/** The files to fetch, all at the commit the revision names now. */
async function listFiles(
  hub: Hub,
  cache: RepoCache,
  revision: string,
  retries: number,
  signal?: AbortSignal,
): Promise<{ commit: string; files: RemoteFile[] }> {
  // config.json alone first: it pins the commit, and a gated or missing repository fails once.
  const config = await hub.head(revision, CONFIG, signal);
  if (!config) throw new EngineError('download', `${hub.repo} has no ${CONFIG} at ${revision}: repozip needs a transformers model`);
  const commit = config.commit;
  const names = [...REQUIRED_FILES.filter((n) => n !== CONFIG), ...OPTIONAL_FILES, WEIGHTS];
  const found = await Promise.all(names.map((n) => hub.head(commit, n, signal)));
  const absent = names.filter((_, i) => !found[i]);
  absent.forEach((n) => cache.markMissing(commit, n));
  const lacking = absent.filter((n) => REQUIRED_FILES.includes(n));
  if (lacking.length) throw new EngineError('download', `${hub.repo} has no ${lacking.join(', ')}: repozip needs a transformers model with a tokenizer.json`);
  const files = [config, ...found.filter((f): f is RemoteFile => f !== null)];
  if (found[names.indexOf(WEIGHTS)]) return { commit, files };

  const index = await hub.head(commit, WEIGHTS_INDEX, signal);
  if (!index) {
    cache.markMissing(commit, WEIGHTS_INDEX);
    throw new EngineError('download', `${hub.repo} has no ${WEIGHTS} nor ${WEIGHTS_INDEX}: repozip reads safetensors weights only`);
  }
  // The index is small and names the shards: fetch it now, silently; it then counts as cached.
  const indexPath = path.join(cache.snapshot(commit), WEIGHTS_INDEX);
  if (!fs.existsSync(indexPath)) await place(hub, cache, index, new ProgressMeter(0), retries, signal);
  const shardFiles = shardNames(fs.readFileSync(indexPath, 'utf8'), `${hub.repo}/${WEIGHTS_INDEX}`);
  const shards = await Promise.all(shardFiles.map((n) => hub.head(commit, n, signal)));
  const lost = shardFiles.filter((_, i) => !shards[i]);
  if (lost.length) throw new EngineError('download', `${hub.repo}'s ${WEIGHTS_INDEX} names shards the repository lacks: ${lost.join(', ')}`);
  return { commit, files: [...files, index, ...(shards as RemoteFile[])] };
}

/** Gets a file's blob (unless cached) and links it into the snapshot. */
async function place(hub: Hub, cache: RepoCache, f: RemoteFile, meter: ProgressMeter, retries: number, signal?: AbortSignal): Promise<void> {
  const blob = cache.blob(f.etag);
  const fresh = !fs.existsSync(blob);
  if (fresh) {
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    await fetchBlob(hub, f, blob, { meter, retries, signal });
  }
  cache.link(f.commit, f.name, f.etag, fresh);
}

function cachedSnapshot(cache: RepoCache, spec: string, revision: string): string {
  const commit = cache.commitOf(revision);
  const advice = `pull it while online (repozip model pull ${spec}), or unset HF_HUB_OFFLINE`;
  if (!commit || !fs.existsSync(cache.snapshot(commit))) {
    throw new EngineError('download', `offline mode is on and ${spec} is not in the hub cache ${cache.dir}: ${advice}`);
  }
  const missing = missingFiles(cache.snapshot(commit));
  if (missing.length) {
    throw new EngineError(
      'download',
      `offline mode is on and ${spec} is only partly cached in ${cache.snapshot(commit)} — missing ${missing.join(', ')}: ${advice}`,
    );
  }
  return cache.snapshot(commit);
}

/**
 * Runs `fn` over `items`, `limit` at a time. The first failure stops the rest (their downloads
 * are cancelled and awaited, so nothing keeps writing after this returns) and is rethrown.
 */
export async function eachLimited<T>(
  items: T[],
  limit: number,
  signal: AbortSignal | undefined,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const both = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      try {
        await fn(items[next++], both);
      } catch (error) {
        failure ??= { error };
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
