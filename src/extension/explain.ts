// Hover explanations: the question asked for a symbol, and the answers kept per (snapshot, file,
// symbol) so a hover can show one at once. A snapshot key changes with any file, the model or the
// KVzip settings, so an explanation is never shown for code it was not made from.
import type { Store } from './chat';

/** Enough for a few sentences; a hover is no place for essays, and a CPU decodes slowly. */
export const EXPLAIN_TOKENS = 160;

/** What the hover's command link carries to repozip.explainSymbol. */
export interface ExplainTarget {
  /** Workspace-relative, '/'-separated. */
  file: string;
  /** 1-based. */
  line: number;
  symbol: string;
}

const IDENTIFIER = /^[\p{L}_$][\p{L}\p{N}_$]*$/u;

/** Words worth explaining: identifiers of two characters or more, not numbers or punctuation. */
export function isSymbol(word: string): boolean {
  return word.length >= 2 && word.length <= 128 && IDENTIFIER.test(word);
}

/** The command link's arguments, checked (a command can be invoked with anything). */
export function parseTarget(v: unknown): ExplainTarget | undefined {
  const t = v as Partial<ExplainTarget> | null;
  if (typeof t !== 'object' || t === null) return undefined;
  if (typeof t.file !== 'string' || t.file.length === 0 || t.file.length > 1024) return undefined;
  if (!Number.isInteger(t.line) || (t.line as number) < 1) return undefined;
  if (typeof t.symbol !== 'string' || !isSymbol(t.symbol)) return undefined;
  return { file: t.file, line: t.line as number, symbol: t.symbol };
}

export function explainQuestion(t: ExplainTarget): string {
  return `Explain \`${t.symbol}\` in ${t.file}:${t.line} and how it is used in this repository. Be brief.`;
}

export function hoverKey(snapshot: string, file: string, symbol: string): string {
  return JSON.stringify([snapshot, file, symbol]);
}

export const EXPLANATIONS_KEY = 'repozip.hover.explanations';

/** Explanations in memory and in workspaceState, the newest `max` kept. */
export class Explanations {
  private readonly entries: Map<string, string>;

  constructor(
    private readonly store: Store,
    private readonly max = 200,
  ) {
    const saved = store.get<unknown>(EXPLANATIONS_KEY);
    const pairs = Array.isArray(saved)
      ? saved.filter((p): p is [string, string] => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string')
      : [];
    this.entries = new Map(pairs.slice(-max));
  }

  get(snapshot: string | undefined, file: string, symbol: string): string | undefined {
    return snapshot === undefined ? undefined : this.entries.get(hoverKey(snapshot, file, symbol));
  }

  set(snapshot: string, file: string, symbol: string, text: string): void {
    const key = hoverKey(snapshot, file, symbol);
    this.entries.delete(key); // re-inserted as the newest
    this.entries.set(key, text);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    void this.store.update(EXPLANATIONS_KEY, [...this.entries]);
  }
}

/** The background explanation in flight (auto hover mode): at most one, and a user's question stops it. */
export class BackgroundRun {
  private controller: AbortController | undefined;

  /** Stops the one before; the new one's signal. */
  start(): AbortSignal {
    this.stop();
    this.controller = new AbortController();
    return this.controller.signal;
  }

  stop(): void {
    this.controller?.abort();
  }
}
