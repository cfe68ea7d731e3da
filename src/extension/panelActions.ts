// What the chat panel's links and buttons do besides the conversation: open a file of the
// workspace, copy, insert code at the cursor, open a web link, build the cache.
import * as vscode from 'vscode';
import { isWebUrl } from '../webview/protocol';
import type { PanelAction } from './chat';
import { openablePath } from './links';

export async function runPanelAction(msg: PanelAction, folder: string | undefined): Promise<void> {
  switch (msg.type) {
    case 'open-file': {
      const file = folder && openablePath(msg.path, folder);
      if (!file) return void vscode.window.showWarningMessage(`repozip: ${msg.path} is not a file of this workspace.`);
      const at = new vscode.Position((msg.line ?? 1) - 1, (msg.column ?? 1) - 1);
      return void (await vscode.window.showTextDocument(vscode.Uri.file(file), { selection: new vscode.Range(at, at), preview: true }));
    }
    case 'copy':
      return vscode.env.clipboard.writeText(msg.text);
    case 'insert': {
      const editor = vscode.window.activeTextEditor;
      if (!editor) return void vscode.window.showInformationMessage('repozip: open an editor to insert the code into.');
      return void (await editor.edit((b) => editor.selections.forEach((sel) => b.replace(sel, msg.text))));
    }
    case 'open-external':
      if (isWebUrl(msg.url)) await vscode.env.openExternal(vscode.Uri.parse(msg.url, true));
      return;
    case 'build-cache':
      return void (await vscode.commands.executeCommand('repozip.buildCache'));
  }
}
