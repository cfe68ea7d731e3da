// `repozip generate`: a prompt in, a continuation out (streamed to stdout, or one JSON document).
import { EngineError, generate } from '../engine';
import { numberOpt, parse } from './args';
import { Command, printJson } from './command';
import { loadModel, modelOptions } from './engine-opts';

const usage =
  'repozip generate --model DIR --prompt TEXT [--max-tokens N] [--greedy | --temperature T --top-p P --seed S] [--raw] [--stop S]... [--device D] [--json]';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt with a model',
  usage,
  async run(argv, signal) {
    const { values: v } = parse(
      argv,
      {
        ...modelOptions,
        prompt: { type: 'string' },
        'max-tokens': { type: 'string' },
        greedy: { type: 'boolean' },
        temperature: { type: 'string' },
        'top-p': { type: 'string' },
        seed: { type: 'string' },
        raw: { type: 'boolean' },
        stop: { type: 'string', multiple: true },
      },
      usage,
    );
    if (v.prompt === undefined) throw new EngineError('bad-input', `--prompt is required\nusage: ${usage}`);
    const maxTokens = numberOpt(v['max-tokens'], 'max-tokens', 128, 1, 1e6);
    const temperature = v.greedy ? 0 : numberOpt(v.temperature, 'temperature', 0.7, 0, 10);
    const sampling = { temperature, topP: numberOpt(v['top-p'], 'top-p', 0.9, 0, 1), seed: numberOpt(v.seed, 'seed', 0) };
    const model = await loadModel(v);
    const tok = model.tokenizer;
    // chat models get the prompt as a user turn unless --raw; base models see it as plain text
    let ids: number[];
    if (tok.hasChatTemplate && !v.raw) {
      const frame = tok.chatFrame(null);
      ids = [...frame.prefix, ...tok.encodeText(v.prompt), ...frame.postfix];
    } else {
      ids = [...(tok.addsBos && tok.bosId !== null ? [tok.bosId] : []), ...tok.encodeText(v.prompt)];
    }
    const out = await generate(model, model.newCache(), ids, {
      maxTokens,
      sampling,
      stopStrings: v.stop,
      signal,
      onText: v.json ? undefined : (d) => process.stdout.write(d),
    });
    if (v.json) {
      printJson({
        text: out.text,
        ids: out.ids,
        stop: out.stop,
        promptTokens: out.promptTokens,
        device: model.device,
        fallbacks: model.info.fallbacks,
        timings: { prefillMs: out.prefillMs, firstTokenMs: out.firstTokenMs, decodeMsPerToken: out.decodeMsPerToken },
      });
    } else process.stdout.write('\n');
    await model.dispose();
    return 0;
  },
};
