// Tokenizing is most of an incremental index's fixed cost: after an edit every other file is read
// and tokenized again only to find the segments it already has. The engine process lives across
// builds, so it remembers the ids of the texts it tokenized (least recently used go first past a
// bound) and an unchanged file costs a map lookup. Same text, same tokenizer: same ids.
import type { TokenizerLike } from '../../repo';

/** Characters of text remembered (about 4 bytes of ids a token besides the text itself). */
const MAX_CHARS = 64 << 20;

export class TokenMemo implements TokenizerLike {
  private readonly ids = new Map<string, number[]>();
  private chars = 0;

  constructor(
    private readonly tok: TokenizerLike,
    private readonly maxChars = MAX_CHARS,
  ) {}

  encodeText(text: string): number[] {
    const hit = this.ids.get(text);
    if (hit) {
      this.ids.delete(text); // re-inserted: a Map iterates in insertion order, oldest first
      this.ids.set(text, hit);
      return hit;
    }
    const ids = this.tok.encodeText(text);
    this.ids.set(text, ids);
    this.chars += text.length;
    for (const [old] of this.ids) {
      if (this.chars <= this.maxChars) break;
      this.ids.delete(old);
      this.chars -= old.length;
    }
    return ids;
  }

  specialId(token: string): number | null {
    return this.tok.specialId(token);
  }
}
