/**
 * Turns a list of examples into one batch of flat Int32Arrays for the GPU: token ids and attention
 * mask, row-major (batchSize × seqLength), padded to the longest sequence in the batch, and labels.
 *
 * `collateEncoded` takes examples that were tokenized already (the fast path for training: tokenize
 * once, batch every epoch); `TextCollator` tokenizes text examples first.
 *
 * `padToMultipleOf` (Hugging Face's `pad_to_multiple_of`) rounds the padded length up: every distinct length is
 * another set of kernel shapes, uniforms and bind groups to record, so fewer lengths make a step cheaper to record
 * (the Trainer pads to a multiple of 8: bench/RESULTS.md, issue 17).
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

export interface PaddingOptions {
  /** Round the padded length up to a multiple of this (HF's pad_to_multiple_of). */
  padToMultipleOf?: number;
  /** Never round past this (the model's position embeddings); a longer example is still kept whole. */
  maxLength?: number;
}

/** Pads pre-tokenized examples to the longest one in the batch (rounded up as `padding` says). */
export function collateEncoded(examples: readonly EncodedExample[], padId = 0, padding: PaddingOptions = {}): Batch {
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
  const longest = examples.reduce((most, example) => Math.max(most, example.inputIds.length), 0);
  const seqLength = paddedLength(longest, padding);
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

/** `longest` rounded up to `padToMultipleOf`, but not past `maxLength` unless `longest` already is. */
export function paddedLength(longest: number, { padToMultipleOf = 1, maxLength = Infinity }: PaddingOptions): number {
  if (!Number.isInteger(padToMultipleOf) || padToMultipleOf < 1) {
    throw new Error(`collate: padToMultipleOf must be an integer ≥ 1, got ${padToMultipleOf}`);
  }
  const rounded = Math.ceil(longest / padToMultipleOf) * padToMultipleOf;
  return Math.max(longest, Math.min(rounded, maxLength));
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
