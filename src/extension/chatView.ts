// The sidebar chat: a WebviewView whose page is src/webview (bundled into media/). The page holds no
// state the extension cannot resend: on every load it posts `ready` and the Chat answers with
// `init`, so the view needs no retainContextWhenHidden (and its memory cost).
import * as vscode from 'vscode';
import { chatHtml, makeNonce } from '../webview/html';
import type { Chat } from './chat';
import type { Services } from './services';

export const CHAT_VIEW = 'repozip.chat';

export class ChatView implements vscode.WebviewViewProvider {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly chat: Chat,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const webview = view.webview;
    webview.options = { enableScripts: true, localResourceRoots: [media] };
    const uri = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(media, name)).toString();
    webview.html = chatHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: uri('chat.js'),
      styleUri: uri('chat.css'),
      codiconUri: uri('codicon.css'),
    });
    const sub = webview.onDidReceiveMessage((m) => this.chat.receive(m));
    this.chat.attach((m) => void webview.postMessage(m));
    view.onDidDispose(() => {
      sub.dispose();
      this.chat.detach();
    });
  }

  /** Shows and focuses the view (resolving it first if it never was). */
  static reveal(): Thenable<unknown> {
    return vscode.commands.executeCommand(`${CHAT_VIEW}.focus`);
  }
}

export function registerChatView(context: vscode.ExtensionContext, s: Services): void {
  context.subscriptions.push(vscode.window.registerWebviewViewProvider(CHAT_VIEW, new ChatView(context.extensionUri, s.chat)));
}
