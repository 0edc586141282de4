/** The only place that knows how to open the database: SQLite (default, embedded) or PostgreSQL (which one: ./dialect.ts). */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { parseDatabaseUrl } from './dialect.ts';

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
 * Opens (does not migrate) the database a DATABASE_URL designates; creates the SQLite file's folder.
 * @throws InsureflowError CONFIG_INVALID when the URL has an unknown form (see ./dialect.ts), before anything is opened.
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
  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  const knex = knexFactory({
    client: 'sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: any, done: (err: Error | null, conn: unknown) => void) {
        conn.serialize(() => {
          conn.run('PRAGMA journal_mode = WAL');
          conn.run('PRAGMA synchronous = NORMAL');
          conn.run('PRAGMA foreign_keys = ON');
          conn.run('PRAGMA busy_timeout = 5000', (err: Error | null) => done(err, conn));
        });
      },
    },
  });
  return knex;
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
