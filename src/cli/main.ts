// `repozip` — the command-line face of the engine. Every subcommand lives in its own file.
import { EngineError } from '../engine';
import { Command } from './command';
import { commands } from './commands';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: repozip <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'repozip <command> --help shows its options.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(help());
    return name ? 0 : 2;
  }
  const cmd: Command | undefined = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`repozip: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${cmd.usage}`);
    return 0;
  }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const json = rest.includes('--json');
  try {
    return await cmd.run(rest, ac.signal);
  } catch (e) {
    const err = e instanceof EngineError ? e : new EngineError('internal', (e as Error).stack ?? String(e));
    if (json) process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n');
    else console.error(`repozip ${name}: ${err.message}`);
    return err.code === 'bad-input' ? 2 : err.code === 'cancelled' ? 130 : 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
