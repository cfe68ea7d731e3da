// `repozip eval recall`: the fidelity benchmark (see src/engine/eval/recall.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRepoContext, emptyContextMessage } from '../repo';
import {
  BUDGET_MODES,
  BudgetMode,
  calibrationDir,
  contextLimit,
  DEFAULT_BUDGET,
  EngineError,
  evalRecall,
  headScores,
  installRoot,
  KVZIP_CHUNK,
  PRESS_NAMES,
  pressEntry,
  recallPlot,
  RecallReport,
  withBudget,
} from '../engine';
import { numberOpt, parse } from './args';
import { Command, printJson } from './command';
import { runModes } from './eval-modes';
import { loadModel, modelOptions } from './engine-opts';

const usage =
  'repozip eval recall --repo DIR --model DIR [--max-context N] [--queries 50] [--seed 1] [--prompt-tokens 32] [--target-tokens 16] [--presses kvzip,kvzip@global,snapkv,...|none] [--ratios 1,0.5,0.3,0.2,0.1] [--mode global|safeguard|layer-uniform|head-uniform|pyramid] [--chunk N] [--calibration DIR] [--plot FILE.svg] [--json]\n' +
  '       repozip eval recall --repo DIR --model DIR --modes truncate,select,compact,oracle,epic [--segment-tokens N] [--epic-tokens 16] [--presses kvzip] [--ratios 1,0.3] [...]   (the whole repository, segmented)';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'measure how much of what a model recalls from a repository survives compression',
  usage,
  async run(argv, signal) {
    const [sub, ...rest] = argv;
    if (sub !== 'recall') throw new EngineError('bad-input', `unknown eval "${sub ?? ''}"\nusage: ${usage}`);
    const { values: v } = parse(
      rest,
      {
        ...modelOptions,
        repo: { type: 'string' },
        'max-context': { type: 'string' },
        queries: { type: 'string' },
        seed: { type: 'string' },
        'prompt-tokens': { type: 'string' },
        'target-tokens': { type: 'string' },
        presses: { type: 'string' },
        ratios: { type: 'string' },
        mode: { type: 'string' },
        chunk: { type: 'string' },
        calibration: { type: 'string' },
        plot: { type: 'string' },
        modes: { type: 'string' },
        'segment-tokens': { type: 'string' },
        'epic-tokens': { type: 'string' },
      },
      usage,
    );
    if (!v.repo) throw new EngineError('bad-input', `--repo DIR is required\nusage: ${usage}`);
    const mode = (v.mode ?? DEFAULT_BUDGET) as BudgetMode;
    if (!BUDGET_MODES.includes(mode)) throw new EngineError('bad-input', `--mode must be one of ${BUDGET_MODES.join(', ')}`);
    const ratios = (v.ratios ?? '1,0.5,0.3,0.2,0.1').split(',').map((r) => numberOpt(r.trim(), 'ratios', 0));
    // "none": the full cache and the no-context floor only (what the fixture's held-out check needs)
    const names = v.presses === 'none' ? [] : (v.presses ?? PRESS_NAMES.join(',')).split(',').map((s) => s.trim());
    const chunk = numberOpt(v.chunk, 'chunk', KVZIP_CHUNK, 1);
    const model = await loadModel(v);
    try {
      const common = {
        ratios,
        budgetMode: mode,
        chunk,
        queries: numberOpt(v.queries, 'queries', 50, 1),
        seed: numberOpt(v.seed, 'seed', 1),
        promptTokens: numberOpt(v['prompt-tokens'], 'prompt-tokens', 32, 1),
        targetTokens: numberOpt(v['target-tokens'], 'target-tokens', 16, 1),
      };
      if (v.modes) {
        // the whole repository, segmented: one press (the first named), every way of answering
        await runModes(model, v.repo, { ...v, modes: v.modes }, { ...common, press: pressEntry(names[0] ?? 'kvzip').make({ chunk }) }, signal);
        return 0;
      }
      const frame = model.tokenizer.chatFrame(null);
      const limit = contextLimit(model.config.maxPositions, frame.prefix.length, chunk);
      const maxContext = numberOpt(v['max-context'], 'max-context', limit, 1);
      if (maxContext > limit)
        throw new EngineError(
          'bad-input',
          `--max-context ${maxContext} does not fit the model's ${model.config.maxPositions} positions with a KVzip pass of chunk ${chunk} (at most ${limit})`,
        );
      const repo = await buildRepoContext({ root: v.repo, tokenizer: model.tokenizer, maxTokens: maxContext, signal });
      const specs = names.map((spec) => spec.split('@'));
      const entries = specs.map(([id]) => pressEntry(id));
      const calibration = entries.some((e) => e.needsCalibration)
        ? await headScores(model, v.calibration ?? calibrationDir(installRoot()), limit, chunk, signal)
        : undefined;
      const presses = specs.map(([, budget], i) => {
        const press = entries[i].make({ chunk, headScores: calibration });
        return budget === undefined ? press : withBudget(press, budget);
      });
      const report = await evalRecall(model, frame.prefix, repo.ids, repo.files, frame.postfix, {
        presses,
        ...common,
        mode,
        whyEmpty: emptyContextMessage(v.repo, repo, repo.leftOut, maxContext),
        signal,
        onProgress: v.json ? undefined : (what) => process.stderr.write(`${what}\n`),
      });
      if (v.plot)
        fs.writeFileSync(
          v.plot,
          recallPlot(report, `recall on ${path.basename(path.resolve(v.repo))} (${report.contextTokens} tokens, ${report.queries} queries)`),
        );
      if (v.json) printJson({ model: v.model, repo: v.repo, mode, ...report });
      else console.log(table(report));
      return 0;
    } finally {
      await model.dispose();
    }
  },
};

function table(r: RecallReport): string {
  const lines = [
    `context ${r.contextTokens} tokens (+${r.prefixTokens} prefix), ${r.queries} queries`,
    `full cache:  token accuracy ${r.full.tokenAccuracy.toFixed(3)}  exact match ${r.full.exactMatch.toFixed(3)}`,
    `no context:  token accuracy ${r.noContext.tokenAccuracy.toFixed(3)}  exact match ${r.noContext.exactMatch.toFixed(3)}`,
    '',
    'press       ratio  tok.acc  exact  rel.acc  rel.exact  kept   KV bytes',
  ];
  for (const x of r.rows) {
    lines.push(
      `${x.press.padEnd(11)} ${x.ratio.toFixed(2).padStart(5)}  ${x.tokenAccuracy.toFixed(3)}    ${x.exactMatch.toFixed(3)}  ${x.relativeAccuracy.toFixed(3)}    ${x.relativeExactMatch.toFixed(3)}      ${x.keptRatio.toFixed(3)}  ${x.kvBytes}`,
    );
  }
  return lines.join('\n');
}
