// Tokenizing is most of an incremental index's fixed cost: after an edit every other file is read
// and tokenized again only to find the segments it already has, and a build segments the
// repository twice (once for the keys, once to build). The engine process lives across builds, so
// it remembers the ids of the texts it tokenized, by a hash of the text (the text itself is not
// kept), up to a bound: an unchanged file costs a hash and a map lookup. Same text, same tokenizer:
// same ids. Past the bound nothing more is remembered, rather than the oldest forgotten: the cuts
// read the repository in order, so a least-recently-used memo smaller than the repository would
// forget every text just before it is asked for again, and churn memory for nothing (measured: V8's
// heap peaked at 130 MB instead of 100 MB cutting 1M tokens twice).
import { createHash } from 'node:crypto';
import type { TokenizerLike } from '../../repo';

/** Token ids remembered: 4 bytes each, so at most 4 MB whatever the repository's size (a repository of ~700K tokens fits whole). */
const MAX_TOKENS = 1 << 20;

export class TokenMemo implements TokenizerLike {
  private readonly ids = new Map<string, Int32Array>();
  private tokens = 0;

  constructor(
    private readonly tok: TokenizerLike,
    private readonly maxTokens = MAX_TOKENS,
  ) {}

  encodeText(text: string): number[] {
    const key = createHash('sha256').update(text).digest('base64');
    const hit = this.ids.get(key);
    if (hit) return Array.from(hit);
    const ids = this.tok.encodeText(text);
    if (this.tokens + ids.length <= this.maxTokens) {
      this.ids.set(key, Int32Array.from(ids));
      this.tokens += ids.length;
    }
    return ids;
  }

  specialId(token: string): number | null {
    return this.tok.specialId(token);
  }
}
