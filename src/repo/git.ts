// The few git commands the listing and the ordering need. Every call is one process for the whole
// repository (never one per file), reads NUL-separated output (so paths with spaces, quotes,
// newlines or non-ASCII characters arrive verbatim) and passes --no-optional-locks so that a
// background listing never takes the index lock from under the user's own git commands.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** Starts `git <args>` in `cwd`; the process is killed when `signal` fires. */
export function spawnGit(cwd: string, args: readonly string[], signal?: AbortSignal): ChildProcessWithoutNullStreams {
  return spawn('git', ['--no-optional-locks', ...args], { cwd, signal, stdio: 'pipe', windowsHide: true });
}

/** Runs git to completion; rejects only when git cannot start or `signal` fires (the exit code is the caller's to judge). */
export function runGit(cwd: string, args: readonly string[], signal?: AbortSignal): Promise<{ code: number | null; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(cwd, args, signal);
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out) }));
  });
}

/** Splits `-z` output into strings (UTF-8; empty fields dropped). */
export function splitNul(buf: Buffer): string[] {
  const parts: string[] = [];
  let from = 0;
  for (let at = buf.indexOf(0, from); at >= 0; at = buf.indexOf(0, from)) {
    if (at > from) parts.push(buf.toString('utf8', from, at));
    from = at + 1;
  }
  if (from < buf.length) parts.push(buf.toString('utf8', from));
  return parts;
}
