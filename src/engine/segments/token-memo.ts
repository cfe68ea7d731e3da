// Tokenizing is most of an incremental index's fixed cost: after an edit every other file is read
// and tokenized again only to find the segments it already has, and a build segments the
// repository twice (once for the keys, once to build). The engine process lives across builds, so
// it remembers the ids of the texts it tokenized, by a hash of the text (the text itself is not
// kept), least recently used going first past a bound: an unchanged file costs a hash and a map
// lookup. Same text, same tokenizer: same ids.
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
    if (hit) {
      this.ids.delete(key); // re-inserted: a Map iterates in insertion order, oldest first
      this.ids.set(key, hit);
      return Array.from(hit);
    }
    const ids = this.tok.encodeText(text);
    this.ids.set(key, Int32Array.from(ids));
    this.tokens += ids.length;
    for (const [old, oldIds] of this.ids) {
      if (this.tokens <= this.maxTokens) break;
      this.ids.delete(old);
      this.tokens -= oldIds.length;
    }
    return ids;
  }

  specialId(token: string): number | null {
    return this.tok.specialId(token);
  }
}
