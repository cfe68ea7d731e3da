// Short texts for the panel, kept out of main.ts so they can be tested without a DOM.

import type { AnswerContext, AnswerStats } from './protocol';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** e.g. "cache reused · 0.8 s to first token · 312 tokens · 18.4 tok/s" */
export function formatStats(stats: AnswerStats): string {
  return [
    stats.cacheReused ? 'cache reused' : 'cache built',
    `${formatDuration(stats.firstTokenMs)} to first token`,
    `${stats.tokens} ${stats.tokens === 1 ? 'token' : 'tokens'}`,
    `${stats.tokensPerSecond.toFixed(1)} tok/s`,
  ].join(' · ');
}

/** e.g. "context: 6 of 41 segments" */
export function formatContext(c: AnswerContext): string {
  return `context: ${c.segments} of ${c.totalSegments} ${c.totalSegments === 1 ? 'segment' : 'segments'}`;
}
