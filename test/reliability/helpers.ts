// What the reliability tests share: a small repository on disk, engine settings for the bundled
// tiny model, the real engine host process, and the probes the tests read off the system (what is in
// a snapshot folder, a process's memory and children, a tmpfs that can fill up, a folder the engine
// may not write to).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import type { Manifest } from '../../src/engine/segments/manifest';
import { SegmentStores } from '../../src/engine/segments/snapshot';
import { CallContext } from '../../src/engine/service';
import { EngineClient } from '../../src/engine/worker/client';
import type { EngineEvent, EngineSettings, IndexParams, RepoSettings } from '../../src/engine/protocol';
import { ROOT, scratchDir } from '../helpers/models';
import { tempDir, write } from '../repo/fixture';

/**
 * tinycode has 1024 positions, so its segments hold 128 tokens: smallRepo below is three of them,
 * each built in a fraction of a second on an idle core.
 */
export const TINY = path.join(ROOT, 'test', 'fixtures', 'tinycode');

/**
 * A scratch folder for the calling test file (removed after its tests). The engine's cache root is
 * `<dir>/cache`, so its snapshots are in `<dir>/cache/snapshots`, where `repozip cache` looks.
 */
export function scratch(name: string): { dir: string; engine: EngineSettings; snapshots: string } {
  const { dir, cacheRoot } = scratchDir(`rel-${name}`);
  return { dir, engine: { model: TINY, device: 'cpu', cacheDir: cacheRoot }, snapshots: path.join(cacheRoot, 'snapshots') };
}

/**
 * A small TypeScript project (not a git work tree: test/.tmp is ignored by the project's git, so
 * it is walked). `variant` changes one file, which makes another snapshot of the same repository.
 */
export function smallRepo(root: string, variant = 0): string {
  write(root, 'README.md', '# calc\n\nAdds and multiplies numbers.\n');
  write(
    root,
    'src/math.ts',
    'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function mul(a: number, b: number): number {\n  return a * b;\n}\n',
  );
  write(root, 'src/main.ts', `import { add, mul } from './math';\n\nconsole.log(add(${variant}, mul(3, 4)));\n`);
  write(root, 'src/config.ts', 'export const config = { precision: 2, locale: "en" };\n');
  write(root, 'test/math.test.ts', "import { add } from '../src/math';\n\nif (add(1, 2) !== 3) throw new Error('add');\n");
  return root;
}

export function indexParams(engine: EngineSettings, repo: RepoSettings): IndexParams {
  return { engine, repo: { ratio: 0.5, ...repo } };
}

/** An in-process call context that records what the engine said. */
export function recorder(signal: AbortSignal = new AbortController().signal): CallContext & { events: EngineEvent[]; notices: () => string[] } {
  const events: EngineEvent[] = [];
  return { signal, events, emit: (e) => events.push(e), notices: () => events.flatMap((e) => (e.kind === 'notice' ? [e.message] : [])) };
}

/** Progress phases in the order heard, repeats collapsed. */
export function phases(events: EngineEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) if (e.kind === 'progress' && out.at(-1) !== e.phase) out.push(e.phase);
  return out;
}

let host: Promise<string> | undefined;
/**
 * The engine host bundled from source the way tools/build.mjs bundles dist/engine-host.js, but into
 * a folder of this test process: test files run in parallel, and an editor or e2e run may be using
 * dist/ meanwhile, so no test rewrites a file another process might be forking.
 */
export function hostScript(): Promise<string> {
  host ??= (async () => {
    // removed when the process exits (an after() hook would go with the test that first asked)
    const outfile = path.join(tempDir('rel-host'), 'engine-host.js');
    const entry = path.join(ROOT, 'src', 'engine', 'worker', 'host.ts');
    await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: ['vscode', 'onnxruntime-node'],
      logLevel: 'warning',
    });
    return outfile;
  })();
  return host;
}

/** A real EngineClient (its own host process); `crashes` collects what onCrash heard. */
export async function startClient(): Promise<{ client: EngineClient; crashes: string[] }> {
  const crashes: string[] = [];
  const client = new EngineClient({ hostScript: await hostScript(), onCrash: (r) => crashes.push(r) });
  return { client, crashes };
}

/**
 * What a snapshot folder holds: its manifests (one per snapshot), its segments, temporary and lock
 * files of either, and the records of builds in progress.
 */
export function snapshotFolder(dir: string): { manifests: string[]; segments: string[]; temps: string[]; locks: string[]; pending: string[] } {
  const all = fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [];
  const inside = (sub: string, ext: string) => all.filter((n) => path.dirname(n) === sub && n.endsWith(ext)).map((n) => path.basename(n, ext));
  return {
    manifests: inside('manifests', '.json'),
    segments: inside('segments', '.rzkv'),
    temps: all.filter((n) => n.endsWith('.tmp')),
    locks: all.filter((n) => n.endsWith('.lock')),
    pending: all.filter((n) => n.endsWith('.pending')),
  };
}

/** The manifest of snapshot `key` in a snapshot folder, read as the engine reads it (checked). */
export async function manifestOf(snapshots: string, key: string): Promise<Manifest> {
  const m = await new SegmentStores(snapshots).manifests.load(key);
  assert.ok(m, `no manifest for ${key} in ${snapshots}`);
  return m;
}

/** The file of segment `key` in a snapshot folder. */
export function segmentFile(snapshots: string, key: string): string {
  return path.join(snapshots, 'segments', `${key}.rzkv`);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resident memory of a process, in KiB (Linux). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** The pids a process has started and not yet reaped (Linux). */
export function childrenOf(pid: number): number[] {
  const tasks = fs.readdirSync(`/proc/${pid}/task`);
  return tasks.flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
}

/**
 * Calls `onTemp` the moment the temporary file of a segment appears in `dir` (a snapshot folder's
 * segments/): inotify, so a write of a few milliseconds is still caught in the act. Returns a
 * function that stops watching.
 */
export function whenTempAppears(dir: string, onTemp: (name: string) => void): () => void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let fired = false;
  const watcher = fs.watch(dir, (_, name) => {
    if (fired || !name || !/\.rzkv\.\d+\.[0-9a-f]+\.tmp$/.test(name)) return;
    fired = true;
    onTemp(name);
  });
  return () => watcher.close();
}

/** False when this process may mount a tmpfs (root, in a container that allows it); otherwise why not. */
export function tmpfsUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const probe = fs.mkdtempSync(path.join(ROOT, 'test', '.tmp', 'rel-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return false;
  } catch (e) {
    return `mount -t tmpfs failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

/** Runs `fn` with a tmpfs of `bytes` mounted at `dir` (created), unmounted after. */
export async function withTmpfs<T>(dir: string, bytes: number, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir]);
  try {
    return await fn();
  } finally {
    execFileSync('umount', ['-l', dir]);
  }
}

const NOBODY = 65534;
/**
 * Runs `fn` unable to write into `dir` (mode 0555). Root ignores permission bits, so as root the
 * process runs `fn` with the effective uid of "nobody", and `owned` (the folders the engine must
 * still write: its model cache, the repository it reads) become nobody's for the duration.
 */
export async function withoutWriteAccess<T>(dir: string, owned: string[], fn: () => Promise<T>): Promise<T> {
  const asRoot = process.getuid?.() === 0;
  const chownAll = (uid: number) => owned.forEach((p) => execFileSync('chown', ['-R', `${uid}:${uid}`, p]));
  // nobody must also get through the folders above: a checkout inside a private folder (mktemp -d
  // makes it 0700) would otherwise stop it before any permission this test means to check. Its
  // group stays root's, so the group's search bit counts too.
  const closed = asRoot ? [...new Set(owned.flatMap(ancestors))].filter((a) => (fs.statSync(a).mode & 0o011) !== 0o011) : [];
  const modes = closed.map((a) => fs.statSync(a).mode & 0o7777);
  closed.forEach((a, i) => fs.chmodSync(a, modes[i] | 0o011));
  if (asRoot) chownAll(NOBODY);
  fs.chmodSync(dir, 0o555);
  if (asRoot) process.seteuid!(NOBODY);
  try {
    return await fn();
  } finally {
    if (asRoot) process.seteuid!(0);
    fs.chmodSync(dir, 0o700);
    if (asRoot) chownAll(0);
    closed.forEach((a, i) => fs.chmodSync(a, modes[i]));
  }
}

/** The folders above `p`, up to the root. */
function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(path.resolve(p)); d !== path.dirname(d); d = path.dirname(d)) out.push(d);
  return out;
}

/**
 * Fills the file system of `dir` with one file until it is full, then gives `leave` bytes back.
 * Returns the file (delete it to free the space).
 */
export function fillDisk(dir: string, leave: number): string {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(file, Math.max(0, fs.statSync(file).size - leave));
  return file;
}

const CLI = path.join(ROOT, 'src', 'cli', 'main.ts');
/** Runs the `repozip` command as a user would (from source), with its exit code and output. */
export function repozip(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
  });
}

/** Polls `cond` until it holds or `ms` have passed; returns whether it held. */
export async function eventually(cond: () => boolean, ms = 2000): Promise<boolean> {
  for (const t0 = Date.now(); !cond(); await new Promise((r) => setTimeout(r, 20))) if (Date.now() - t0 > ms) return false;
  return true;
}
