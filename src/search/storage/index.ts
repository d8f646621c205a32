/** Storage selection by URL: undefined → InMemoryStorage, `sqlite:PATH` / `sqlite:///PATH` → SqliteStorage. */
import { StudyError } from '../errors.js';
import { InMemoryStorage } from './in-memory.js';
import { SqliteStorage, sqlitePathFromUrl } from './sqlite.js';
import type { StudyStorage } from './storage.js';

export function getStorage(storage?: string | StudyStorage): StudyStorage {
  if (storage === undefined) return new InMemoryStorage();
  if (typeof storage !== 'string') return storage;
  if (sqlitePathFromUrl(storage) !== null) return new SqliteStorage(storage);
  throw new StudyError(`storage URL "${storage}" is not supported (use sqlite:PATH or sqlite:///PATH)`);
}

export { InMemoryStorage } from './in-memory.js';
export { SqliteStorage, sqlitePathFromUrl, SCHEMA_VERSION } from './sqlite.js';
export type { StudyStorage, NewTrialTemplate, StudySummary } from './storage.js';
