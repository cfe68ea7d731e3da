// Model output → safe HTML. The answer is untrusted text (the repository it read may contain prompt
// injections), and the webview can post messages to the extension, so what this produces must not
// execute anything or load anything remote:
//  - raw HTML is escaped (`html: false`), never passed through;
//  - a link survives only as an http(s) anchor (the script turns clicks into `open-external`) or
//    as a file link to a path in the snapshot; any other destination (javascript:, data:, file:,
//    command:, unknown relative paths) is not a link at all;
//  - images become links (no remote loads; the CSP would block them anyway);
//  - markdown-it's only `style` attribute (table column alignment) becomes a class.
// The output's tags and attributes are a small known set; test/webview/render.test.ts checks it.

import MarkdownIt from 'markdown-it';
import type { Env, StateCore, StateInline, Token } from 'markdown-it';
import { fileRefAround, findFileRefs, parseFileRef, resolver, type FileRef, type Resolve } from './links';
import { isWebUrl } from './protocol';

export interface Rendered {
  html: string;
  /** The text of each code block; copy/insert buttons carry an index into this list. */
  codeBlocks: string[];
}

interface RenderEnv extends Env {
  resolve: Resolve;
  codeBlocks: string[];
}

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
// Fuzzy matching would turn `README.md` or `setup.py` into http:// links (md, py are TLDs).
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });

// Called by markdown-it on every link, autolink, reference definition, image and linkify match,
// after it decoded entities and percent-encoded the destination. Rejected destinations stay
// literal text. http(s) is checked again, strictly, when the anchor is built; relative
// destinations are kept for now and become links only if they name a snapshot file.
md.validateLink = (url) => {
  const s = url.trim().toLowerCase();
  if (/^https?:/.test(s)) return true;
  return !/^[a-z][a-z0-9+.-]*:/.test(s) && !s.startsWith('//');
};

const escape = md.utils.escapeHtml;

const envFor = (files: ReadonlySet<string>): RenderEnv => ({ resolve: resolver(files), codeBlocks: [] });

/** Renders an answer. Pure: the same markdown and file list give the same output. */
export function render(markdown: string, files: ReadonlySet<string>): Rendered {
  const env = envFor(files);
  return { html: md.render(markdown, env), codeBlocks: env.codeBlocks };
}

/** One line of markdown, without a paragraph around it, with the same links as an answer. */
export function renderInline(markdown: string, files: ReadonlySet<string>): string {
  return md.renderInline(markdown, envFor(files));
}

// ---------------------------------------------------------------------------------------------
// Links, images and file references: one pass over the parsed tokens, after markdown-it's own.

// Emphasis would read `src/__init__.py` as src/<strong>init</strong>.py. At an `_` that lies inside
// a snapshot path, this rule takes the rest of the path as plain text before emphasis sees it
// (the part before the `_` is already pending text); the pass below then links the whole path.
md.inline.ruler.before('emphasis', 'repozip_path_underscores', (state: StateInline, silent: boolean) => {
  if (state.src[state.pos] !== '_') return false;
  const found = fileRefAround(state.src, state.pos, (state.env as RenderEnv).resolve);
  if (!found) return false;
  if (!silent) state.pending += state.src.slice(state.pos, found.end);
  state.pos = found.end;
  return true;
});

md.core.ruler.push('repozip_links', (state: StateCore) => {
  const { resolve } = state.env as RenderEnv;
  for (const block of state.tokens) {
    if (block.type === 'th_open' || block.type === 'td_open') alignAsClass(block);
    if (block.type === 'inline' && block.children) block.children = rewriteInline(block.children, resolve, state.Token);
  }
});

function alignAsClass(cell: Token): void {
  const style = cell.attrGet('style');
  if (style === null) return;
  const align = /text-align:(left|center|right)/.exec(String(style));
  cell.attrs = align ? [['class', `align-${align[1]}`]] : null;
}

type TokenClass = StateCore['Token'];

function rewriteInline(tokens: Token[], resolve: Resolve, T: TokenClass): Token[] {
  const out: Token[] = [];
  let inLink = false;
  let droppedOpen = false;
  for (const tok of tokens) {
    if (tok.type === 'link_open') {
      const href = String(tok.attrGet('href') ?? '');
      const target = isWebUrl(href) ? href : fileTarget(href, resolve);
      inLink = true;
      droppedOpen = target === null;
      if (target === null) continue;
      out.push(typeof target === 'string' ? externalOpen(target, T) : fileOpen(target, T));
    } else if (tok.type === 'link_close') {
      inLink = false;
      if (!droppedOpen) out.push(tok);
    } else if (tok.type === 'image') {
      out.push(...imageAsLink(tok, inLink, T));
    } else if (inLink) {
      out.push(tok);
    } else if (tok.type === 'text') {
      out.push(...linkFileRefs(tok, resolve, T));
    } else if (tok.type === 'code_inline') {
      const ref = parseFileRef(tok.content.trim(), resolve);
      out.push(...(ref ? [fileOpen(ref, T), tok, close(T)] : [tok]));
    } else {
      out.push(tok);
    }
  }
  return out;
}

/** A relative markdown link (`[graph](src/model/graph.ts#L10)`) that names a snapshot file. */
function fileTarget(href: string, resolve: Resolve): FileRef | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(href);
  } catch {
    return null;
  }
  return parseFileRef(decoded, resolve);
}

function externalOpen(url: string, T: TokenClass): Token {
  const tok = new T('link_open', 'a', 1);
  // The title shows the real destination on hover: webviews have no status bar for that.
  tok.attrs = [
    ['href', url],
    ['class', 'external-link'],
    ['title', url],
  ];
  return tok;
}

function fileOpen(ref: FileRef, T: TokenClass): Token {
  const tok = new T('link_open', 'a', 1);
  const where = ref.line ? `${ref.path}:${ref.line}${ref.column ? `:${ref.column}` : ''}` : ref.path;
  // href="#" keeps the anchor in the tab order; the script opens the file and cancels navigation.
  tok.attrs = [
    ['href', '#'],
    ['class', 'file-link'],
    ['data-path', ref.path],
    ['title', `Open ${where}`],
  ];
  if (ref.line) tok.attrs.push(['data-line', ref.line]);
  if (ref.column) tok.attrs.push(['data-column', ref.column]);
  return tok;
}

const close = (T: TokenClass): Token => new T('link_close', 'a', -1);

function text(content: string, T: TokenClass): Token {
  const tok = new T('text', '', 0);
  tok.content = content;
  return tok;
}

/** `![alt](https://…)` → a link labelled with the alt text; any other image → its alt text. */
function imageAsLink(img: Token, inLink: boolean, T: TokenClass): Token[] {
  const src = String(img.attrGet('src') ?? '');
  const label = text(img.content || src, T);
  if (inLink || !isWebUrl(src)) return [label];
  return [externalOpen(src, T), label, close(T)];
}

function linkFileRefs(tok: Token, resolve: Resolve, T: TokenClass): Token[] {
  const found = findFileRefs(tok.content, resolve);
  if (found.length === 0) return [tok];
  const out: Token[] = [];
  let at = 0;
  for (const { start, end, ref } of found) {
    if (start > at) out.push(text(tok.content.slice(at, start), T));
    out.push(fileOpen(ref, T), text(tok.content.slice(start, end), T), close(T));
    at = end;
  }
  if (at < tok.content.length) out.push(text(tok.content.slice(at), T));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Code blocks: a header with the language and buttons that refer to the block by index, so no
// code text is ever placed in an attribute and no inline script is needed.

function codeBlock(content: string, info: string, env: RenderEnv): string {
  const index = env.codeBlocks.push(content.replace(/\n$/, '')) - 1;
  const lang = /^[\w#+.-]{1,32}$/.exec(info.trim().split(/\s+/)[0] ?? '')?.[0] ?? '';
  const button = (attr: string, icon: string, label: string) =>
    `<button type="button" class="icon-button" ${attr}="${index}" title="${label}" aria-label="${label}"><span class="codicon codicon-${icon}" aria-hidden="true"></span></button>`;
  return (
    `<div class="code-block"><div class="code-header"><span class="code-lang">${escape(lang)}</span>` +
    `<span class="code-actions">${button('data-insert', 'insert', 'Insert at cursor')}${button('data-copy', 'copy', 'Copy code')}</span></div>` +
    `<pre><code${lang ? ` class="language-${escape(lang)}"` : ''}>${escape(content)}</code></pre></div>\n`
  );
}

md.renderer.rules.fence = (tokens, idx, _options, env) => codeBlock(tokens[idx].content, tokens[idx].info, env as RenderEnv);
md.renderer.rules.code_block = (tokens, idx, _options, env) => codeBlock(tokens[idx].content, '', env as RenderEnv);
