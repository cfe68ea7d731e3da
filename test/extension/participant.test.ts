// The @repo chat participant's handler with a fake response stream.
import assert from 'node:assert/strict';
import test from 'node:test';
import { EngineError } from '../../src/engine/errors';
import { participantHandler } from '../../src/extension/participant';

function stream() {
  const out = { progress: [] as string[], markdown: [] as string[], references: [] as string[] };
  return {
    out,
    s: { progress: (v: string) => out.progress.push(v), markdown: (v: string) => out.markdown.push(v), reference: (v: string) => out.references.push(v) },
  };
}

function token() {
  const listeners: (() => void)[] = [];
  return {
    isCancellationRequested: false,
    onCancellationRequested: (l: () => void) => (listeners.push(l), { dispose: () => listeners.splice(listeners.indexOf(l), 1) }),
    cancel: () => listeners.forEach((l) => l()),
    listeners,
  };
}

const files = () => new Set(['src/math.ts', 'src/main.ts']);

test('streams the answer as markdown and lists the snapshot files it names', async () => {
  const { out, s } = stream();
  const t = token();
  const handler = participantHandler<string>({
    files,
    toUri: (rel) => `file:///ws/${rel}`,
    answer: async (q, opts) => {
      assert.equal(q, 'where is add?');
      for (const d of ['It is in `src/math.ts`', ', used by src/main.ts:2 and src/math.ts.', ' Not in src/nope.ts.']) opts.onText(d);
      return { cacheReused: true, firstTokenMs: 1, tokens: 3, tokensPerSecond: 9 };
    },
  });
  const r = await handler({ prompt: ' where is add? ' }, {}, s, t);
  assert.equal(out.markdown.join(''), 'It is in `src/math.ts`, used by src/main.ts:2 and src/math.ts. Not in src/nope.ts.');
  assert.equal(out.progress.length, 1);
  assert.deepEqual(out.references, ['file:///ws/src/math.ts', 'file:///ws/src/main.ts'], 'each file once, in order, made-up ones never');
  assert.equal(r.metadata?.stats.tokens, 3);
  assert.equal(t.listeners.length, 0, 'the cancellation listener is released');
});

test('cancelling aborts the engine call; failures become error details', async () => {
  const { s } = stream();
  const t = token();
  let signal: AbortSignal | undefined;
  const handler = participantHandler<string>({
    files,
    toUri: (rel) => rel,
    answer: (_q, opts) =>
      new Promise((_, reject) => {
        signal = opts.signal;
        opts.signal.addEventListener('abort', () => reject(new EngineError('cancelled', 'generation was cancelled')));
      }),
  });
  const pending = handler({ prompt: 'q' }, {}, s, t);
  t.cancel();
  assert.deepEqual(await pending, {});
  assert.equal(signal!.aborted, true);

  const failing = participantHandler<string>({
    files,
    toUri: (rel) => rel,
    answer: () => Promise.reject(new EngineError('missing-file', 'model folder /m does not exist')),
  });
  assert.deepEqual(await failing({ prompt: 'q' }, {}, stream().s, token()), { errorDetails: { message: 'model folder /m does not exist' } });
  const empty = stream();
  assert.deepEqual(await failing({ prompt: '  ' }, {}, empty.s, token()), {});
  assert.match(empty.out.markdown[0], /Ask a question/);
});
