// Staying current: file changes mark the cache stale (debounced in cache.ts), and a settings change
// or a newly trusted workspace has the engine look at the cache again.
import * as vscode from 'vscode';
import type { Services } from './services';

export function registerWatcher(context: vscode.ExtensionContext, s: Services): void {
  const folder = s.folder;
  if (!folder) return;
  const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, '**/*'));
  const changed = (uri: vscode.Uri) => !/[\\/]\.git[\\/]/.test(uri.fsPath) && s.tracker.refreshSoon();
  context.subscriptions.push(
    watcher,
    watcher.onDidChange(changed),
    watcher.onDidCreate(changed),
    watcher.onDidDelete(changed),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('repozip') && void s.tracker.refresh()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void s.tracker.refresh()),
  );
  void s.tracker.refresh();
}
