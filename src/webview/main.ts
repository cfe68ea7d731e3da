/// <reference lib="dom" />
// The chat panel's script (bundled into media/chat.js). It keeps the conversation with the pure
// reducer in history.ts, renders answers with render.ts, and turns clicks into protocol messages.
// Model and engine text reaches the DOM only as render.ts's output or as textContent.

import { contextHtml } from './context';
import { formatStats } from './format';
import { loadState, reduceTurns, saveState } from './history';
import { LIMITS, type CacheKind, type CacheState, type FromWebview, type ToWebview, type Turn } from './protocol';
import { render } from './render';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (msg: FromWebview): void => vscode.postMessage(msg);

const byId = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  transcript: byId('transcript'),
  empty: byId('empty'),
  announcer: byId('announcer'),
  input: byId<HTMLTextAreaElement>('input'),
  send: byId<HTMLButtonElement>('send'),
  build: byId<HTMLButtonElement>('build'),
  cache: byId('cache'),
  cacheIcon: byId('cache-icon'),
  cacheLabel: byId('cache-label'),
  cacheDetail: byId('cache-detail'),
  cacheProgress: byId<HTMLProgressElement>('cache-progress'),
};

// ---------------------------------------------------------------------------------------------
// State: restored at once from the last setState, replaced by `init` when the extension answers.

const saved = loadState(vscode.getState());
let turns: readonly Turn[] = saved.turns;
let cache: CacheState | null = saved.cache;
let files: ReadonlySet<string> = new Set();
ui.input.value = saved.draft;
ui.input.maxLength = LIMITS.question;

interface TurnView {
  answer: HTMLElement;
  footer: HTMLElement;
  /** The code blocks of the last render, for the copy and insert buttons. */
  codeBlocks: string[];
}
const views = new Map<string, TurnView>();

const streamingTurn = (): Turn | undefined => turns.find((t) => t.status === 'streaming');
const turnById = (id: string): Turn | undefined => turns.find((t) => t.id === id);

let saveTimer: number | undefined;
/** setState serialises the whole state, so typing and streaming save at most every 300 ms. */
function persist(): void {
  clearTimeout(saveTimer);
  saveTimer = window.setTimeout(() => vscode.setState(saveState(turns, cache, ui.input.value)), 300);
}

// ---------------------------------------------------------------------------------------------
// Rendering

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function iconButton(icon: string, label: string, action: string): HTMLButtonElement {
  const b = el('button', 'icon-button');
  b.type = 'button';
  b.title = label;
  b.setAttribute('aria-label', label);
  b.dataset.action = action;
  const glyph = el('span', `codicon codicon-${icon}`);
  glyph.setAttribute('aria-hidden', 'true');
  b.append(glyph);
  return b;
}

function renderAll(): void {
  views.clear();
  ui.transcript.querySelectorAll('.turn').forEach((n) => n.remove());
  for (const t of turns) addTurn(t);
  ui.empty.hidden = turns.length > 0;
}

function addTurn(t: Turn): void {
  const root = el('section', 'turn');
  root.dataset.turnId = t.id;
  root.setAttribute('aria-label', 'Question and answer');
  const question = el('div', 'question', t.question);
  question.title = `Asked ${new Date(t.startedAt).toLocaleString()}`;
  const view: TurnView = { answer: el('div', 'answer markdown'), footer: el('div', 'turn-footer'), codeBlocks: [] };
  root.append(question, view.answer, view.footer);
  ui.transcript.append(root);
  views.set(t.id, view);
  ui.empty.hidden = true;
  renderAnswer(t);
  renderFooter(t);
}

function renderAnswer(t: Turn): void {
  const view = views.get(t.id);
  if (!view) return;
  const streaming = t.status === 'streaming';
  view.answer.classList.toggle('streaming', streaming);
  view.answer.setAttribute('aria-busy', String(streaming));
  if (streaming && t.answer === '') {
    view.answer.innerHTML = '<p class="thinking"><span class="codicon codicon-loading codicon-modifier-spin" aria-hidden="true"></span> Thinking…</p>';
    view.codeBlocks = [];
    return;
  }
  const { html, codeBlocks } = render(t.answer, files);
  view.answer.innerHTML = html;
  view.codeBlocks = codeBlocks;
}

function renderFooter(t: Turn): void {
  const footer = views.get(t.id)?.footer;
  if (!footer) return;
  // the file links are rendered again when the file list changes; an opened list stays open
  const contextOpen = footer.querySelector('details')?.open ?? false;
  footer.replaceChildren();
  if (t.status === 'streaming') return;
  if (t.status === 'error') footer.append(el('div', 'turn-error', t.error ?? 'The answer failed.'));
  if (t.status === 'stopped') footer.append(el('span', 'turn-note', 'Stopped'));
  if (t.stats) footer.append(el('span', 'turn-stats', formatStats(t.stats)));
  const actions = el('span', 'turn-actions');
  if (t.status !== 'done') actions.append(iconButton('refresh', 'Ask again', 'retry'));
  if (t.answer) actions.append(iconButton('copy', 'Copy answer', 'copy-answer'));
  footer.append(actions);
  if (t.stats?.context) {
    const context = el('details', 'turn-context markdown');
    context.innerHTML = contextHtml(t.stats.context, files);
    context.open = contextOpen;
    footer.append(context);
  }
}

const CACHE_ICONS: Record<CacheKind, string> = {
  missing: 'circle-slash',
  building: 'loading codicon-modifier-spin',
  ready: 'database',
  stale: 'warning',
  error: 'error',
};
const BUILD_LABELS: Partial<Record<CacheKind, string>> = { missing: 'Build', stale: 'Rebuild', error: 'Retry' };

function renderCache(): void {
  ui.cache.className = `cache-state${cache ? ` cache-${cache.kind}` : ''}`;
  ui.cacheIcon.className = `codicon codicon-${cache ? CACHE_ICONS[cache.kind] : 'database'}`;
  ui.cacheLabel.textContent = cache?.label ?? 'Connecting…';
  ui.cacheDetail.textContent = cache?.detail ?? '';
  ui.cacheProgress.hidden = cache?.progress === undefined;
  ui.cacheProgress.value = cache?.progress ?? 0;
  const build = cache && BUILD_LABELS[cache.kind];
  ui.build.hidden = !build;
  ui.build.textContent = build ?? '';
}

function renderComposer(): void {
  const streaming = streamingTurn() !== undefined;
  const label = streaming ? 'Stop (Escape)' : 'Send (Enter)';
  ui.send.title = label;
  ui.send.setAttribute('aria-label', label);
  ui.send.classList.toggle('stop', streaming);
  ui.send.firstElementChild!.className = `codicon codicon-${streaming ? 'debug-stop' : 'send'}`;
  ui.send.disabled = !streaming && ui.input.value.trim() === '';
}

// Deltas arrive per token; re-rendering markdown once per frame is plenty and keeps long answers
// cheap. Scrolling follows the answer only while the user is at the bottom.
const dirty = new Set<string>();
let frame = 0;

const atBottom = (): boolean => ui.transcript.scrollHeight - ui.transcript.scrollTop - ui.transcript.clientHeight < 48;
const scrollToBottom = (): void => void (ui.transcript.scrollTop = ui.transcript.scrollHeight);

function scheduleRender(id: string): void {
  dirty.add(id);
  frame ||= requestAnimationFrame(() => {
    frame = 0;
    const follow = atBottom();
    for (const turnId of dirty) {
      const t = turnById(turnId);
      if (t) renderAnswer(t);
    }
    dirty.clear();
    if (follow) scrollToBottom();
  });
}

function announce(text: string): void {
  ui.announcer.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Messages from the extension

function apply(msg: ToWebview): void {
  turns = reduceTurns(turns, msg);
  switch (msg.type) {
    case 'init':
      files = new Set(msg.files);
      cache = msg.cache;
      renderAll();
      renderCache();
      scrollToBottom();
      break;
    case 'files':
      // Links depend on the file list, so every answer and its context are rendered again.
      files = new Set(msg.files);
      turns.forEach(renderAnswer);
      turns.forEach(renderFooter);
      break;
    case 'cache-state':
      // Progress updates are frequent; only a change of kind is worth announcing.
      if (msg.cache.kind !== cache?.kind) announce(msg.cache.label);
      cache = msg.cache;
      renderCache();
      break;
    case 'history-cleared':
      renderAll();
      break;
    case 'answer-start': {
      const t = turnById(msg.turnId);
      if (t && !views.has(t.id)) addTurn(t);
      scrollToBottom();
      break;
    }
    case 'answer-delta':
      scheduleRender(msg.turnId);
      break;
    case 'answer-end': {
      const t = turnById(msg.turnId);
      if (!t || t.status === 'streaming') break;
      // Rendered now rather than next frame: the cursor goes, and the announcement reads the
      // answer as shown (text, not markdown).
      const follow = atBottom();
      dirty.delete(t.id);
      renderAnswer(t);
      renderFooter(t);
      if (follow) scrollToBottom();
      const shown = views.get(t.id)?.answer.textContent ?? '';
      announce(t.status === 'done' ? `Answer: ${shown}` : t.status === 'stopped' ? 'Answer stopped.' : `Error: ${t.error ?? ''}`);
      break;
    }
  }
  renderComposer();
  persist();
}

window.addEventListener('message', (e: MessageEvent) => {
  const msg = e.data as ToWebview | null;
  if (typeof msg?.type === 'string') apply(msg);
});

// ---------------------------------------------------------------------------------------------
// User actions

function ask(question: string): void {
  if (streamingTurn() || !/\S/.test(question)) return;
  post({ type: 'ask', question: question.trim() });
}

function sendInput(): void {
  if (streamingTurn() || !/\S/.test(ui.input.value)) return;
  ask(ui.input.value);
  ui.input.value = '';
  ui.input.focus();
  renderComposer();
  persist();
}

function stop(): void {
  const t = streamingTurn();
  if (t) post({ type: 'stop', turnId: t.id });
}

ui.input.addEventListener('keydown', (e) => {
  // isComposing: Enter confirms an IME composition (Chinese, Japanese…); it must not send.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendInput();
  } else if (e.key === 'Escape' && streamingTurn()) {
    e.preventDefault();
    stop();
  } else if (e.key === 'ArrowUp' && ui.input.value === '' && turns.length > 0) {
    // As in a terminal: recall the last question to edit and resend it.
    e.preventDefault();
    ui.input.value = turns[turns.length - 1].question;
    renderComposer();
  }
});
ui.input.addEventListener('input', () => {
  renderComposer();
  persist();
});
ui.send.addEventListener('click', () => (streamingTurn() ? stop() : sendInput()));
ui.build.addEventListener('click', () => post({ type: 'build-cache' }));
byId('new-chat').addEventListener('click', () => {
  post({ type: 'new-chat' });
  ui.input.focus();
});

function flashCopied(button: HTMLElement): void {
  const icon = button.querySelector('.codicon');
  if (!icon) return;
  icon.classList.replace('codicon-copy', 'codicon-check');
  setTimeout(() => icon.classList.replace('codicon-check', 'codicon-copy'), 1200);
}

// One listener for everything rendered: links and buttons inside answers carry data attributes,
// never handlers of their own (the CSP forbids inline handlers anyway).
document.addEventListener('click', (e) => {
  const target = (e.target as Element).closest<HTMLElement>('a, button');
  if (!target) return;
  if (target instanceof HTMLAnchorElement) {
    // Anchors never navigate the webview; the extension opens what they point at.
    e.preventDefault();
    const { path, line, column } = target.dataset;
    if (target.classList.contains('file-link') && path) {
      post({ type: 'open-file', path, ...(line && { line: Number(line) }), ...(column && { column: Number(column) }) });
    } else if (target.classList.contains('external-link')) {
      post({ type: 'open-external', url: target.getAttribute('href') ?? '' });
    }
    return;
  }
  const { ask: example, copy, insert, action } = target.dataset;
  if (example) return ask(example);
  const id = target.closest<HTMLElement>('.turn')?.dataset.turnId;
  const turn = id === undefined ? undefined : turnById(id);
  const view = id === undefined ? undefined : views.get(id);
  if (!turn || !view) return;
  if (copy !== undefined && view.codeBlocks[Number(copy)] !== undefined) {
    post({ type: 'copy', text: view.codeBlocks[Number(copy)] });
    flashCopied(target);
  } else if (insert !== undefined && view.codeBlocks[Number(insert)] !== undefined) {
    post({ type: 'insert', text: view.codeBlocks[Number(insert)] });
  } else if (action === 'copy-answer') {
    post({ type: 'copy', text: turn.answer });
    flashCopied(target);
  } else if (action === 'retry') {
    ask(turn.question);
  }
});

// ---------------------------------------------------------------------------------------------
// Start: show what was saved, then ask the extension for the real state.

renderAll();
renderCache();
renderComposer();
scrollToBottom();
ui.input.focus();
post({ type: 'ready' });
