/** The only place that knows how to open the database: SQLite (default, embedded) or PostgreSQL (which one: ./dialect.ts). */
import { accessSync, closeSync, constants, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { parseDatabaseUrl } from './dialect.ts';
import { InsureflowError } from '../errors.ts';

const require = createRequire(import.meta.url);

// bigint columns hold epoch ms: safe as JS numbers
pg.types.setTypeParser(20, (v: string) => Number(v));

export const migrationsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');

export interface DbOptions {
  /** a DATABASE_URL in one of the forms of ./dialect.ts */
  url: string;
  /** PostgreSQL schema (tests use one per suite) */
  schema?: string;
}

/**
 * Opens (does not migrate) the database a DATABASE_URL designates; creates a new SQLite file (0600) and its
 * folder (0700).
 * @throws InsureflowError CONFIG_INVALID when the URL has an unknown form (see ./dialect.ts), before anything is
 *   opened; for SQLite also when the folder or the file cannot be created or is not writable (naming the path).
 */
export async function openDb(opts: DbOptions): Promise<Knex> {
  const loc = parseDatabaseUrl(opts.url);
  if (loc.dialect === 'postgres') {
    const knex = knexFactory({
      client: 'pg',
      connection: loc.url,
      pool: { min: 0, max: 10 },
      ...(opts.schema ? { searchPath: [opts.schema] } : {}),
    });
    if (opts.schema) await knex.raw(`create schema if not exists "${opts.schema.replace(/"/g, '')}"`);
    return knex;
  }
  const file = loc.path;
  if (file !== ':memory:') prepareSqliteFile(file);
  const knex = knexFactory({
    client: 'sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: any, done: (err: Error | null, conn: unknown) => void) {
        // each with a callback: a failing PRAGMA (a read-only file) must reach the pool, not crash the process as
        // an unhandled 'error' event
        let failed: Error | null = null;
        const keep = (err: Error | null) => void (failed ??= err);
        conn.serialize(() => {
          conn.run('PRAGMA journal_mode = WAL', keep);
          conn.run('PRAGMA synchronous = NORMAL', keep);
          conn.run('PRAGMA foreign_keys = ON', keep);
          conn.run('PRAGMA busy_timeout = 5000', (err: Error | null) => done(failed ?? err, conn));
        });
      },
    },
  });
  beginImmediate(knex.client);
  keepRollbackCause(knex.client);
  return knex;
}

/** SQLite's answers to a ROLLBACK of a transaction (or savepoint) that SQLite itself has already ended. */
const ALREADY_ENDED = /no transaction is active|no such savepoint/i;

/**
 * SQLite ends a transaction by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM: "Response To Errors
 * Within A Transaction" in its documentation). Knex's ROLLBACK (or ROLLBACK TO SAVEPOINT) then fails, and knex
 * rejects the transaction with that failure ("cannot rollback - no transaction is active") instead of its cause.
 * Makes the client's transactions reject with the cause in that case (SQLITE_FULL: a 507 STORAGE_FULL, not a 500).
 */
function keepRollbackCause(client: Knex.Client): void {
  type Trx = { query(conn: unknown, sql: string, status?: number, value?: unknown): Promise<unknown>; trxClient: { query(conn: unknown, sql: string): Promise<unknown> }; _completed: boolean; _rejecter(err: unknown): void };
  const transaction = client.transaction as unknown as (...args: unknown[]) => Trx;
  Object.assign(client, {
    transaction(this: Knex.Client, ...args: unknown[]) {
      const trx = transaction.apply(this, args);
      const query = trx.query;
      // knex's Transaction#query with status 2 (rollback of a failed transaction), keeping the cause when SQLite had
      // already rolled back
      trx.query = function (this: Trx, conn, sql, status, value) {
        if (status !== 2 || value === undefined || !/^ROLLBACK\b/i.test(sql)) return query.call(this, conn, sql, status, value);
        const done = this.trxClient
          .query(conn, sql)
          .catch((err: Error) => {
            if (!ALREADY_ENDED.test(err?.message ?? '')) value = err;
          })
          .then(() => this._rejecter(value));
        this._completed = true;
        return done;
      };
      return trx;
    },
  });
}

/**
 * Makes the transactions of a knex sqlite3 client begin IMMEDIATE (knex begins them DEFERRED). One process runs
 * one transaction at a time (one connection), but another process may open the same file (the CLI's `user`,
 * `deploy` and `demo` commands while the server runs): a deferred transaction that has read (a chain head, a
 * user, a task) and then writes after the other connection wrote fails at once with SQLITE_BUSY, whatever the
 * busy timeout. An immediate one takes the write lock first, waiting up to the busy timeout for the other's
 * commit, so that what it reads stays true until it commits. Statements outside transactions are unaffected
 * (WAL readers never wait). The client keeps its name (`config.client` is still 'sqlite3': migrations test it).
 */
function beginImmediate(client: Knex.Client): void {
  // knex (3) has no option for the BEGIN statement: the client's transactions are a subclass of its own
  type Untyped = new (...args: any[]) => any;
  const Transaction_Sqlite: Untyped = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction.js');
  class ImmediateTransaction extends Transaction_Sqlite {
    begin(conn: unknown) {
      return this.query(conn, 'BEGIN IMMEDIATE;');
    }
  }
  Object.assign(client, {
    transaction(this: Knex.Client, ...args: unknown[]) {
      return new ImmediateTransaction(this, ...args);
    },
  });
}

/**
 * Before SQLite opens a file database: its folder exists (created 0700) and this process may write there (SQLite
 * creates the -wal and -shm journal files next to the database), and the file exists (created empty, 0600: the
 * journal files take its mode) and is readable and writable. access(2) answers for this process's user, root
 * included (a read-only file system refuses root too).
 * @throws InsureflowError CONFIG_INVALID naming the path and what to do
 */
function prepareSqliteFile(file: string): void {
  const path = resolve(file);
  const dir = dirname(path);
  const who = typeof process.getuid === 'function' ? `the user running insureflow (uid ${process.getuid()})` : 'the user running insureflow';
  const fix = `; make it writable for ${who} (chown/chmod), or set DATABASE_URL to a file in a writable folder`;
  const why = (err: unknown) => ((err as NodeJS.ErrnoException).code === 'EROFS' ? 'is on a read-only file system' : `is not writable (${(err as NodeJS.ErrnoException).code ?? err})`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new InsureflowError('CONFIG_INVALID', `cannot create the database folder ${dir} (${(err as NodeJS.ErrnoException).code ?? err})${fix}`, { path: dir });
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new InsureflowError('CONFIG_INVALID', `the database folder ${dir} ${why(err)}: SQLite writes its journal files (${basename(path)}-wal, ${basename(path)}-shm) there${fix}`, { path: dir });
  }
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new InsureflowError('CONFIG_INVALID', `cannot create the database file ${path} (${(err as NodeJS.ErrnoException).code ?? err})${fix}`, { path });
  }
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw new InsureflowError('CONFIG_INVALID', `the database file ${path} ${why(err)}${fix}`, { path });
  }
}

/**
 * True for "the database is out of space": SQLite's SQLITE_FULL (the disk, or PRAGMA max_page_count) and
 * PostgreSQL's disk_full (53100). The HTTP layer answers it 507 STORAGE_FULL.
 */
export function isStorageFull(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  return e?.code === 'SQLITE_FULL' || e?.code === '53100';
}

/**
 * Applies the pending migrations. Several nodes starting at once on a fresh PostgreSQL database: the ones that
 * find knex's migration lock taken wait for it (up to `waitMs`, default 60 s) and then find nothing to do.
 */
export async function migrate(knex: Knex, waitMs = 60_000): Promise<string[]> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const [, log] = await knex.migrate.latest({ directory: migrationsDir, loadExtensions: ['.ts'] });
      return log as string[];
    } catch (err) {
      if ((err as Error)?.name !== 'MigrationLocked' || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function rollbackAll(knex: Knex): Promise<void> {
  await knex.migrate.rollback({ directory: migrationsDir, loadExtensions: ['.ts'] }, true);
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as any;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT' && /UNIQUE/.test(e?.message ?? '') || /UNIQUE constraint failed/.test(e?.message ?? '');
}
