// "repozip: Choose Model" and "repozip: Set Hugging Face Token": pick from the catalogue (each item
// shows what the model costs), a hub id or a local folder; the choice is downloaded right away with
// its progress (bytes, rate, time left) in a cancellable notification.
import * as vscode from 'vscode';
import { catalogue } from '../engine/editor';
import { quickPickItem } from './modelItems';
import type { EngineCall } from './cache';
import { describeError } from './errors';
import { downloadMessage, Increments } from './progress';

export const TOKEN_SECRET = 'repozip.hfToken';
const HUB_ID = /^[\w.-]+\/[\w.-]+(@[\w./-]+)?$/;

type Pick = vscode.QuickPickItem & { spec?: string; action?: 'hub' | 'folder' | 'default' };

export async function chooseModel(extensionPath: string, current: string, call: EngineCall): Promise<string | undefined> {
  const items: Pick[] = catalogue(extensionPath).map((e) => ({ ...quickPickItem(e), spec: e.spec, picked: e.spec === current }));
  items.push(
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(cloud-download) Hugging Face model id…', action: 'hub' },
    { label: '$(folder) Local folder…', action: 'folder' },
  );
  if (current) items.push({ label: '$(discard) The default for this device', action: 'default' });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'repozip: Choose Model',
    placeHolder: current ? `Now: ${current}` : 'Now: the default for this device',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!pick) return undefined;
  let spec = pick.spec;
  if (pick.action === 'hub') {
    spec = await vscode.window.showInputBox({
      title: 'Hugging Face model id',
      prompt: 'org/name or org/name@revision: a transformers model with safetensors weights and a tokenizer.json',
      validateInput: (v) => (HUB_ID.test(v.trim()) ? undefined : 'Expected org/name[@revision]'),
    });
  } else if (pick.action === 'folder') {
    const dirs = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: 'Use this model',
      title: 'A folder with config.json, tokenizer.json and *.safetensors',
    });
    spec = dirs?.[0]?.fsPath;
  } else if (pick.action === 'default') {
    spec = '';
  }
  if (spec === undefined) return undefined;
  spec = spec.trim();
  if (spec && !(await pull(spec, call))) return undefined;
  await vscode.workspace.getConfiguration('repozip').update('model', spec, vscode.ConfigurationTarget.Global);
  return spec;
}

/** Downloads (or checks) a model with a cancellable progress notification; false when it failed. */
export function pull(spec: string, call: EngineCall): Thenable<boolean> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `repozip: getting ${spec}`, cancellable: true },
    async (progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      const increments = new Increments();
      try {
        await call(
          'pull',
          { model: spec },
          {
            signal: controller.signal,
            onEvent: (e) => progress.report({ message: downloadMessage(e), increment: increments.next(e.totalAll ? e.bytesAll / e.totalAll : 0) }),
          },
        );
        return true;
      } catch (e) {
        const d = describeError(e);
        if (d.cancelled) return false;
        const gated = /gated|token/i.test(d.message);
        const choice = await vscode.window.showErrorMessage(`repozip: ${d.message}`, ...(gated ? ['Set Hugging Face Token'] : []));
        if (choice) void vscode.commands.executeCommand('repozip.setHfToken');
        return false;
      }
    },
  );
}

export async function setToken(secrets: vscode.SecretStorage): Promise<void> {
  const token = await vscode.window.showInputBox({
    title: 'Hugging Face token',
    prompt: "For gated models (accept the licence on the model page first). Kept in VS Code's secret storage; empty removes it.",
    password: true,
    ignoreFocusOut: true,
  });
  if (token === undefined) return;
  if (token.trim()) await secrets.store(TOKEN_SECRET, token.trim());
  else await secrets.delete(TOKEN_SECRET);
}
