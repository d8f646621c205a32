/**
 * safetensors reading and writing, checked against files built by hand from the format's spec
 * (https://github.com/huggingface/safetensors, README "Format"): 8-byte little-endian header
 * length N, N bytes of JSON header, then the little-endian tensor bytes; offsets are relative to
 * the data section. The float bytes below are IEEE 754 single precision written out by hand:
 * 1.0 = 0x3F800000, -2.5 = 0xC0200000, 0.5 = 0x3F000000.
 */

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/train/checkpoint/atomic-write.js';
import { decodeSafetensors, firstNonFinite, readSafetensors, validateAgainst, writeSafetensors, type TensorData } from '../../src/train/checkpoint/safetensors.js';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'webtrainer-safetensors-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** A file per the spec: N as 8 little-endian bytes written one by one, the header text, the data. */
function handBuilt(header: string, data: number[], declaredLength?: number): Buffer {
  const headerBytes = Buffer.from(header, 'utf8');
  const n = declaredLength ?? headerBytes.length;
  const lengthBytes = [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >> 24) & 0xff, 0, 0, 0, 0];
  return Buffer.concat([Buffer.from(lengthBytes), headerBytes, Buffer.from(data)]);
}

const ONE = [0x00, 0x00, 0x80, 0x3f]; // 1.0f
const MINUS_TWO_AND_HALF = [0x00, 0x00, 0x20, 0xc0]; // -2.5f
const HALF = [0x00, 0x00, 0x00, 0x3f]; // 0.5f
const INT_7 = [0x07, 0x00, 0x00, 0x00];
const INT_MINUS_1 = [0xff, 0xff, 0xff, 0xff];

describe('reading a hand-built file', () => {
  it('decodes names, dtypes, shapes, data and metadata', () => {
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},' +
      '"ids":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},' +
      '"s":{"dtype":"F32","shape":[],"data_offsets":[16,20]}}  ';
    const file = decodeSafetensors(handBuilt(header, [...ONE, ...MINUS_TWO_AND_HALF, ...INT_7, ...INT_MINUS_1, ...HALF]), 'hand.safetensors');
    expect([...file.metadata]).toEqual([['format', 'pt']]);
    expect([...file.tensors.keys()]).toEqual(['w', 'ids', 's']);
    expect(file.tensors.get('w')).toEqual({ dtype: 'F32', shape: [1, 2], data: new Float32Array([1, -2.5]) });
    expect(file.tensors.get('ids')).toEqual({ dtype: 'I32', shape: [2], data: new Int32Array([7, -1]) });
    expect(file.tensors.get('s')).toEqual({ dtype: 'F32', shape: [], data: new Float32Array([0.5]) });
  });

  it('orders tensors by data offset, whatever the header order', () => {
    const header = '{"second":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"first":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}';
    const file = decodeSafetensors(handBuilt(header, [...INT_7, ...INT_MINUS_1]), 'x');
    expect([...file.tensors.keys()]).toEqual(['first', 'second']);
    expect(file.tensors.get('second')!.data).toEqual(new Int32Array([-1]));
  });
});

describe('writing', () => {
  it('writes exactly the bytes the spec describes', async () => {
    const path = join(folder, 'exact.safetensors');
    await writeSafetensors(path, { w: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2.5]) } }, { format: 'pt' });
    // Header padded with spaces so that 8 + N is a multiple of 8 (the reference writer's alignment).
    const json = '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    expect(await readFile(path)).toEqual(handBuilt(padded, [...ONE, ...MINUS_TWO_AND_HALF]));
  });

  it('round-trips tensors, metadata and their order', async () => {
    const path = join(folder, 'round-trip.safetensors');
    const tensors = {
      'encoder.layer.0.weight': { dtype: 'F32' as const, shape: [2, 3], data: new Float32Array([0.1, -0, NaN, Infinity, -1e-30, 3.4e38]) },
      '0': { dtype: 'I32' as const, shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
      empty: { dtype: 'F32' as const, shape: [0, 4], data: new Float32Array(0) },
      scalar: { dtype: 'I32' as const, shape: [], data: new Int32Array([42]) },
    };
    await writeSafetensors(path, tensors, { step: '100', note: 'é ✓' });
    const file = await readSafetensors(path);
    expect([...file.metadata]).toEqual([['step', '100'], ['note', 'é ✓']]);
    // Written in Object.entries order, which puts an integer-like name such as "0" first.
    expect([...file.tensors.keys()]).toEqual(Object.keys(tensors));
    for (const [name, tensor] of Object.entries(tensors)) expect(file.tensors.get(name)).toEqual(tensor);
    // Bit-exact, -0 and NaN included.
    const weight = file.tensors.get('encoder.layer.0.weight')!.data;
    expect(new Uint8Array(weight.buffer)).toEqual(new Uint8Array(tensors['encoder.layer.0.weight'].data.buffer));
  });

  it('keeps the order of a Map, and refuses bad tensors before touching the file', async () => {
    const path = join(folder, 'map.safetensors');
    const tensors = new Map([
      ['b', { dtype: 'I32' as const, shape: [1], data: new Int32Array([1]) }],
      ['a', { dtype: 'I32' as const, shape: [1], data: new Int32Array([2]) }],
    ]);
    await writeSafetensors(path, tensors);
    const before = await readFile(path);
    expect([...(await readSafetensors(path)).tensors.keys()]).toEqual(['b', 'a']);

    const bad = (tensor: object, name = 'x') => writeSafetensors(path, { [name]: tensor } as never);
    await expect(bad({ dtype: 'F32', shape: [3], data: new Float32Array(2) })).rejects.toThrow(
      `${path}: tensor "x": shape [3] has 3 elements but data has 2`,
    );
    await expect(bad({ dtype: 'F32', shape: [1], data: new Int32Array(1) })).rejects.toThrow('tensor "x": dtype F32 needs a Float32Array, got Int32Array');
    await expect(bad({ dtype: 'F16', shape: [1], data: new Float32Array(1) })).rejects.toThrow('tensor "x": unknown dtype "F16"');
    await expect(bad({ dtype: 'F32', shape: [-1], data: new Float32Array(0) })).rejects.toThrow('shape must be an array of non-negative integers');
    await expect(writeSafetensors(path, { x: tensors.get('a')! }, { n: 5 as never })).rejects.toThrow('metadata "n" must be a string');
    await expect(writeSafetensors(path, new Map([['__proto__', tensors.get('a')!]]))).rejects.toThrow('tensor name "__proto__" is reserved');
    expect(await readFile(path)).toEqual(before);
  });

  it('never leaves a half-written file: a failure mid-write keeps the old file and no temp file', async () => {
    const path = join(folder, 'atomic.bin');
    await writeFile(path, 'old content');
    function* failingChunks() {
      yield new Uint8Array([1, 2, 3]);
      throw new Error('disk full (simulated)');
    }
    await expect(writeFileAtomic(path, failingChunks())).rejects.toThrow('disk full (simulated)');
    expect(await readFile(path, 'utf8')).toBe('old content');
    expect((await readdir(folder)).filter((name) => name.includes('atomic.bin'))).toEqual(['atomic.bin']);
    await writeFileAtomic(path, ['new ', new Uint8Array([0x63])]);
    expect(await readFile(path, 'utf8')).toBe('new c');
  });
});

describe('refusing malformed files, naming the file and tensor', () => {
  const tensor = (name: string, info: string) => `{"${name}":${info}}`;
  const decode = (bytes: Buffer) => () => decodeSafetensors(bytes, 'bad.safetensors');

  it('too short, or a header length past the end of the file', () => {
    expect(decode(Buffer.from([1, 0, 0]))).toThrow('bad.safetensors: file is 3 bytes, too short for the 8-byte header length');
    expect(decode(handBuilt('{}', [], 1000))).toThrow('bad.safetensors: header length 1000 is larger than the file (2 bytes after the length)');
    // N = 2^64 - 1: all eight bytes 0xFF.
    expect(decode(Buffer.concat([Buffer.alloc(8, 0xff), Buffer.from('{}')]))).toThrow('header length 18446744073709551615 is larger than the file');
  });

  it('a header that is not JSON, not UTF-8 or not an object', () => {
    expect(decode(handBuilt('{"a": ', []))).toThrow('bad.safetensors: header is not valid JSON');
    expect(decode(handBuilt('[1, 2]', []))).toThrow('bad.safetensors: header must be a JSON object');
    expect(decode(handBuilt('null', []))).toThrow('bad.safetensors: header must be a JSON object');
    // 0xC3 0x28: a UTF-8 lead byte followed by a non-continuation byte. N = 8 header bytes.
    const badUtf8 = Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"'), Buffer.from([0xc3, 0x28]), Buffer.from('":1}')]);
    expect(decode(badUtf8)).toThrow('bad.safetensors: header is not valid UTF-8');
    expect(decode(handBuilt('{"a": 5}', []))).toThrow('bad.safetensors: tensor "a": entry must be an object with dtype, shape and data_offsets');
  });

  it('bad dtype, shape, data_offsets or extra fields', () => {
    const one = (info: string) => decode(handBuilt(tensor('w', info), ONE));
    expect(one('{"dtype":"F16","shape":[2],"data_offsets":[0,4]}')).toThrow('bad.safetensors: tensor "w": unknown dtype "F16" (supported: F32, I32)');
    expect(one('{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}')).toThrow('tensor "w": shape must be an array of non-negative integers, got [-1]');
    expect(one('{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}')).toThrow('tensor "w": shape must be an array of non-negative integers');
    expect(one('{"dtype":"F32","shape":"1","data_offsets":[0,4]}')).toThrow('tensor "w": shape must be an array of non-negative integers');
    expect(one('{"dtype":"F32","shape":[1],"data_offsets":[0]}')).toThrow('tensor "w": data_offsets must be two non-negative integers, got [0]');
    expect(one('{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}')).toThrow('tensor "w": data_offsets must be two non-negative integers');
    expect(one('{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}')).toThrow('tensor "w": data_offsets must be two non-negative integers');
    expect(one('{"dtype":"F32","shape":[0],"data_offsets":[4,0]}')).toThrow('tensor "w": data_offsets [4, 0] end before they begin');
    expect(one('{"dtype":"F32","shape":[2],"data_offsets":[0,4]}')).toThrow(
      'tensor "w": data_offsets [0, 4] hold 4 bytes, but shape [2] of F32 needs 8',
    );
    expect(one('{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}')).toThrow('tensor "w": unknown field "extra"');
  });

  it('offsets out of the data section, overlaps, gaps and trailing bytes', () => {
    expect(decode(handBuilt(tensor('w', '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'), ONE))).toThrow(
      'bad.safetensors: tensor "w": data_offsets [0, 8] go past the end of the data section (4 bytes)',
    );
    const two = (aOffsets: string, bOffsets: string, data: number[]) =>
      decode(
        handBuilt(
          `{"a":{"dtype":"I32","shape":[2],"data_offsets":${aOffsets}},"b":{"dtype":"I32","shape":[2],"data_offsets":${bOffsets}}}`,
          data,
        ),
      );
    const twelve = [...INT_7, ...INT_7, ...INT_7];
    expect(two('[0,8]', '[4,12]', twelve)).toThrow('bad.safetensors: tensor "b" starts at 4 and overlaps tensor "a", which ends at 8');
    expect(two('[4,12]', '[4,12]', twelve)).toThrow('bad.safetensors: tensor "a" starts at 4 and leaves a gap after the start of the data section');
    const twenty = [...twelve, ...INT_7, ...INT_7];
    expect(two('[0,8]', '[12,20]', twenty)).toThrow('tensor "b" starts at 12 and leaves a gap after tensor "a", which ends at 8');
    expect(decode(handBuilt(tensor('w', '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'), [...ONE, ...ONE]))).toThrow(
      'bad.safetensors: data section is 8 bytes but the last tensor, "w", ends at 4: 4 bytes unaccounted for',
    );
    expect(decode(handBuilt('{}', ONE))).toThrow('data section is 4 bytes but no tensors');
  });

  it('a truncated file written by writeSafetensors', async () => {
    const path = join(folder, 'truncated.safetensors');
    await writeSafetensors(path, { w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
    await expect(readSafetensors(path)).rejects.toThrow(`${path}: tensor "w": data_offsets [0, 16] go past the end of the data section (13 bytes)`);
    await writeFile(path, bytes.subarray(0, 20));
    await expect(readSafetensors(path)).rejects.toThrow(`${path}: header length`);
  });

  it('metadata that is not an object of strings', () => {
    expect(decode(handBuilt('{"__metadata__":{"step":100}}', []))).toThrow('bad.safetensors: metadata "step" must be a string, got 100');
    expect(decode(handBuilt('{"__metadata__":[1]}', []))).toThrow('bad.safetensors: __metadata__ must be an object of strings');
  });

  it('prototype pollution attempts are refused and pollute nothing', () => {
    const info = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      expect(decode(handBuilt(tensor(name, info), ONE))).toThrow(`bad.safetensors: tensor name "${name}" is reserved`);
    }
    expect(decode(handBuilt('{"__metadata__":{"__proto__":{"polluted":"yes"}}}', []))).toThrow('metadata key "__proto__" is reserved');
    expect(decode(handBuilt('{"__proto__":{"polluted":"yes"},"w":' + info + '}', ONE))).toThrow('tensor name "__proto__" is reserved');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('validateAgainst', () => {
  const tensors = new Map([
    ['embeddings.weight', { dtype: 'F32' as const, shape: [10, 4], data: new Float32Array(40) }],
    ['classifier.bias', { dtype: 'F32' as const, shape: [2], data: new Float32Array(2) }],
  ]);

  it('accepts matching names and shapes', () => {
    expect(() => validateAgainst(tensors, { 'embeddings.weight': [10, 4], 'classifier.bias': [2] }, 'ckpt')).not.toThrow();
  });

  it('names every missing, unexpected or misshapen tensor', () => {
    const check = () => validateAgainst(tensors, { 'embeddings.weight': [4, 10], 'classifier.weight': [2, 4] }, 'ckpt');
    expect(check).toThrow('ckpt: checkpoint does not match the model:');
    expect(check).toThrow('tensor "embeddings.weight" has shape [10, 4], expected [4, 10]');
    expect(check).toThrow('missing tensor "classifier.weight" (expected shape [2, 4])');
    expect(check).toThrow('unexpected tensor "classifier.bias"');
  });

  it('names a tensor whose dtype is not the one the model expects', () => {
    const mixed = new Map<string, TensorData>([...tensors, ['position_ids', { dtype: 'I32', shape: [2], data: new Int32Array(2) }]]);
    const expected = { 'embeddings.weight': { shape: [10, 4], dtype: 'F32' as const }, 'classifier.bias': [2], position_ids: { shape: [2], dtype: 'F32' as const } };
    expect(() => validateAgainst(mixed, expected, 'ckpt')).toThrow('ckpt: checkpoint does not match the model:\n  tensor "position_ids" has dtype I32, expected F32');
    expect(() => validateAgainst(mixed, { ...expected, position_ids: { shape: [2], dtype: 'I32' as const } }, 'ckpt')).not.toThrow();
  });

  it('firstNonFinite finds the first NaN or infinity in a range, and none in integers', () => {
    const data = Float32Array.from([0, 1, NaN, -Infinity, 2]);
    expect(firstNonFinite(data)).toEqual({ index: 2, value: NaN });
    expect(firstNonFinite(data, 3)).toEqual({ index: 3, value: -Infinity });
    expect(firstNonFinite(data, 0, 2)).toBeNull();
    expect(firstNonFinite(Int32Array.from([0, -1]))).toBeNull();
  });
});

describe('readSafetensors', () => {
  it('names the path when the file cannot be read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webtrainer-st-'));
    await expect(readSafetensors(dir)).rejects.toThrow(`${dir}: cannot read: EISDIR: illegal operation on a directory`);
  });
});
