/**
 * Model checkpoints in the safetensors format (https://github.com/huggingface/safetensors, README
 * "Format"): an 8-byte little-endian u64 N, then N bytes of JSON header
 * `{"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}`,
 * then the raw little-endian tensor bytes. Offsets count from the start of the data section, and
 * the tensors must cover it exactly: no gaps, no overlaps (the spec forbids holes to rule out
 * polyglot files).
 *
 * Writing goes through writeFileAtomic, so an existing checkpoint is never left half-overwritten.
 * The header is padded with spaces to a multiple of 8 bytes, as the reference writer does, so the
 * data section starts 8-byte aligned.
 *
 * Reading validates every field before touching any data and names the file and the tensor in
 * each error. Tensor names go into a Map, and `__proto__`, `constructor` and `prototype` are refused
 * as names, so a crafted header cannot reach any object's prototype.
 *
 * Limits: only F32 and I32 (what this library trains with); little-endian hosts only; the whole
 * file is read into memory; headers over 100 MB are refused (the reference reader's limit).
 */

import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { writeFileAtomic } from './atomic-write.js';
import { describeError } from './files.js';

export type SafetensorsDtype = 'F32' | 'I32';

export interface TensorData {
  dtype: SafetensorsDtype;
  /** Row-major; [] is a scalar. */
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsContent {
  /** In the order of their data in the file. */
  tensors: Map<string, TensorData>;
  metadata: Map<string, string>;
}

const METADATA_KEY = '__metadata__';
/** Names that would reach a prototype if someone copied the tensors into a plain object. */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_HEADER_BYTES = 100_000_000;
const BYTES_PER_ELEMENT = 4; // both F32 and I32
const TENSOR_FIELDS = ['dtype', 'shape', 'data_offsets'];

/** Writes tensors (in the given order) and optional string metadata to `path`, atomically. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorData> | ReadonlyMap<string, TensorData>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata, path));
}

/** The file's bytes as chunks: length, header, then each tensor's data (not copied). */
export function encodeSafetensors(
  tensors: Record<string, TensorData> | ReadonlyMap<string, TensorData>,
  metadata: Record<string, string>,
  source: string,
): Uint8Array[] {
  requireLittleEndianHost();
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const headerParts: string[] = [];

  const metadataEntries = Object.entries(metadata);
  for (const [key, value] of metadataEntries) {
    checkName(key, `${source}: metadata key`);
    if (typeof value !== 'string') throw new Error(`${source}: metadata ${JSON.stringify(key)} must be a string, got ${typeof value}`);
  }
  if (metadataEntries.length > 0) headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(Object.fromEntries(metadataEntries))}`);

  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of entries) {
    const where = `${source}: tensor ${JSON.stringify(name)}`;
    checkName(name, `${source}: tensor name`);
    if (name === METADATA_KEY) throw new Error(`${where}: reserved name`);
    checkTensorData(tensor, where);
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    const info = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.length] };
    // Built by hand so that the header lists tensors in data order (an object would put names like "0" first).
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    chunks.push(bytes);
    offset += bytes.length;
  }

  let header = `{${headerParts.join(',')}}`;
  const headerLength = Buffer.byteLength(header, 'utf8');
  header += ' '.repeat((8 - (headerLength % 8)) % 8);
  const headerBytes = Buffer.from(header, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));
  return [lengthBytes, headerBytes, ...chunks];
}

/** Reads and validates a safetensors file. */
export async function readSafetensors(path: string): Promise<SafetensorsContent> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`${path}: cannot read: ${describeError(error)}`, { cause: error });
  }
  return decodeSafetensors(bytes, path);
}

/** Validates and decodes the bytes of a safetensors file; `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsContent {
  requireLittleEndianHost();
  if (bytes.length < 8) throw new Error(`${source}: file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declaredLength = view.getBigUint64(0, true);
  if (declaredLength > BigInt(bytes.length - 8)) {
    throw new Error(`${source}: header length ${declaredLength} is larger than the file (${bytes.length - 8} bytes after the length): truncated or not safetensors`);
  }
  if (declaredLength > BigInt(MAX_HEADER_BYTES)) throw new Error(`${source}: header length ${declaredLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(declaredLength);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  const header = parseHeader(bytes.subarray(8, dataStart), source);
  const metadata = new Map<string, string>();
  const located: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const name of Object.keys(header)) {
    if (name === METADATA_KEY) {
      readMetadata(header[name], source, metadata);
      continue;
    }
    checkName(name, `${source}: tensor name`);
    located.push({ name, ...readTensorInfo(header[name], `${source}: tensor ${JSON.stringify(name)}`, dataLength) });
  }

  // The tensors must tile the data section exactly; in offset order, each starts where the last ended.
  located.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  let previousName: string | undefined;
  for (const tensor of located) {
    if (tensor.begin !== expectedBegin) {
      const after = previousName === undefined ? 'the start of the data section' : `tensor ${JSON.stringify(previousName)}, which ends at ${expectedBegin}`;
      const problem = tensor.begin < expectedBegin ? 'overlaps' : 'leaves a gap after';
      throw new Error(`${source}: tensor ${JSON.stringify(tensor.name)} starts at ${tensor.begin} and ${problem} ${after}`);
    }
    expectedBegin = tensor.end;
    previousName = tensor.name;
  }
  if (expectedBegin !== dataLength) {
    const last = previousName === undefined ? 'no tensors' : `the last tensor, ${JSON.stringify(previousName)}, ends at ${expectedBegin}`;
    throw new Error(`${source}: data section is ${dataLength} bytes but ${last}: ${dataLength - expectedBegin} bytes unaccounted for`);
  }

  const tensors = new Map<string, TensorData>();
  for (const { name, dtype, shape, begin, end } of located) {
    const count = (end - begin) / BYTES_PER_ELEMENT;
    // A fresh, aligned array: the file's data need not be 4-byte aligned, and views would pin the whole file.
    const data = dtype === 'F32' ? new Float32Array(count) : new Int32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

/** What a model expects of one tensor: its shape, and optionally its dtype. */
export interface ExpectedTensor {
  shape: readonly number[];
  dtype?: SafetensorsDtype;
}

/**
 * Checks that a checkpoint holds exactly the tensors a model expects, with the expected shapes (and dtypes, where
 * given: an I32 tensor read into F32 weights would load its integers' bits as floats). Throws one Error listing
 * every missing, unexpected, misshapen or mistyped tensor by name.
 */
export function validateAgainst(
  tensors: ReadonlyMap<string, TensorData>,
  expected: Record<string, readonly number[] | ExpectedTensor> | ReadonlyMap<string, readonly number[] | ExpectedTensor>,
  source: string,
): void {
  const expectedEntries = (expected instanceof Map ? [...expected.entries()] : Object.entries(expected)).map(
    ([name, spec]): [string, ExpectedTensor] => [name, isShape(spec) ? { shape: spec } : spec],
  );
  const expectedNames = new Set(expectedEntries.map(([name]) => name));
  const problems: string[] = [];
  for (const [name, { shape, dtype }] of expectedEntries) {
    const tensor = tensors.get(name);
    if (tensor === undefined) problems.push(`missing tensor ${JSON.stringify(name)} (expected shape ${formatShape(shape)})`);
    else {
      if (!sameShape(tensor.shape, shape)) {
        problems.push(`tensor ${JSON.stringify(name)} has shape ${formatShape(tensor.shape)}, expected ${formatShape(shape)}`);
      }
      if (dtype !== undefined && tensor.dtype !== dtype) problems.push(`tensor ${JSON.stringify(name)} has dtype ${tensor.dtype}, expected ${dtype}`);
    }
  }
  for (const name of tensors.keys()) {
    if (!expectedNames.has(name)) problems.push(`unexpected tensor ${JSON.stringify(name)}`);
  }
  if (problems.length > 0) throw new Error(`${source}: checkpoint does not match the model:\n  ${problems.join('\n  ')}`);
}

/** The first NaN or ±Infinity in a tensor's data, or null: weights like that are garbage from a diverged run. */
export function firstNonFinite(data: Float32Array | Int32Array, begin = 0, end = data.length): { index: number; value: number } | null {
  if (data instanceof Int32Array) return null;
  for (let i = begin; i < end; i++) if (!Number.isFinite(data[i])) return { index: i, value: data[i] };
  return null;
}

function isShape(spec: readonly number[] | ExpectedTensor): spec is readonly number[] {
  return Array.isArray(spec);
}

function parseHeader(headerBytes: Uint8Array, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${source}: header is not valid UTF-8`);
  }
  if (!text.startsWith('{')) throw new Error(`${source}: header must be a JSON object starting with "{", got ${JSON.stringify(text.slice(0, 20))}`);
  let header: unknown;
  try {
    // JSON.parse makes "__proto__" an ordinary own property; it never sets a prototype.
    header = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: header is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isPlainObject(header)) throw new Error(`${source}: header must be a JSON object`);
  return header;
}

function readMetadata(value: unknown, source: string, into: Map<string, string>): void {
  if (!isPlainObject(value)) throw new Error(`${source}: ${METADATA_KEY} must be an object of strings`);
  for (const key of Object.keys(value)) {
    checkName(key, `${source}: metadata key`);
    const entry = value[key];
    if (typeof entry !== 'string') throw new Error(`${source}: metadata ${JSON.stringify(key)} must be a string, got ${JSON.stringify(entry)}`);
    into.set(key, entry);
  }
}

function readTensorInfo(value: unknown, where: string, dataLength: number) {
  if (!isPlainObject(value)) throw new Error(`${where}: entry must be an object with dtype, shape and data_offsets`);
  for (const field of Object.keys(value)) {
    if (!TENSOR_FIELDS.includes(field)) throw new Error(`${where}: unknown field ${JSON.stringify(field)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (dtype !== 'F32' && dtype !== 'I32') throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)} (supported: F32, I32)`);
  if (!Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0)) {
    throw new Error(`${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new Error(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const elements = elementCount(shape as number[], where);
  if (end - begin !== elements * BYTES_PER_ELEMENT) {
    throw new Error(`${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but shape ${formatShape(shape as number[])} of ${dtype} needs ${elements * BYTES_PER_ELEMENT}`);
  }
  if (end > dataLength) throw new Error(`${where}: data_offsets [${begin}, ${end}] go past the end of the data section (${dataLength} bytes): truncated file?`);
  return { dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], begin, end };
}

function checkTensorData(tensor: TensorData, where: string): void {
  if (tensor.dtype !== 'F32' && tensor.dtype !== 'I32') throw new Error(`${where}: unknown dtype ${JSON.stringify(tensor.dtype)} (supported: F32, I32)`);
  const expectedArray = tensor.dtype === 'F32' ? Float32Array : Int32Array;
  if (!(tensor.data instanceof expectedArray)) throw new Error(`${where}: dtype ${tensor.dtype} needs a ${expectedArray.name}, got ${tensor.data?.constructor?.name}`);
  if (!Array.isArray(tensor.shape) || !tensor.shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(tensor.shape)}`);
  }
  const elements = elementCount(tensor.shape, where);
  if (elements !== tensor.data.length) throw new Error(`${where}: shape ${formatShape(tensor.shape)} has ${elements} elements but data has ${tensor.data.length}`);
}

function checkName(name: string, what: string): void {
  if (RESERVED_NAMES.has(name)) throw new Error(`${what} ${JSON.stringify(name)} is reserved (it could reach an object prototype)`);
  if (name === '') throw new Error(`${what} is empty`);
}

function elementCount(shape: readonly number[], where: string): number {
  const count = shape.reduce((product, size) => product * size, 1);
  if (!Number.isSafeInteger(count)) throw new Error(`${where}: shape ${formatShape(shape)} has too many elements`);
  return count;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, axis) => size === b[axis]);
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function requireLittleEndianHost(): void {
  // Tensor bytes are copied as they are; a big-endian host would need byte swapping, which is not written.
  if (endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');
}
