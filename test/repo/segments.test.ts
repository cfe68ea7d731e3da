import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Tokenizer } from '../../src/engine/tokenizer';
import type { TokenizerLike } from '../../src/repo/layout';
import { comparePaths, type RepoFile } from '../../src/repo/list';
import { defaultSegmentTokens, idsHash, isAnchorPath, segmentFiles, type Segment } from '../../src/repo/segments';

const tinycode = Tokenizer.load(path.resolve(__dirname, '..', 'fixtures', 'tinycode'));

/** tinycode, remembering what it encoded: re-segmenting an edited repository then costs only the edit. */
function memoized(tok: Tokenizer): TokenizerLike & { calls: number } {
  const memo = new Map<string, number[]>();
  return {
    calls: 0,
    encodeText(text) {
      this.calls++;
      let ids = memo.get(text);
      if (!ids) memo.set(text, (ids = tok.encodeText(text)));
      return ids;
    },
    specialId: (t) => tok.specialId(t),
  };
}
const tok = memoized(tinycode);

function file(p: string, text: string): RepoFile {
  const bytes = Buffer.from(text, 'utf8');
  return { path: p, text, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function collect(files: readonly RepoFile[], maxTokens: number, t: TokenizerLike = tok): Promise<Segment[]> {
  const out: Segment[] = [];
  for await (const s of segmentFiles(files, t, { maxTokens })) out.push(s);
  return out;
}

// ---- realistic synthetic source: a deterministic generator of TypeScript and Python files ----

function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'user',
  'order',
  'cache',
  'token',
  'segment',
  'file',
  'path',
  'index',
  'query',
  'result',
  'config',
  'model',
  'buffer',
  'stream',
  'parser',
  'router',
  'session',
  'event',
  'handler',
  'value',
  'item',
  'node',
  'tree',
  'layer',
  'score',
  'batch',
  'worker',
  'limit',
  'range',
  'header',
];

class Source {
  private n = 0;
  constructor(readonly r: () => number) {}
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  name(): string {
    const w = this.pick(WORDS);
    return `${w}${this.pick(WORDS).replace(/^./, (c) => c.toUpperCase())}${this.n++}`;
  }
  tsStatement(indent: string): string {
    const v = this.name();
    return this.pick([
      `${indent}const ${v} = ${this.name()}(${this.name()}, ${this.int(0, 999)});`,
      `${indent}if (${v} > ${this.int(1, 64)}) return ${this.name()}.get('${this.pick(WORDS)}') ?? null;`,
      `${indent}for (const ${v} of ${this.name()}.items) total += ${v}.${this.pick(WORDS)}Count;`,
      `${indent}// ${this.pick(WORDS)} first: the ${this.pick(WORDS)} may still hold a stale ${this.pick(WORDS)}`,
      `${indent}await this.${this.name()}({ ${this.pick(WORDS)}: ${v}, retries: ${this.int(1, 5)} });`,
    ]);
  }
  tsFunction(): string {
    const body = Array.from({ length: this.int(2, 14) }, () => this.tsStatement('  '));
    return `/** Returns the ${this.pick(WORDS)} of a ${this.pick(WORDS)}, or null when it has none. */\nexport function ${this.name()}(${this.name()}: number, ${this.name()}: string[]): number | null {\n  let total = 0;\n${body.join('\n')}\n  return total;\n}\n`;
  }
  tsClass(): string {
    const methods = Array.from(
      { length: this.int(2, 6) },
      () => `  ${this.name()}(x: number): void {\n${Array.from({ length: this.int(1, 8) }, () => this.tsStatement('    ')).join('\n')}\n  }`,
    );
    return `export class ${this.name().replace(/^./, (c) => c.toUpperCase())} {\n  private readonly ${this.name()} = new Map<string, number>();\n\n${methods.join('\n\n')}\n}\n`;
  }
  pyFunction(): string {
    const body = Array.from({ length: this.int(2, 12) }, () => `    ${this.name()} = ${this.name()}(${this.name()}, ${this.int(0, 99)})`);
    return `${this.r() < 0.3 ? '@lru_cache(maxsize=None)\n' : ''}def ${this.name()}(${this.name()}, ${this.name()}=None):\n    """Compute the ${this.pick(WORDS)}."""\n${body.join('\n')}\n    return ${this.name()}\n`;
  }
  /** A file of about `bytes` bytes: imports, then definitions separated by blank lines. */
  file(p: string, bytes: number): RepoFile {
    const py = p.endsWith('.py');
    const parts = [py ? `import os\nfrom typing import Optional\n` : `import { ${this.name()} } from './${this.pick(WORDS)}';\n`];
    let size = parts[0].length;
    while (size < bytes) {
      const part = py ? this.pyFunction() : this.r() < 0.25 ? this.tsClass() : this.tsFunction();
      parts.push(part);
      size += part.length + 1;
    }
    return file(p, parts.join('\n'));
  }
}

/** 100 files in nested folders, 150 B to `largest` (log-uniform); by default a few are larger than a segment of 2048. */
function syntheticRepo(seed: number, largest = 12_000): { src: Source; files: RepoFile[] } {
  const src = new Source(prng(seed));
  const dirs = ['src', 'src/core', 'src/core/io', 'src/util', 'lib/parse', 'lib/parse/ast', 'server/routes', 'scripts', 'pkg/model'];
  const files = new Map<string, RepoFile>();
  while (files.size < 100) {
    const p = `${src.pick(dirs)}/${src.name()}.${src.r() < 0.25 ? 'py' : 'ts'}`;
    files.set(p, src.file(p, Math.round(150 * Math.pow(largest / 150, src.r()))));
  }
  return { src, files: [...files.values()].sort((a, b) => comparePaths(a.path, b.path)) };
}

// ---- what every segmentation must satisfy, checked by decoding with the real tokenizer ----

const label = (p: { path: string; split: boolean; firstLine: number; lastLine: number }): string =>
  p.split ? `${p.path} (lines ${p.firstLine}-${p.lastLine})` : p.path;

/**
 * Every segment within S; pieces tile their segment's ids; headers decode to the file's label;
 * each file's pieces, in path order, cover its lines exactly once and in order, and their decoded
 * contents reassemble the file.
 */
function checkSegments(files: readonly RepoFile[], segs: readonly Segment[], S: number): void {
  const sep = tinycode.specialId('<|file_sep|>')!;
  const seen: string[] = [];
  const byFile = new Map<string, { first: number; last: number; content: string }[]>();
  for (const seg of segs) {
    assert.ok(seg.ids.length <= S, `segment of ${seg.ids.length} tokens > ${S}`);
    assert.ok(seg.pieces.length > 0);
    let at = 0;
    let text = '';
    for (const p of seg.pieces) {
      assert.equal(p.headerStart, at);
      assert.ok(p.headerStart < p.start && p.start < p.end);
      assert.equal(seg.ids[p.headerStart], sep);
      assert.equal(tinycode.decode(seg.ids.slice(p.headerStart, p.start)), `<|file_sep|>${label(p)}\n`);
      const content = tinycode.decode(seg.ids.slice(p.start, p.end));
      text += `${label(p)}\n${content}`;
      if (seen[seen.length - 1] !== p.path) seen.push(p.path);
      if (!byFile.has(p.path)) byFile.set(p.path, []);
      byFile.get(p.path)!.push({ first: p.firstLine, last: p.lastLine, content });
      assert.equal(p.sha256, files.find((f) => f.path === p.path)!.sha256);
      at = p.end;
    }
    assert.equal(at, seg.ids.length);
    assert.equal(seg.text, text);
  }
  assert.deepEqual(seen, files.map((f) => f.path).sort(comparePaths), 'every file once, in path order');
  for (const f of files) {
    const whole = f.text.endsWith('\n') ? f.text : `${f.text}\n`;
    const lines = whole.split(/(?<=\n)/);
    const pieces = byFile.get(f.path)!;
    assert.equal(pieces.map((p) => p.content).join(''), whole, `${f.path} reassembles`);
    let next = 1;
    let midLine = false;
    for (const p of pieces) {
      // A piece starts on the line after the last one, or continues a line cut by tokens.
      assert.equal(p.first, midLine ? next - 1 : next, `${f.path}: lines ${p.first}-${p.last} after ${next - 1}`);
      if (!midLine && p.content.endsWith('\n')) assert.equal(p.content, lines.slice(p.first - 1, p.last).join(''), `${f.path}: lines ${p.first}-${p.last}`);
      midLine = !p.content.endsWith('\n');
      next = p.last + 1;
    }
    assert.equal(next - 1, lines.length, `${f.path}: all ${lines.length} lines`);
  }
  for (const seg of segs) for (const p of seg.pieces) assert.equal(p.split, byFile.get(p.path)!.length > 1);
}

test('defaultSegmentTokens: an eighth of the positions, within 128..4096', () => {
  assert.deepEqual([0, 1000, 1024, 8192, 8200, 32768, 131072].map(defaultSegmentTokens), [128, 128, 128, 1024, 1025, 4096, 4096]);
});

test('small files share segments; headers as in layout.ts; everything reassembles', async () => {
  const files = [file('b/x.ts', 'export const x = 1;\n'), file('a.ts', 'x = "<|im_end|>";'), file('b/y.ts', ''), file('c.md', '# title\n\ntext\n')];
  const segs = await collect(files, 256);
  assert.equal(segs.length, 1);
  assert.deepEqual(
    segs[0].pieces.map((p) => [p.path, p.firstLine, p.lastLine, p.split]),
    [
      ['a.ts', 1, 1, false],
      ['b/x.ts', 1, 1, false],
      ['b/y.ts', 1, 1, false],
      ['c.md', 1, 3, false],
    ],
  );
  assert.equal(
    tinycode.decode(segs[0].ids),
    '<|file_sep|>a.ts\nx = "<|im_end|>";\n<|file_sep|>b/x.ts\nexport const x = 1;\n<|file_sep|>b/y.ts\n\n<|file_sep|>c.md\n# title\n\ntext\n',
  );
  checkSegments(files, segs, 256);
  // The ids as little-endian int32, whatever the machine.
  assert.equal(
    idsHash([1, -2]),
    createHash('sha256')
      .update(Buffer.from([1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]))
      .digest('hex'),
  );
});

test('without <|file_sep|> a piece gets the plain header with its line range', async () => {
  // One id per character: costs are string lengths.
  const chars: TokenizerLike = { encodeText: (t) => [...t].map((c) => c.codePointAt(0)!), specialId: () => null };
  const text = Array.from({ length: 30 }, (_, i) => `line ${String(i + 1).padStart(2, '0')}\n`).join(''); // 30 × 8 chars
  const segs = await collect([file('a.txt', text)], 128, chars);
  const decoded = segs.map((s) => String.fromCodePoint(...s.ids));
  // The widest header, "// ===== a.txt (lines 30-30) =====\n", takes 35: 93 left, 11 lines of 8.
  assert.deepEqual(
    decoded.map((d) => d.split('\n')[0]),
    ['// ===== a.txt (lines 1-11) =====', '// ===== a.txt (lines 12-22) =====', '// ===== a.txt (lines 23-30) ====='],
  );
  assert.equal(decoded.map((d) => d.replace(/^.*\n/, '')).join(''), text);
  assert.ok(segs.every((s) => s.ids.length <= 128));
});

test('a 200 KB source file is split at definitions into pieces that tile it', async () => {
  const src = new Source(prng(7));
  const big = src.file('src/big.ts', 200_000);
  assert.ok(big.bytes >= 200_000);
  const files = [file('src/a.ts', 'export const a = 1;\n'), big, file('src/z.ts', 'export const z = 26;\n')];
  for (const S of [512, 4096]) {
    const segs = await collect(files, S);
    checkSegments(files, segs, S);
    const pieces = segs.flatMap((s) => s.pieces.filter((p) => p.path === big.path).map((p) => ({ ...p, tokens: p.end - p.headerStart })));
    assert.ok(pieces.every((p) => p.split));
    const lines = big.text.split(/(?<=\n)/);
    // Cuts fall before a line after a blank one: a top-level definition where the piece reaches
    // one, else a method (classes here can be larger than a segment of 512).
    const after = (p: { firstLine: number }, re: RegExp): boolean => lines[p.firstLine - 2].trim() === '' && re.test(lines[p.firstLine - 1]);
    const cuts = pieces.slice(1);
    const top = cuts.filter((p) => after(p, /^\S/)).length;
    const breaks = cuts.filter((p) => after(p, /\S/)).length;
    const fill = pieces.slice(0, -1).reduce((a, p) => a + p.tokens, 0) / cuts.length / S;
    console.log(
      `# S=${S}: ${pieces.length} pieces, of ${cuts.length} cuts ${top} at a top-level line, ${breaks} after a blank line; mean fill ${fill.toFixed(2)}; ${segs.length} segments`,
    );
    assert.ok(S === 4096 ? top >= 0.9 * cuts.length : breaks >= 0.8 * cuts.length, `${top} top-level, ${breaks} after a blank line, of ${cuts.length} cuts`);
    assert.ok(fill >= 0.6, `pieces fill ${fill} of a segment`);
  }
});

test('a line longer than a segment is cut by tokens, between code points', async () => {
  const long = `const data = [${Array.from({ length: 3000 }, (_, i) => `"${'😀é'.repeat(i % 3)}${i}"`).join(', ')}];\n`;
  const f = file('data.js', `// data\n\n${long}export default data;`);
  const segs = await collect([f], 300);
  checkSegments([f], segs, 300);
  const parts = segs.flatMap((s) => s.pieces).filter((p) => p.firstLine === 3);
  assert.ok(parts.length > 10);
  assert.ok(parts.every((p) => p.lastLine === 3));
  const fill = parts.slice(0, -1).reduce((a, p) => a + p.end - p.headerStart, 0) / (parts.length - 1) / 300;
  assert.ok(fill >= 0.9, `parts fill ${fill} of a segment`);
});

test('segments stream: the first one comes before later files are read; abort stops it', async () => {
  const { files } = syntheticRepo(1);
  const counting = memoized(tinycode);
  const it = segmentFiles(files, counting, { maxTokens: 1024 });
  await it.next();
  const first = counting.calls;
  for await (const _ of it);
  assert.ok(first < counting.calls / 4, `${first} of ${counting.calls} encodings before the first segment`);

  const controller = new AbortController();
  const stopped = segmentFiles(files, tinycode, { maxTokens: 1024, signal: controller.signal });
  await stopped.next();
  controller.abort(new Error('stop'));
  await assert.rejects(stopped.next(), /stop/);
});

test('a big file is cut in time slices, and never tokenized whole', async () => {
  const big = new Source(prng(3)).file('big.ts', 200_000);
  let ticks = 0;
  let running = true;
  const tick = (): void => {
    ticks++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  let longest = 0;
  const watched: TokenizerLike = {
    encodeText: (t) => ((longest = Math.max(longest, t.length)), tinycode.encodeText(t)),
    specialId: (t) => tinycode.specialId(t),
  };
  await collect([big], 1024, watched);
  running = false;
  assert.ok(ticks >= 10, `${ticks} turns`);
  assert.ok(longest < 10_000, `${longest} characters tokenized at once`);
});

// ---- stability: an edit rebuilds only the segments it touches ----

/** Each segment's idsHash, then its paths; per repository (the unedited one is cut once) and S. */
const segmented = new WeakMap<readonly RepoFile[], Map<number, string[][]>>();

/** Hashes of the segments' ids, and the index of the first segment holding `p`. */
async function hashes(files: readonly RepoFile[], S: number, p: string): Promise<{ ids: string[]; holding: number }> {
  if (!segmented.has(files)) segmented.set(files, new Map());
  const bySize = segmented.get(files)!;
  if (!bySize.has(S))
    bySize.set(
      S,
      (await collect(files, S)).map((s) => [idsHash(s.ids), ...new Set(s.pieces.map((q) => q.path))]),
    );
  const segs = bySize.get(S)!;
  return { ids: segs.map((s) => s[0]), holding: segs.findIndex((s) => s.includes(p, 1)) };
}

/** How many segments after an edit are new (must be built); asserts that the ones before it stayed. */
async function rebuilt(before: readonly RepoFile[], after: readonly RepoFile[], S: number, p: string): Promise<number> {
  const a = await hashes(before, S, p);
  const b = await hashes(after, S, p);
  // An edited file can move into the segment before it (when it shrinks, or gets split); a new
  // file can close the segment before its own early.
  const stay = a.holding >= 0 ? Math.min(a.holding, b.holding) : Math.max(0, b.holding - 1);
  assert.deepEqual(b.ids.slice(0, stay), a.ids.slice(0, stay), `segments before the one holding ${p} stay`);
  const old = new Set(a.ids);
  return b.ids.filter((h) => !old.has(h)).length;
}

const histogram = (xs: number[]): string =>
  [...new Set(xs)]
    .sort((a, b) => a - b)
    .map((k) => `${k}: ${xs.filter((x) => x === k).length}`)
    .join(', ');

test('a few lines changed or added in one file rebuild about one segment', async () => {
  const S = 2048;
  const { src, files } = syntheticRepo(42);
  checkSegments(files, await collect(files, S), S);
  const counts: Record<'changed' | 'added', number[]> = { changed: [], added: [] };
  for (let e = 0; e < 50; e++) {
    const i = src.int(0, files.length - 1);
    const lines = files[i].text.split('\n');
    const at = src.int(1, lines.length - 2);
    const kind = e % 2 === 0 ? 'changed' : 'added';
    if (kind === 'changed') lines[at] += ` // ${src.name()} checked`;
    else lines.splice(at, 0, ...Array.from({ length: src.int(1, 3) }, () => src.tsStatement('  ')));
    const edited = files.map((f, j) => (j === i ? file(f.path, lines.join('\n')) : f));
    counts[kind].push(await rebuilt(files, edited, S, files[i].path));
  }
  const all = [...counts.changed, ...counts.added];
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  console.log(
    `# segments rebuilt per edit (S=${S}, ${(await collect(files, S)).length} segments): lines changed {${histogram(counts.changed)}}, lines added {${histogram(counts.added)}}, mean ${mean.toFixed(2)}`,
  );
  assert.ok(
    all.every((n) => n >= 1),
    'the edited segment is always rebuilt',
  );
  assert.ok(mean <= 1.3, `mean ${mean}`);
});

test('a new file rebuilds two segments or fewer, mostly', async () => {
  // Files of up to 12 KB in segments of 2048, and small files (up to 3 KB) in segments of 4096:
  // there, with many files to a segment, only the path anchors keep an insertion from pushing one
  // file on into every later segment.
  for (const [seed, largest, S] of [
    [43, 12_000, 2048],
    [44, 3000, 4096],
  ]) {
    const { src, files } = syntheticRepo(seed, largest);
    const counts: number[] = [];
    for (let e = 0; e < 20; e++) {
      const added = src.file(`${files[src.int(0, files.length - 1)].path.replace(/[^/]*$/, '')}new${e}.ts`, src.int(150, 3000));
      counts.push(await rebuilt(files, [...files, added], S, added.path));
    }
    const segs = await collect(files, S);
    const fill = segs.reduce((a, s) => a + s.ids.length, 0) / segs.length / S;
    console.log(
      `# files up to ${largest} B, S=${S}: ${segs.length} segments, mean fill ${fill.toFixed(2)}; segments rebuilt per added file {${histogram(counts)}}`,
    );
    const sorted = [...counts].sort((a, b) => a - b);
    assert.ok(sorted[counts.length / 2] <= 2 && counts.reduce((a, b) => a + b, 0) / counts.length <= 2.2, histogram(counts));
  }
});

test('an in-place edit inside a big file re-cuts only the pieces near it', async () => {
  const S = 4096;
  const src = new Source(prng(11));
  const big = src.file('src/big.ts', 200_000);
  const lines = big.text.split('\n');
  const total = (await hashes([big], S, big.path)).ids.length;
  const counts: number[] = [];
  for (let k = 1; k <= 15; k++) {
    // A line grows by about a fifth of a segment: its piece ends elsewhere, and the cuts after it
    // must meet the old ones again (at the next hashed cut) rather than shift to the end.
    const at = lines.findIndex((l, i) => i >= (k * lines.length) / 17 && l.trim() !== '');
    const comment = Array.from({ length: S / 8 }, () => src.pick(WORDS)).join(' ');
    counts.push(await rebuilt([big], [file(big.path, lines.map((l, i) => (i === at ? `${l} // ${comment}` : l)).join('\n'))], S, big.path));
  }
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  console.log(`# ${total} segments of ${S}; rebuilt per grown line {${histogram(counts)}}, mean ${mean.toFixed(2)}`);
  assert.ok(counts.every((n) => n >= 1 && n <= 6) && mean <= 2.5, histogram(counts));
});

test('a piece that begins at a hashed cut opens a segment, as a path anchor does', async () => {
  // One id per character. Definitions of two lines; the cut rule's hash, computed here on its own.
  const chars: TokenizerLike = { encodeText: (t) => [...t].map((c) => c.codePointAt(0)!), specialId: (t) => (t === '<|file_sep|>' ? -2 : null) };
  const hits = (line: string): boolean => createHash('sha256').update(line).digest().readUInt32LE(0) % 8 === 0;
  const text = Array.from({ length: 400 }, (_, i) => `def f${i}(x):\n    return x * ${i}\n`).join('\n');
  const lines = text.split(/(?<=\n)/);
  const segs = await collect([file('m.py', text)], 400, chars);
  const pieces = segs.flatMap((s) => s.pieces.map((p, k) => ({ ...p, opens: k === 0, tokens: p.end - p.headerStart })));
  let hashed = 0;
  for (const [k, p] of pieces.entries()) {
    if (k === 0 || !hits(lines[p.firstLine - 1]) || pieces[k - 1].tokens < 100) continue;
    hashed++;
    assert.ok(p.opens, `lines ${p.firstLine}-${p.lastLine} follow ${pieces[k - 1].tokens} tokens in their segment`);
  }
  assert.ok(hashed >= 10, `${hashed} hashed cuts`);
});

test('pieces fit even when a tokenizer merges lines into more tokens than each alone', async () => {
  // One id per character, and two more (-5) for a line break inside the text: line costs summed
  // underestimate every piece, which must then be cut shorter.
  const tok: TokenizerLike = {
    encodeText: (t) => [...t].flatMap((c, i) => (c === '\n' && i < t.length - 1 ? [10, -5, -5] : [c.codePointAt(0)!])),
    specialId: (t) => (t === '<|file_sep|>' ? -2 : null),
  };
  const text = new Source(prng(5)).file('a.ts', 20_000).text;
  const segs = await collect([file('a.ts', text)], 512, tok);
  const decode = (ids: number[]): string => String.fromCodePoint(...ids.filter((id) => id >= 0));
  assert.ok(segs.length > 30 && segs.every((s) => s.ids.length <= 512), segs.map((s) => s.ids.length).join(' '));
  assert.equal(segs.flatMap((s) => s.pieces.map((p) => decode(s.ids.slice(p.start, p.end)))).join(''), text);
  const fill = segs.slice(0, -1).reduce((a, s) => a + s.ids.length, 0) / (segs.length - 1) / 512;
  assert.ok(fill >= 0.6, `fill ${fill}`);
});

test('a path anchor stops the cascade when an edit overflows a segment', async () => {
  // One id per character, so sizes are exact: a file costs 1 + path + 1 + content = 40 of S = 100,
  // and two share a segment. Names sort by their number; the suffix only picks anchor or not.
  const chars: TokenizerLike = { encodeText: (t) => [...t].map((c) => c.codePointAt(0)!), specialId: (t) => (t === '<|file_sep|>' ? -2 : null) };
  const named = (i: number, anchor: boolean): string => {
    for (let k = 0; ; k++) {
      const p = `d/${String(i).padStart(2, '0')}-${String(k).padStart(2, '0')}.ts`;
      if (isAnchorPath(p) === anchor) return p;
    }
  };
  const paths = Array.from({ length: 14 }, (_, i) => named(i, i === 7));
  const sized = (p: string, cost: number): RepoFile => file(p, `${'x'.repeat(cost - p.length - 3)}\n`);
  const files = paths.map((p) => sized(p, 40));
  const grown = [sized(paths[0], 70), ...files.slice(1)];
  const group = async (fs: RepoFile[]): Promise<string[]> => (await collect(fs, 100, chars)).map((s) => s.pieces.map((p) => p.path.slice(2, 4)).join(' '));
  const rebuiltBy = async (before: RepoFile[], after: RepoFile[]): Promise<number> => {
    const old = new Set((await collect(before, 100, chars)).map((s) => idsHash(s.ids)));
    return (await collect(after, 100, chars)).filter((s) => !old.has(idsHash(s.ids))).length;
  };
  // Pairs, except that the anchor (07) opens a segment once the open one holds ≥ S/4.
  assert.deepEqual(await group(files), ['00 01', '02 03', '04 05', '06', '07 08', '09 10', '11 12', '13']);
  // 00 grows and no longer shares: 01.. shift by one until 07, where both packings meet again.
  assert.deepEqual(await group(grown), ['00', '01 02', '03 04', '05 06', '07 08', '09 10', '11 12', '13']);
  assert.equal(await rebuiltBy(files, grown), 4);
  // Without the anchor the shift runs to the end.
  const plain = paths.map((p, i) => sized(i === 7 ? named(7, false) : p, 40));
  assert.deepEqual(await group(plain), ['00 01', '02 03', '04 05', '06 07', '08 09', '10 11', '12 13']);
  assert.equal(await rebuiltBy(plain, [sized(paths[0], 70), ...plain.slice(1)]), 8);
});
