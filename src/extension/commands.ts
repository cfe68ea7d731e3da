// The palette's commands (package.json contributes.commands) and the status bar item's menu of them.
// The hover's repozip.explainSymbol is registered with the hover (hover.ts).
import * as vscode from 'vscode';
import { statusBarText } from './cacheLabels';
import { ChatView } from './chatView';
import { chooseModel, setToken } from './models';
import type { Services } from './services';

export function registerCommands(context: vscode.ExtensionContext, s: Services): void {
  const command = (id: string, fn: (...args: any[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  const build = () => s.build().then(undefined, (e) => s.report(e, 'build'));
  command('repozip.buildCache', build);
  command('repozip.rebuildCache', async () => {
    try {
      await s.call('clear', s.params());
      await build();
    } catch (e) {
      s.report(e, 'rebuild');
    }
  });
  command('repozip.cancelBuild', () => s.tracker.cancel());
  command('repozip.clearCache', async () => {
    try {
      const r = await s.call('clear', s.params());
      void vscode.window.showInformationMessage(
        `repozip: removed ${r.removed} cached ${r.removed === 1 ? 'snapshot' : 'snapshots'} (${(r.bytes / 1024 / 1024).toFixed(1)} MiB).`,
      );
    } catch (e) {
      s.report(e, 'clear');
    }
    await s.tracker.refresh();
  });
  command('repozip.ask', (question?: unknown) => ask(s, question));
  command('repozip.openChat', () => ChatView.reveal());
  command('repozip.newChat', () => s.chat.clear());
  command('repozip.chooseModel', async () => {
    const chosen = await chooseModel(context.extensionPath, s.settings().model, s.call);
    if (chosen !== undefined) await s.tracker.refresh();
  });
  command('repozip.setHfToken', () => setToken(context.secrets));
  command('repozip.showLog', () => s.log.show());
  command('repozip.showActions', () => showActions(s));
}

/** "Ask about repo": the question given (from a keybinding or a test), else typed, the selection offered. */
async function ask(s: Services, question: unknown): Promise<string | undefined> {
  let q = typeof question === 'string' ? question : undefined;
  if (q === undefined) {
    const editor = vscode.window.activeTextEditor;
    const selection = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
    s.askInput.open = true;
    try {
      q = await vscode.window.showInputBox({
        title: 'repozip: Ask about repo',
        prompt: 'A question about this repository',
        placeHolder: 'Where is the configuration read, and what reads it?',
        value: selection,
        valueSelection: [0, 0],
        ignoreFocusOut: true,
      });
    } finally {
      s.askInput.open = false;
    }
  }
  if (!q?.trim()) return undefined;
  await ChatView.reveal();
  const turn = await s.chat.ask(q.trim());
  if (!turn) void vscode.window.showInformationMessage('repozip: an answer is still streaming; stop it first.');
  return turn?.answer;
}

/** The status bar item's menu: what can be done with the cache in its current state. */
async function showActions(s: Services): Promise<void> {
  const kind = s.tracker.status.kind;
  const items: (vscode.QuickPickItem & { id: string })[] = [
    ...(kind === 'building' ? [{ label: '$(debug-stop) Cancel the build', id: 'repozip.cancelBuild' }] : []),
    ...(kind === 'missing' || kind === 'stale' || kind === 'error' || kind === 'unknown'
      ? [{ label: '$(database) Build the cache', id: 'repozip.buildCache' }]
      : []),
    ...(kind === 'ready' ? [{ label: '$(refresh) Rebuild the cache', id: 'repozip.rebuildCache' }] : []),
    { label: '$(comment-discussion) Ask about repo…', id: 'repozip.ask' },
    { label: '$(layout-sidebar-left) Open the chat', id: 'repozip.openChat' },
    { label: '$(hubot) Choose model…', id: 'repozip.chooseModel' },
    { label: '$(trash) Clear the cache', id: 'repozip.clearCache' },
    { label: '$(output) Show log', id: 'repozip.showLog' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'repozip', placeHolder: statusBarText(s.tracker.status).text.replace(/^\$\([^)]+\)\s*/, '') });
  if (pick) await vscode.commands.executeCommand(pick.id);
}
