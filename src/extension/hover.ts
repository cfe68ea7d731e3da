// Hover explanations. provideHover runs on every mouse rest, so it only looks things up: an
// explanation already made for this symbol at this snapshot, or else a command link that asks for
// one. In `auto` mode a pointer that stays on a symbol starts a small background answer, kept for
// the next hover.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Explanations, isSymbol, type ExplainTarget } from './explain';
import type { Settings } from './settings';

export const EXPLAIN_COMMAND = 'repozip.explainSymbol';

export interface HoverDeps {
  folder: string;
  mode: () => Settings['hoverMode'];
  /** The snapshot key of a cache that matches the files now. */
  snapshot: () => string | undefined;
  explanations: Explanations;
  /** Starts a background explanation when the pointer rests (auto mode); honours the token. */
  autoExplain: (t: ExplainTarget, token: vscode.CancellationToken) => void;
}

export function explainLink(t: ExplainTarget): vscode.MarkdownString {
  const args = encodeURIComponent(JSON.stringify([t]));
  const md = new vscode.MarkdownString(`[$(sparkle) Explain with repo context](command:${EXPLAIN_COMMAND}?${args} "Ask the local model about ${t.symbol}")`, true);
  md.isTrusted = { enabledCommands: [EXPLAIN_COMMAND] };
  return md;
}

export function hoverProvider(deps: HoverDeps): vscode.HoverProvider {
  return {
    provideHover(doc, position, token) {
      if (deps.mode() === 'off' || token.isCancellationRequested || doc.uri.scheme !== 'file') return undefined;
      const rel = path.relative(deps.folder, doc.uri.fsPath);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
      const range = doc.getWordRangeAtPosition(position);
      const symbol = range && doc.getText(range);
      if (!range || !symbol || !isSymbol(symbol)) return undefined;
      const target: ExplainTarget = { file: rel.split(path.sep).join('/'), line: range.start.line + 1, symbol };
      const cached = deps.explanations.get(deps.snapshot(), target.file, symbol);
      if (cached !== undefined) {
        // model output: plain markdown, not trusted, no HTML
        const text = new vscode.MarkdownString(`**repozip** · \`${symbol}\`\n\n`);
        text.appendMarkdown(cached);
        return new vscode.Hover(text, range);
      }
      if (deps.mode() === 'auto') deps.autoExplain(target, token);
      return new vscode.Hover(explainLink(target), range);
    },
  };
}
