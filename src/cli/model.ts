// `repozip model pull|ls` — get models from the Hugging Face hub and see what is downloaded.
// On a terminal a pull draws one progress line; piped (or with --json) it writes one JSON event
// per line, which is what the extension and scripts read.
import { EngineError, formatBytes, hubSettings, listCachedModels, Progress, pullModel } from '../engine';
import { parse } from './args';
import { Command, printJson } from './command';
import { drawBar } from './progress-bar';

const USAGE = 'repozip model pull <org/name>[@revision] [--json] [--token T]\n       repozip model ls [--json]';

export const modelCommand: Command = {
  name: 'model',
  summary: 'download a model from the Hugging Face hub (pull) or list downloaded ones (ls)',
  usage: USAGE,
  async run(argv, signal) {
    const [sub, ...rest] = argv;
    if (sub === 'pull') return pull(rest, signal);
    if (sub === 'ls') return ls(rest);
    throw new EngineError('bad-input', `${sub ? `unknown subcommand "${sub}"` : 'missing subcommand'}\nusage: ${USAGE}`);
  },
};

async function pull(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, token: { type: 'string' } }, USAGE);
  if (positionals.length !== 1) throw new EngineError('bad-input', `model pull takes one model id\nusage: ${USAGE}`);
  const bar = process.stdout.isTTY && !values.json;
  const onProgress = bar ? (p: Progress) => drawBar(process.stdout, p) : (p: Progress) => printJson({ event: 'progress', ...p });
  let path: string;
  try {
    path = await pullModel(positionals[0], { token: values.token, signal, onProgress });
  } finally {
    if (bar) process.stdout.write('\r\x1b[K');
  }
  if (bar) console.log(path);
  else printJson({ event: 'done', path });
  return 0;
}

function ls(argv: string[]): number {
  const { values } = parse(argv, { json: { type: 'boolean' } }, USAGE);
  const cacheDir = hubSettings().cacheDir;
  const models = listCachedModels(cacheDir);
  if (values.json) {
    printJson(models);
    return 0;
  }
  if (!models.length) console.log(`no models in ${cacheDir}`);
  for (const m of models) {
    console.log(`${m.id}  ${formatBytes(m.sizeOnDisk)}  ${m.path}`);
    for (const r of m.revisions) {
      console.log(`  ${r.commit.slice(0, 10)}${r.refs.length ? ` (${r.refs.join(', ')})` : ''}${r.complete ? '' : '  incomplete'}  ${r.path}`);
    }
  }
  return 0;
}
