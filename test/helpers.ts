/**
 * Test support: a real database per suite (a fresh SQLite file, or a fresh PostgreSQL schema when
 * DATABASE_URL is a postgres:// URL), an engine with a manual clock, and users for each role.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { InsureflowError } from '../src/errors.ts';
import { openDb, migrate } from '../src/persistence/db.ts';
import { dialectOf } from '../src/persistence/dialect.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';
import { ManualClock } from '../src/engine/clock.ts';
import type { Actor } from '../src/persistence/users.ts';

export const here = dirname(fileURLToPath(import.meta.url));
export const fixture = (name: string) => readFileSync(join(here, 'fixtures', name), 'utf8');

export const TEST_DB_URL = process.env.DATABASE_URL ?? '';
export const onPostgres = TEST_DB_URL !== '' && dialectOf(TEST_DB_URL) === 'postgres';

export interface TestDb {
  db: Knex;
  url: string;
  schema?: string;
  destroy(): Promise<void>;
}

/** A new, migrated database for one suite. */
export async function testDb(): Promise<TestDb> {
  if (onPostgres) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const db = await openDb({ url: TEST_DB_URL, schema });
    await migrate(db);
    return {
      db,
      url: TEST_DB_URL,
      schema,
      async destroy() {
        await db.raw(`drop schema if exists "${schema}" cascade`);
        await db.destroy();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-test-'));
  const url = join(dir, 'test.sqlite');
  const db = await openDb({ url });
  await migrate(db);
  return { db, url, async destroy() { await db.destroy(); } };
}

export interface TestEngine {
  engine: InsureflowEngine;
  clock: ManualClock;
  tdb: TestDb;
  close(): Promise<void>;
}

export async function testEngine(start = '2026-01-05T09:00:00Z'): Promise<TestEngine> {
  const tdb = await testDb();
  const clock = new ManualClock(start);
  const engine = new InsureflowEngine({ db: tdb.db, clock });
  return { engine, clock, tdb, close: () => tdb.destroy() };
}

export const admin: Actor = { name: 'admin', roles: ['admin'], groups: [] };
export const ops = (name: string, ...groups: string[]): Actor => ({ name, roles: ['ops'], groups });

/**
 * The InsureflowError a promise rejects with (a refusal of the engine or a route). Fails when it resolves;
 * rethrows any other error, so a crash never passes for a refusal.
 */
export async function refusal(p: Promise<unknown>): Promise<InsureflowError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof InsureflowError) return err;
    throw err;
  }
  throw new Error('expected a refusal, but it succeeded');
}
