/**
 * Greedy longest-match-first WordPiece, as Hugging Face's `WordpieceTokenizer.tokenize`
 * (transformers/models/bert/tokenization_bert.py): a word is cut into the longest vocabulary
 * prefix, then the longest `##`-prefixed continuation, and so on. A word longer than
 * `maxInputCharsPerWord` code points, or one with any part that matches nothing, becomes a single
 * unknown token (the whole word, not just the part that failed).
 *
 * Limits: it expects words that the basic tokenizer already produced (no whitespace inside).
 */

import type { Vocab } from './vocab.js';

export interface WordpieceOptions {
  /** Default `[UNK]`. */
  unkToken?: string;
  /** Default 100, as BERT. Counted in Unicode code points, as Python counts string length. */
  maxInputCharsPerWord?: number;
}

export const CONTINUATION_PREFIX = '##';

/** The WordPiece tokens of one word. */
export function wordpieceTokenize(word: string, vocab: Vocab, options: WordpieceOptions = {}): string[] {
  const unkToken = options.unkToken ?? '[UNK]';
  const maxChars = options.maxInputCharsPerWord ?? 100;
  const chars = Array.from(word); // code points, so an astral character is never split in half
  if (chars.length > maxChars) return [unkToken];

  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let match: string | undefined;
    while (start < end) {
      const candidate = (start > 0 ? CONTINUATION_PREFIX : '') + chars.slice(start, end).join('');
      if (vocab.has(candidate)) {
        match = candidate;
        break;
      }
      end -= 1;
    }
    if (match === undefined) return [unkToken];
    pieces.push(match);
    start = end;
  }
  return pieces;
}
