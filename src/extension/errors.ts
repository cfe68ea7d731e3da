// Engine failures as the extension reports them: a cancel is not an error, a crash says the next
// request recovers, and model problems point at the command that fixes them.
import { EngineError } from '../engine/editor';

export interface Described {
  cancelled: boolean;
  message: string;
  /** What the notification offers besides closing it. */
  action?: 'Choose Model' | 'Show Log';
}

const MODEL_CODES = new Set(['missing-file', 'bad-model', 'unsupported-model', 'device', 'download']);

export function describeError(e: unknown): Described {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof EngineError) {
    if (e.code === 'cancelled') return { cancelled: true, message: 'Cancelled.' };
    if (e.code === 'engine-crashed') return { cancelled: false, message: `The engine process stopped: ${message}`, action: 'Show Log' };
    if (MODEL_CODES.has(e.code)) return { cancelled: false, message, action: 'Choose Model' };
    if (e.code === 'internal') return { cancelled: false, message: message.split('\n')[0], action: 'Show Log' };
  }
  return { cancelled: false, message };
}
