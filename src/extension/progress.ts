// Engine progress events as people read them: one overall fraction for a cache build (its phases
// take very different times, so each gets a share of the bar) and a line for the current phase.
import { formatBytes, formatDuration, type DownloadEvent, type ProgressEvent } from '../engine/editor';

type Phase = ProgressEvent['phase'];

/** Each build phase's slice [start, end) of the overall bar. Prefill and KVzip scoring are the work. */
const SLICES: Partial<Record<Phase, [number, number]>> = {
  loading: [0, 0.04],
  listing: [0.04, 0.08],
  tokenizing: [0.08, 0.12],
  // a segmented build: each segment is prefilled and scored in turn, so segments count the work
  segments: [0.12, 0.95],
  prefill: [0.12, 0.5],
  scoring: [0.5, 0.95],
  writing: [0.95, 1],
};

const LABELS: Record<Phase, string> = {
  downloading: 'Downloading the model',
  loading: 'Loading the model',
  listing: 'Listing files',
  tokenizing: 'Tokenizing',
  segments: 'Compressing the repository, segment by segment',
  pulling: 'Downloading segments from the team’s cache',
  pushing: 'Uploading segments to the team’s cache',
  prefill: 'Reading the repository (prefill)',
  scoring: 'KVzip scoring',
  writing: 'Writing the cache',
  waiting: 'Waiting for another window building the same cache',
  composing: 'Loading the parts of the cache this question needs',
  answering: 'Answering',
};

export interface BuildStep {
  /** 0..1 over the whole build; never goes back. */
  fraction: number;
  /** e.g. "KVzip scoring 40%". */
  message: string;
}

/** Folds a build's progress events into a monotonic overall fraction and a message. */
export class BuildProgress {
  private fraction = 0;

  update(e: ProgressEvent): BuildStep {
    const within = e.total > 0 ? Math.min(1, Math.max(0, e.done / e.total)) : 0;
    const slice = SLICES[e.phase];
    if (slice) this.fraction = Math.max(this.fraction, slice[0] + within * (slice[1] - slice[0]));
    const detail = e.phase === 'downloading' ? ` ${formatBytes(e.done)} of ${formatBytes(e.total)}` : '';
    const pct = e.total > 1 || e.phase === 'downloading' ? ` ${Math.floor(within * 100)}%` : '';
    return { fraction: this.fraction, message: `${LABELS[e.phase]}${pct}${detail}` };
  }
}

/** "340 MiB of 1.0 GiB · 12 MiB/s · 1m05s left" */
export function downloadMessage(e: DownloadEvent): string {
  const parts = [`${formatBytes(e.bytesAll)} of ${formatBytes(e.totalAll)}`];
  if (e.rate > 0) parts.push(`${formatBytes(e.rate)}/s`);
  if (e.etaSeconds !== null && e.bytesAll < e.totalAll) parts.push(`${formatDuration(e.etaSeconds)} left`);
  return parts.join(' · ');
}

/** withProgress takes increments in percent; this turns fractions into them. */
export class Increments {
  private reported = 0;

  /** The percent to add so the bar shows `fraction`. */
  next(fraction: number): number {
    const pct = Math.round(fraction * 1000) / 10;
    const inc = Math.max(0, pct - this.reported);
    this.reported += inc;
    return inc;
  }
}
