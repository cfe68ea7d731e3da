// File references in answers: `src/a.ts`, `src/a.ts:42`, `src/a.ts:42:7`, `src/a.ts#L42`,
// `src/a.ts#L42-L50`. Only names that resolve to a path in the snapshot's file list become links,
// so a link can never point outside the workspace or at a file the model made up.

import { LIMITS } from './protocol';

export interface FileRef {
  /** A member of the snapshot's file list. */
  path: string;
  line?: number;
  column?: number;
}

/** Name to snapshot path, or undefined. */
export type Resolve = (name: string) => string | undefined;

// Models often shorten paths (`model/graph.ts` for `src/engine/model/graph.ts`) or root them
// (`/src/a.ts`, `./src/a.ts`). A trailing run of segments that names exactly one file is as good
// as the full path; an ambiguous one (two `index.ts`) links nowhere.
const suffixIndexes = new WeakMap<ReadonlySet<string>, Map<string, string | null>>();

function suffixIndex(files: ReadonlySet<string>): Map<string, string | null> {
  let index = suffixIndexes.get(files);
  if (index) return index;
  index = new Map();
  for (const path of files) {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const suffix = segments.slice(i).join('/');
      index.set(suffix, index.has(suffix) && index.get(suffix) !== path ? null : path);
    }
  }
  suffixIndexes.set(files, index);
  return index;
}

/** Resolves against `files` (not to be mutated afterwards: the suffix index is built once per set). */
export function resolver(files: ReadonlySet<string>): Resolve {
  return (name) => {
    const bare = name.replace(/^\.?\//, '');
    if (files.has(bare)) return bare;
    return suffixIndex(files).get(bare) ?? undefined;
  };
}

// name, then `:line[:col][-end[:col]]` or `#Lline[Ccol][-L?end[Ccol]]`; a range opens at its start.
const REF = /^(.+?)(?::(\d+)(?::(\d+))?(?:-\d+(?::\d+)?)?|#L(\d+)(?:C(\d+))?(?:-L?\d+(?:C\d+)?)?)?$/;

/** A line or column the protocol accepts, or undefined. */
const positive = (digits: string | undefined): number | undefined => {
  const n = digits === undefined ? NaN : Number(digits);
  return Number.isInteger(n) && n >= 1 && n <= LIMITS.line ? n : undefined;
};

/** The whole of `text` as a file reference, or null. */
export function parseFileRef(text: string, resolve: Resolve): FileRef | null {
  const m = REF.exec(text);
  const path = m && resolve(m[1]);
  if (!m || !path) return null;
  const ref: FileRef = { path };
  const line = positive(m[2] ?? m[4]);
  const column = positive(m[3] ?? m[5]);
  if (line) ref.line = line;
  if (line && column) ref.column = column;
  return ref;
}

export interface FoundRef {
  start: number;
  end: number;
  ref: FileRef;
}

// A candidate is a run without whitespace, quotes, brackets, list punctuation or '*' (bold
// markers; a path with '*' is a glob, not a file); sentence punctuation after it is not part of
// it ("see src/a.ts." or "in src/a.ts:12:").
const CANDIDATE_CHAR = /[^\s`'"<>()[\]{}|,;*]/u;
const CANDIDATE = new RegExp(`${CANDIDATE_CHAR.source}+`, 'gu');
const TRAILING = /[.:!?]+$/;
// In prose a bare word ("build", "test") is more likely English than a file, so plain-text
// candidates must look like paths: a '/' or an extension. Inline code has no such rule.
const PATHLIKE = /\/|\.[\p{L}\p{N}]/u;

/** File references in plain text, in order. */
export function findFileRefs(text: string, resolve: Resolve): FoundRef[] {
  const found: FoundRef[] = [];
  for (const m of text.matchAll(CANDIDATE)) {
    const candidate = m[0].replace(TRAILING, '');
    if (!PATHLIKE.test(candidate)) continue;
    const ref = parseFileRef(candidate, resolve);
    if (ref) found.push({ start: m.index, end: m.index + candidate.length, ref });
  }
  return found;
}

/** The file reference in `text` that covers position `at`, if any. */
export function fileRefAround(text: string, at: number, resolve: Resolve): FoundRef | null {
  let start = at;
  let end = at;
  while (start > 0 && CANDIDATE_CHAR.test(text[start - 1])) start--;
  while (end < text.length && CANDIDATE_CHAR.test(text[end])) end++;
  const found = findFileRefs(text.slice(start, end), resolve)[0];
  if (!found || start + found.end <= at) return null;
  return { start: start + found.start, end: start + found.end, ref: found.ref };
}
