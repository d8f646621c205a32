/**
 * Tokenizer tests against ids derived BY HAND from the bundled vocabulary
 * data/vocab/bert-base-uncased-vocab.txt, never from this code's own output.
 *
 * How each id was found: `grep -nxF -- 'TOKEN' data/vocab/bert-base-uncased-vocab.txt` prints
 * `LINE:TOKEN`; the id is LINE - 1 (the file's first line is id 0). The table below lists every
 * token used, with the grep line number in the comment. "absent" means grep -nxF printed nothing,
 * which is what makes WordPiece pick a shorter piece or [UNK].
 * The word → token splits follow the rules of Hugging Face's BertTokenizer, applied by hand.
 */

import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  basicTokenize,
  cleanText,
  isBertPunctuation,
  isCjkIdeograph,
  stripAccents,
} from '../../src/train/tokenizer/basic-tokenizer.js';
import { BertTokenizer } from '../../src/train/tokenizer/bert-tokenizer.js';
import { Vocab } from '../../src/train/tokenizer/vocab.js';
import { wordpieceTokenize } from '../../src/train/tokenizer/wordpiece.js';

const VOCAB_PATH = fileURLToPath(new URL('../../data/vocab/bert-base-uncased-vocab.txt', import.meta.url));

const ID = {
  PAD: 0,            // line 1: [PAD]
  UNK: 100,          // line 101: [UNK]
  CLS: 101,          // line 102: [CLS]
  SEP: 102,          // line 103: [SEP]
  bang: 999,         // line 1000: !
  dollar: 1002,      // line 1003: $
  apostrophe: 1005,  // line 1006: '
  comma: 1010,       // line 1011: ,
  period: 1012,      // line 1013: .
  one: 1015,         // line 1016: 1
  five: 1019,        // line 1020: 5
  question: 1029,    // line 1030: ?
  lbracket: 1031,    // line 1032: [
  rbracket: 1033,    // line 1034: ]
  caret: 1034,       // line 1035: ^
  backtick: 1036,    // line 1037: `
  a: 1037,           // line 1038: a
  i: 1045,           // line 1046: i
  s: 1055,           // line 1056: s
  t: 1056,           // line 1057: t
  guillemetOpen: 1077,  // line 1078: «
  guillemetClose: 1090, // line 1091: »
  emDash: 1517,      // line 1518: —
  rightQuote: 1521,  // line 1522: ’
  ko: 1655,          // line 1656: こ
  world_zh: 1745,    // line 1746: 世
  middle_zh: 1746,   // line 1747: 中
  person_zh: 1756,   // line 1757: 人
  country_zh: 1799,  // line 1800: 国
  me_zh: 1855,       // line 1856: 我
  the: 1996,         // line 1997: the
  and: 1998,         // line 1999: and
  it: 2009,          // line 2010: it
  from: 2013,        // line 2014: from
  cont_s: 2015,      // line 2016: ##s
  new: 2047,         // line 2048: new
  cont_a: 2050,      // line 2051: ##a
  what: 2054,        // line 2055: what
  world: 2088,       // line 2089: world
  don: 2123,         // line 2124: don
  again: 2153,       // line 2154: again
  our: 2256,         // line 2257: our
  love: 2293,        // line 2294: love
  often: 2411,       // line 2412: often
  cont_4: 2549,      // line 2550: ##4
  units: 3197,       // line 3198: units
  wait: 3524,        // line 3525: wait
  secret: 3595,      // line 3596: secret
  quick: 4248,       // line 4249: quick
  journey: 4990,     // line 4991: journey
  n56: 5179,         // line 5180: 56
  hide: 5342,        // line 5343: hide
  hello: 7592,       // line 7593: hello
  hi: 7632,          // line 7633: hi
  cafe: 7668,        // line 7669: cafe
  cont_ions: 8496,   // line 8497: ##ions
  cont_aa: 11057,    // line 11058: ##aa
  charming: 11951,   // line 11952: charming
  affecting: 12473,  // line 12474: affecting
  aaa: 13360,        // line 13361: aaa
  naive: 15743,      // line 15744: naive
  n202: 16798,       // line 16799: 202
  parental: 18643,   // line 18644: parental
  cl: 18856,         // line 18857: cl
  n234: 22018,       // line 22019: 234
  cont_ti: 30188,    // line 30189: ##ち
  cont_ni: 30194,    // line 30195: ##に
  cont_ha: 30198,    // line 30199: ##は
  cont_n: 30217,     // line 30218: ##ん
  cont_euro: 30102,  // line 30103: ##€
} as const;

let tokenizer: BertTokenizer;
beforeAll(async () => {
  tokenizer = await BertTokenizer.fromVocabFile(VOCAB_PATH);
});

/** encode without truncation: [CLS] ... [SEP]. */
function ids(text: string): number[] {
  return tokenizer.encode(text, { maxLength: 512 }).inputIds;
}

describe('vocab', () => {
  it('loads the bundled file with ids = line index, as the data README describes', () => {
    const vocab = tokenizer.vocab;
    expect(vocab.size).toBe(30522); // README: 30,522 tokens
    expect(vocab.tokenOf(0)).toBe('[PAD]');
    expect(vocab.tokenOf(1)).toBe('[unused0]');
    expect(vocab.idOf('[UNK]')).toBe(100);
    expect(vocab.idOf('[MASK]')).toBe(103);
    expect(vocab.tokenOf(30521)).toBe('##～'); // README: last line
    expect(vocab.idOf('not-a-token')).toBeUndefined();
  });

  it('refuses duplicate and empty tokens, naming the line', () => {
    expect(() => Vocab.fromText('[PAD]\na\nb\na\n', 'v.txt')).toThrow('v.txt:4: duplicate token "a" (also on line 2)');
    expect(() => Vocab.fromText('[PAD]\n\nb\n', 'v.txt')).toThrow('v.txt:2: empty token');
    expect(() => Vocab.fromText('', 'v.txt')).toThrow('v.txt: vocabulary is empty');
  });

  it('accepts CRLF line endings', () => {
    const vocab = Vocab.fromText('[PAD]\r\nhello\r\n', 'v.txt');
    expect(vocab.idOf('hello')).toBe(1);
  });

  it('a tokenizer needs [PAD], [UNK], [CLS] and [SEP]', () => {
    expect(() => new BertTokenizer(Vocab.fromTokens(['[PAD]', '[UNK]', '[CLS]'], 'small'))).toThrow(
      'small: vocabulary has no token "[SEP]"',
    );
  });
});

describe('basic tokenizer (rules applied by hand)', () => {
  it('treats ASCII symbols as punctuation but not non-ASCII symbols', () => {
    // $ (36), ^ (94), ` (96) are in BERT's ASCII ranges; € is category Sc, not P*.
    expect(['$', '^', '`', '~', '«', '—', '’'].map(isBertPunctuation)).toEqual([true, true, true, true, true, true, true]);
    expect(['€', 'a', '5', '😀', '×'].map(isBertPunctuation)).toEqual([false, false, false, false, false]);
  });

  it('knows the CJK ideograph blocks, and not Hiragana or Hangul', () => {
    expect(isCjkIdeograph('中'.codePointAt(0)!)).toBe(true); // U+4E2D
    expect(isCjkIdeograph(0x20000)).toBe(true); // Extension B start
    expect(isCjkIdeograph(0xf900)).toBe(true); // Compatibility Ideographs
    expect(isCjkIdeograph('こ'.codePointAt(0)!)).toBe(false); // Hiragana U+3053
    expect(isCjkIdeograph('한'.codePointAt(0)!)).toBe(false); // Hangul
  });

  it('cleans NUL, U+FFFD, control and format characters; whitespace becomes a space', () => {
    expect(cleanText('a\u0000b\ufffdc\u0007d\u200be\u00adf')).toBe('abcdef');
    expect(cleanText('a\tb\nc\rd\u00a0e\u3000f')).toBe('a b c d e f');
  });

  it('strips accents after NFD, in precomposed and decomposed spellings', () => {
    expect(stripAccents('héllo')).toBe('hello');
    expect(stripAccents('he\u0301llo')).toBe('hello');
    expect(stripAccents('naïve')).toBe('naive');
  });

  it('splits words and punctuation', () => {
    expect(basicTokenize("  Don't STOP...now?!  ")).toEqual(['don', "'", 't', 'stop', '.', '.', '.', 'now', '?', '!']);
    expect(basicTokenize('hello世界')).toEqual(['hello', '世', '界']);
    expect(basicTokenize('line\u2028break')).toEqual(['line', 'break']); // U+2028 is whitespace to Python's str.split
    expect(basicTokenize('\u0000\u0007 \t')).toEqual([]);
  });
});

describe('wordpiece', () => {
  it('cuts longest-match-first with ## continuations', () => {
    const vocab = Vocab.fromTokens(['[UNK]', 'un', 'want', '##want', '##ed', 'runn', '##ing'], 'tiny');
    // The classic example from Google's tokenization.py docstring.
    expect(wordpieceTokenize('unwanted', vocab)).toEqual(['un', '##want', '##ed']);
    expect(wordpieceTokenize('running', vocab)).toEqual(['runn', '##ing']);
    // One part without a match turns the whole word into [UNK].
    expect(wordpieceTokenize('unwantedx', vocab)).toEqual(['[UNK]']);
  });
});

describe('BertTokenizer.encode against hand-derived ids', () => {
  it('accents and mixed case: "Héllo, World!" and "Naïve Café"', () => {
    expect(ids('Héllo, World!')).toEqual([ID.CLS, ID.hello, ID.comma, ID.world, ID.bang, ID.SEP]);
    expect(ids('He\u0301llo')).toEqual([ID.CLS, ID.hello, ID.SEP]); // decomposed é
    expect(ids('Naïve Café')).toEqual([ID.CLS, ID.naive, ID.cafe, ID.SEP]);
    expect(ids('ThE QuICK')).toEqual([ID.CLS, ID.the, ID.quick, ID.SEP]);
  });

  it("contractions: \"don't\" and \"don’t\"", () => {
    expect(ids("don't")).toEqual([ID.CLS, ID.don, ID.apostrophe, ID.t, ID.SEP]);
    // U+2019 is category Pf, so it splits like the ASCII apostrophe.
    expect(ids('don’t')).toEqual([ID.CLS, ID.don, ID.rightQuote, ID.t, ID.SEP]);
  });

  it('punctuation runs and Unicode punctuation', () => {
    expect(ids('Wait...what?!')).toEqual([
      ID.CLS, ID.wait, ID.period, ID.period, ID.period, ID.what, ID.question, ID.bang, ID.SEP,
    ]);
    // « » are Pi/Pf, — is Pd, $ ^ ` are ASCII punctuation by BERT's ranges.
    expect(ids('«hi» — $5 ^`')).toEqual([
      ID.CLS, ID.guillemetOpen, ID.hi, ID.guillemetClose, ID.emDash, ID.dollar, ID.five, ID.caret, ID.backtick, ID.SEP,
    ]);
    // € is a symbol (Sc), not punctuation, so "5€" stays one word: "5€" absent → "5" + "##€".
    expect(ids('5€')).toEqual([ID.CLS, ID.five, ID.cont_euro, ID.SEP]);
  });

  it('numbers', () => {
    // "2024" absent, "202" present, then "##4". "1,234.56" splits at , and . (ASCII punctuation).
    expect(ids('1,234.56 and 2024')).toEqual([
      ID.CLS, ID.one, ID.comma, ID.n234, ID.period, ID.n56, ID.and, ID.n202, ID.cont_4, ID.SEP,
    ]);
  });

  it('CJK ideographs become single-character words; missing ones are [UNK]', () => {
    expect(ids('我中国人')).toEqual([ID.CLS, ID.me_zh, ID.middle_zh, ID.country_zh, ID.person_zh, ID.SEP]);
    // 界 (U+754C) and 爱, 你 are absent from this vocabulary.
    expect(ids('hello世界')).toEqual([ID.CLS, ID.hello, ID.world_zh, ID.UNK, ID.SEP]);
    expect(ids('我爱你')).toEqual([ID.CLS, ID.me_zh, ID.UNK, ID.UNK, ID.SEP]);
  });

  it('Hiragana is not CJK for BERT: one word, cut by WordPiece', () => {
    // grep '^こ' finds only こ; grep '^##ん' only ##ん: so こ ##ん ##に ##ち ##は.
    expect(ids('こんにちは')).toEqual([ID.CLS, ID.ko, ID.cont_n, ID.cont_ni, ID.cont_ti, ID.cont_ha, ID.SEP]);
  });

  it('emoji and other unknown characters', () => {
    // 😀 absent; "hi😀" is one word whose second part "##😀" is absent, so the WHOLE word is [UNK].
    expect(ids('I love 😀')).toEqual([ID.CLS, ID.i, ID.love, ID.UNK, ID.SEP]);
    expect(ids('hi😀')).toEqual([ID.CLS, ID.UNK, ID.SEP]);
  });

  it('a word over 100 characters is [UNK]; one of exactly 100 is cut', () => {
    expect(ids('a'.repeat(101))).toEqual([ID.CLS, ID.UNK, ID.SEP]);
    // Only a, aa, aaa and ##a, ##aa are all-"a" tokens (grep -nx 'a\+' and '##a\+'), so 100 a's =
    // "aaa" + 48 × "##aa" (96 a's) + "##a".
    expect(ids('a'.repeat(100))).toEqual([ID.CLS, ID.aaa, ...Array(48).fill(ID.cont_aa), ID.cont_a, ID.SEP]);
  });

  it('control characters vanish, whitespace characters separate', () => {
    expect(ids('hel\u0000lo\u0007 wor\u200bld\ufffd')).toEqual([ID.CLS, ID.hello, ID.world, ID.SEP]);
    expect(ids('hello\tworld\n\u00a0again\u3000our')).toEqual([ID.CLS, ID.hello, ID.world, ID.again, ID.our, ID.SEP]);
    expect(ids('')).toEqual([ID.CLS, ID.SEP]);
  });

  it('special tokens in the text are ordinary text (documented limit)', () => {
    // "[cls]" → "[", "cls", "]"; "cls" absent → "cl" + "##s".
    expect(ids('[CLS]')).toEqual([ID.CLS, ID.lbracket, ID.cl, ID.cont_s, ID.rbracket, ID.SEP]);
  });

  it('SST-2 rows, with their trailing space', () => {
    // data/sst2/dev.tsv line 2.
    expect(ids("it 's a charming and often affecting journey . ")).toEqual([
      ID.CLS, ID.it, ID.apostrophe, ID.s, ID.a, ID.charming, ID.and, ID.often, ID.affecting, ID.journey, ID.period, ID.SEP,
    ]);
    // data/sst2/train-sample.tsv line 2: "secretions", "secretion", "secretio", "secreti" absent → "secret" + "##ions".
    expect(ids('hide new secretions from the parental units ')).toEqual([
      ID.CLS, ID.hide, ID.new, ID.secret, ID.cont_ions, ID.from, ID.the, ID.parental, ID.units, ID.SEP,
    ]);
  });

  it('truncates keeping [SEP], and pads to maxLength when asked', () => {
    expect(tokenizer.encode('hello world again', { maxLength: 4 })).toEqual({
      inputIds: [ID.CLS, ID.hello, ID.world, ID.SEP],
      attentionMask: [1, 1, 1, 1],
    });
    expect(tokenizer.encode('hello', { maxLength: 5, padding: 'max_length' })).toEqual({
      inputIds: [ID.CLS, ID.hello, ID.SEP, ID.PAD, ID.PAD],
      attentionMask: [1, 1, 1, 0, 0],
    });
    expect(tokenizer.encode('hello', { maxLength: 2 }).inputIds).toEqual([ID.CLS, ID.SEP]);
    expect(() => tokenizer.encode('hello', { maxLength: 1 })).toThrow('maxLength must be an integer >= 2');
  });
});
