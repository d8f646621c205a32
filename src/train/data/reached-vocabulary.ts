/**
 * The token ids a run's data reaches, and its examples renumbered to them. A BERT vocabulary has 30,522 ids; a
 * sweep's data reaches a fraction (6,740 for the bundled SST-2 sample with its dev set; 12,008 for all of SST-2).
 * Rows of the embedding table no example reaches never get a gradient and never reach an output, so a model that
 * keeps only the reached rows (TrainableModel.keepVocabulary) gives the same outputs, and its optimizer, gradient
 * clipping and embedding gradient cost those rows only.
 */
import type { EncodedExample } from './collator.js';

export class ReachedVocabulary {
  /** Reached ids, ascending: id rows[i] is renumbered i. */
  readonly rows: Int32Array;
  private readonly renumbered: Map<number, number>;

  /** The ids of every example of `exampleSets`, and `always` (the pad id: filler rows and padding use it). */
  constructor(exampleSets: readonly (readonly EncodedExample[])[], always: readonly number[]) {
    const ids = new Set<number>(always);
    for (const examples of exampleSets) for (const example of examples) for (const id of example.inputIds) ids.add(id);
    this.rows = Int32Array.from([...ids].sort((a, b) => a - b));
    this.renumbered = new Map([...this.rows].map((id, i) => [id, i]));
  }

  /** The new number of `id`; throws for an id the data did not reach. */
  numberOf(id: number): number {
    const number = this.renumbered.get(id);
    if (number === undefined) throw new RangeError(`ReachedVocabulary: token id ${id} is not among the ${this.rows.length} ids the data reaches`);
    return number;
  }

  /** The examples with every input id renumbered (attention masks and labels as they were). */
  renumber(examples: readonly EncodedExample[]): EncodedExample[] {
    return examples.map((example) => ({ ...example, inputIds: example.inputIds.map((id) => this.numberOf(id)) }));
  }
}
