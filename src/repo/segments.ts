// Repository → segments of at most S tokens, each prefilled, scored and stored on its own, so that
// an edit rebuilds only the segments it touches. Boundaries are content-defined, as in
// content-defined chunking: they depend on the files and lines next to them, never on an offset
// from the start of the repository, so an edit cannot shift every later boundary.
//
// Packing: files in path order, each one piece (or several, below); a segment closes before piece u
// when u does not fit, or when u is an anchor and the segment already holds ≥ S/4 tokens. The
// first piece of a file is an anchor when a hash of its path hits 1 in 4: after an edit changes
// which pieces fit where, the old and new packings meet again at the next such anchor.
//
// Splitting: a file whose header and content exceed S is cut at line boundaries into pieces of at
// most S tokens, each headed `path (lines a-b)`. A cut goes before a candidate line (one at column
// 0 after a blank line: a top-level definition, or the comment or decorator above it) whose text
// hash hits 1 in 8 once the piece holds a quarter of its room. When the next line does not fit,
// it goes before the last such candidate; else before the last line past a quarter that follows
// a blank line (a method of a class larger than a segment); else before the line that does not
// fit. A line longer than a piece is cut by tokens into parts of its own. A piece that begins at a
// hashed cut is an anchor too, so an in-place edit re-cuts and re-packs only the pieces up to the
// next hashed cut. (Adding or removing lines still changes every later piece of that file: their
// headers carry line numbers.)
//
// Each header and each piece's content is tokenized on its own (as in layout.ts): a piece's ids do
// not depend on its neighbours, so an unchanged piece keeps its ids wherever it lands.
import { createHash } from 'node:crypto';
import type { RepoFile } from './file';
import { contentText, fileHeader, type TokenizerLike } from './layout';
import { comparePaths } from './list';
import { timeSlices } from './slices';

/** Changes whenever the same files, tokenizer and S would give other segments. */
export const SEGMENTS_VERSION = 1;

export interface Piece {
  path: string;
  /** Of the whole file. */
  sha256: string;
  /** 1-based, inclusive. A line longer than a segment is cut into parts, each with firstLine = lastLine. */
  firstLine: number;
  lastLine: number;
  /** True when the file was cut into pieces. */
  split: boolean;
  /** Token offsets inside the segment's ids: header in [headerStart, start), content in [start, end). */
  headerStart: number;
  start: number;
  end: number;
}

export interface Segment {
  /** Headers and contents, without the shared anchor. */
  ids: number[];
  pieces: Piece[];
  /** What ranking reads: each piece's label (path, and line range when split), a newline, its content. */
  text: string;
}

export interface SegmentOptions {
  maxTokens: number;
  signal?: AbortSignal;
}

/** min(4096, max(128, floor(P/8))) for a model of P positions: several segments fit beside a question. */
export function defaultSegmentTokens(maxPositions: number): number {
  return Math.min(4096, Math.max(128, Math.floor(maxPositions / 8)));
}

// Anchors trade fill for stability. On 3 × 100 files of 150 B to 3 KB at S = 4096 (the generator
// of test/repo/segments.test.ts, 15 files added to each), adding a file rebuilt 2.1 segments on
// average at 65 % fill; 3.2 at 82 % with 1 in 8 past S/2; 5.9 at 90 % with no anchors.
const ANCHOR_ONE_IN = 4;
const ANCHOR_MIN_FILL = 1 / 4;
// A piece of a big file mostly fills a segment alone (the next piece is an anchor, or does not
// fit), so its fill is the segment's. On two 200 KB files of that generator, one line grown by
// S/8 words rebuilt 1.6-2.1 segments on average at S = 512..4096 with 1 in 8 past a quarter
// (pieces ≈ 75 % of S); 1.6-2.4 with 1 in 16; 3.0-4.0 with 1 in 4 past half.
const CUT_ONE_IN = 8;
const CUT_MIN_FILL = 1 / 4;
/** Below this much room for content a piece could not make progress through a line. */
const MIN_PIECE_CONTENT = 16;

function hashHits(text: string, oneIn: number): boolean {
  return createHash('sha256').update(text).digest().readUInt32LE(0) % oneIn === 0;
}

/** Whether a file's first piece may start a segment early (see the packing rule above). */
export function isAnchorPath(path: string): boolean {
  return hashHits(path, ANCHOR_ONE_IN);
}

/** sha256 hex of a segment's ids: the same ids give the same hash on any machine. */
export function idsHash(ids: ArrayLike<number>): string {
  const bytes = Buffer.allocUnsafe(4 * ids.length);
  for (let i = 0; i < ids.length; i++) bytes.writeInt32LE(ids[i], 4 * i);
  return createHash('sha256').update(bytes).digest('hex');
}

/** A piece before packing. */
interface Unit {
  piece: Omit<Piece, 'headerStart' | 'start' | 'end'>;
  label: string;
  header: number[];
  content: number[];
  text: string;
  anchor: boolean;
}

interface Cutter {
  tok: TokenizerLike;
  header: (label: string) => number[];
  maxTokens: number;
  pause: () => Promise<void>;
}

/**
 * `files` in path order (an array is sorted here; files read one at a time must come sorted);
 * yields segments as they close, so a large repository never holds all segments' ids at once.
 * Every file appears, split when larger than a segment.
 */
export async function* segmentFiles(files: readonly RepoFile[] | AsyncIterable<RepoFile>, tok: TokenizerLike, opts: SegmentOptions): AsyncGenerator<Segment> {
  const S = opts.maxTokens;
  const cutter: Cutter = { tok, header: fileHeader(tok), maxTokens: S, pause: timeSlices(opts.signal) };
  let open: Unit[] = [];
  let fill = 0;
  let last: string | undefined;
  for await (const f of Symbol.asyncIterator in files ? files : [...files].sort((a, b) => comparePaths(a.path, b.path))) {
    if (last !== undefined && comparePaths(last, f.path) >= 0) throw new RangeError(`files must come in path order: ${f.path} after ${last}`);
    last = f.path;
    for await (const u of fileUnits(f, cutter)) {
      const size = u.header.length + u.content.length;
      if (open.length > 0 && (fill + size > S || (u.anchor && fill >= S * ANCHOR_MIN_FILL))) {
        yield assemble(open);
        open = [];
        fill = 0;
      }
      open.push(u);
      fill += size;
    }
  }
  if (open.length > 0) yield assemble(open);
}

function assemble(units: readonly Unit[]): Segment {
  const ids: number[] = [];
  const pieces: Piece[] = [];
  let text = '';
  for (const u of units) {
    const headerStart = ids.length;
    for (const id of u.header) ids.push(id);
    const start = ids.length;
    for (const id of u.content) ids.push(id);
    pieces.push({ ...u.piece, headerStart, start, end: ids.length });
    text += `${u.label}\n${u.text}`;
  }
  return { ids, pieces, text };
}

/** Source runs 3-4 characters a token; a text of more than this many a token of S is split unread. */
const MAX_CHARS_PER_TOKEN = 16;

async function* fileUnits(f: RepoFile, c: Cutter): AsyncGenerator<Unit> {
  await c.pause();
  const text = contentText(f.text);
  // Tokenizing a big file whole only to learn that it is too big would cost a third of its cut.
  if (text.length <= MAX_CHARS_PER_TOKEN * c.maxTokens) {
    const header = c.header(f.path);
    const content = c.tok.encodeText(text);
    if (header.length + content.length <= c.maxTokens) {
      const lastLine = text.split('\n').length - 1;
      yield {
        piece: { path: f.path, sha256: f.sha256, firstLine: 1, lastLine, split: false },
        label: f.path,
        header,
        content,
        text,
        anchor: isAnchorPath(f.path),
      };
      return;
    }
  }
  yield* splitFile(f, text.split(/(?<=\n)/), c);
}

const rangeLabel = (path: string, first: number, last: number): string => `${path} (lines ${first}-${last})`;

/** Pieces of a file larger than a segment; `lines` each end in "\n". */
async function* splitFile(f: RepoFile, lines: readonly string[], c: Cutter): AsyncGenerator<Unit> {
  // Room for content under the widest label this file can get; each piece is checked exactly below.
  const room = c.maxTokens - c.header(rangeLabel(f.path, lines.length, lines.length)).length;
  if (room < MIN_PIECE_CONTENT) throw new RangeError(`segments of ${c.maxTokens} tokens leave no room for the content of ${f.path} after its header`);
  const cost: number[] = [];
  for (const line of lines) {
    await c.pause();
    cost.push(c.tok.encodeText(line).length);
  }
  const unit = (s: number, e: number, text: string, content: number[], anchor: boolean): Unit => {
    const label = rangeLabel(f.path, s + 1, e);
    return { piece: { path: f.path, sha256: f.sha256, firstLine: s + 1, lastLine: e, split: true }, label, header: c.header(label), content, text, anchor };
  };
  let anchor = isAnchorPath(f.path);
  for (let s = 0; s < lines.length;) {
    await c.pause();
    const cut = pieceEnd(lines, cost, s, room);
    let e = cut.end;
    // Line costs summed are an estimate (tokens can span a line break): shrink until it fits.
    for (; e > s; e--) {
      const text = lines.slice(s, e).join('');
      const u = unit(s, e, text, c.tok.encodeText(text), anchor);
      if (u.header.length + u.content.length <= c.maxTokens) {
        yield u;
        break;
      }
    }
    if (e === s) {
      const lineRoom = c.maxTokens - c.header(rangeLabel(f.path, s + 1, s + 1)).length;
      for await (const part of lineParts(lines[s], lineRoom, c)) {
        yield unit(s, s + 1, part.text, part.content, anchor);
        anchor = false;
      }
      e = s + 1;
    }
    anchor = cut.hashed && e === cut.end;
    s = e;
  }
}

/** Where the piece starting at line `s` ends (exclusive), and whether a hashed cut chose it. */
function pieceEnd(lines: readonly string[], cost: readonly number[], s: number, room: number): { end: number; hashed: boolean } {
  let used = 0;
  // The last lines past the minimum fill after a blank line: at column 0, and at any indentation.
  let lastTop = -1;
  let lastBreak = -1;
  for (let i = s; i < lines.length; i++) {
    if (i > s && used >= room * CUT_MIN_FILL && /^\s*$/.test(lines[i - 1]) && /\S/.test(lines[i])) {
      if (/^[^\s)\]}]/.test(lines[i])) {
        if (hashHits(lines[i], CUT_ONE_IN)) return { end: i, hashed: true };
        lastTop = i;
      }
      lastBreak = i;
    }
    // i === s: not even this one line fits, and it is cut into parts.
    if (used + cost[i] > room) return { end: lastTop >= 0 ? lastTop : lastBreak >= 0 ? lastBreak : i, hashed: false };
    used += cost[i];
  }
  return { end: lines.length, hashed: false };
}

/**
 * A line too long for one piece, in parts of at most `room` tokens: each part's length in
 * characters is guessed from the tokens a first try took, then corrected a few times; only a try
 * that fits is kept. Every guess depends on the rest of the line alone: the parts are
 * content-defined too.
 */
async function* lineParts(line: string, room: number, c: Cutter): AsyncGenerator<{ text: string; content: number[] }> {
  for (let at = 0; at < line.length;) {
    const rest = line.slice(at);
    // One code point: the least progress, and it fits in MIN_PIECE_CONTENT tokens.
    const first = String.fromCodePoint(rest.codePointAt(0)!);
    let best = { text: first, content: c.tok.encodeText(first) };
    for (let chars = Math.min(rest.length, room), tries = 0; tries < 8 && chars > best.text.length; tries++) {
      await c.pause();
      // Never between the two halves of a surrogate pair.
      const end = chars < rest.length && /[\ud800-\udbff]/.test(rest[chars - 1]) ? chars - 1 : chars;
      const content = c.tok.encodeText(rest.slice(0, end));
      if (content.length <= room) {
        best = { text: rest.slice(0, end), content };
        if (end === rest.length || content.length >= room * 0.95) break;
      }
      chars = Math.floor((end * room * 0.97) / content.length);
    }
    if (best.content.length > room) throw new RangeError(`segments of ${c.maxTokens} tokens cannot hold one character of a line`);
    yield best;
    at += best.text.length;
  }
}
