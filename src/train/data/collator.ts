/**
 * Turns a list of examples into one batch of flat Int32Arrays for the GPU: token ids and attention
 * mask, row-major (batchSize × seqLength), padded to the longest sequence in the batch, and labels.
 *
 * `collateEncoded` takes examples that were tokenized already (the fast path for training: tokenize
 * once, batch every epoch); `TextCollator` tokenizes text examples first.
 *
 * Limits: no padding to a multiple of 8 or to a fixed length; examples keep their own length.
 */

import type { BertTokenizer } from '../tokenizer/bert-tokenizer.js';

export interface EncodedExample {
  inputIds: readonly number[];
  /** Same length as inputIds: 1 for a real token, 0 for padding. */
  attentionMask: readonly number[];
  label: number;
}

export interface Batch {
  /** batchSize × seqLength token ids, row-major, padded with the pad id. */
  inputIds: Int32Array;
  /** batchSize × seqLength, 1 for a real token and 0 for padding. */
  attentionMask: Int32Array;
  /** batchSize class ids. */
  labels: Int32Array;
  batchSize: number;
  seqLength: number;
}

/** Pads pre-tokenized examples to the longest one in the batch. */
export function collateEncoded(examples: readonly EncodedExample[], padId = 0): Batch {
  if (examples.length === 0) throw new Error('collate: a batch needs at least one example');
  examples.forEach((example, index) => {
    if (example.inputIds.length === 0) throw new Error(`collate: example ${index} has no tokens`);
    if (example.attentionMask.length !== example.inputIds.length) {
      throw new Error(
        `collate: example ${index} has ${example.inputIds.length} input ids but ${example.attentionMask.length} mask entries`,
      );
    }
    if (!Number.isInteger(example.label) || example.label < 0 || example.label > 2 ** 31 - 1) {
      throw new Error(`collate: example ${index} has label ${example.label}, not a non-negative int32`);
    }
  });
  const batchSize = examples.length;
  const seqLength = examples.reduce((longest, example) => Math.max(longest, example.inputIds.length), 0);
  const inputIds = new Int32Array(batchSize * seqLength).fill(padId);
  const attentionMask = new Int32Array(batchSize * seqLength); // zeros: padding
  const labels = new Int32Array(batchSize);
  examples.forEach((example, row) => {
    inputIds.set(example.inputIds, row * seqLength);
    attentionMask.set(example.attentionMask, row * seqLength);
    labels[row] = example.label;
  });
  return { inputIds, attentionMask, labels, batchSize, seqLength };
}

/** Tokenizes text examples with a BERT tokenizer, then collates them. */
export class TextCollator {
  constructor(
    readonly tokenizer: BertTokenizer,
    /** Longest sequence kept, [CLS] and [SEP] included; longer texts are truncated. */
    readonly maxLength: number,
  ) {}

  /** Tokenizes one example; use it to tokenize a whole data set once and collate with collateEncoded. */
  encode(example: { text: string; label: number }): EncodedExample {
    const { inputIds, attentionMask } = this.tokenizer.encode(example.text, { maxLength: this.maxLength });
    return { inputIds, attentionMask, label: example.label };
  }

  collate(examples: readonly { text: string; label: number }[]): Batch {
    return collateEncoded(
      examples.map((example) => this.encode(example)),
      this.tokenizer.padId,
    );
  }
}
