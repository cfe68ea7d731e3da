// Where test models live: scratch folders under test/.tmp (gitignored), one conversion cache per
// test file, and the shared real models, which tests skip (saying why) when ../shared is absent.
import { after } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SHARED = path.resolve(ROOT, '..', 'shared');

/**
 * A fresh scratch folder for the calling test file, removed when the file's tests end. Holds
 * `cache/`, the engine's conversion cache shared by all of the file's models.
 */
export function scratchDir(name: string): { dir: string; cacheRoot: string } {
  const base = path.join(ROOT, 'test', '.tmp');
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, `${name}-`));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, cacheRoot: path.join(dir, 'cache') };
}

export const STORIES_MISSING = 'stories260k not found at ../shared/models/stories260k';

/** Karpathy's stories260K in HF format (third party: used from ../shared, never committed). */
export function stories260kDir(): string | null {
  const dir = path.join(SHARED, 'models', 'stories260k');
  return fs.existsSync(path.join(dir, 'config.json')) ? dir : null;
}
