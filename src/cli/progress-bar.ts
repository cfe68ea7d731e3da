// The download progress line shared by `model pull` and commands that fetch a model first.
import { formatBytes, formatDuration, Progress } from '../engine';

/** One line, redrawn in place: file, percent, bytes, rate, ETA. */
export function drawBar(out: NodeJS.WriteStream, p: Progress): void {
  const fraction = p.totalAll ? p.bytesAll / p.totalAll : 1;
  const width = 20;
  const filled = Math.round(fraction * width);
  const eta = p.etaSeconds === null ? '' : `  ETA ${formatDuration(p.etaSeconds)}`;
  const line = `${p.file}  ${String(Math.floor(fraction * 100)).padStart(3)}% [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${formatBytes(p.bytesAll)} / ${formatBytes(p.totalAll)}  ${formatBytes(p.rate)}/s${eta}`;
  out.write(`\r${line.slice(0, (out.columns || 100) - 1)}\x1b[K`);
}
