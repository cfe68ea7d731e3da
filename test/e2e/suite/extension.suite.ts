// Integration tests inside a real VS Code extension host (code-server's, or desktop VS Code's via
// @vscode/test-electron), against the real engine process and the tiny model the workspace's
// settings name. The workspace is test/e2e/fixture.mjs's repository.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { RepozipApi } from '../../../src/extension/main';

const ID = 'repozip.repozip';

async function api(): Promise<RepozipApi> {
  const ext = vscode.extensions.getExtension<RepozipApi>(ID);
  assert.ok(ext, `${ID} is installed`);
  return ext.activate();
}

async function until<T>(what: string, f: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const folder = () => vscode.workspace.workspaceFolders![0].uri;

suite('repozip in the extension host', () => {
  test('every contributed command is registered', async () => {
    await api();
    const contributed: { command: string }[] = vscode.extensions.getExtension(ID)!.packageJSON.contributes.commands;
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.map((c) => c.command).filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
  });

  test('the status bar item shows the cache state', async () => {
    const a = await api();
    const text = await until('a known cache state', () => (/repozip: (no cache|ready|stale|building)/.test(a.statusBarText()) ? a.statusBarText() : undefined));
    assert.match(text, /^\$\([a-z~-]+\) repozip: /);
  });

  test('a question goes through the real engine process and lands in the chat history', async () => {
    const a = await api();
    const before = a.history().length;
    const answer = await vscode.commands.executeCommand<string>('repozip.ask', 'What does add do?');
    assert.equal(typeof answer, 'string');
    assert.ok(answer.length > 0, 'the tiny model said something');
    const turns = a.history();
    assert.equal(turns.length, before + 1);
    assert.equal(turns.at(-1)!.status, 'done');
    assert.equal(turns.at(-1)!.answer, answer);
    const pid = a.enginePid();
    assert.ok(pid && pid !== process.pid, 'the model runs in its own process');
    await until('the cache to be ready', () => /repozip: ready/.test(a.statusBarText()));
  });

  test('an explanation asked from a hover link is shown by the next hover', async () => {
    await api();
    const uri = vscode.Uri.joinPath(folder(), 'src', 'math.ts');
    await vscode.window.showTextDocument(uri);
    const at = new vscode.Position(0, 17); // on `add` in `export function add(`
    const link = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, at);
    const text = (hs: vscode.Hover[]) => hs.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text(link), /Explain with repo context\]\(command:repozip\.explainSymbol\?/);
    await vscode.commands.executeCommand('repozip.explainSymbol', { file: 'src/math.ts', line: 1, symbol: 'add' });
    const cached = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, at);
    assert.match(text(cached), /\*\*repozip\*\* · `add`/);
    assert.doesNotMatch(text(cached), /command:repozip\.explainSymbol/);
  });
});
