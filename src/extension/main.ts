// The extension's entry point: wires the engine process, the cache tracker, the chat, the status bar,
// commands, hovers and the file watcher together. The logic lives in the vscode-free modules beside
// this one; what is here is VS Code plumbing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, EngineError } from '../engine/errors';
import type { IndexResult } from '../engine/worker/protocol';
import { isWebUrl, type AnswerStats, type Turn } from '../webview/protocol';
import { CacheTracker, type EngineCall } from './cache';
import { panelState, statusBarText } from './cacheLabels';
import { Chat, type AnswerOptions, type PanelAction } from './chat';
import { ChatView, CHAT_VIEW } from './chatView';
import { Engine } from './engine';
import { describeError } from './errors';
import { EXPLAIN_TOKENS, Explanations, explainQuestion, parseTarget, type ExplainTarget } from './explain';
import { EXPLAIN_COMMAND, hoverProvider } from './hover';
import { openablePath } from './links';
import { chooseModel, setToken, TOKEN_SECRET } from './models';
import { participantHandler } from './participant';
import { Increments } from './progress';
import { runtimeProblem } from './runtime';
import { askParams, engineParams, proxyEnv, readSettings } from './settings';

/** What activate() returns: enough for the integration tests to look inside. */
export interface RepozipApi {
  statusBarText(): string;
  history(): readonly Turn[];
  enginePid(): number | undefined;
}

export function activate(context: vscode.ExtensionContext): RepozipApi {
  const log = vscode.window.createOutputChannel('repozip', { log: true });
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const settings = () => readSettings((k) => vscode.workspace.getConfiguration('repozip').get(k));
  const places = () => {
    if (!folder || !context.storageUri) throw new EngineError('bad-input', 'Open a folder first: repozip answers questions about the open folder.');
    return { root: folder, modelCacheDir: context.globalStorageUri.fsPath, snapshotDir: path.join(context.storageUri.fsPath, 'snapshots') };
  };
  const params = () => engineParams(settings(), places());
  const sub = (...d: vscode.Disposable[]) => context.subscriptions.push(...d);

  // --- the engine process
  let token = '';
  const loadToken = async () => void (token = (await context.secrets.get(TOKEN_SECRET)) ?? '');
  const tokenLoaded = loadToken();
  sub(context.secrets.onDidChange((e) => e.key === TOKEN_SECRET && void loadToken()));
  const engine = new Engine({
    hostScript: context.asAbsolutePath('dist/engine-host.js'),
    env: async () => {
      await tokenLoaded;
      const http = vscode.workspace.getConfiguration('http');
      return { ...proxyEnv(http.get('proxy'), http.get('noProxy')), ...(token && { HF_TOKEN: token }) };
    },
    onLog: (line) => log.info(`[engine] ${line}`),
    onCrash: (reason) => {
      log.error(`engine process: ${reason}`);
      void vscode.window.showErrorMessage(`repozip: the engine process stopped (${reason}). The next request starts a new one.`, 'Show Log').then((c) => c && log.show());
    },
  });
  stopEngine = () => engine.dispose();
  // Without onnxruntime's binary for this platform the engine process cannot start: say so once, and
  // let every request answer with the same sentence (the chat, the status bar and the commands show it).
  const missingRuntime = runtimeProblem(context.extensionPath, process.platform, process.arch, fs.existsSync);
  if (missingRuntime) void vscode.window.showErrorMessage(`repozip: ${missingRuntime}`);
  const call: EngineCall = missingRuntime ? () => Promise.reject(new Error(missingRuntime)) : engine.call;

  const shown = new Set<string>();
  const notice = (message: string) => {
    log.warn(message);
    if (shown.has(message)) return;
    shown.add(message);
    void vscode.window.showWarningMessage(`repozip: ${message}`, 'Choose Model').then((c) => c && vscode.commands.executeCommand('repozip.chooseModel'));
  };
  const report = (e: unknown, what: string) => {
    const d = describeError(e);
    if (d.cancelled) return;
    log.error(`${what}: ${d.message}`);
    void vscode.window.showErrorMessage(`repozip: ${d.message}`, ...(d.action ? [d.action] : [])).then((c) => {
      if (c === 'Show Log') log.show();
      if (c === 'Choose Model') void vscode.commands.executeCommand('repozip.chooseModel');
    });
  };

  // --- workspace trust: the model reads an untrusted workspace's files only with consent
  let consented = false;
  const ensureTrust = async () => {
    if (vscode.workspace.isTrusted || consented) return;
    const ok = await vscode.window.showWarningMessage('This workspace is not trusted. Let repozip read its files with the local model to answer? Nothing in the workspace is run.', { modal: true }, 'Allow for this Session');
    if (!ok) throw new CancelledError('reading an untrusted workspace');
    consented = true;
  };

  // --- the cache, the chat and the status bar
  const status = vscode.window.createStatusBarItem('repozip.status', vscode.StatusBarAlignment.Left, 10);
  status.name = 'repozip cache';
  status.command = 'repozip.showActions';
  let askInputOpen = false;
  let chat: Chat; // the tracker reports before the chat exists
  const tracker = new CacheTracker({
    call,
    params,
    onChange: (s) => {
      Object.assign(status, statusBarText(s));
      chat?.setCache(panelState(s));
    },
    onFiles: (files) => chat?.setFiles(files),
    onNotice: notice,
    // never a consent prompt out of the blue: an untrusted workspace rebuilds only once the user said yes
    autoRebuild: () => settings().autoBuild === 'onChange' && (vscode.workspace.isTrusted || consented),
    busy: () => askInputOpen || chat.busy,
    startAutoBuild: () => void build({ quiet: true }).then(undefined, (e) => report(e, 'automatic rebuild')),
  });
  sub(status, { dispose: () => tracker.dispose() });
  if (folder) status.show();

  /** Builds with a progress notification (or, for automatic rebuilds, the status bar's spinner). */
  const build = (opts: { quiet?: boolean; signal?: AbortSignal } = {}): Thenable<IndexResult> =>
    vscode.window.withProgress({ location: opts.quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification, title: 'repozip: building the repository cache', cancellable: !opts.quiet }, async (progress, cancel) => {
      await ensureTrust();
      const controller = new AbortController();
      cancel.onCancellationRequested(() => controller.abort());
      opts.signal?.addEventListener('abort', () => controller.abort(), { once: true });
      const increments = new Increments();
      const r = await tracker.build({ signal: controller.signal, onStep: (s) => progress.report({ message: s.message, increment: increments.next(s.fraction) }) });
      const ms = Object.entries(r.timings).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ');
      log.info(`cache ${r.reused ? 'reused' : 'built'} ${r.key.slice(0, 16)}: ${r.files.included} files, ${r.tokens.context} tokens, ${r.keptRatio} kept, ${r.bytesOnDisk} bytes; ms: ${ms}`);
      return r;
    });

  // Scripted answers stand in for the model in the UI test (the tiny test model never names a file,
  // so its answers hold no link to click); only when the harness sets REPOZIP_TEST_HOOKS=1.
  const scripted: string[] = [];
  /** A hover's background explanation (auto mode); a question from the user goes first. */
  let autoRun: AbortController | undefined;

  /** One question through the engine: builds the cache first when the settings allow. */
  const answer = async (question: string, opts: AnswerOptions): Promise<AnswerStats> => {
    const script = scripted.shift();
    if (script !== undefined) {
      opts.onText(script);
      return { cacheReused: true, firstTokenMs: 0, tokens: 0, tokensPerSecond: 0 };
    }
    autoRun?.abort();
    await ensureTrust();
    const s = settings();
    const t0 = Date.now();
    let built = false;
    if (s.autoBuild !== 'never' && tracker.status.kind !== 'ready') built = !(await build({ signal: opts.signal })).reused;
    const buildMs = Date.now() - t0;
    const onProgress = tracker.answerProgress();
    const r = await call('ask', askParams(s, params(), question, opts.maxTokens), {
      signal: opts.signal,
      onEvent: (e) => (e.kind === 'text' ? opts.onText(e.delta) : e.kind === 'progress' ? onProgress(e) : notice(e.message)),
    });
    log.info(`answered from ${r.key.slice(0, 16)}: ${r.tokens} tokens (${r.stop}), first token after ${Math.round(buildMs + r.firstTokenMs)} ms, ${r.decodeMsPerToken.toFixed(1)} ms/token`);
    chat.setFiles(r.files);
    opts.onSnapshot?.(r.key);
    // from the question to the first token, as the user waited: a build it needed counts
    return { cacheReused: r.cacheReused && !built, firstTokenMs: buildMs + r.firstTokenMs, tokens: r.tokens, tokensPerSecond: r.decodeMsPerToken > 0 ? 1000 / r.decodeMsPerToken : 0 };
  };

  const act = async (msg: PanelAction) => {
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
  };

  chat = new Chat({ store: context.workspaceState, answer, act: (m) => void act(m).catch((e) => report(e, m.type)) });
  sub(vscode.window.registerWebviewViewProvider(CHAT_VIEW, new ChatView(context.extensionUri, chat)));

  // --- hovers
  const explanations = new Explanations(context.workspaceState);
  let autoTimer: NodeJS.Timeout | undefined;
  /** A quiet, small answer kept for the next hover; never builds, never while something else runs. */
  const explainInBackground = async (t: ExplainTarget) => {
    autoRun?.abort();
    const controller = (autoRun = new AbortController());
    let text = '';
    const r = await call('ask', { ...askParams(settings(), params(), explainQuestion(t), EXPLAIN_TOKENS), build: false }, { signal: controller.signal, onEvent: (e) => e.kind === 'text' && (text += e.delta) });
    explanations.set(r.key, t.file, t.symbol, text);
  };
  const autoExplain = (t: ExplainTarget, cancel: vscode.CancellationToken) => {
    clearTimeout(autoTimer);
    if (!vscode.workspace.isTrusted) return;
    autoTimer = setTimeout(() => {
      if (cancel.isCancellationRequested || chat.busy || tracker.readyKey === undefined) return;
      explainInBackground(t).catch((e) => log.info(`background explanation: ${describeError(e).message}`));
    }, 700);
    cancel.onCancellationRequested(() => clearTimeout(autoTimer));
  };
  if (folder) {
    sub(vscode.languages.registerHoverProvider({ scheme: 'file' }, hoverProvider({ folder, mode: () => settings().hoverMode, snapshot: () => tracker.readyKey, explanations, autoExplain })));
  }
  sub({ dispose: () => (clearTimeout(autoTimer), autoRun?.abort()) });

  // --- commands
  const command = (id: string, fn: (...args: any[]) => unknown) => sub(vscode.commands.registerCommand(id, fn));
  const buildCommand = () => build().then(undefined, (e) => report(e, 'build'));
  command('repozip.buildCache', buildCommand);
  command('repozip.rebuildCache', async () => {
    try {
      await call('clear', params());
      await buildCommand();
    } catch (e) {
      report(e, 'rebuild');
    }
  });
  command('repozip.cancelBuild', () => tracker.cancel());
  command('repozip.clearCache', async () => {
    try {
      const r = await call('clear', params());
      void vscode.window.showInformationMessage(`repozip: removed ${r.removed} cached ${r.removed === 1 ? 'snapshot' : 'snapshots'} (${(r.bytes / 1024 / 1024).toFixed(1)} MiB).`);
    } catch (e) {
      report(e, 'clear');
    }
    await tracker.refresh();
  });
  command('repozip.ask', async (question?: unknown) => {
    let q = typeof question === 'string' ? question : undefined;
    if (q === undefined) {
      const editor = vscode.window.activeTextEditor;
      const selection = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection) : '';
      askInputOpen = true;
      try {
        q = await vscode.window.showInputBox({ title: 'repozip: Ask about repo', prompt: 'A question about this repository', placeHolder: 'Where is the configuration read, and what reads it?', value: selection, valueSelection: [0, 0], ignoreFocusOut: true });
      } finally {
        askInputOpen = false;
      }
    }
    if (!q?.trim()) return undefined;
    await ChatView.reveal();
    const turn = await chat.ask(q.trim());
    if (!turn) void vscode.window.showInformationMessage('repozip: an answer is still streaming; stop it first.');
    return turn?.answer;
  });
  command(EXPLAIN_COMMAND, async (arg: unknown) => {
    const t = parseTarget(arg);
    if (!t) return;
    await ChatView.reveal();
    let key: string | undefined;
    const turn = await chat.ask(explainQuestion(t), { maxTokens: EXPLAIN_TOKENS, onSnapshot: (k) => (key = k) });
    if (turn?.status === 'done' && key) explanations.set(key, t.file, t.symbol, turn.answer);
  });
  command('repozip.openChat', () => ChatView.reveal());
  command('repozip.newChat', () => chat.clear());
  command('repozip.chooseModel', async () => {
    const chosen = await chooseModel(context.extensionPath, settings().model, call);
    if (chosen !== undefined) await tracker.refresh();
  });
  command('repozip.setHfToken', () => setToken(context.secrets));
  command('repozip.showLog', () => log.show());
  command('repozip.showActions', async () => {
    const kind = tracker.status.kind;
    const items: (vscode.QuickPickItem & { id: string })[] = [
      ...(kind === 'building' ? [{ label: '$(debug-stop) Cancel the build', id: 'repozip.cancelBuild' }] : []),
      ...(kind === 'missing' || kind === 'stale' || kind === 'error' || kind === 'unknown' ? [{ label: '$(database) Build the cache', id: 'repozip.buildCache' }] : []),
      ...(kind === 'ready' ? [{ label: '$(refresh) Rebuild the cache', id: 'repozip.rebuildCache' }] : []),
      { label: '$(comment-discussion) Ask about repo…', id: 'repozip.ask' },
      { label: '$(layout-sidebar-left) Open the chat', id: 'repozip.openChat' },
      { label: '$(hubot) Choose model…', id: 'repozip.chooseModel' },
      { label: '$(trash) Clear the cache', id: 'repozip.clearCache' },
      { label: '$(output) Show log', id: 'repozip.showLog' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'repozip', placeHolder: statusBarText(tracker.status).text.replace(/^\$\([^)]+\)\s*/, '') });
    if (pick) await vscode.commands.executeCommand(pick.id);
  });
  if (process.env.REPOZIP_TEST_HOOKS === '1') command('repozip._test.scriptAnswer', (markdown: unknown) => typeof markdown === 'string' && void scripted.push(markdown));

  // --- chat participant, where VS Code's chat can run one
  if (vscode.chat?.createChatParticipant) {
    const participant = vscode.chat.createChatParticipant(
      'repozip.repo',
      participantHandler({ answer, files: () => new Set(chat.snapshotFiles), toUri: (rel) => vscode.Uri.file(path.join(folder ?? '', ...rel.split('/'))) }),
    );
    participant.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'repozip.svg');
    sub(participant);
  }

  // --- staying current: file changes mark the cache stale, settings changes re-check it
  if (folder) {
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, '**/*'));
    const changed = (uri: vscode.Uri) => !/[\\/]\.git[\\/]/.test(uri.fsPath) && tracker.refreshSoon();
    sub(watcher, watcher.onDidChange(changed), watcher.onDidCreate(changed), watcher.onDidDelete(changed));
    void tracker.refresh();
  }
  sub(
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('repozip') && folder && void tracker.refresh()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => folder && void tracker.refresh()),
  );

  // --- first run: the walkthrough, once (VS Code's "open walkthroughs on install" setting turned off: never)
  const walkthroughs = vscode.workspace.getConfiguration('workbench.welcomePage').get('walkthroughs.openOnInstall', true);
  if (!missingRuntime && walkthroughs && !context.globalState.get(WALKTHROUGH_SHOWN)) {
    void context.globalState.update(WALKTHROUGH_SHOWN, true);
    void vscode.commands.executeCommand('workbench.action.openWalkthrough', `${context.extension.id}#gettingStarted`, false);
  }

  return { statusBarText: () => status.text, history: () => chat.history, enginePid: () => engine.pid };
}

let stopEngine: (() => Promise<void>) | undefined;
/** globalState: the walkthrough was opened once (closing it is the user's answer). */
const WALKTHROUGH_SHOWN = 'walkthroughShown';

/** VS Code waits for this promise: the engine process gets its chance to exit cleanly. */
export function deactivate(): Promise<void> | undefined {
  return stopEngine?.();
}
