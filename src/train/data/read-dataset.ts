/**
 * Reads a text-classification data set from TSV, CSV or JSONL into examples `{text, label}` with
 * integer class ids, plus the LabelMap that turns ids back into the file's labels.
 *
 * Formats:
 * - TSV: a header line, then one example a line, split at every tab, with no quoting: `"` is
 *   ordinary text. This is the layout of GLUE's SST-2 and of data/README.md, where a text never
 *   contains a tab. A row with more or fewer fields than the header is an error (a stray tab would
 *   otherwise shift a field into the label column and quietly add a class).
 * - CSV: RFC 4180 (quoted fields may hold commas, newlines and doubled quotes), parsed by csv-parse;
 *   the first record is the header.
 * - JSONL: one JSON object a line; the label may be a string or an integer.
 *
 * Every bad row throws an Error naming the file and the 1-based physical line where the row starts,
 * e.g. `data/x.tsv:17: expected 2 fields (sentence, label), found 1`. Empty lines are bad rows too
 * (a final newline is not an empty line). A UTF-8 byte order mark and CRLF line ends are accepted.
 * Texts are trimmed; labels are taken exactly as written. Bytes that are not UTF-8 become U+FFFD, with
 * one warning per file naming the first line that has them.
 *
 * Limits: the whole file is read into memory.
 */

import { readFile } from 'node:fs/promises';
import { describeError } from '../checkpoint/files.js';
import { extname } from 'node:path';
import { CsvError, parse as parseCsv } from 'csv-parse/sync';
import { LabelMap, MAX_INT_LABELS } from './label-map.js';

export type DatasetFormat = 'tsv' | 'csv' | 'jsonl';

export interface ReadDatasetOptions {
  /** Default: from the extension (.tsv, .csv, .jsonl or .ndjson). */
  format?: DatasetFormat;
  /** Default: "sentence", or "text" when there is no "sentence" column. */
  textColumn?: string;
  /** Default: "label". */
  labelColumn?: string;
  /**
   * How to read labels. 'int' (the default): non-negative integers, kept as the class ids.
   * 'string': any string, mapped to ids in sorted order. 'auto': 'int' when every label is a non-negative
   * integer, else 'string' (the command line uses it). A LabelMap: labels must be among its names
   * (use the map saved with a model, so that a dev set gets the ids the model was trained with).
   */
  labels?: 'int' | 'string' | 'auto' | LabelMap;
  /** Called with a warning about the file (invalid UTF-8); default: printed to stderr. */
  onWarning?: (message: string) => void;
}

export interface TextExample {
  text: string;
  /** Class id, 0..labelMap.size-1. */
  label: number;
  /** 1-based line where the example starts in its file, for error messages. */
  line: number;
}

export interface TextDataset {
  path: string;
  examples: TextExample[];
  labelMap: LabelMap;
  textColumn: string;
  labelColumn: string;
}

/** One example as written in the file, before its label becomes an id. */
interface RawRow {
  line: number;
  text: string;
  label: string;
}

const INT_LABEL = /^(0|[1-9][0-9]*)$/;

/** Reads and parses a data set file. */
export async function readDataset(path: string, options: ReadDatasetOptions = {}): Promise<TextDataset> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    // Node's EISDIR (a directory given as the file) and EACCES messages do not say which file.
    throw new Error(`${path}: cannot read: ${describeError(error)}`, { cause: error });
  }
  const warn = options.onWarning ?? ((message: string) => process.stderr.write(`warning: ${message}\n`));
  return parseDataset(decodeUtf8(bytes, path, warn), path, options);
}

/**
 * The file as text. Invalid UTF-8 (a Latin-1 file, say) becomes U+FFFD as Node would decode it, but not
 * silently: one warning names the first line with bad bytes and how many lines have them.
 */
export function decodeUtf8(bytes: Uint8Array, path: string, warn: (message: string) => void): string {
  // ignoreBOM keeps a byte order mark in the text, where parseDataset removes it as before.
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    // Fall through: find the lines with invalid bytes, then decode leniently.
  }
  const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let firstLine = 0;
  let badLines = 0;
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline < 0 ? bytes.length : newline;
    try {
      strict.decode(bytes.subarray(start, end));
    } catch {
      badLines++;
      firstLine ||= line;
    }
    start = end + 1;
  }
  warn(`${path}:${firstLine}: invalid UTF-8 (${badLines} line${badLines === 1 ? '' : 's'} in all); those bytes are read as U+FFFD (\ufffd)`);
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}

/** Parses the content of a data set file; `path` names it in errors and picks the default format. */
export function parseDataset(content: string, path: string, options: ReadDatasetOptions = {}): TextDataset {
  const format = options.format ?? formatFromExtension(path);
  if (format !== 'tsv' && format !== 'csv' && format !== 'jsonl') {
    throw new Error(`${path}: format must be 'tsv', 'csv' or 'jsonl', got ${JSON.stringify(format)}`);
  }
  const labelColumn = options.labelColumn ?? 'label';
  const text = content.startsWith('\ufeff') ? content.slice(1) : content;
  const { rows, textColumn } =
    format === 'tsv'
      ? readTsvRows(text, path, options.textColumn, labelColumn)
      : format === 'csv'
        ? readCsvRows(text, path, options.textColumn, labelColumn)
        : readJsonlRows(text, path, options.textColumn, labelColumn);
  if (rows.length === 0) throw new Error(`${path}: no examples`);
  const { examples, labelMap } = assignLabelIds(rows, path, options.labels ?? 'int');
  return { path, examples, labelMap, textColumn, labelColumn };
}

function formatFromExtension(path: string): DatasetFormat {
  const extension = extname(path).toLowerCase();
  if (extension === '.tsv') return 'tsv';
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  throw new Error(`${path}: cannot tell the format from the extension ${JSON.stringify(extension)}; pass format 'tsv', 'csv' or 'jsonl'`);
}

/** Lines without their terminators; a final newline does not make an extra empty line. */
function splitLines(text: string): string[] {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function readTsvRows(content: string, path: string, textColumn: string | undefined, labelColumn: string) {
  const lines = splitLines(content);
  if (lines.length === 0) throw new Error(`${path}: file is empty (expected a header line)`);
  const header = lines[0].split('\t');
  const columns = locateColumns(header, path, textColumn, labelColumn);
  const rows: RawRow[] = [];
  for (let index = 1; index < lines.length; index++) {
    const lineNumber = index + 1;
    if (lines[index] === '') throw new Error(`${path}:${lineNumber}: empty line`);
    const fields = lines[index].split('\t');
    rows.push(rowFromFields(fields, header, columns, path, lineNumber));
  }
  return { rows, textColumn: columns.textName };
}

function readCsvRows(content: string, path: string, textColumn: string | undefined, labelColumn: string) {
  let records: { record: string[]; raw: string; info: { lines: number } }[];
  try {
    // With info and raw set, csv-parse returns {record, raw, info} objects; its types do not say so.
    records = parseCsv(content, {
      info: true,
      raw: true,
      relax_column_count: true, // the field count is checked below, with this module's message
      skip_empty_lines: false,
    }) as unknown as typeof records;
  } catch (error) {
    if (error instanceof CsvError) {
      const lines = (error as CsvError & { lines?: number }).lines;
      throw new Error(`${path}:${lines ?? '?'}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  if (records.length === 0) throw new Error(`${path}: file is empty (expected a header line)`);
  const header = records[0].record;
  const columns = locateColumns(header, path, textColumn, labelColumn);
  const rows: RawRow[] = [];
  // info.lines is the physical line where a record ENDS (a quoted field may span lines), so a
  // record starts on the line after the previous one ended.
  let previousEnd = records[0].info.lines;
  for (const { record, raw, info } of records.slice(1)) {
    const lineNumber = previousEnd + 1;
    previousEnd = info.lines;
    if (raw.trim() === '') throw new Error(`${path}:${lineNumber}: empty line`);
    rows.push(rowFromFields(record, header, columns, path, lineNumber));
  }
  return { rows, textColumn: columns.textName };
}

function readJsonlRows(content: string, path: string, textColumn: string | undefined, labelColumn: string) {
  const lines = splitLines(content);
  const rows: RawRow[] = [];
  let textName = textColumn;
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    const where = `${path}:${lineNumber}`;
    if (line.trim() === '') throw new Error(`${where}: empty line`);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: not valid JSON (${(error as Error).message})`, { cause: error });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${where}: expected a JSON object, found ${describeJson(value)}`);
    }
    const object = value as Record<string, unknown>;
    // The default text column is decided by the first row and then required of every row.
    if (textName === undefined) {
      if (Object.hasOwn(object, 'sentence')) textName = 'sentence';
      else if (Object.hasOwn(object, 'text')) textName = 'text';
      else throw new Error(`${where}: missing field "sentence" (or "text")`);
    }
    if (!Object.hasOwn(object, textName)) throw new Error(`${where}: missing field ${JSON.stringify(textName)}`);
    if (!Object.hasOwn(object, labelColumn)) throw new Error(`${where}: missing field ${JSON.stringify(labelColumn)}`);
    const text = object[textName];
    if (typeof text !== 'string') {
      throw new Error(`${where}: field ${JSON.stringify(textName)} must be a string, found ${describeJson(text)}`);
    }
    const label = object[labelColumn];
    let labelText: string;
    if (typeof label === 'string') labelText = label;
    else if (typeof label === 'number' && Number.isInteger(label)) labelText = String(label);
    else {
      throw new Error(`${where}: field ${JSON.stringify(labelColumn)} must be a string or an integer, found ${describeJson(label)}`);
    }
    rows.push(checkedRow(text, textName, labelText, where, lineNumber));
  });
  return { rows, textColumn: textName ?? textColumn ?? 'sentence' };
}

interface ColumnPositions {
  textName: string;
  textIndex: number;
  labelIndex: number;
}

/** Finds the text and label columns in a header line (line 1). */
function locateColumns(header: string[], path: string, textColumn: string | undefined, labelColumn: string): ColumnPositions {
  const where = `${path}:1`;
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new Error(`${where}: header names column ${JSON.stringify(name)} twice`);
    seen.add(name);
  }
  const listed = header.map((name) => JSON.stringify(name)).join(', ');
  let textName: string;
  if (textColumn !== undefined) textName = textColumn;
  else if (seen.has('sentence')) textName = 'sentence';
  else if (seen.has('text')) textName = 'text';
  else throw new Error(`${where}: header has no text column "sentence" or "text"; columns are ${listed}`);
  if (!seen.has(textName)) throw new Error(`${where}: header has no text column ${JSON.stringify(textName)}; columns are ${listed}`);
  if (!seen.has(labelColumn)) throw new Error(`${where}: header has no label column ${JSON.stringify(labelColumn)}; columns are ${listed}`);
  if (textName === labelColumn) throw new Error(`${where}: text and label column are both ${JSON.stringify(textName)}`);
  return { textName, textIndex: header.indexOf(textName), labelIndex: header.indexOf(labelColumn) };
}

function rowFromFields(fields: string[], header: string[], columns: ColumnPositions, path: string, line: number): RawRow {
  const where = `${path}:${line}`;
  if (fields.length !== header.length) {
    throw new Error(`${where}: expected ${header.length} fields (${header.join(', ')}), found ${fields.length}`);
  }
  return checkedRow(fields[columns.textIndex], columns.textName, fields[columns.labelIndex], where, line);
}

function checkedRow(text: string, textName: string, label: string, where: string, line: number): RawRow {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error(`${where}: empty text in column ${JSON.stringify(textName)}`);
  return { line, text: trimmed, label };
}

function assignLabelIds(rows: RawRow[], path: string, requested: 'int' | 'string' | 'auto' | LabelMap) {
  const labels = requested === 'auto' ? (rows.every((row) => INT_LABEL.test(row.label)) ? 'int' : 'string') : requested;
  if (labels instanceof LabelMap) {
    const examples = rows.map((row) => {
      const id = labels.idOf(row.label);
      if (id === undefined) {
        throw new Error(`${path}:${row.line}: unknown label ${JSON.stringify(row.label)}; known labels are ${describeNames(labels.names)}`);
      }
      return { text: row.text, label: id, line: row.line };
    });
    return { examples, labelMap: labels };
  }
  if (labels === 'string') {
    const labelMap = LabelMap.fromStrings(rows.map((row) => row.label));
    const examples = rows.map((row) => ({ text: row.text, label: labelMap.idOf(row.label)!, line: row.line }));
    return { examples, labelMap };
  }
  if (labels !== 'int') throw new Error(`${path}: labels must be 'int', 'string' or a LabelMap, got ${JSON.stringify(labels)}`);
  let maxId = 0;
  const examples = rows.map((row) => {
    const id = INT_LABEL.test(row.label) ? Number(row.label) : NaN;
    if (!(id < MAX_INT_LABELS)) {
      throw new Error(`${path}:${row.line}: label ${JSON.stringify(row.label)} is not an integer in 0..${MAX_INT_LABELS - 1} (labels were declared as ints)`);
    }
    maxId = Math.max(maxId, id);
    return { text: row.text, label: id, line: row.line };
  });
  return { examples, labelMap: LabelMap.forInts(maxId + 1) };
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function describeNames(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((name) => JSON.stringify(name)).join(', ');
  return names.length > 20 ? `${shown}, ... (${names.length} in all)` : shown;
}
