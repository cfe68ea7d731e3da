// Hover explanations, the VS Code half (explain.ts holds the rest). provideHover runs on every
// mouse rest, so it only looks things up: an explanation already made for this symbol at this
// snapshot, or else a command link that asks for one (repozip.explainSymbol, registered here). In
// `auto` mode a pointer that stays on a symbol starts a small background answer, kept for the next
// hover.
import * as vscode from 'vscode';
import { ChatView } from './chatView';
import { editorContext, symbolFiles, workspacePath, type LocationLike } from './editorContext';
import { describeError } from './errors';
import { EXPLAIN_TOKENS, Explanations, explainQuestion, isSymbol, parseTarget, type ExplainTarget } from './explain';
import { openablePath } from './links';
import type { Services } from './services';
import { askParams, type Settings } from './settings';

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
  const md = new vscode.MarkdownString(
    `[$(sparkle) Explain with repo context](command:${EXPLAIN_COMMAND}?${args} "Ask the local model about ${t.symbol}")`,
    true,
  );
  md.isTrusted = { enabledCommands: [EXPLAIN_COMMAND] };
  return md;
}

export function hoverProvider(deps: HoverDeps): vscode.HoverProvider {
  return {
    provideHover(doc, position, token) {
      if (deps.mode() === 'off' || token.isCancellationRequested || doc.uri.scheme !== 'file') return undefined;
      const file = workspacePath(deps.folder, doc.uri.fsPath);
      if (!file) return undefined;
      const range = doc.getWordRangeAtPosition(position);
      const symbol = range && doc.getText(range);
      if (!range || !symbol || !isSymbol(symbol)) return undefined;
      const target: ExplainTarget = { file, line: range.start.line + 1, symbol };
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

export function registerHover(context: vscode.ExtensionContext, s: Services): void {
  const explanations = new Explanations(context.workspaceState);
  let autoTimer: NodeJS.Timeout | undefined;
  /** A quiet, small answer kept for the next hover; never builds, never while something else runs. */
  const explainInBackground = async (t: ExplainTarget) => {
    const signal = s.background.start();
    const editor = editorContext(s.folder, vscode.window.activeTextEditor, await lookupSymbolFiles(s.folder, t));
    let text = '';
    const r = await s.call(
      'ask',
      { ...askParams(s.settings(), s.params(), explainQuestion(t), EXPLAIN_TOKENS, editor), build: false },
      { signal, onEvent: (e) => e.kind === 'text' && (text += e.delta) },
    );
    explanations.set(r.key, t.file, t.symbol, text);
  };
  const autoExplain = (t: ExplainTarget, cancel: vscode.CancellationToken) => {
    clearTimeout(autoTimer);
    if (!vscode.workspace.isTrusted) return;
    autoTimer = setTimeout(() => {
      if (cancel.isCancellationRequested || s.chat.busy || s.tracker.readyKey === undefined) return;
      explainInBackground(t).catch((e) => s.log.info(`background explanation: ${describeError(e).message}`));
    }, 700);
    cancel.onCancellationRequested(() => clearTimeout(autoTimer));
  };
  if (s.folder) {
    const provider = hoverProvider({ folder: s.folder, mode: () => s.settings().hoverMode, snapshot: () => s.tracker.readyKey, explanations, autoExplain });
    context.subscriptions.push(vscode.languages.registerHoverProvider({ scheme: 'file' }, provider));
  }
  context.subscriptions.push({ dispose: () => clearTimeout(autoTimer) });

  // the hover link's target: the explanation streams into the chat, and is kept for the next hover
  context.subscriptions.push(
    vscode.commands.registerCommand(EXPLAIN_COMMAND, async (arg: unknown) => {
      const t = parseTarget(arg);
      if (!t) return;
      await ChatView.reveal();
      let key: string | undefined;
      // looked up while the question starts: the panel shows it at once
      const symbols = lookupSymbolFiles(s.folder, t);
      const turn = await s.chat.ask(explainQuestion(t), { maxTokens: EXPLAIN_TOKENS, onSnapshot: (k) => (key = k), symbolFiles: symbols });
      if (turn?.status === 'done' && key) explanations.set(key, t.file, t.symbol, turn.answer);
    }),
  );
}

/**
 * The files of the symbol's definitions and references, its own first (editorContext.ts bounds the
 * count and the time). Only a file of the workspace is opened: the command can be invoked with any
 * target. Nothing found, or no language support: none besides its own.
 */
async function lookupSymbolFiles(folder: string | undefined, t: ExplainTarget): Promise<string[]> {
  const file = folder && openablePath(t.file, folder);
  if (!folder || !file) return [];
  try {
    const uri = vscode.Uri.file(file);
    const at = symbolPosition(await vscode.workspace.openTextDocument(uri), t);
    if (!at) return [t.file];
    const find = (command: string) => () => vscode.commands.executeCommand<LocationLike[] | undefined>(command, uri, at);
    return await symbolFiles(folder, t.file, { definitions: find('vscode.executeDefinitionProvider'), references: find('vscode.executeReferenceProvider') });
  } catch {
    return [t.file];
  }
}

/** Where on its line the symbol is: the first occurrence that is the whole word (`add`, not `addAll`). */
function symbolPosition(doc: vscode.TextDocument, t: ExplainTarget): vscode.Position | undefined {
  if (t.line > doc.lineCount) return undefined;
  const text = doc.lineAt(t.line - 1).text;
  for (let i = text.indexOf(t.symbol); i >= 0; i = text.indexOf(t.symbol, i + 1)) {
    const at = new vscode.Position(t.line - 1, i);
    const word = doc.getWordRangeAtPosition(at);
    if (word && doc.getText(word) === t.symbol) return at;
  }
  return undefined;
}
