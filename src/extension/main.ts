// The extension's entry point: builds what the features share (the engine process, the cache
// tracker and its status bar item, the chat, the reporting) and lets each feature register itself.
// The logic lives in the vscode-free modules beside this one; what is here is VS Code plumbing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, EngineError, type IndexResult, type NoticeEvent } from '../engine/editor';
import type { AnswerStats, Turn } from '../webview/protocol';
import { CacheTracker, type EngineCall } from './cache';
import { panelState, statusBarText } from './cacheLabels';
import { Chat, type AnswerOptions } from './chat';
import { registerChatParticipant } from './chatParticipant';
import { registerChatView } from './chatView';
import { registerCommands } from './commands';
import { editorContext } from './editorContext';
import { Engine } from './engine';
import { describeError } from './errors';
import { BackgroundRun } from './explain';
import { registerHover } from './hover';
import { TOKEN_SECRET } from './models';
import { runPanelAction } from './panelActions';
import { Increments } from './progress';
import { runtimeProblem } from './runtime';
import type { Services } from './services';
import { askParams, engineParams, proxyEnv, readSettings } from './settings';
import { showWalkthroughOnce } from './walkthrough';
import { registerWatcher } from './watcher';

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
  const params = () => {
    if (!folder || !context.storageUri) throw new EngineError('bad-input', 'Open a folder first: repozip answers questions about the open folder.');
    return engineParams(settings(), {
      root: folder,
      modelCacheDir: context.globalStorageUri.fsPath,
      snapshotDir: path.join(context.storageUri.fsPath, 'snapshots'),
    });
  };

  const engine = startEngine(context, log);
  stopEngine = () => engine.dispose();
  // Without onnxruntime's binary for this platform the engine process cannot start: say so once, and
  // let every request answer with the same sentence (the chat, the status bar and the commands show it).
  const missingRuntime = runtimeProblem(context.extensionPath, process.platform, process.arch, fs.existsSync);
  if (missingRuntime) void vscode.window.showErrorMessage(`repozip: ${missingRuntime}`);
  const call: EngineCall = missingRuntime ? () => Promise.reject(new Error(missingRuntime)) : engine.call;
  const { notice, report } = notifications(log);
  const trust = workspaceTrust();
  const background = new BackgroundRun();
  const askInput = { open: false };

  // --- the cache and the status bar
  const status = vscode.window.createStatusBarItem('repozip.status', vscode.StatusBarAlignment.Left, 10);
  status.name = 'repozip cache';
  status.command = 'repozip.showActions';
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
    autoRebuild: () => settings().autoBuild === 'onChange' && trust.granted(),
    busy: () => askInput.open || chat.busy,
    startAutoBuild: () => void build({ quiet: true }).then(undefined, (e) => report(e, 'automatic rebuild')),
  });
  context.subscriptions.push(status, { dispose: () => tracker.dispose() }, { dispose: () => background.stop() });
  if (folder) status.show();

  const build = (opts: { quiet?: boolean; signal?: AbortSignal } = {}): Thenable<IndexResult> =>
    vscode.window.withProgress(
      {
        location: opts.quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification,
        title: 'repozip: building the repository cache',
        cancellable: !opts.quiet,
      },
      async (progress, cancel) => {
        await trust.ensure();
        const controller = new AbortController();
        cancel.onCancellationRequested(() => controller.abort());
        opts.signal?.addEventListener('abort', () => controller.abort(), { once: true });
        const increments = new Increments();
        const r = await tracker.build({
          signal: controller.signal,
          onStep: (s) => progress.report({ message: s.message, increment: increments.next(s.fraction) }),
        });
        const ms = Object.entries(r.timings)
          .map(([k, v]) => `${k} ${Math.round(v)}`)
          .join(', ');
        log.info(
          `cache ${r.reused ? 'reused' : 'built'} ${r.key.slice(0, 16)}: ${r.files.included} files, ${r.tokens.context} tokens, ${r.keptRatio} kept, ${r.bytesOnDisk} bytes; ms: ${ms}`,
        );
        return r;
      },
    );

  // Scripted answers stand in for the model in the UI test (the tiny test model never names a file,
  // so its answers hold no link to click); only when the harness sets REPOZIP_TEST_HOOKS=1.
  const scripted: string[] = [];
  if (process.env.REPOZIP_TEST_HOOKS === '1')
    context.subscriptions.push(
      vscode.commands.registerCommand('repozip._test.scriptAnswer', (markdown: unknown) => typeof markdown === 'string' && void scripted.push(markdown)),
    );

  const answer = async (question: string, opts: AnswerOptions): Promise<AnswerStats> => {
    const script = scripted.shift();
    if (script !== undefined) {
      opts.onText(script);
      return { cacheReused: true, firstTokenMs: 0, tokens: 0, tokensPerSecond: 0 };
    }
    background.stop();
    // the editor as it was when asked: a build first can take minutes
    const editor = editorContext(folder, vscode.window.activeTextEditor, await opts.symbolFiles);
    await trust.ensure();
    const s = settings();
    const t0 = Date.now();
    let built = false;
    if (s.autoBuild !== 'never' && tracker.status.kind !== 'ready') built = !(await build({ signal: opts.signal })).reused;
    const buildMs = Date.now() - t0;
    const onProgress = tracker.answerProgress();
    const r = await call('ask', askParams(s, params(), question, opts.maxTokens, editor), {
      signal: opts.signal,
      onEvent: (e) => (e.kind === 'text' ? opts.onText(e.delta) : e.kind === 'progress' ? onProgress(e) : notice(e)),
    });
    log.info(
      `answered from ${r.key.slice(0, 16)}: ${r.tokens} tokens (${r.stop}), first token after ${Math.round(buildMs + r.firstTokenMs)} ms, ${r.decodeMsPerToken.toFixed(1)} ms/token`,
    );
    chat.setFiles(r.files);
    opts.onSnapshot?.(r.key);
    // from the question to the first token, as the user waited: a build it needed counts
    return {
      cacheReused: r.cacheReused && !built,
      firstTokenMs: buildMs + r.firstTokenMs,
      tokens: r.tokens,
      tokensPerSecond: r.decodeMsPerToken > 0 ? 1000 / r.decodeMsPerToken : 0,
      context: r.context,
    };
  };

  chat = new Chat({ store: context.workspaceState, answer, act: (m) => void runPanelAction(m, folder).catch((e) => report(e, m.type)) });

  const services: Services = { log, folder, settings, params, call, tracker, chat, build, answer, report, background, askInput };
  registerChatView(context, services);
  registerCommands(context, services);
  registerHover(context, services);
  registerChatParticipant(context, services);
  registerWatcher(context, services);
  if (!missingRuntime) showWalkthroughOnce(context);
  return { statusBarText: () => status.text, history: () => chat.history, enginePid: () => engine.pid };
}

/** The engine process, its environment following the proxy setting and the stored Hugging Face token. */
function startEngine(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Engine {
  let token = '';
  const loadToken = async () => void (token = (await context.secrets.get(TOKEN_SECRET)) ?? '');
  const tokenLoaded = loadToken();
  context.subscriptions.push(context.secrets.onDidChange((e) => e.key === TOKEN_SECRET && void loadToken()));
  return new Engine({
    hostScript: context.asAbsolutePath('dist/engine-host.js'),
    env: async () => {
      await tokenLoaded;
      const http = vscode.workspace.getConfiguration('http');
      return { ...proxyEnv(http.get('proxy'), http.get('noProxy')), ...(token && { HF_TOKEN: token }) };
    },
    onLog: (line) => log.info(`[engine] ${line}`),
    onCrash: (reason) => {
      log.error(`engine process: ${reason}`);
      void vscode.window
        .showErrorMessage(`repozip: the engine process stopped (${reason}). The next request starts a new one.`, 'Show Log')
        .then((c) => c && log.show());
    },
  });
}

/** Engine notices (each shown once a session; information only in the log) and failures, as notifications with what fixes them. */
function notifications(log: vscode.LogOutputChannel) {
  const shown = new Set<string>();
  const notice = ({ message, level }: NoticeEvent) => {
    if (level === 'info') return log.info(message);
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
  return { notice, report };
}

/** Workspace trust: the model reads an untrusted workspace's files only with the user's consent, asked once a session. */
function workspaceTrust() {
  let consented = false;
  return {
    granted: () => vscode.workspace.isTrusted || consented,
    ensure: async () => {
      if (vscode.workspace.isTrusted || consented) return;
      const ok = await vscode.window.showWarningMessage(
        'This workspace is not trusted. Let repozip read its files with the local model to answer? Nothing in the workspace is run.',
        { modal: true },
        'Allow for this Session',
      );
      if (!ok) throw new CancelledError('reading an untrusted workspace');
      consented = true;
    },
  };
}

let stopEngine: (() => Promise<void>) | undefined;

/** VS Code waits for this promise: the engine process gets its chance to exit cleanly. */
export function deactivate(): Promise<void> | undefined {
  return stopEngine?.();
}
