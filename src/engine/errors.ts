// Every failure the engine reports to a user carries a stable code (for the CLI's --json output,
// the worker protocol and the extension's messages) and a sentence that says what to do.

export type ErrorCode =
  | 'missing-file' // a model or cache file is absent
  | 'bad-model' // a model file is malformed (truncated, wrong shape, bad JSON)
  | 'unsupported-model' // a family or feature the engine does not implement
  | 'bad-input' // a caller's argument is out of range (ratio, empty context, too long)
  | 'corrupt-cache' // a cache file failed validation
  | 'io' // reading or writing a file failed (disk full, permissions)
  | 'out-of-memory' // the estimated peak would exceed available memory
  | 'cancelled' // the caller cancelled
  | 'device' // an execution provider could not start
  | 'download' // fetching a model failed
  | 'engine-crashed' // the engine process died
  | 'internal';

export class EngineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export class CancelledError extends EngineError {
  constructor(what = 'operation') {
    super('cancelled', `${what} was cancelled`);
  }
}

const IO_REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  EISDIR: 'a directory is in the way',
  ENOTDIR: 'a file is in the way of a directory',
  EEXIST: 'a file is in the way of a directory',
};

/** A file system error in words a user acts on ("the disk is full (ENOSPC)"), else its own message. */
export function describeIo(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code && IO_REASONS[err.code] ? `${IO_REASONS[err.code]} (${err.code})` : err.message;
}

/** Our own reads and writes failing (disk full, permissions): not a defect of the data, not a caller's mistake. */
export function ioError(what: string, e: unknown): EngineError {
  return e instanceof EngineError ? e : new EngineError('io', `${what}: ${describeIo(e)}`);
}

/** Throws CancelledError when the signal has fired. */
export function throwIfCancelled(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}
