// Argument parsing shared by every CLI command: node's util.parseArgs with errors a user can read.
import { parseArgs, ParseArgsConfig } from 'node:util';
import { EngineError } from '../engine';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<T extends Options>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new EngineError('bad-input', `${(e as Error).message}\nusage: ${usage}`);
  }
}

/** Parses a numeric option, with a clear error when it is not a number in range. */
export function numberOpt(v: string | boolean | undefined, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < min || n > max) {
    throw new EngineError('bad-input', `--${name} must be a number in [${min}, ${max}], got ${String(v)}`);
  }
  return n;
}

export function idList(v: string | undefined, name: string): number[] {
  if (v === undefined || v.trim() === '') return [];
  const ids = v.split(',').map((s) => Number(s.trim()));
  if (ids.some((x) => !Number.isInteger(x) || x < 0)) throw new EngineError('bad-input', `--${name} must be comma-separated token ids`);
  return ids;
}
