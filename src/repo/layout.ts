// Files → context token ids, in the repository format code models are trained on.
//
// With a `<|file_sep|>` token (Qwen2.5-Coder, tinycode):
//     <|repo_name|>name\n            (only when the vocabulary has <|repo_name|>)
//     <|file_sep|>path\n content     (content + "\n" unless it already ends with one)
// Without it, a plain-text header that reads as a comment in most languages:
//     // ===== path =====\n content
//
// Repository text (names, paths, contents) is always encoded with encodeText, so a file that
// contains "<|im_end|>" stays those characters; only the separators we insert are control ids.
// Each header and each content is tokenized on its own: a file's ids then do not depend on its
// neighbours, which keeps an unchanged prefix token-identical after an edit further on.
import { budgetRank } from './budget';
import type { RepoFile } from './file';
import { timeSlices } from './slices';

export interface TokenizerLike {
  /** Untrusted text: control-token strings inside it stay plain text. */
  encodeText(text: string): number[];
  /** The id of a special token, or null when the vocabulary lacks it. */
  specialId(token: string): number | null;
}

export type LayoutFormat = 'file-sep' | 'plain-header';

/** Changes whenever the same files and tokenizer would give other ids (it is part of the snapshot key). */
export const LAYOUT_VERSION = 1;

/** Where one file sits in the ids: header in [headerStart, start), content in [start, end). */
export interface FileSpan {
  path: string;
  headerStart: number;
  start: number;
  end: number;
  bytes: number;
  sha256: string;
}

export interface LeftOutFile {
  path: string;
  reason: 'budget';
  /** What it would have cost, header included. */
  tokens: number;
}

export interface Layout {
  format: LayoutFormat;
  ids: number[];
  /** In context order. */
  files: FileSpan[];
  /** In the order of the input. */
  leftOut: LeftOutFile[];
}

export interface LayoutOptions {
  repoName: string;
  /** Budget for all ids, headers included; see budget.ts for who stays in. Default: no limit. */
  maxTokens?: number;
  signal?: AbortSignal;
}

/**
 * The ids that open a file in the context, in this tokenizer's format. `label` is the file's path;
 * segments.ts labels a piece of a split file `path (lines a-b)` in the same format.
 */
export function fileHeader(tok: TokenizerLike): (label: string) => number[] {
  const fileSep = tok.specialId('<|file_sep|>');
  return fileSep !== null ? (label) => [fileSep, ...tok.encodeText(`${label}\n`)] : (label) => tok.encodeText(`// ===== ${label} =====\n`);
}

/** What opens the whole context (and every segment's anchor): `<|repo_name|>name\n` when the model has both separators. */
export function repoPreamble(tok: TokenizerLike, repoName: string): number[] {
  const repoSep = tok.specialId('<|repo_name|>');
  return tok.specialId('<|file_sep|>') !== null && repoSep !== null ? [repoSep, ...tok.encodeText(`${repoName}\n`)] : [];
}

/** A file's text as the context holds it: ending in a newline, so the next header starts a line. */
export function contentText(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** Lays out `files` (already in context order) within the budget; each file is tokenized once. */
export async function layoutContext(files: readonly RepoFile[], tok: TokenizerLike, opts: LayoutOptions): Promise<Layout> {
  const format: LayoutFormat = tok.specialId('<|file_sep|>') !== null ? 'file-sep' : 'plain-header';
  const header = fileHeader(tok);
  const preamble = repoPreamble(tok, opts.repoName);

  const budget = opts.maxTokens ?? Infinity;
  let used = preamble.length;
  const chosen = new Map<RepoFile, { header: number[]; content: number[] }>();
  const cost = new Map<RepoFile, number>();
  const pause = timeSlices(opts.signal);
  for (const f of budgetRank(files)) {
    await pause();
    const ids = { header: header(f.path), content: tok.encodeText(contentText(f.text)) };
    const n = ids.header.length + ids.content.length;
    cost.set(f, n);
    if (used + n <= budget) {
      chosen.set(f, ids);
      used += n;
    }
  }

  const out: number[] = [...preamble];
  const spans: FileSpan[] = [];
  const leftOut: LeftOutFile[] = [];
  for (const f of files) {
    const ids = chosen.get(f);
    if (!ids) {
      leftOut.push({ path: f.path, reason: 'budget', tokens: cost.get(f)! });
      continue;
    }
    const headerStart = out.length;
    for (const id of ids.header) out.push(id);
    const start = out.length;
    for (const id of ids.content) out.push(id);
    spans.push({ path: f.path, headerStart, start, end: out.length, bytes: f.bytes, sha256: f.sha256 });
  }
  return { format, ids: out, files: spans, leftOut };
}
