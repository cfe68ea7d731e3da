// One way to build a .gitignore-syntax matcher, for .gitignore files and the user's
// include/exclude lists alike.
import ignore, { type Ignore } from 'ignore';

/**
 * Case-sensitive like git on Linux, so the same patterns select the same files on every machine.
 * allowRelativePaths stops `ignore` from throwing on legal but odd names such as "..." (our paths
 * are relative to the root already).
 */
export function gitignorePatterns(patterns: string | readonly string[]): Ignore {
  return ignore({ ignorecase: false, allowRelativePaths: true }).add(patterns);
}
