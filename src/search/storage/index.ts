/**
 * Storage selection by URL: undefined → InMemoryStorage, `sqlite:PATH` / `sqlite:///PATH` → SqliteStorage,
 * `postgresql://…` / `postgres://…` → PostgresStorage.
 */
import { StudyError } from '../errors.js';
import { InMemoryStorage } from './in-memory.js';
import { PostgresStorage } from './postgres.js';
import { isPostgresUrl, redactPostgresUrl } from './postgres-url.js';
import { SqliteStorage, sqlitePathFromUrl } from './sqlite.js';
import type { StudyStorage } from './storage.js';

export function getStorage(storage?: string | StudyStorage): StudyStorage {
  if (storage === undefined) return new InMemoryStorage();
  if (typeof storage !== 'string') return storage;
  if (sqlitePathFromUrl(storage) !== null) return new SqliteStorage(storage);
  if (isPostgresUrl(storage)) return new PostgresStorage(storage);
  throw new StudyError(`storage URL "${redactPostgresUrl(storage)}" is not supported (use sqlite:PATH, sqlite:///PATH or postgresql://USER@HOST:PORT/DB)`);
}

export { InMemoryStorage } from './in-memory.js';
export { SqliteStorage, sqlitePathFromUrl, SCHEMA_VERSION } from './sqlite.js';
export { PostgresStorage, type PostgresStorageOptions } from './postgres.js';
export { PostgresStorageError } from './postgres-connection.js';
export { POSTGRES_SCHEMA_VERSION } from './postgres-schema.js';
export { isPostgresUrl, redactPostgresUrl } from './postgres-url.js';
export type { StudyStorage, NewTrialTemplate, StudySummary } from './storage.js';
