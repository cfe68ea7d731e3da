// `repozip index` and `repozip ask`: build (or find) a repository's compressed cache, and answer
// from it. Both run the engine service in this process.
import {
  EngineError,
  EngineService,
  parseShard,
  type AnswerContext,
  type EngineEvent,
  type EngineSettings,
  type IndexResult,
  type RepoSettings,
} from '../engine';
import { numberOpt, parse } from './args';
import { Command, printJson } from './command';
import { loadOptions, modelOptions } from './engine-opts';

export const repoOptions = {
  ...modelOptions,
  ratio: { type: 'string' },
  press: { type: 'string' },
  'segment-tokens': { type: 'string' },
  compose: { type: 'string' },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  int8: { type: 'boolean' },
  quiet: { type: 'boolean' },
  remote: { type: 'string' },
  'read-only': { type: 'boolean' },
  'sign-key': { type: 'string' },
  'trusted-key': { type: 'string' },
} as const;

type RepoFlags = {
  [K in keyof typeof repoOptions]?: (typeof repoOptions)[K] extends { multiple: true }
    ? string[]
    : (typeof repoOptions)[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

export function settings(root: string | undefined, v: RepoFlags, usage: string): { engine: EngineSettings; repo: RepoSettings } {
  if (!root) throw new EngineError('bad-input', `a repository folder is required\nusage: ${usage}`);
  const o = loadOptions(v);
  const remoteOnly = (['read-only', 'sign-key', 'trusted-key'] as const).find((k) => v[k] !== undefined);
  if (remoteOnly && !v.remote) throw new EngineError('bad-input', `--${remoteOnly} goes with --remote s3://bucket/prefix\nusage: ${usage}`);
  const remote = v.remote ? { url: v.remote, readOnly: v['read-only'], signingKey: v['sign-key'], trustedKey: v['trusted-key'] } : undefined;
  return {
    engine: { model: v.model, device: o.device, weights: o.weights, cacheDir: v['cache-dir'], ...(remote && { remote }) },
    repo: {
      root,
      ratio: numberOpt(v.ratio, 'ratio', 0.3, 1e-6, 1),
      press: v.press,
      segmentTokens: v['segment-tokens'] === undefined ? undefined : numberOpt(v['segment-tokens'], 'segment-tokens', 0, 64),
      compose: v.compose as RepoSettings['compose'],
      include: v.include,
      exclude: v.exclude,
      kvDtype: v.int8 ? 'int8' : 'fp16',
    },
  };
}

/** Progress on stderr, one line per phase change (or a refreshed line on a TTY). */
export function progress(quiet: boolean | undefined) {
  let last = '';
  return (e: EngineEvent) => {
    if (e.kind === 'notice') process.stderr.write(`repozip: ${e.message}\n`);
    if (quiet || e.kind !== 'progress') return;
    const pct = e.total ? Math.floor((100 * e.done) / e.total) : 0;
    const line = e.phase === 'segments' ? `segments ${e.done} / ${e.total}` : `${e.phase} ${pct}%`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
    else if (e.phase !== last) process.stderr.write(`${e.phase}\n`);
    last = e.phase;
  };
}

/** The remote store's flags, as every repository command takes them. */
export const remoteUsage = '[--remote s3://bucket/prefix [--read-only] [--sign-key PRIVATE.pem] [--trusted-key PUBLIC.pem]]';

const indexUsage = `repozip index <repoDir> [--model DIR|org/name] [--ratio 0.3] [--press kvzip] [--segment-tokens N] [--include GLOB]... [--exclude GLOB]... [--int8] [--cache-dir D] [--device D] ${remoteUsage} [--shard i/n] [--json]`;

export const indexCommand: Command = {
  name: 'index',
  summary: 'build (or find) the compressed cache of a repository',
  usage: indexUsage,
  async run(argv, signal) {
    const { values: v, positionals } = parse(argv, { ...repoOptions, shard: { type: 'string' } }, indexUsage);
    const p = { ...settings(positionals[0], v, indexUsage), ...(v.shard !== undefined && { shard: parseShard(v.shard) }) };
    const service = new EngineService();
    try {
      const emit = progress(v.quiet || v.json);
      const r = await service.index(p, { signal, emit });
      if (process.stderr.isTTY && !v.json && !v.quiet) process.stderr.write('\n');
      if (v.json) printJson({ ...r, placement: service.placement });
      else {
        const sg = r.segments;
        console.log(
          `${r.reused ? 'reused' : 'built'} cache ${r.key.slice(0, 16)}: ${sg.total} segments (${sg.reused} reused, ${sg.built} built${sg.failed.length ? `, ${sg.failed.length} failed` : ''}${sg.left ? `, ${sg.left} left to other shards` : ''})`,
        );
        if (r.remote) console.log(remoteLine(r.remote));
        console.log(`files: ${r.files.included} included, ${r.files.skipped.length} skipped`);
        console.log(
          `tokens: ${r.tokens.context} context + ${r.tokens.prefix} anchor; kept ratio ${r.keptRatio}; ${(r.bytesOnDisk / 1e6).toFixed(2)} MB on disk`,
        );
        console.log(
          `timings (ms): ${Object.entries(r.timings)
            .map(([k, t]) => `${k} ${t.toFixed(0)}`)
            .join(', ')}`,
        );
      }
      return 0;
    } finally {
      await service.dispose();
    }
  },
};

const askUsage = `repozip ask <repoDir> [--model DIR|org/name] [--max-tokens N] [--temperature T] [--no-build] [--compose select|compact] [--file PATH] [index options] ${remoteUsage} [--json] "question"`;

export const askCommand: Command = {
  name: 'ask',
  summary: 'answer a question from the repository cache (built first if needed)',
  usage: askUsage,
  async run(argv, signal) {
    const { values: v, positionals } = parse(
      argv,
      { ...repoOptions, 'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'no-build': { type: 'boolean' }, file: { type: 'string' } },
      askUsage,
    );
    const [root, ...words] = positionals;
    const question = words.join(' ').trim();
    if (!question) throw new EngineError('bad-input', `a question is required\nusage: ${askUsage}`);
    const p = settings(root, v, askUsage);
    const service = new EngineService();
    try {
      const showProgress = progress(v.quiet || v.json);
      const r = await service.ask(
        {
          ...p,
          question,
          maxTokens: numberOpt(v['max-tokens'], 'max-tokens', 512, 1),
          temperature: numberOpt(v.temperature, 'temperature', 0, 0, 10),
          build: !v['no-build'],
          editor: v.file ? { activeFile: v.file } : undefined,
        },
        {
          signal,
          emit: (e) => {
            if (e.kind === 'text' && !v.json) process.stdout.write(e.delta);
            else showProgress(e);
          },
        },
      );
      if (v.json) printJson({ ...r, placement: service.placement });
      else
        process.stdout.write(
          `\n\n[${r.cacheReused ? 'cache reused' : 'cache built'}; first token after ${r.firstTokenMs.toFixed(0)} ms; ${r.tokens} tokens]\n[${contextLine(r.context)}]\n${r.remote ? `[${remoteLine(r.remote)}]\n` : ''}`,
        );
      return 0;
    } finally {
      await service.dispose();
    }
  },
};

/** "remote: 40 segments pulled, 1 rejected (built here), 1 pushed" */
export function remoteLine(r: NonNullable<IndexResult['remote']>): string {
  const rejected = r.rejected.length ? `, ${r.rejected.length} rejected (built here)` : '';
  const unpushed = r.unpushed.length ? `, ${r.unpushed.length} could not be pushed` : '';
  return `remote: ${r.pulled} segments pulled${rejected}, ${r.pushed} pushed${unpushed}`;
}

/** "context: 6 of 41 segments (select) — src/a.ts, src/b.ts and 9 more" */
export function contextLine(c: AnswerContext): string {
  const files = c.files.length > 4 ? `${c.files.slice(0, 4).join(', ')} and ${c.files.length - 4} more` : c.files.join(', ');
  return `context: ${c.segments} of ${c.totalSegments} segments (${c.mode}) — ${files}`;
}
