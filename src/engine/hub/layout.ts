// The Hugging Face hub cache, laid out exactly as huggingface_hub writes it so that Python tools
// and repozip share downloads:
//   <cache>/models--{org}--{name}/
//     blobs/<etag>               file contents, named by sha256 (LFS files) or git blob sha1
//     snapshots/<commit>/<file>  relative symlink ../../blobs/<etag> (a real file without symlinks)
//     refs/<revision>            the commit hash the revision (a branch or tag) pointed to
//     .no_exist/<commit>/<file>  empty marker: the file does not exist at that commit
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../errors';
import { isComplete, isRepoPath } from './files';

export interface HubRef {
  repo: string;
  revision: string;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
export const COMMIT = /^[0-9a-f]{40}$/;

/** Parses `org/name[@revision]`; the revision defaults to main. */
export function parseHubId(spec: string): HubRef {
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? 'main' : spec.slice(at + 1);
  if (!REPO_ID.test(repo) || repo.includes('--') || repo.includes('..')) {
    throw new EngineError('bad-input', `"${spec}" is neither a model folder nor a hub id of the form org/name[@revision]`);
  }
  if (!isRepoPath(revision)) throw new EngineError('bad-input', `"${revision}" is not a valid revision (a branch, tag or commit hash)`);
  return { repo, revision };
}

export class RepoCache {
  readonly dir: string;

  constructor(
    cacheDir: string,
    readonly repo: string,
  ) {
    this.dir = path.join(cacheDir, `models--${repo.split('/').join('--')}`);
  }

  blob(etag: string): string {
    return path.join(this.dir, 'blobs', etag);
  }

  snapshot(commit: string): string {
    return path.join(this.dir, 'snapshots', commit);
  }

  /** The commit a revision names: itself when it is a commit hash, else what refs/ recorded. */
  commitOf(revision: string): string | undefined {
    if (COMMIT.test(revision)) return revision;
    try {
      const commit = fs.readFileSync(path.join(this.dir, 'refs', revision), 'utf8').trim();
      return COMMIT.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  setRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const file = path.join(this.dir, 'refs', revision);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, commit);
    fs.renameSync(`${file}.tmp`, file);
  }

  /**
   * Puts a downloaded blob into a snapshot. Where symlinks are not allowed (Windows without
   * developer mode) huggingface_hub moves a blob it just downloaded into the snapshot and copies a
   * blob other snapshots may share; so does this.
   */
  link(commit: string, name: string, etag: string, freshBlob: boolean): void {
    const file = path.join(this.snapshot(commit), name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.rmSync(file, { force: true });
    try {
      fs.symlinkSync(path.relative(path.dirname(file), this.blob(etag)), file);
    } catch {
      if (freshBlob) fs.renameSync(this.blob(etag), file);
      else fs.copyFileSync(this.blob(etag), file);
    }
  }

  markMissing(commit: string, name: string): void {
    const file = path.join(this.dir, '.no_exist', commit, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
  }
}

export interface CachedRevision {
  commit: string;
  /** Branches and tags that point at this commit. */
  refs: string[];
  path: string;
  /** Holds every file repozip needs. */
  complete: boolean;
}

export interface CachedModel {
  id: string;
  path: string;
  /** Bytes of the blobs (partial downloads included) and of snapshot files that are copies, not links. */
  sizeOnDisk: number;
  revisions: CachedRevision[];
}

/** The models in a hub cache, whoever downloaded them, sorted by id. */
export function listCachedModels(cacheDir: string): CachedModel[] {
  if (!fs.existsSync(cacheDir)) return [];
  const models: CachedModel[] = [];
  for (const folder of fs
    .readdirSync(cacheDir)
    .filter((f) => f.startsWith('models--'))
    .sort()) {
    const dir = path.join(cacheDir, folder);
    const refs = new Map<string, string[]>();
    for (const file of walk(path.join(dir, 'refs'))) {
      const commit = fs.readFileSync(file, 'utf8').trim();
      refs.set(commit, [...(refs.get(commit) ?? []), path.relative(path.join(dir, 'refs'), file).split(path.sep).join('/')]);
    }
    const snapshots = path.join(dir, 'snapshots');
    const revisions = (fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : []).map((commit) => ({
      commit,
      refs: refs.get(commit) ?? [],
      path: path.join(snapshots, commit),
      complete: isComplete(path.join(snapshots, commit)),
    }));
    const sizeOnDisk = [...walk(path.join(dir, 'blobs')), ...walk(snapshots)].reduce((sum, f) => sum + fs.statSync(f).size, 0);
    models.push({ id: folder.slice('models--'.length).split('--').join('/'), path: dir, sizeOnDisk, revisions });
  }
  return models;
}

/** Regular files under a folder (symlinks are not followed, so each blob is counted once). */
function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}
