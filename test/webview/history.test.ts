import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, formatStats } from '../../src/webview/format';
import { capTurns, loadState, reduceTurns, saveState } from '../../src/webview/history';
import type { ToWebview, Turn } from '../../src/webview/protocol';

const stats = { cacheReused: true, firstTokenMs: 830, tokens: 312, tokensPerSecond: 18.44 };
const CACHE = { kind: 'ready' as const, label: 'Cache ready', detail: '1.2 MB · 30 % kept' };

const run = (msgs: ToWebview[], from: readonly Turn[] = []) => msgs.reduce(reduceTurns, from);

function turn(id: string, answer = 'a', status: Turn['status'] = 'done'): Turn {
  return { id, question: `q ${id}`, answer, status, startedAt: 1, endedAt: 2 };
}

describe('reduceTurns', () => {
  it('builds a turn from start, deltas and end', () => {
    const turns = run([
      { type: 'answer-start', turnId: 't1', question: 'Why?', at: 100 },
      { type: 'answer-delta', turnId: 't1', text: 'Because ' },
      { type: 'answer-delta', turnId: 't1', text: '**reasons**.' },
      { type: 'answer-end', turnId: 't1', status: 'done', at: 900, stats },
    ]);
    assert.deepEqual(turns, [{ id: 't1', question: 'Why?', answer: 'Because **reasons**.', status: 'done', startedAt: 100, endedAt: 900, stats }]);
  });

  it('records errors and stops', () => {
    const turns = run([
      { type: 'answer-start', turnId: 'a', question: 'q', at: 1 },
      { type: 'answer-start', turnId: 'b', question: 'q', at: 2 },
      { type: 'answer-end', turnId: 'a', status: 'error', at: 3, error: 'The engine crashed.' },
      { type: 'answer-end', turnId: 'b', status: 'stopped', at: 4 },
    ]);
    assert.deepEqual(
      turns.map((t) => [t.status, t.error]),
      [
        ['error', 'The engine crashed.'],
        ['stopped', undefined],
      ],
    );
  });

  it('ignores deltas and ends for unknown or finished turns, and repeated starts', () => {
    const done = run([
      { type: 'answer-start', turnId: 't', question: 'q', at: 1 },
      { type: 'answer-delta', turnId: 't', text: 'x' },
      { type: 'answer-end', turnId: 't', status: 'stopped', at: 2 },
    ]);
    for (const msg of [
      { type: 'answer-delta', turnId: 't', text: 'late' },
      { type: 'answer-delta', turnId: 'other', text: 'x' },
      { type: 'answer-end', turnId: 't', status: 'done', at: 3 },
      { type: 'answer-start', turnId: 't', question: 'again', at: 4 },
      { type: 'cache-state', cache: CACHE },
      { type: 'files', files: ['a'] },
    ] satisfies ToWebview[]) {
      assert.equal(reduceTurns(done, msg), done, msg.type);
    }
  });

  it('replaces on init and empties on history-cleared', () => {
    const turns = [turn('x')];
    assert.equal(run([{ type: 'init', turns, files: [], cache: CACHE }], [turn('old')]), turns);
    assert.deepEqual(run([{ type: 'history-cleared' }], turns), []);
  });
});

describe("an answer's context", () => {
  const context = { mode: 'select' as const, segments: 6, totalSegments: 41, files: ['src/a.ts', 'src/b.ts'] };
  const ended = run([
    { type: 'answer-start', turnId: 't1', question: 'Why?', at: 100 },
    { type: 'answer-end', turnId: 't1', status: 'done', at: 900, stats: { ...stats, context } },
  ]);

  it('is kept with the turn and survives the saved state (a reload)', () => {
    assert.deepEqual(ended[0].stats?.context, context);
    const saved = JSON.parse(JSON.stringify(saveState(ended, CACHE, '')));
    assert.deepEqual(loadState(saved).turns, ended);
  });

  it('a damaged one makes the saved state unusable, as any damaged turn does', () => {
    for (const bad of [{ ...context, mode: 'most' }, { ...context, files: [1] }, { ...context, segments: '6' }, { ...context, extra: 1 }, { mode: 'all' }]) {
      const saved = JSON.parse(JSON.stringify(saveState([{ ...ended[0], stats: { ...stats, context: bad } } as Turn], CACHE, '')));
      assert.deepEqual(loadState(saved).turns, [], JSON.stringify(bad));
    }
  });
});

describe('capTurns', () => {
  const turns = Array.from({ length: 10 }, (_, i) => turn(`t${i}`, 'x'.repeat(100)));
  const size = JSON.stringify(turns[0]).length + 1;

  it('keeps the newest maxTurns', () => {
    assert.deepEqual(
      capTurns(turns, { maxTurns: 3, maxChars: 1e9 }).map((t) => t.id),
      ['t7', 't8', 't9'],
    );
  });

  it('drops the oldest turns beyond maxChars', () => {
    assert.deepEqual(
      capTurns(turns, { maxTurns: 50, maxChars: size * 4 }).map((t) => t.id),
      ['t6', 't7', 't8', 't9'],
    );
    assert.deepEqual(
      capTurns(turns, { maxTurns: 50, maxChars: size * 4 - 1 }).map((t) => t.id),
      ['t7', 't8', 't9'],
    );
  });

  it('always keeps the newest turn', () => {
    assert.deepEqual(
      capTurns([turn('a'), turn('big', 'x'.repeat(10_000))], { maxTurns: 50, maxChars: 100 }).map((t) => t.id),
      ['big'],
    );
    assert.deepEqual(capTurns([], { maxTurns: 50, maxChars: 100 }), []);
  });
});

describe('saved state', () => {
  it('round-trips through JSON (as vscode.setState stores it) within the caps', () => {
    const turns = [turn('a'), turn('b'), turn('c', '', 'streaming')];
    const saved = JSON.parse(JSON.stringify(saveState(turns, CACHE, 'draft', { maxTurns: 2, maxChars: 1e6 })));
    assert.deepEqual(loadState(saved), { version: 1, turns: turns.slice(1), cache: CACHE, draft: 'draft' });
  });

  it('starts empty from a missing, foreign or damaged state', () => {
    const empty = { version: 1, turns: [], cache: null, draft: '' };
    const good = saveState([turn('a')], null, '');
    for (const raw of [
      undefined,
      null,
      'x',
      { ...good, version: 2 },
      { ...good, turns: [{ ...turn('a'), status: 'thinking' }] },
      { ...good, turns: [{ ...turn('a'), extra: 1 }] },
      { ...good, turns: [{ ...turn('a'), stats: { tokens: 'many' } }] },
      { ...good, cache: { kind: 'ready' } },
      { ...good, draft: 3 },
    ]) {
      assert.deepEqual(loadState(raw), empty, JSON.stringify(raw));
    }
  });
});

describe('format', () => {
  it('formats durations and stats', () => {
    assert.equal(formatDuration(420.4), '420 ms');
    assert.equal(formatDuration(1234), '1.2 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
    assert.equal(formatStats(stats), 'cache reused · 830 ms to first token · 312 tokens · 18.4 tok/s');
    assert.equal(formatStats({ ...stats, cacheReused: false, tokens: 1 }), 'cache built · 830 ms to first token · 1 token · 18.4 tok/s');
  });
});
