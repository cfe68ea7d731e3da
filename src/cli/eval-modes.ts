// `repozip eval recall --modes ...`: recall over a whole repository, segmented, per way of answering
// (src/engine/eval/segment-recall.ts), with the same queries for every mode.
import { BudgetMode, EngineError, evalSegmentRecall, Model, Press, RECALL_MODES, RecallMode, SegmentRecallReport } from '../engine';
import { defaultSegmentTokens } from '../repo';
import { numberOpt } from './args';
import { printJson } from './command';

export interface ModeFlags {
  modes: string;
  'segment-tokens'?: string;
  'epic-tokens'?: string;
}

export async function runModes(
  model: Model,
  root: string,
  v: ModeFlags & { json?: boolean },
  common: { press: Press; ratios: number[]; budgetMode: BudgetMode; chunk: number; queries: number; seed: number; promptTokens: number; targetTokens: number },
  signal: AbortSignal,
): Promise<SegmentRecallReport> {
  const modes = v.modes.split(',').map((m) => m.trim()) as RecallMode[];
  const bad = modes.find((m) => !RECALL_MODES.includes(m));
  if (bad) throw new EngineError('bad-input', `--modes takes ${RECALL_MODES.join(', ')}; got "${bad}"`);
  const report = await evalSegmentRecall(model, root, {
    ...common,
    modes,
    segmentTokens: numberOpt(v['segment-tokens'], 'segment-tokens', defaultSegmentTokens(model.config.maxPositions), 64),
    epicTokens: numberOpt(v['epic-tokens'], 'epic-tokens', 16, 1),
    signal,
    onProgress: v.json ? undefined : (what) => process.stderr.write(`${what}\n`),
  });
  if (v.json) printJson({ repo: root, ...report });
  else console.log(modesTable(report));
  return report;
}

function modesTable(r: SegmentRecallReport): string {
  const lines = [
    `${r.files} files, ${r.repoTokens} tokens in ${r.segments} segments of ≤ ${r.segmentTokens}; ${r.queries} queries`,
    '',
    'mode      press   ratio  tok.acc  exact  own.loaded  segments  positions',
  ];
  for (const x of r.rows) {
    lines.push(
      `${x.mode.padEnd(9)} ${x.press.padEnd(7)} ${x.ratio.toFixed(2).padStart(5)}  ${x.tokenAccuracy.toFixed(3)}    ${x.exactMatch.toFixed(3)}  ${x.ownLoaded.toFixed(3)}       ${x.segments.toFixed(1).padStart(6)}  ${x.positions.toFixed(0).padStart(9)}`,
    );
  }
  return lines.join('\n');
}
