/**
 * PostgreSQL storage URLs, as libpq and SQLAlchemy (so Optuna) take them: `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB`
 * or `postgres://…`, with optional query parameters that `pg` understands (`sslmode`, `options=-c search_path=S`
 * to keep the tables in schema S, `application_name`, …) and libpq's `connect_timeout` (seconds).
 * SQLAlchemy's driver suffix (`postgresql+psycopg2://`) is accepted and ignored, so an Optuna storage URL works as is.
 * Messages name a URL through redactPostgresUrl: never the password.
 */
import { StudyError } from '../errors.js';

const SCHEME = /^postgres(?:ql)?(?:\+[a-z0-9_]+)?:\/\//i;

export function isPostgresUrl(url: string): boolean {
  return SCHEME.test(url);
}

/** The URL `pg` is given: the scheme normalised to `postgresql://` (pg's parser ignores the scheme otherwise). */
export function normalisePostgresUrl(url: string): string {
  if (!isPostgresUrl(url)) throw new StudyError(`storage URL "${redactPostgresUrl(url)}" is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DB)`);
  return url.replace(SCHEME, 'postgresql://');
}

const SECRET_PARAMS = /pass|key|secret|token/i;

/** The URL without its password (and without query parameters that carry secrets), for messages. */
export function redactPostgresUrl(url: string): string {
  try {
    const at = url.indexOf('://');
    if (at < 0) return url;
    // Parsed as postgresql:// whatever the scheme (WHATWG URL does not split the authority of unknown schemes).
    const u = new URL(`postgresql${url.slice(at)}`);
    if (!u.password && !url.slice(at).includes('@') && !u.search) return url;
    const user = u.username ? `${u.username}@` : '';
    const params = [...u.searchParams].filter(([k]) => !SECRET_PARAMS.test(k));
    const query = params.length ? `?${new URLSearchParams(params).toString()}` : '';
    return `${url.slice(0, at)}://${user}${u.host}${u.pathname}${query}`;
  } catch {
    // Not parseable as a URL: drop anything between "://" and "@" that could be user:password.
    return url.replace(/:\/\/[^@/]*@/, '://***@');
  }
}

/** libpq's `connect_timeout` query parameter, in milliseconds, if the URL has one. */
export function connectTimeoutFromUrl(url: string): number | undefined {
  try {
    const v = new URL(url.replace(SCHEME, 'postgresql://')).searchParams.get('connect_timeout');
    if (v === null) return undefined;
    const s = Number(v);
    if (!Number.isFinite(s) || s <= 0) return undefined;
    return Math.max(s, 1) * 1000;
  } catch {
    return undefined;
  }
}
