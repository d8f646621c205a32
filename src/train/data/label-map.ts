/**
 * The mapping between class ids (0..n-1, what the model predicts) and the labels written in a data
 * file. It is saved with the model (as JSON) so that predictions can be turned back into labels.
 *
 * Two kinds:
 * - 'int': the file's labels are already ids; they are kept as they are, and label i is named "i".
 * - 'string': the file's labels are names; ids are given in sorted order (by UTF-16 code units, not
 *   by locale, so the mapping is the same on every machine).
 */

export type LabelKind = 'int' | 'string';

export interface LabelMapJson {
  kind: LabelKind;
  /** names[id] is the label of class `id`. */
  names: string[];
}

/**
 * Most int labels accepted. The real bound is Int32Array, but every class gets a name here and a
 * row in the model's output layer, so a label this large almost surely means the wrong column.
 */
export const MAX_INT_LABELS = 1_000_000;

export class LabelMap {
  private readonly idByName = new Map<string, number>();

  private constructor(
    readonly kind: LabelKind,
    readonly names: readonly string[],
  ) {
    names.forEach((name, id) => {
      if (this.idByName.has(name)) throw new Error(`LabelMap: duplicate label ${JSON.stringify(name)}`);
      this.idByName.set(name, id);
    });
  }

  /** Integer labels 0..numLabels-1, named "0", "1", ... */
  static forInts(numLabels: number): LabelMap {
    if (!Number.isInteger(numLabels) || numLabels < 1 || numLabels > MAX_INT_LABELS) {
      throw new Error(`LabelMap: number of int labels must be an integer in 1..${MAX_INT_LABELS}, got ${numLabels}`);
    }
    return new LabelMap('int', Array.from({ length: numLabels }, (_, id) => String(id)));
  }

  /** String labels, deduplicated and sorted so that the same set always gives the same ids. */
  static fromStrings(labels: Iterable<string>): LabelMap {
    const names = [...new Set(labels)].sort(); // default sort compares UTF-16 code units: locale-independent
    if (names.length === 0) throw new Error('LabelMap: no labels');
    return new LabelMap('string', names);
  }

  /** Reads what `toJSON` wrote, checking every field. */
  static fromJSON(json: unknown): LabelMap {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new Error(`LabelMap JSON must be an object, got ${JSON.stringify(json)}`);
    }
    const { kind, names } = json as Record<string, unknown>;
    if (kind !== 'int' && kind !== 'string') {
      throw new Error(`LabelMap JSON: kind must be 'int' or 'string', got ${JSON.stringify(kind)}`);
    }
    if (!Array.isArray(names) || names.length === 0 || !names.every((name) => typeof name === 'string')) {
      throw new Error(`LabelMap JSON: names must be a non-empty array of strings, got ${JSON.stringify(names)}`);
    }
    if (kind === 'int') {
      const map = LabelMap.forInts(names.length);
      names.forEach((name, id) => {
        if (name !== String(id)) throw new Error(`LabelMap JSON: int label ${id} must be named "${id}", got ${JSON.stringify(name)}`);
      });
      return map;
    }
    return new LabelMap('string', [...names]);
  }

  get size(): number {
    return this.names.length;
  }

  /** The id of a label as written in a data file, or undefined when the label is unknown. */
  idOf(name: string): number | undefined {
    return this.idByName.get(name);
  }

  nameOf(id: number): string {
    const name = this.names[id];
    if (name === undefined) throw new Error(`LabelMap: class id ${id} is outside 0..${this.names.length - 1}`);
    return name;
  }

  toJSON(): LabelMapJson {
    return { kind: this.kind, names: [...this.names] };
  }
}
