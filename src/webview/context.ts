// Which part of the repository an answer was read from, under the answer in a closed <details>:
// "context: 6 of 41 segments — src/a.ts, src/b.ts, …" opens onto all the files. File names are
// links as in answers (render.ts: only snapshot files link), so a click opens them the same way.

import { formatContext } from './format';
import type { AnswerContext } from './protocol';
import { renderInline } from './render';

/** Files named on the closed line; the list it opens onto holds them all. */
export const SUMMARY_FILES = 3;

/** The closed line's tooltip: what was loaded, in words. */
const MODES: Record<AnswerContext['mode'], string> = {
  all: 'The whole repository was loaded: every segment fit.',
  select: 'The segments ranked best for this question (and the open editor) were loaded.',
  compact: 'The segments ranked best for this question were loaded, packed closer so that more fit.',
};

/** A path as inline code: no markdown inside it (`__init__.py`), and a link when it names a snapshot file. */
function code(path: string): string {
  const ticks = '`'.repeat(Math.max(0, ...[...path.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  return `${ticks} ${path} ${ticks}`;
}

/** The <details> element's content: the <summary> line and the list of every file. */
export function contextHtml(c: AnswerContext, files: ReadonlySet<string>): string {
  const shown = c.files.slice(0, SUMMARY_FILES);
  const names = shown.length ? ` — ${shown.map(code).join(', ')}${c.files.length > shown.length ? ', …' : ''}` : '';
  const summary = `<summary title="${MODES[c.mode]}">${renderInline(formatContext(c) + names, files)}</summary>`;
  const list = c.files.map((f) => `<li>${renderInline(code(f), files)}</li>`).join('');
  return list ? `${summary}<ul>${list}</ul>` : summary;
}
