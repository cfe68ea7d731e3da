// `repozip debug ...`: raw numbers from the engine, so anyone can check it against a reference.
import { chunkLeads, EngineError, KVZIP_CHUNK, KVzipPress, prefillContext } from '../engine';
import { idList, numberOpt, parse } from './args';
import { Command, printJson } from './command';
import { loadModel, modelOptions } from './engine-opts';

const usage =
  'repozip debug logits --model DIR --ids 1,2,3 [--json]\n       repozip debug kvzip-scores --model DIR --prefix-ids 1,2 --context-ids 3,4,5 [--chunk N] [--plus] [--json]';

export const debugCommand: Command = {
  name: 'debug',
  summary: 'print raw engine outputs (logits, KVzip scores) for checking against a reference',
  usage,
  async run(argv, signal) {
    const [sub, ...rest] = argv;
    if (sub === 'logits') return logits(rest);
    if (sub === 'kvzip-scores') return kvzipScores(rest, signal);
    throw new EngineError('bad-input', `unknown debug command "${sub ?? ''}"\nusage: ${usage}`);
  },
};

async function logits(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, { ...modelOptions, ids: { type: 'string' } }, usage);
  const ids = idList(v.ids, 'ids');
  if (ids.length === 0) throw new EngineError('bad-input', '--ids needs at least one token id');
  const model = await loadModel(v);
  checkVocab(ids, model.config.vocabSize);
  const { logits } = await model.forward({ ids, cache: model.newCache(), logits: true, append: false });
  printJson({ logits: Array.from(logits!) });
  await model.dispose();
  return 0;
}

/** Scores [layer][kvHead][position] (KVzip+ with --plus) and the ids fed before each chunk, so anyone can recompute them. */
async function kvzipScores(argv: string[], signal: AbortSignal): Promise<number> {
  const { values: v } = parse(
    argv,
    { ...modelOptions, 'prefix-ids': { type: 'string' }, 'context-ids': { type: 'string' }, chunk: { type: 'string' }, plus: { type: 'boolean' } },
    usage,
  );
  const prefix = idList(v['prefix-ids'], 'prefix-ids');
  const context = idList(v['context-ids'], 'context-ids');
  if (context.length === 0) throw new EngineError('bad-input', '--context-ids needs at least one token id');
  const chunk = numberOpt(v.chunk, 'chunk', KVZIP_CHUNK, 1);
  const model = await loadModel(v);
  checkVocab([...prefix, ...context], model.config.vocabSize);
  const postfix = model.tokenizer.chatFrame(null).postfix;
  const { cache } = await prefillContext(model, prefix, context, { signal });
  const grid = await new KVzipPress(chunk, !!v.plus).score({ model, cache, prefixLength: prefix.length, contextIds: context, postfix, signal });
  const scores = Array.from({ length: grid.layers }, (_, l) =>
    Array.from({ length: grid.kvHeads }, (_, h) =>
      Array.from(grid.data.subarray((l * grid.kvHeads + h) * grid.length, (l * grid.kvHeads + h + 1) * grid.length)),
    ),
  );
  printJson({ scores, chunk_leads: chunkLeads(model.tokenizer, context, postfix, chunk) });
  await model.dispose();
  return 0;
}

function checkVocab(ids: number[], vocab: number): void {
  const bad = ids.find((id) => id >= vocab);
  if (bad !== undefined) throw new EngineError('bad-input', `token id ${bad} is outside the vocabulary (${vocab})`);
}
