/** A study database that cannot be opened is an error naming its path (issue 13, item 8). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StudyError } from '../../src/search/errors.js';
import { SqliteStorage } from '../../src/search/storage/sqlite.js';

describe('SqliteStorage on a file it cannot use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webtrainer-sqlite-errors-'));

  it('names a file that is not a database', () => {
    const path = join(dir, 'corrupt.db');
    writeFileSync(path, 'this is not a SQLite database, only text long enough to have a header');
    expect(() => new SqliteStorage(`sqlite:${path}`)).toThrow(new StudyError(`study storage ${path}: file is not a database`));
  });

  it('names a path whose directory does not exist', () => {
    const path = join(dir, 'missing', 'study.db');
    expect(() => new SqliteStorage(`sqlite:${path}`)).toThrow(`study storage ${path}: `);
  });
});
