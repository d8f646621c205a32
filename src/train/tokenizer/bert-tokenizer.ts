/**
 * The BERT uncased tokenizer: basic tokenization, then WordPiece, then ids with `[CLS] … [SEP]`.
 * Matches Hugging Face's `BertTokenizer(do_lower_case=True)` called as
 * `tokenizer(text, truncation=True, max_length=n, padding=False | 'max_length')` for one sequence
 * (transformers/models/bert/tokenization_bert.py).
 *
 * Limits: single sequences only (no sentence pairs, no token_type_ids; they would all be 0 anyway);
 * special tokens written in the text are not recognised (see basic-tokenizer.ts).
 */

import { basicTokenize } from './basic-tokenizer.js';
import { Vocab } from './vocab.js';
import { wordpieceTokenize } from './wordpiece.js';

export interface EncodeOptions {
  /** Total length including `[CLS]` and `[SEP]`; longer texts are cut, keeping `[SEP]` last. At least 2. */
  maxLength: number;
  /** 'max_length' pads with `[PAD]` up to maxLength; 'none' (the default) leaves the sequence as long as it is. */
  padding?: 'none' | 'max_length';
}

export interface Encoding {
  inputIds: number[];
  /** 1 for a real token, 0 for padding. */
  attentionMask: number[];
}

export class BertTokenizer {
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;

  constructor(readonly vocab: Vocab) {
    this.padId = vocab.requireId('[PAD]');
    this.unkId = vocab.requireId('[UNK]');
    this.clsId = vocab.requireId('[CLS]');
    this.sepId = vocab.requireId('[SEP]');
  }

  static async fromVocabFile(path: string): Promise<BertTokenizer> {
    return new BertTokenizer(await Vocab.load(path));
  }

  /** WordPiece tokens of `text`, without `[CLS]`/`[SEP]`. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const word of basicTokenize(text)) tokens.push(...wordpieceTokenize(word, this.vocab));
    return tokens;
  }

  /** Ids of tokens produced by `tokenize` (every one is in the vocabulary, `[UNK]` included). */
  tokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((token) => this.vocab.requireId(token));
  }

  /** `[CLS] tokens [SEP]` as ids, truncated to maxLength and optionally padded to it. */
  encode(text: string, options: EncodeOptions): Encoding {
    const { maxLength } = options;
    const padding = options.padding ?? 'none';
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new Error(`encode: maxLength must be an integer >= 2 (room for [CLS] and [SEP]), got ${maxLength}`);
    }
    if (padding !== 'none' && padding !== 'max_length') {
      throw new Error(`encode: padding must be 'none' or 'max_length', got ${JSON.stringify(padding)}`);
    }
    const body = this.tokensToIds(this.tokenize(text)).slice(0, maxLength - 2);
    const inputIds = [this.clsId, ...body, this.sepId];
    const attentionMask = inputIds.map(() => 1);
    if (padding === 'max_length') {
      while (inputIds.length < maxLength) {
        inputIds.push(this.padId);
        attentionMask.push(0);
      }
    }
    return { inputIds, attentionMask };
  }
}
