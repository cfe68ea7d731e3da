// The shape of one `repozip` subcommand.

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit code. `signal` fires on Ctrl-C. */
  run(argv: string[], signal: AbortSignal): Promise<number>;
}

/** Writes one JSON document (the stable --json output) to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}
