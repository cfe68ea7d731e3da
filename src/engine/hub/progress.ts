// Download progress for a whole pull: bytes per file and overall, a smoothed rate and an ETA.
// Events are rate-limited so a fast download does not flood a UI or a --json pipe.

export interface Progress {
  /** The file whose bytes moved. */
  file: string;
  bytes: number;
  total: number;
  /** All files of the pull, counting what was already on disk. */
  bytesAll: number;
  totalAll: number;
  /** Bytes per second received, smoothed. */
  rate: number;
  /** null until a rate is known. */
  etaSeconds: number | null;
}

const EMIT_MS = 200;
const SMOOTHING = 0.3; // weight of the newest interval's rate

export class ProgressMeter {
  private readonly bytes = new Map<string, number>();
  private bytesAll = 0;
  private received = 0;
  private rate = 0;
  private sampled: { at: number; received: number };
  private lastEmit = -Infinity;

  constructor(
    private readonly totalAll: number,
    private readonly emit: (p: Progress) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.sampled = { at: now(), received: 0 };
  }

  /** A file's download (re)starts with `bytes` already on disk (a resumed partial file, or 0). */
  start(file: string, total: number, bytes: number): void {
    this.bytesAll += bytes - (this.bytes.get(file) ?? 0);
    this.bytes.set(file, bytes);
    this.report(file, total, true);
  }

  /** `n` more bytes of `file` arrived from the network and are on disk. */
  receive(file: string, total: number, n: number): void {
    this.bytes.set(file, (this.bytes.get(file) ?? 0) + n);
    this.bytesAll += n;
    this.received += n;
    this.report(file, total, false);
  }

  /** The file is complete (downloaded, or found whole without downloading). */
  finish(file: string, total: number): void {
    this.start(file, total, total);
  }

  private report(file: string, total: number, force: boolean): void {
    const t = this.now();
    if (!force && t - this.lastEmit < EMIT_MS) return;
    const dt = (t - this.sampled.at) / 1000;
    if (dt * 1000 >= EMIT_MS) {
      const latest = (this.received - this.sampled.received) / dt;
      this.rate = this.rate === 0 ? latest : this.rate + SMOOTHING * (latest - this.rate);
      this.sampled = { at: t, received: this.received };
    }
    this.lastEmit = t;
    const left = this.totalAll - this.bytesAll;
    const etaSeconds = left <= 0 ? 0 : this.rate > 0 ? left / this.rate : null;
    this.emit({ file, bytes: this.bytes.get(file) ?? 0, total, bytesAll: this.bytesAll, totalAll: this.totalAll, rate: this.rate, etaSeconds });
  }
}
