// Reads what every source file imports, for the layer tests. TypeScript's own pre-processor finds
// the specifiers (import/export … from, import(), require(), type-only imports included: a type
// couples layers as much as a value does), so comments and strings never count as imports.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** The importing file, relative to the repository root with '/' separators. */
  file: string;
  line: number;
  /** As written in the source. */
  specifier: string;
  /** A relative specifier resolved against the importing file (repository-relative, no extension);
   *  a package name (its subpath dropped) otherwise. */
  target: string;
}

/** The imports of one file's text. */
export function importsOf(file: string, text: string): ImportEdge[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ({
    file,
    line: text.slice(0, ref.pos).split('\n').length,
    specifier: ref.fileName,
    target: resolve(file, ref.fileName),
  }));
}

function resolve(file: string, specifier: string): string {
  if (specifier.startsWith('.')) return path.posix.join(path.posix.dirname(file), specifier);
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every import of every .ts file under `dir` (repository-relative) of the repository at `root`. */
export function scanImports(root: string, dir: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  (function walk(rel: string) {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(child);
      else if (e.name.endsWith('.ts')) edges.push(...importsOf(child, fs.readFileSync(path.join(root, child), 'utf8')));
    }
  })(dir);
  return edges;
}
