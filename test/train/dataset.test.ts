/**
 * Data set reading, label maps, shuffling, collation and batching. Expected values are written by
 * hand from the inputs (or from data/README.md for the bundled SST-2 files), not taken from the code.
 */

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sequentialBatches, shuffledBatches } from '../../src/train/data/batches.js';
import { collateEncoded, TextCollator } from '../../src/train/data/collator.js';
import { LabelMap } from '../../src/train/data/label-map.js';
import { lengthBucketedBatches } from '../../src/train/data/length-buckets.js';
import { parseDataset, readDataset } from '../../src/train/data/read-dataset.js';
import { type IntSource, SeededRandom, shuffled, shuffleInPlace } from '../../src/train/data/shuffle.js';
import { BertTokenizer } from '../../src/train/tokenizer/bert-tokenizer.js';

const repoFile = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

describe('TSV', () => {
  it('splits each line at its tabs, keeps quotes as text, trims the text', () => {
    const data = parseDataset('sentence\tlabel\n"quoted" text \t1\nb\t0\n', 'x.tsv');
    expect(data.examples).toEqual([
      { text: '"quoted" text', label: 1, line: 2 },
      { text: 'b', label: 0, line: 3 },
    ]);
    expect(data.labelMap.toJSON()).toEqual({ kind: 'int', names: ['0', '1'] });
    expect(data.textColumn).toBe('sentence');
  });

  it('accepts a "text" column, other column names, a BOM and CRLF', () => {
    expect(parseDataset('\ufefftext\tlabel\r\nhi\t0\r\n', 'x.tsv').examples).toEqual([{ text: 'hi', label: 0, line: 2 }]);
    const data = parseDataset('id\tbody\tclass\n7\thello\t2\n', 'x.tsv', { textColumn: 'body', labelColumn: 'class' });
    expect(data.examples).toEqual([{ text: 'hello', label: 2, line: 2 }]);
    expect(data.labelMap.size).toBe(3); // ints kept as they are: 0..2
  });

  it('names the file and line of each bad row', () => {
    const bad = (body: string, options = {}) => () => parseDataset(`sentence\tlabel\nfine\t0\n${body}`, 'data/x.tsv', options);
    expect(bad('no tab here\n')).toThrow('data/x.tsv:3: expected 2 fields (sentence, label), found 1');
    // An extra field used to shift "extra" into the label column and add a third class.
    expect(bad('text\t0\textra\n')).toThrow('data/x.tsv:3: expected 2 fields (sentence, label), found 3');
    expect(bad('a\tb\t0\n')).toThrow('data/x.tsv:3: expected 2 fields (sentence, label), found 3');
    expect(bad('\n')).toThrow('data/x.tsv:3: empty line');
    expect(bad('   \t1\n')).toThrow('data/x.tsv:3: empty text in column "sentence"');
    expect(bad('text\tpositive\n')).toThrow('data/x.tsv:3: label "positive" is not an integer in 0..999999 (labels were declared as ints)');
    expect(bad('text\t1000000\n')).toThrow('data/x.tsv:3: label "1000000" is not an integer in 0..999999');
    expect(bad('text\t-1\n')).toThrow('data/x.tsv:3: label "-1" is not an integer');
    expect(bad('text\t1.0\n')).toThrow('data/x.tsv:3: label "1.0" is not an integer');
    expect(bad('ok\t1\ntext\t9\n', { labels: LabelMap.forInts(2) })).toThrow('data/x.tsv:4: unknown label "9"; known labels are "0", "1"');
    expect(() => parseDataset('sentence\tgold\nx\t1\n', 'data/x.tsv')).toThrow(
      'data/x.tsv:1: header has no label column "label"; columns are "sentence", "gold"',
    );
    expect(() => parseDataset('words\tlabel\n', 'data/x.tsv')).toThrow('data/x.tsv:1: header has no text column "sentence" or "text"');
    expect(() => parseDataset('sentence\tlabel\n', 'data/x.tsv')).toThrow('data/x.tsv: no examples');
    expect(() => parseDataset('', 'data/x.tsv')).toThrow('data/x.tsv: file is empty');
  });

  it('reads the bundled SST-2 files with the counts that data/README.md gives', async () => {
    const dev = await readDataset(repoFile('data/sst2/dev.tsv'));
    expect(dev.examples.length).toBe(872);
    expect(dev.examples.filter((example) => example.label === 0).length).toBe(428); // README: 428 negative
    expect(dev.examples[0]).toEqual({ text: "it 's a charming and often affecting journey .", label: 1, line: 2 });
    const train = await readDataset(repoFile('data/sst2/train-sample.tsv'));
    expect(train.examples.length).toBe(2000);
    expect(train.examples[0]).toEqual({ text: 'hide new secretions from the parental units', label: 0, line: 2 });
  });
});

describe('reading files', () => {
  it('names the path when it cannot read the file (a directory given as the data file)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webtrainer-data-'));
    await expect(readDataset(dir)).rejects.toThrow(`${dir}: cannot read: EISDIR: illegal operation on a directory`);
    await expect(readDataset(join(dir, 'none.tsv'))).rejects.toThrow(`${join(dir, 'none.tsv')}: cannot read: ENOENT`);
  });

  it('warns once about invalid UTF-8, naming the first line with bad bytes, and reads those bytes as U+FFFD', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'webtrainer-data-')), 'latin1.tsv');
    // Line 3 holds Latin-1 "café" (0xE9 alone is not UTF-8), line 5 a 0xFF byte; lines 2 and 4 are clean UTF-8.
    const bytes = Buffer.concat([
      Buffer.from('sentence\tlabel\nnaïve\t1\ncaf'),
      Buffer.from([0xe9]),
      Buffer.from('\t0\nok\t1\nbad '),
      Buffer.from([0xff]),
      Buffer.from('\t0\n'),
    ]);
    await writeFile(path, bytes);
    const warnings: string[] = [];
    const data = await readDataset(path, { onWarning: (message) => warnings.push(message) });
    expect(warnings).toEqual([`${path}:3: invalid UTF-8 (2 lines in all); those bytes are read as U+FFFD (\ufffd)`]);
    expect(data.examples.map((e) => e.text)).toEqual(['naïve', 'caf\ufffd', 'ok', 'bad \ufffd']);
    // Clean UTF-8, a BOM included, gives no warning.
    await writeFile(path, '\ufeffsentence\tlabel\nnaïve\t1\n');
    const clean = await readDataset(path, { onWarning: (message) => warnings.push(message) });
    expect(warnings).toHaveLength(1);
    expect(clean.examples).toEqual([{ text: 'naïve', label: 1, line: 2 }]);
  });
});

describe('CSV', () => {
  it('handles quoted commas, newlines and doubled quotes, counting physical lines', async () => {
    // test/fixtures/datasets/quoted.csv, as `cat -n` shows it:
    //  1 text,label | 2 "Hello, world",pos | 3 "a ""quoted"" word",neg | 4 "two | 5 lines, really",pos
    //  6 plain,neg | 7 "three | 8 (empty, inside quotes) | 9 lines",bad-label
    const path = repoFile('test/fixtures/datasets/quoted.csv');
    const data = await readDataset(path, { labels: 'string' });
    // Sorted labels: "bad-label" < "neg" < "pos".
    expect(data.labelMap.toJSON()).toEqual({ kind: 'string', names: ['bad-label', 'neg', 'pos'] });
    expect(data.examples).toEqual([
      { text: 'Hello, world', label: 2, line: 2 },
      { text: 'a "quoted" word', label: 1, line: 3 },
      { text: 'two\nlines, really', label: 2, line: 4 },
      { text: 'plain', label: 1, line: 6 },
      { text: 'three\n\nlines', label: 0, line: 7 },
    ]);
    const known = LabelMap.fromJSON({ kind: 'string', names: ['neg', 'pos'] });
    await expect(readDataset(path, { labels: known })).rejects.toThrow(`${path}:7: unknown label "bad-label"; known labels are "neg", "pos"`);
  });

  it('names the file and line of each bad row', () => {
    const bad = (body: string) => () => parseDataset(`text,label\n"multi\nline",0\n${body}`, 'x.csv');
    expect(bad('only one field\n')).toThrow('x.csv:4: expected 2 fields (text, label), found 1');
    expect(bad('a,b,c\n')).toThrow('x.csv:4: expected 2 fields (text, label), found 3');
    expect(bad('\n')).toThrow('x.csv:4: empty line');
    expect(bad('"",1\n')).toThrow('x.csv:4: empty text in column "text"');
    expect(bad('fine,1\nx,one\n')).toThrow('x.csv:5: label "one" is not an integer');
    expect(bad('"never closed,1\n')).toThrow(/^x\.csv:\d+: Quote Not Closed/);
  });
});

describe('JSONL', () => {
  it('reads objects with int or string labels', () => {
    const data = parseDataset('{"text": "good", "label": 1}\n{"text": "bad", "label": "0"}\n', 'x.jsonl');
    expect(data.examples).toEqual([
      { text: 'good', label: 1, line: 1 },
      { text: 'bad', label: 0, line: 2 },
    ]);
    const strings = parseDataset('{"sentence": "a", "label": "pos"}\n{"sentence": "b", "label": "neg"}\n', 'x.jsonl', {
      labels: 'string',
    });
    expect(strings.examples.map((example) => example.label)).toEqual([1, 0]); // neg=0, pos=1
  });

  it('names the file and line of each bad row', () => {
    const bad = (body: string, options = {}) => () => parseDataset(`{"text": "ok", "label": 0}\n${body}`, 'x.jsonl', options);
    expect(bad('{"text": "a", label: 1}\n')).toThrow(/^x\.jsonl:2: not valid JSON \(/);
    expect(bad('[1, 2]\n')).toThrow('x.jsonl:2: expected a JSON object, found an array');
    expect(bad('\n')).toThrow('x.jsonl:2: empty line');
    expect(bad('{"label": 1}\n')).toThrow('x.jsonl:2: missing field "text"');
    expect(bad('{"text": "a"}\n')).toThrow('x.jsonl:2: missing field "label"');
    expect(bad('{"text": 5, "label": 1}\n')).toThrow('x.jsonl:2: field "text" must be a string, found number 5');
    expect(bad('{"text": " ", "label": 1}\n')).toThrow('x.jsonl:2: empty text in column "text"');
    expect(bad('{"text": "a", "label": 1.5}\n')).toThrow('x.jsonl:2: field "label" must be a string or an integer, found number 1.5');
    expect(bad('{"text": "a", "label": "x"}\n')).toThrow('x.jsonl:2: label "x" is not an integer');
    expect(bad('{"text": "a", "label": "x"}\n', { labels: LabelMap.fromStrings(['0', 'y']) })).toThrow('x.jsonl:2: unknown label "x"');
    expect(() => parseDataset('{"body": "a", "label": 1}\n', 'x.jsonl')).toThrow('x.jsonl:1: missing field "sentence" (or "text")');
  });

  it('a "__proto__" field is data, not a prototype', () => {
    const data = parseDataset('{"text": "a", "label": 0, "__proto__": {"polluted": 1}}\n', 'x.jsonl');
    expect(data.examples.length).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('picks the format from the extension, or refuses', () => {
    expect(() => parseDataset('x', 'x.txt')).toThrow('x.txt: cannot tell the format from the extension ".txt"');
    expect(() => parseDataset('x', 'x.tsv', { format: 'xml' as never })).toThrow("x.tsv: format must be 'tsv', 'csv' or 'jsonl', got \"xml\"");
    expect(parseDataset('{"text": "a", "label": 0}\n', 'x.data', { format: 'jsonl' }).examples.length).toBe(1);
  });
});

describe('LabelMap', () => {
  it('sorts string labels by code unit, not by locale, and round-trips through JSON', () => {
    const map = LabelMap.fromStrings(['b', 'B', 'a', 'b', 'É']);
    // Code units: "B" (0x42) < "a" (0x61) < "b" (0x62) < "É" (0xC9).
    expect(map.names).toEqual(['B', 'a', 'b', 'É']);
    const copy = LabelMap.fromJSON(JSON.parse(JSON.stringify(map)));
    expect(copy.names).toEqual(['B', 'a', 'b', 'É']);
    expect(copy.idOf('b')).toBe(2);
    expect(copy.nameOf(3)).toBe('É');
  });

  it('refuses malformed JSON', () => {
    expect(() => LabelMap.fromJSON({ kind: 'int', names: ['0', '2'] })).toThrow('int label 1 must be named "1", got "2"');
    expect(() => LabelMap.fromJSON({ kind: 'float', names: ['a'] })).toThrow("kind must be 'int' or 'string'");
    expect(() => LabelMap.fromJSON({ kind: 'string', names: ['a', 'a'] })).toThrow('duplicate label "a"');
    expect(() => LabelMap.fromJSON(null)).toThrow('must be an object');
  });
});

describe('shuffle', () => {
  it('is Fisher–Yates: swaps item i with the drawn j, from the end', () => {
    // Scripted draws j = 0 (for i=3), 2 (i=2), 0 (i=1), by hand:
    // [a b c d] -swap 3,0-> [d b c a] -swap 2,2-> [d b c a] -swap 1,0-> [b d c a]
    const draws = [0, 2, 0];
    const asked: [number, number][] = [];
    const scripted: IntSource = {
      intInclusive(min, max) {
        asked.push([min, max]);
        return draws.shift()!;
      },
    };
    expect(shuffleInPlace(['a', 'b', 'c', 'd'], scripted)).toEqual(['b', 'd', 'c', 'a']);
    expect(asked).toEqual([[0, 3], [0, 2], [0, 1]]);
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const items = Array.from({ length: 50 }, (_, index) => index);
    const first = shuffled(items, 1234);
    expect(shuffled(items, 1234)).toEqual(first);
    expect([...first].sort((a, b) => a - b)).toEqual(items); // a permutation
    expect(first).not.toEqual(items);
    const orders = new Set(Array.from({ length: 20 }, (_, seed) => shuffled(items, seed).join(',')));
    expect(orders.size).toBe(20);
    expect(items).toEqual(Array.from({ length: 50 }, (_, index) => index)); // input untouched
  });

  it('draws every permutation of 3 items about equally often', () => {
    const counts = new Map<string, number>();
    const random = new SeededRandom(7);
    for (let trial = 0; trial < 6000; trial++) {
      const order = shuffleInPlace(['a', 'b', 'c'], random).join('');
      counts.set(order, (counts.get(order) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const count of counts.values()) expect(Math.abs(count - 1000)).toBeLessThan(150); // > 4 sigma
  });

  it('refuses seeds it cannot represent', () => {
    expect(() => new SeededRandom(-1)).toThrow('seed must be an integer in 0..4294967295, got -1');
    expect(() => new SeededRandom(2 ** 32)).toThrow('seed must be an integer');
    expect(() => new SeededRandom(1.5)).toThrow('seed must be an integer');
  });
});

describe('collator', () => {
  it('pads pre-tokenized examples to the longest one with pad id 0', () => {
    const batch = collateEncoded([
      { inputIds: [101, 7, 102], attentionMask: [1, 1, 1], label: 1 },
      { inputIds: [101, 5, 6, 8, 102], attentionMask: [1, 1, 1, 1, 1], label: 0 },
    ]);
    expect(batch.batchSize).toBe(2);
    expect(batch.seqLength).toBe(5);
    expect(Array.from(batch.inputIds)).toEqual([101, 7, 102, 0, 0, 101, 5, 6, 8, 102]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    expect(Array.from(batch.labels)).toEqual([1, 0]);
    expect(batch.inputIds).toBeInstanceOf(Int32Array);
  });

  it('refuses empty batches and inconsistent examples', () => {
    expect(() => collateEncoded([])).toThrow('at least one example');
    expect(() => collateEncoded([{ inputIds: [1, 2], attentionMask: [1], label: 0 }])).toThrow(
      'example 0 has 2 input ids but 1 mask entries',
    );
    expect(() => collateEncoded([{ inputIds: [1], attentionMask: [1], label: -1 }])).toThrow('example 0 has label -1');
  });

  it('tokenizes text examples (ids by hand, see tokenizer.test.ts)', async () => {
    const tokenizer = await BertTokenizer.fromVocabFile(repoFile('data/vocab/bert-base-uncased-vocab.txt'));
    const collator = new TextCollator(tokenizer, 4);
    const batch = collator.collate([
      { text: 'Hello', label: 1 },
      { text: 'hello world again', label: 0 }, // truncated to 4: [CLS] hello world [SEP]
    ]);
    // [CLS]=101, hello=7592, world=2088, [SEP]=102, [PAD]=0
    expect(Array.from(batch.inputIds)).toEqual([101, 7592, 102, 0, 101, 7592, 2088, 102]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 0, 1, 1, 1, 1]);
    expect(Array.from(batch.labels)).toEqual([1, 0]);
  });
});

describe('batches', () => {
  it('cuts in order, or shuffled with a seed', () => {
    expect(sequentialBatches(5, { batchSize: 2 })).toEqual([[0, 1], [2, 3], [4]]);
    expect(sequentialBatches(5, { batchSize: 2, dropLast: true })).toEqual([[0, 1], [2, 3]]);
    const batches = shuffledBatches(10, { batchSize: 3, seed: 5 });
    expect(batches.map((batch) => batch.length)).toEqual([3, 3, 3, 1]);
    expect(batches.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffledBatches(10, { batchSize: 3, seed: 5 })).toEqual(batches);
    expect(() => sequentialBatches(5, { batchSize: 0 })).toThrow('batchSize must be an integer >= 1, got 0');
  });
});

describe('length buckets', () => {
  // 200 examples with lengths 1..40 in a scrambled but fixed pattern.
  const lengths = Array.from({ length: 200 }, (_, index) => ((index * 17) % 40) + 1);

  it('uses every example once, in batches of similar length', () => {
    const batches = lengthBucketedBatches(lengths, { batchSize: 8, seed: 3, chunkBatches: 100 });
    expect(batches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, index) => index));
    expect(batches.map((batch) => batch.length)).toEqual(Array(25).fill(8));
    // One chunk holds all 200, so the batches are consecutive runs of the sorted lengths. Sorted,
    // position p (0..199) has length floor(p / 5) + 1 (5 examples of each length 1..40), so batch k
    // holds positions 8k..8k+7 and spans lengths floor(8k / 5) + 1 .. floor((8k + 7) / 5) + 1.
    const spans = batches
      .map((batch) => batch.map((index) => lengths[index]))
      .map((batchLengths) => [Math.min(...batchLengths), Math.max(...batchLengths)])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(spans).toEqual(
      Array.from({ length: 25 }, (_, k) => [Math.floor((8 * k) / 5) + 1, Math.floor((8 * k + 7) / 5) + 1]),
    );
    // The batch order is shuffled, not shortest-first.
    const firstShortest = batches.map((batch) => Math.min(...batch.map((index) => lengths[index])));
    expect(firstShortest).not.toEqual([...firstShortest].sort((a, b) => a - b));
  });

  it('is reproducible for a seed, and chunks bound the sorting', () => {
    const options = { batchSize: 4, seed: 11, chunkBatches: 5, dropLast: true };
    const batches = lengthBucketedBatches(lengths, options);
    expect(lengthBucketedBatches(lengths, options)).toEqual(batches);
    expect(lengthBucketedBatches(lengths, { ...options, seed: 12 })).not.toEqual(batches);
    expect(batches.length).toBe(50);
    expect(() => lengthBucketedBatches([3, -1], { batchSize: 1, seed: 0 })).toThrow('length 1 is -1');
  });
});

describe("labels: 'auto'", () => {
  it('reads ints as class ids and anything else as sorted string labels', async () => {
    const { parseDataset } = await import('../../src/train/data/read-dataset.js');
    const ints = parseDataset('sentence\tlabel\na\t2\nb\t0\n', 'ints.tsv', { labels: 'auto' });
    expect(ints.examples.map((e) => e.label)).toEqual([2, 0]);
    expect(ints.labelMap.kind).toBe('int');
    const strings = parseDataset('sentence\tlabel\na\tpos\nb\tneg\nc\t1\n', 'strings.tsv', { labels: 'auto' });
    expect(strings.labelMap.names).toEqual(['1', 'neg', 'pos']);
    expect(strings.examples.map((e) => e.label)).toEqual([2, 1, 0]);
  });
});
