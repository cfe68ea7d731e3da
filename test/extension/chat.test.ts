// The conversation as the panel protocol prescribes: only exact messages are handled, the history
// is authoritative and survives a reload, and stopping an answer leaves no engine call running.
import assert from 'node:assert/strict';
import test from 'node:test';
import { EngineError } from '../../src/engine/errors';
import { AnswerOptions, Chat, HISTORY_KEY, PanelAction, restoreTurns } from '../../src/extension/chat';
import type { AnswerStats, ToWebview, Turn } from '../../src/webview/protocol';
import { flush, MemoryStore } from './fakes';

const STATS: AnswerStats = { cacheReused: true, firstTokenMs: 5, tokens: 3, tokensPerSecond: 10 };

/** A chat whose answers the test streams by hand. */
function setup(store = new MemoryStore()) {
  const posted: ToWebview[] = [];
  const actions: PanelAction[] = [];
  const asked: { question: string; opts: AnswerOptions; finish: (e?: Error) => void }[] = [];
  let clock = 1_000;
  const chat = new Chat({
    store,
    now: () => (clock += 10),
    act: (m) => actions.push(m),
    answer: (question, opts) =>
      new Promise((resolve, reject) => {
        asked.push({ question, opts, finish: (e) => (e ? reject(e) : resolve(STATS)) });
        // as the engine does: an abort ends the call with 'cancelled'
        opts.signal.addEventListener('abort', () => reject(new EngineError('cancelled', 'generation was cancelled')));
      }),
  });
  chat.attach((m) => posted.push(m));
  return { chat, posted, actions, asked, store };
}

test('unknown, malformed and extra-field messages are ignored', () => {
  const { chat, posted, actions, asked } = setup();
  for (const m of [
    null,
    42,
    'ask',
    [],
    {},
    { type: 'nope' },
    { type: 'ask' },
    { type: 'ask', question: '   ' },
    { type: 'ask', question: 'q', extra: 1 },
    { type: 'open-file', path: '../etc/passwd' },
    { type: 'open-file', path: '/etc/passwd' },
    { type: 'open-external', url: 'javascript:alert(1)' },
    { type: 'stop', turnId: '../x' },
    { type: 'copy', text: 7 },
    { type: '__proto__' },
  ]) {
    chat.receive(m);
  }
  assert.deepEqual(posted, []);
  assert.deepEqual(actions, []);
  assert.deepEqual(asked, []);
});

test('ready gets init with the whole state; panel actions are passed on as fresh objects', () => {
  const { chat, posted, actions } = setup();
  chat.setFiles(['src/a.ts']);
  chat.setCache({ kind: 'ready', label: 'Cache ready' });
  chat.receive({ type: 'ready' });
  assert.deepEqual(posted.at(-1), { type: 'init', turns: [], files: ['src/a.ts'], cache: { kind: 'ready', label: 'Cache ready' } });
  const raw = { type: 'open-file', path: 'src/a.ts', line: 3 };
  chat.receive(raw);
  chat.receive({ type: 'copy', text: 'x' });
  chat.receive({ type: 'build-cache' });
  assert.deepEqual(actions, [{ type: 'open-file', path: 'src/a.ts', line: 3 }, { type: 'copy', text: 'x' }, { type: 'build-cache' }]);
  assert.notEqual(actions[0], raw);
});

test('an answer streams as start, deltas, end; the history is saved and restored after a reload', async () => {
  const { chat, posted, asked, store } = setup();
  chat.receive({ type: 'ask', question: 'What is this?' });
  assert.equal(posted[0].type, 'answer-start');
  asked[0].opts.onText('It is ');
  asked[0].opts.onText('a repo.');
  asked[0].finish();
  await flush();
  assert.deepEqual(
    posted.map((m) => m.type),
    ['answer-start', 'answer-delta', 'answer-delta', 'answer-end'],
  );
  const [turn] = chat.history;
  assert.equal(turn.answer, 'It is a repo.');
  assert.equal(turn.status, 'done');
  assert.deepEqual(turn.stats, STATS);
  assert.deepEqual((store.get(HISTORY_KEY) as Turn[])[0], turn, 'saved at the end of the answer');

  chat.setFiles(['src/a.ts']);
  // a new window over the same workspaceState
  const reloaded = setup(store);
  reloaded.chat.receive({ type: 'ready' });
  const init = reloaded.posted[0] as Extract<ToWebview, { type: 'init' }>;
  assert.deepEqual(init.turns, [turn]);
  assert.deepEqual(init.files, ['src/a.ts'], 'links work before the engine is asked again');
});

test("an answer's context is kept with its turn, through a reload", async () => {
  const store = new MemoryStore();
  const context = { mode: 'select' as const, segments: 6, totalSegments: 41, files: ['src/a.ts', 'src/b.ts'] };
  const chat = new Chat({ store, act: () => {}, answer: async (_q, opts) => (opts.onText('A repo.'), { ...STATS, context }) });
  const turn = await chat.ask('What is this?');
  assert.deepEqual(turn!.stats!.context, context);
  const reloaded = setup(store);
  reloaded.chat.receive({ type: 'ready' });
  const init = reloaded.posted[0] as Extract<ToWebview, { type: 'init' }>;
  assert.deepEqual(init.turns[0].stats!.context, context);
});

test("a hover's symbol files reach the answer", async () => {
  const { chat, asked } = setup();
  const symbolFiles = Promise.resolve(['src/a.ts', 'src/b.ts']);
  const p = chat.ask('Explain `add`', { maxTokens: 16, symbolFiles });
  assert.equal(asked[0].opts.symbolFiles, symbolFiles);
  assert.equal(asked[0].opts.maxTokens, 16);
  asked[0].finish();
  await p;
});

test('a turn that was streaming when the window went away comes back stopped', () => {
  const streaming: Turn = { id: 't1', question: 'q', answer: 'half', status: 'streaming', startedAt: 1 };
  const done: Turn = { id: 't0', question: 'q0', answer: 'a', status: 'done', startedAt: 0, endedAt: 1 };
  assert.deepEqual(restoreTurns([done, streaming, { id: 'bad id!' }, 'junk'], 9), [done, { ...streaming, status: 'stopped', endedAt: 9 }]);
  assert.deepEqual(restoreTurns({ not: 'a list' }, 9), []);
});

test('history is capped when saved', async () => {
  const { chat, asked, store } = setup();
  for (let i = 0; i < 60; i++) {
    const p = chat.ask(`question ${i}`);
    asked[i].finish();
    await p;
  }
  const saved = store.get(HISTORY_KEY) as Turn[];
  assert.equal(saved.length, 50);
  assert.equal(saved.at(-1)!.question, 'question 59');
});

test('stop aborts the engine call at once; late text is dropped; no call is left running', async () => {
  const { chat, posted, asked } = setup();
  const done = chat.ask('long question');
  const turnId = (posted[0] as { turnId: string }).turnId;
  asked[0].opts.onText('partial');
  chat.receive({ type: 'stop', turnId: 'other' });
  assert.equal(asked[0].opts.signal.aborted, false, 'a stop for another turn is ignored');
  chat.receive({ type: 'stop', turnId });
  assert.equal(asked[0].opts.signal.aborted, true);
  assert.deepEqual(posted.at(-1), { type: 'answer-end', turnId, at: (posted.at(-1) as { at: number }).at, status: 'stopped' });
  asked[0].opts.onText(' more');
  const turn = await done;
  assert.equal(turn!.status, 'stopped');
  assert.equal(turn!.answer, 'partial');
  assert.equal(posted.filter((m) => m.type === 'answer-end').length, 1, 'exactly one answer-end');
  assert.equal(chat.busy, false);
});

test('one answer at a time; new chat stops it and clears the history', async () => {
  const { chat, posted, asked } = setup();
  const first = chat.ask('one');
  assert.equal(await chat.ask('two'), undefined);
  chat.receive({ type: 'ask', question: 'three' });
  assert.equal(asked.length, 1);
  chat.receive({ type: 'new-chat' });
  assert.equal(asked[0].opts.signal.aborted, true);
  assert.equal((await first)?.status, undefined, 'the turn is gone with the history');
  assert.deepEqual(
    posted.slice(-2).map((m) => m.type),
    ['answer-end', 'history-cleared'],
  );
  assert.deepEqual(chat.history, []);
});

test('engine failures end the turn with a sentence', async () => {
  const { chat, asked } = setup();
  const p = chat.ask('q');
  asked[0].finish(new EngineError('engine-crashed', 'the engine process was killed (SIGKILL)'));
  const turn = await p;
  assert.equal(turn!.status, 'error');
  assert.match(turn!.error!, /engine process stopped: the engine process was killed/);
});

test('messages go nowhere while the panel is closed, and init catches it up', async () => {
  const { chat, posted, asked } = setup();
  chat.detach();
  const p = chat.ask('asked from the palette');
  asked[0].opts.onText('streaming');
  assert.equal(posted.length, 0);
  chat.attach((m) => posted.push(m));
  chat.receive({ type: 'ready' });
  const init = posted[0] as Extract<ToWebview, { type: 'init' }>;
  assert.equal(init.turns[0].answer, 'streaming');
  assert.equal(init.turns[0].status, 'streaming');
  asked[0].finish();
  await p;
});
