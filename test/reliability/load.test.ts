// Many questions through the real engine process on one compressed cache: 50 in a row and 5 at
// once (the process queues them). Every one is answered, and the process's memory stops growing
// once it is warm: its resident set after 50 questions is within a few percent of that after 10.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { AskParams } from '../../src/engine/protocol';
import { indexParams, rssKiB, scratch, smallRepo, startClient } from './helpers';

const { dir, engine } = scratch('load');
const QUESTIONS = ['What does add do?', 'Where is mul defined?', 'Which locale does the config use?', 'What does the test check?', 'What is printed by main?'];
/** Allowed growth of the resident set from question 10 to question 50. */
const MAX_GROWTH = 0.1;

test('50 questions in a row and 5 at once on one cache: all answered; the engine process does not grow', async (t) => {
  const { client } = await startClient();
  t.after(() => client.dispose());
  const params = indexParams(engine, { root: smallRepo(path.join(dir, 'repo')) });
  const { key } = await client.call('index', params);
  const ask = (i: number): AskParams => ({ ...params, question: QUESTIONS[i % QUESTIONS.length], maxTokens: 4 });
  const pid = client.pid!;

  const rss: Record<number, number> = {};
  const t0 = performance.now();
  for (let i = 1; i <= 50; i++) {
    const r = await client.call('ask', ask(i));
    assert.equal(r.key, key);
    assert.equal(r.cacheReused, true);
    assert.ok(r.tokens > 0 && r.tokens <= 4, `${r.tokens} tokens`);
    if (i === 10 || i === 50) rss[i] = rssKiB(pid);
  }
  const perQuestion = (performance.now() - t0) / 50;

  const together = await Promise.all([0, 1, 2, 3, 4].map((i) => client.call('ask', ask(i))));
  together.forEach((r, i) => {
    assert.ok(r.tokens > 0, `question ${i} answered`);
    assert.equal(r.key, key);
  });
  const afterConcurrent = rssKiB(pid);
  assert.equal(client.pid, pid, 'one engine process throughout');

  const growth = (n: number) => ((n - rss[10]) / rss[10]) * 100;
  console.log(
    `# engine RSS: ${rss[10]} KiB after 10 questions, ${rss[50]} KiB after 50 (${growth(rss[50]).toFixed(1)} %), ${afterConcurrent} KiB after 5 concurrent; ${perQuestion.toFixed(0)} ms per question`,
  );
  assert.ok(rss[50] <= rss[10] * (1 + MAX_GROWTH), `RSS grew ${growth(rss[50]).toFixed(1)} % from question 10 to 50`);
  assert.ok(afterConcurrent <= rss[10] * (1 + MAX_GROWTH), `RSS grew ${growth(afterConcurrent).toFixed(1)} % after the concurrent questions`);
});
