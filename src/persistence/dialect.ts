/**
 * The one place that knows which database a DATABASE_URL, or an open Knex handle, designates.
 *
 * Accepted DATABASE_URL forms:
 * - a SQLite file path: `./data/insureflow.sqlite`, `/var/lib/insureflow/db.sqlite`, `C:\data\db.sqlite`, `:memory:`
 * - `sqlite:<path>` (also `sqlite://<path>`; `sqlite:///abs/path` is the absolute path `/abs/path`)
 * - `postgres://user@host:5432/db` or `postgresql://...` (handed to pg unchanged)
 * Anything else that starts with a scheme (`mysql://...`, `http://x`, `foo:bar`) is refused with
 * InsureflowError CONFIG_INVALID rather than being taken for a SQLite file name.
 */
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';

export type Dialect = 'sqlite' | 'postgres';

export type DatabaseLocation = { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string };

/** The accepted forms, as error messages name them. */
export const ACCEPTED_DATABASE_URLS =
  'a SQLite file path (e.g. ./data/insureflow.sqlite), sqlite:<path>, or postgres://user@host:5432/db (postgresql:// also accepted)';

const POSTGRES = /^postgres(?:ql)?:\/\//i;
const SQLITE = /^sqlite:(?:\/\/)?/i;
const WINDOWS_DRIVE = /^[a-z]:[\\/]/i;
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** The URL with any password replaced by `***`, for error messages. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/**
 * Where a DATABASE_URL points.
 * @throws InsureflowError CONFIG_INVALID for an empty value, an empty `sqlite:` path or an unknown scheme;
 *   the message names the accepted forms and never contains the password.
 */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  const refuse = (why: string): never => {
    throw new InsureflowError('CONFIG_INVALID', `DATABASE_URL ${why}; use ${ACCEPTED_DATABASE_URLS}`);
  };
  if (url.trim() === '') return refuse('is empty');
  if (POSTGRES.test(url)) return { dialect: 'postgres', url };
  if (SQLITE.test(url)) {
    const path = url.replace(SQLITE, '');
    return path ? { dialect: 'sqlite', path } : refuse(`"${url}" names no file`);
  }
  const scheme = SCHEME.exec(url);
  if (scheme && /^postgres(ql)?$/i.test(scheme[1])) return refuse(`"${redactDatabaseUrl(url)}" is not a postgres://user@host:port/db URL`);
  if (scheme && !WINDOWS_DRIVE.test(url)) return refuse(`"${redactDatabaseUrl(url)}" has an unsupported scheme "${scheme[1]}:"`);
  return { dialect: 'sqlite', path: url };
}

/** `postgres` or `sqlite`; throws CONFIG_INVALID like parseDatabaseUrl. */
export function dialectOf(url: string): Dialect {
  return parseDatabaseUrl(url).dialect;
}

/** The SQLite file of a SQLite DATABASE_URL (`:memory:` included); throws CONFIG_INVALID for anything else. */
export function sqlitePath(url: string): string {
  const loc = parseDatabaseUrl(url);
  if (loc.dialect !== 'sqlite') throw new InsureflowError('CONFIG_INVALID', `DATABASE_URL ${redactDatabaseUrl(url)} is not a SQLite database`);
  return loc.path;
}

/**
 * The dialect of an open Knex handle (or transaction), from the knex client in use.
 * @throws InsureflowError CONFIG_INVALID for a client insureflow does not support (an embedder's own Knex).
 */
export function dialectOfKnex(db: Knex): Dialect {
  const client = db.client as { dialect?: unknown; config?: { client?: unknown } };
  const name = typeof client.dialect === 'string' ? client.dialect : typeof client.config?.client === 'string' ? client.config.client : '';
  if (/^(pg|postgres|postgresql)$/.test(name)) return 'postgres';
  if (/^(sqlite3?|better-sqlite3)$/.test(name)) return 'sqlite';
  throw new InsureflowError('CONFIG_INVALID', `unsupported knex client "${name || 'unknown'}": insureflow runs on SQLite (sqlite3) or PostgreSQL (pg)`);
}
