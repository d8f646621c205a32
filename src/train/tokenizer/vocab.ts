/**
 * A WordPiece vocabulary loaded from a BERT `vocab.txt`: one token per line, the token's id is its
 * 0-based line index (as Hugging Face's `load_vocab`, transformers/models/bert/tokenization_bert.py).
 *
 * Limits: the file must be UTF-8 with LF (or CRLF) line endings. Unlike Hugging Face, a duplicate or
 * empty token is an error instead of being silently overwritten, because it would shift or hide ids.
 */

import { readFile } from 'node:fs/promises';

export class Vocab {
  private readonly idByToken = new Map<string, number>();

  private constructor(
    readonly tokens: readonly string[],
    /** Where the vocabulary came from, for error messages. */
    readonly source: string,
  ) {
    tokens.forEach((token, id) => {
      if (token === '') throw new Error(`${source}:${id + 1}: empty token`);
      const earlier = this.idByToken.get(token);
      if (earlier !== undefined) {
        throw new Error(`${source}:${id + 1}: duplicate token ${JSON.stringify(token)} (also on line ${earlier + 1})`);
      }
      this.idByToken.set(token, id);
    });
  }

  /** Reads a vocab.txt file. */
  static async load(path: string): Promise<Vocab> {
    return Vocab.fromText(await readFile(path, 'utf8'), path);
  }

  /** Parses the text of a vocab.txt file; `source` names it in error messages. */
  static fromText(text: string, source: string): Vocab {
    const lines = text.split('\n');
    // The file ends with a newline, which leaves one empty string after the last token.
    if (lines[lines.length - 1] === '') lines.pop();
    const tokens = lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
    if (tokens.length === 0) throw new Error(`${source}: vocabulary is empty`);
    return new Vocab(tokens, source);
  }

  /** Builds a vocabulary from a token list (id = index); for tests and tools. */
  static fromTokens(tokens: readonly string[], source = '<tokens>'): Vocab {
    return new Vocab([...tokens], source);
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.idByToken.has(token);
  }

  /** The id of `token`, or undefined when it is not in the vocabulary. */
  idOf(token: string): number | undefined {
    return this.idByToken.get(token);
  }

  /** The id of a token that must be present, such as `[CLS]`; throws naming the vocabulary otherwise. */
  requireId(token: string): number {
    const id = this.idByToken.get(token);
    if (id === undefined) throw new Error(`${this.source}: vocabulary has no token ${JSON.stringify(token)}`);
    return id;
  }

  tokenOf(id: number): string {
    const token = this.tokens[id];
    if (token === undefined) throw new Error(`${this.source}: token id ${id} is outside 0..${this.tokens.length - 1}`);
    return token;
  }
}
