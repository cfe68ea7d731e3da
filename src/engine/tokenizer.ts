// Tokenizer and chat template of a model folder. Two rules matter for a repository tool:
// repository text never becomes control tokens (a `<|im_end|>` inside a source file stays text),
// and decoding round-trips source code exactly (no clean-up of spaces).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { EngineError } from './errors';

type Json = Record<string, unknown>;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A chat turn split around its content: prefix ‖ content ‖ postfix opens and closes the user turn. */
export interface ChatFrame {
  /** System prompt and user header, up to where the user's content starts. */
  prefix: number[];
  /** Closes the user turn and opens the assistant's. */
  postfix: number[];
}

function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

export class Tokenizer {
  private readonly full: HfTokenizer;
  private readonly plain: HfTokenizer;
  private readonly template: Template | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly bosId: number | null;
  /** Whether encoding a whole text normally starts with BOS (post-processor or add_bos_token). */
  readonly addsBos: boolean;
  readonly vocabSize: number;

  constructor(tokenizerJson: Json, config: Json) {
    this.full = new HfTokenizer(tokenizerJson, config);
    // The same vocabulary without its added tokens: their text is then split like any other text.
    this.plain = new HfTokenizer({ ...tokenizerJson, added_tokens: [] }, config);
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.bosId = this.bosToken !== null ? (this.full.token_to_id(this.bosToken) ?? null) : null;
    const probe = this.full.encode('a', { add_special_tokens: true }).ids;
    this.addsBos = this.bosId !== null && probe[0] === this.bosId;
    this.template = typeof config.chat_template === 'string' ? new Template(config.chat_template) : null;
    this.vocabSize = this.full.get_vocab(true).size;
  }

  static load(dir: string): Tokenizer {
    const read = (name: string): Json => {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) throw new EngineError('missing-file', `model folder ${dir} has no ${name}`);
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
      } catch (e) {
        throw new EngineError('bad-model', `${name} is not valid JSON: ${(e as Error).message}`);
      }
    };
    const json = read('tokenizer.json');
    const cfgFile = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(cfgFile) ? read('tokenizer_config.json') : {};
    try {
      return new Tokenizer(json, config);
    } catch (e) {
      throw new EngineError('bad-model', `tokenizer.json could not be loaded: ${(e as Error).message}`);
    }
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** Untrusted text (repository files, questions): control-token strings stay plain text. */
  encodeText(text: string): number[] {
    return this.plain.encode(text, { add_special_tokens: false }).ids;
  }

  /** Trusted text we write ourselves (templates, prompts): control-token strings are control tokens. */
  encodeControl(text: string): number[] {
    return this.full.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[], skipSpecial = false): string {
    return this.full.decode(ids, { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });
  }

  /** The id of a special token such as `<|file_sep|>`, or null when the vocabulary lacks it. */
  specialId(token: string): number | null {
    const id = this.full.token_to_id(token);
    return id === undefined || id === null ? null : id;
  }

  idToToken(id: number): string | undefined {
    return this.full.id_to_token(id) ?? undefined;
  }

  /** Renders the chat template (throws when the model has none). */
  renderChat(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    if (!this.template) throw new EngineError('unsupported-model', 'the tokenizer has no chat_template');
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
      enable_thinking: false,
    });
  }

  /**
   * Token ids around one user turn, as KVzip and questions use them: prefix = BOS/system/user
   * header, postfix = end of the user turn and the assistant header. Models without a chat
   * template get BOS (if any) as prefix and the paper's fallback "\n\nAnswer: " as postfix.
   */
  chatFrame(system: string | null): ChatFrame {
    if (!this.template) {
      return { prefix: this.addsBos && this.bosId !== null ? [this.bosId] : [], postfix: this.encodeControl('\n\nAnswer: ') };
    }
    const marker = '\u0000REPOZIP\u0000';
    const messages: ChatMessage[] = system !== null ? [{ role: 'system', content: system }] : [];
    const text = this.renderChat([...messages, { role: 'user', content: marker }], true);
    const at = text.indexOf(marker);
    if (at < 0) throw new EngineError('unsupported-model', 'the chat template does not render the user message');
    return { prefix: this.encodeControl(text.slice(0, at)), postfix: this.encodeControl(text.slice(at + marker.length)) };
  }
}

/**
 * Turns a growing list of token ids into text deltas. Byte-level BPE splits characters across
 * tokens, so text is only released once it no longer ends in a partial character. Decoding starts
 * from a primer (the prompt's last token) because some decoders strip the first token's leading
 * space: " upon" after "Once" must stay " upon".
 */
export class StreamDecoder {
  private readonly ids: number[];
  private readonly skip: number;
  private emitted = '';

  constructor(
    private readonly tok: Tokenizer,
    primer: number[] = [],
  ) {
    this.ids = primer.slice(-1);
    this.skip = this.ids.length ? tok.decode(this.ids, true).length : 0;
  }

  push(id: number): string {
    this.ids.push(id);
    const text = this.tok.decode(this.ids, true).slice(this.skip);
    if (text.endsWith('\uFFFD')) return '';
    const delta = text.slice(this.emitted.length);
    this.emitted = text;
    return delta;
  }

  get text(): string {
    return this.emitted;
  }
}
