/**
 * BERT's "basic" tokenizer for uncased models: cleans the text, puts spaces around CJK ideographs,
 * lowercases, strips accents and splits on whitespace and punctuation. It copies the behaviour of
 * Hugging Face's `BasicTokenizer` with do_lower_case=True, tokenize_chinese_chars=True,
 * strip_accents=None (transformers/models/bert/tokenization_bert.py), which follows Google's
 * original tokenization.py.
 *
 * Limits:
 * - Unicode categories come from the JavaScript engine (Node's ICU), whereas Python uses its own
 *   `unicodedata` tables; characters added in a newer Unicode version than the other side knows can
 *   be classified differently.
 * - There is no `never_split` list: special tokens written in the text, such as "[SEP]", are
 *   tokenized as ordinary text ("[", "sep", "]"), so that a training sentence cannot inject them.
 */

/** Python's `str.split()` separators (`str.isspace`), so that splitting matches `whitespace_tokenize`. */
const PYTHON_WHITESPACE_RUN = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

const SPACE_SEPARATOR = /^\p{Zs}$/u;
const OTHER_CATEGORY = /^\p{C}$/u; // Cc, Cf, Cs, Co, Cn: the categories starting with "C".
const PUNCTUATION_CATEGORY = /^\p{P}$/u;
const NONSPACING_MARKS = /\p{Mn}/gu;

/** BERT's `_is_whitespace`: space, tab, newline, carriage return, or Unicode category Zs. */
export function isBertWhitespace(char: string): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r' || SPACE_SEPARATOR.test(char);
}

/** BERT's `_is_control`: any category C* character except tab, newline and carriage return (they count as whitespace). */
export function isBertControl(char: string): boolean {
  if (char === '\t' || char === '\n' || char === '\r') return false;
  return OTHER_CATEGORY.test(char);
}

/**
 * BERT's `_is_punctuation`: every non-alphanumeric ASCII character (so "$", "^", "`" count even
 * though Unicode calls them symbols), plus any Unicode category P* character.
 */
export function isBertPunctuation(char: string): boolean {
  const cp = char.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return PUNCTUATION_CATEGORY.test(char);
}

/**
 * BERT's `_is_chinese_char`: the CJK Unified Ideographs blocks. Hiragana, Katakana and Hangul are
 * deliberately not included, as in BERT; they are split on whitespace like Latin text.
 */
export function isCjkIdeograph(codePoint: number): boolean {
  return (
    (codePoint >= 0x4e00 && codePoint <= 0x9fff) ||
    (codePoint >= 0x3400 && codePoint <= 0x4dbf) ||
    (codePoint >= 0x20000 && codePoint <= 0x2a6df) ||
    (codePoint >= 0x2a700 && codePoint <= 0x2b73f) ||
    (codePoint >= 0x2b740 && codePoint <= 0x2b81f) ||
    (codePoint >= 0x2b820 && codePoint <= 0x2ceaf) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0x2f800 && codePoint <= 0x2fa1f)
  );
}

/** BERT's `_clean_text`: drops NUL, U+FFFD and control characters; turns every whitespace character into a space. */
export function cleanText(text: string): string {
  let out = '';
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isBertControl(char)) continue;
    out += isBertWhitespace(char) ? ' ' : char;
  }
  return out;
}

/** BERT's `_tokenize_chinese_chars`: puts a space on both sides of every CJK ideograph, so each becomes a word. */
export function spaceAroundCjk(text: string): string {
  let out = '';
  for (const char of text) {
    out += isCjkIdeograph(char.codePointAt(0)!) ? ` ${char} ` : char;
  }
  return out;
}

/** BERT's `_run_strip_accents`: NFD, then drop the nonspacing marks (category Mn). */
export function stripAccents(text: string): string {
  return text.normalize('NFD').replace(NONSPACING_MARKS, '');
}

/** BERT's `_run_split_on_punc`: every punctuation character becomes a token of its own. */
export function splitOnPunctuation(text: string): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const char of text) {
    if (isBertPunctuation(char)) {
      if (current !== '') pieces.push(current);
      pieces.push(char);
      current = '';
    } else {
      current += char;
    }
  }
  if (current !== '') pieces.push(current);
  return pieces;
}

/** BERT's `whitespace_tokenize`: strip, then split on runs of whitespace (Python `str.split()`). */
export function splitOnWhitespace(text: string): string[] {
  return text.split(PYTHON_WHITESPACE_RUN).filter((word) => word !== '');
}

/** The full basic tokenization of one text into lowercased, accent-free words and punctuation marks. */
export function basicTokenize(text: string): string[] {
  // The NFC step is in Hugging Face's BasicTokenizer.tokenize, so that composed and decomposed
  // spellings of a character split the same way.
  const normalized = spaceAroundCjk(cleanText(text)).normalize('NFC');
  const pieces: string[] = [];
  for (const word of splitOnWhitespace(normalized)) {
    pieces.push(...splitOnPunctuation(stripAccents(word.toLowerCase())));
  }
  return splitOnWhitespace(pieces.join(' '));
}
