// Registers `@repo` in VS Code's own chat, where this VS Code can run one (participant.ts holds the
// handler): paths in its answers become references to the workspace's files.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { participantHandler } from './participant';
import type { Services } from './services';

export function registerChatParticipant(context: vscode.ExtensionContext, s: Services): void {
  if (!vscode.chat?.createChatParticipant) return;
  const participant = vscode.chat.createChatParticipant(
    'repozip.repo',
    participantHandler({
      answer: s.answer,
      files: () => new Set(s.chat.snapshotFiles),
      toUri: (rel) => vscode.Uri.file(path.join(s.folder ?? '', ...rel.split('/'))),
    }),
  );
  participant.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'repozip.svg');
  context.subscriptions.push(participant);
}
