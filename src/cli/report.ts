/**
 * `webtrainer report --storage URL [--study-name N] --out report.html`: one self-contained HTML file (plots and the
 * plotting library inlined; works offline) of a study in a SQLite or PostgreSQL storage. The page is built by the
 * study layer (src/search/report); this file parses the options and writes the file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildReport } from '../search/report/index.js';
import { isPostgresUrl, redactPostgresUrl } from '../search/storage/postgres-url.js';
import { sqlitePathFromUrl } from '../search/storage/sqlite.js';
import { parseOptions, UsageError } from './args.js';

export async function runReport(argv: string[]): Promise<number> {
  const { values } = parseOptions(argv, []);
  for (const key of values.keys()) if (!['storage', 'study-name', 'out'].includes(key)) throw new UsageError(`unknown option --${key}`);
  const storage = values.get('storage');
  const out = values.get('out');
  if (storage === undefined) throw new UsageError('report needs --storage sqlite:PATH or postgresql://… (the study storage a sweep wrote)');
  if (out === undefined) throw new UsageError('report needs --out FILE.html');
  if (sqlitePathFromUrl(storage) === null && !isPostgresUrl(storage)) {
    throw new UsageError(`--storage "${redactPostgresUrl(storage)}" is not a storage URL (use sqlite:PATH, sqlite:///PATH or postgresql://USER@HOST:PORT/DB)`);
  }
  const { html, data } = buildReport({ storage, studyName: values.get('study-name') });
  const path = resolve(out);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, html);
  const n = data.trials.length;
  process.stdout.write(`report: study "${data.studyName}" (${n} trial${n === 1 ? '' : 's'}) written to ${path} (${(html.length / 1e6).toFixed(1)} MB, works offline)\n`);
  return 0;
}
