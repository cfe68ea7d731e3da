// Which file a panel link may open. The webview already sends only relative paths without `..`
// (protocol.ts), but the page renders untrusted model output, so the extension checks again: the
// path must resolve inside the workspace folder after following symlinks, so a link (or a symlink
// planted in the repository) cannot open ~/.ssh/id_rsa. Being in the snapshot's file list is not
// enough on its own for the same reason.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isRelativePath } from '../webview/protocol';

const inside = (dir: string, p: string): boolean => {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/** The absolute path to open for a link, or undefined when it must not be opened. */
export function openablePath(rel: unknown, folder: string): string | undefined {
  if (!isRelativePath(rel)) return undefined;
  const abs = path.resolve(folder, ...rel.split('/'));
  try {
    return inside(folder, abs) && inside(fs.realpathSync(folder), fs.realpathSync(abs)) ? abs : undefined;
  } catch {
    return undefined; // a file that is not there cannot be opened anyway
  }
}
