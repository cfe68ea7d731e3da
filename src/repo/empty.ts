// What to tell the user when a repository's context comes out empty. "no file could be included
// (0 skipped)" said neither why nor what to change: here every skipped file is counted under its
// reason and the first few are named with their details, and every file the token budget left out
// is counted with what it would have cost, smallest first, so the user sees how far off the budget is.
import * as path from 'node:path';
import type { SkipReason } from './skip';

type Skipped = { path: string; reason: SkipReason; detail?: string };

/** How many paths a group names before "and N more". */
const NAMED = 3;

/**
 * The sentence for a context with no file in it: what the listing skipped (by reason) and what the
 * token budget left out (with each file's cost and the budget, when known). Empty inputs mean the
 * listing found nothing at all, which is said too.
 */
export function emptyContextMessage(
  root: string,
  listing: { skipped: readonly Skipped[] },
  leftOut: readonly { path: string; tokens: number }[],
  budget?: number,
): string {
  const parts: string[] = [];
  if (listing.skipped.length) parts.push(describeSkipped(listing.skipped));
  if (leftOut.length) parts.push(describeLeftOut(leftOut, budget));
  if (parts.length === 0) parts.push('it lists no file (an empty folder, or every file ignored by .gitignore or the include/exclude settings)');
  return `no file of ${root} could be included: ${parts.join('; ')}`;
}

function describeSkipped(skipped: readonly Skipped[]): string {
  const byReason = new Map<string, string[]>();
  // a detail that only repeats the file's name (a lock file's) adds nothing
  const named = (f: Skipped) => (f.detail && f.detail !== path.posix.basename(f.path) ? `${f.path}: ${f.detail}` : f.path);
  for (const f of skipped) byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), named(f)]);
  // the commonest reason first: it is most likely the one to act on
  const groups = [...byReason].sort(([ra, a], [rb, b]) => b.length - a.length || (ra < rb ? -1 : 1));
  return `${files(skipped.length)} skipped — ${groups.map(([reason, paths]) => `${paths.length} ${reason} (${firstFew(paths)})`).join(', ')}`;
}

function describeLeftOut(leftOut: readonly { path: string; tokens: number }[], budget?: number): string {
  const bySize = [...leftOut].sort((a, b) => a.tokens - b.tokens);
  const limit = budget === undefined ? 'the token budget' : `the ${budget}-token budget`;
  return `${files(leftOut.length)} left out by ${limit}, the smallest needing ${bySize[0].tokens} tokens (${firstFew(bySize.map((f) => `${f.path}: ${f.tokens} tokens`))})`;
}

const files = (n: number): string => `${n} file${n === 1 ? '' : 's'}`;

/** "a, b, c and 4 more" */
export function firstFew(items: readonly string[], most = NAMED): string {
  return items.length <= most ? items.join(', ') : `${items.slice(0, most).join(', ')} and ${items.length - most} more`;
}
