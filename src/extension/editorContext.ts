// What the editor knows besides the question, sent with every question: the engine ranks the
// repository's segments with it, so an answer reads the code the user is looking at. Typed against
// the few members of vscode's editor and locations it reads, so tests drive it with plain objects.
import * as path from 'node:path';
import type { EditorContext } from '../engine/editor';

/** The selection sent, at most: a whole selected file must not outweigh the question in the ranking. */
export const SELECTION_CHARS = 2000;
/** A symbol's files sent, at most: a widely used one is referenced from everywhere. */
export const SYMBOL_FILES = 20;
/** How long the definition and reference providers may take: a language server may be slow or still starting, and the question waits. */
const SYMBOL_LOOKUP_MS = 1500;

export interface EditorLike<R> {
  document: { uri: { scheme: string; fsPath: string }; getText(range: R): string };
  selection: R & { isEmpty: boolean };
}

/** A vscode.Location or vscode.LocationLink. */
export type LocationLike = { uri: { fsPath: string } } | { targetUri: { fsPath: string } };

/** A file's path relative to the workspace folder, '/'-separated; undefined outside it. */
export function workspacePath(folder: string, file: string): string | undefined {
  const rel = path.relative(folder, file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel.split(path.sep).join('/');
}

/** The active editor's file (a workspace file only) and selection, and a hover's symbol files; empty parts left out. */
export function editorContext<R>(
  folder: string | undefined,
  editor: EditorLike<R> | undefined,
  symbolFiles: readonly string[] = [],
): EditorContext | undefined {
  const ctx: EditorContext = {};
  const file = editor?.document.uri.scheme === 'file' && folder ? workspacePath(folder, editor.document.uri.fsPath) : undefined;
  if (file) ctx.activeFile = file;
  const selection = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection).slice(0, SELECTION_CHARS) : '';
  if (selection.trim()) ctx.selection = selection;
  if (symbolFiles.length) ctx.symbolFiles = symbolFiles.slice(0, SYMBOL_FILES);
  return Object.keys(ctx).length ? ctx : undefined;
}

/** What the providers found for a symbol (vscode.executeDefinitionProvider / executeReferenceProvider). */
export interface SymbolLookup {
  definitions(): PromiseLike<LocationLike[] | undefined>;
  references(): PromiseLike<LocationLike[] | undefined>;
}

/**
 * A symbol's files: its own file first, then its definitions' and its references' files, each once,
 * workspace files only, at most SYMBOL_FILES. A provider that fails or is not done within `ms`
 * counts as having found nothing.
 */
export async function symbolFiles(folder: string, own: string, lookup: SymbolLookup, ms = SYMBOL_LOOKUP_MS): Promise<string[]> {
  const [definitions, references] = await Promise.all([within(lookup.definitions(), ms), within(lookup.references(), ms)]);
  const files = new Set([own]);
  for (const loc of [...(definitions ?? []), ...(references ?? [])]) {
    const file = workspacePath(folder, ('targetUri' in loc ? loc.targetUri : loc.uri).fsPath);
    if (file) files.add(file);
  }
  return [...files].slice(0, SYMBOL_FILES);
}

/** The value, or undefined when it fails or takes longer than `ms`. */
function within<T>(p: PromiseLike<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([Promise.resolve(p).then(undefined, () => undefined), late]).finally(() => clearTimeout(timer));
}
