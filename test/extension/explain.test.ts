// Hover explanations: keys, the command link's arguments, and the capped store.
import assert from 'node:assert/strict';
import test from 'node:test';
import { BackgroundRun, explainQuestion, Explanations, EXPLANATIONS_KEY, hoverKey, isSymbol, parseTarget } from '../../src/extension/explain';
import { MemoryStore } from './fakes';

test('a hover key is the snapshot, the file and the symbol, nothing else', () => {
  assert.equal(hoverKey('k1', 'src/a.ts', 'add'), hoverKey('k1', 'src/a.ts', 'add'));
  const keys = new Set([
    hoverKey('k1', 'src/a.ts', 'add'),
    hoverKey('k2', 'src/a.ts', 'add'),
    hoverKey('k1', 'src/b.ts', 'add'),
    hoverKey('k1', 'src/a.ts', 'sub'),
    hoverKey('k1', 'src/a.t', 's|add'),
  ]);
  assert.equal(keys.size, 5);
});

test('explanations are found only for the same snapshot, survive a reload, and are capped', () => {
  const store = new MemoryStore();
  const ex = new Explanations(store, 3);
  assert.equal(ex.get(undefined, 'src/a.ts', 'add'), undefined);
  ex.set('k1', 'src/a.ts', 'add', 'adds two numbers');
  assert.equal(ex.get('k1', 'src/a.ts', 'add'), 'adds two numbers');
  assert.equal(ex.get('k2', 'src/a.ts', 'add'), undefined, 'another snapshot: the code may have changed');
  assert.equal(ex.get(undefined, 'src/a.ts', 'add'), undefined, 'no ready cache: nothing is shown');
  for (const s of ['b', 'c', 'd']) ex.set('k1', 'src/a.ts', `sym${s}`, s);
  assert.equal(ex.get('k1', 'src/a.ts', 'add'), undefined, 'the oldest went');
  const reloaded = new Explanations(store, 3);
  assert.equal(reloaded.get('k1', 'src/a.ts', 'symd'), 'd');
  store.data.set(EXPLANATIONS_KEY, [['ok', 'x'], [1, 2], 'junk']);
  assert.doesNotThrow(() => new Explanations(store));
});

test('the command link arguments are checked', () => {
  assert.deepEqual(parseTarget({ file: 'src/a.ts', line: 3, symbol: 'add' }), { file: 'src/a.ts', line: 3, symbol: 'add' });
  for (const bad of [
    null,
    'x',
    { file: 'a', line: 0, symbol: 'add' },
    { file: 'a', line: 1.5, symbol: 'add' },
    { file: '', line: 1, symbol: 'add' },
    { file: 'a', line: 1, symbol: 'a b' },
    { file: 'a', line: 1, symbol: '`rm -rf`' },
  ]) {
    assert.equal(parseTarget(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(explainQuestion({ file: 'src/a.ts', line: 3, symbol: 'add' }), 'Explain `add` in src/a.ts:3 and how it is used in this repository. Be brief.');
});

test('symbols are identifiers', () => {
  for (const w of ['add', 'snake_case', '$el', 'Ünïcode', '_x']) assert.ok(isSymbol(w), w);
  for (const w of ['x', '42', '3d', '=>', 'a-b', '']) assert.ok(!isSymbol(w), w);
});

test('one background explanation at a time: a new one or a user question stops the one running', () => {
  const run = new BackgroundRun();
  run.stop(); // nothing running: nothing to do
  const first = run.start();
  const second = run.start();
  assert.equal(first.aborted, true, 'the next hover replaces it');
  assert.equal(second.aborted, false);
  run.stop();
  assert.equal(second.aborted, true);
});
