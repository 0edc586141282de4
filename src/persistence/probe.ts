/**
 * The database check behind GET /health. On SQLite the engine's pool has one connection, and a transition holds
 * it for its whole run (seconds for a long one, up to the transition limits of src/engine/limits.ts): a probe
 * through that pool would wait behind it and make a busy node look dead. So on SQLite the probe opens its own
 * connection to the file and reads from it (WAL: a reader never waits for the writer), then closes it; on
 * PostgreSQL it uses the pool (ten connections).
 */
import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import { dialectOfKnex } from './dialect.ts';

const require = createRequire(import.meta.url);

/** Resolves when the database answers a read; rejects with the driver's error otherwise. */
export async function probeDatabase(db: Knex): Promise<void> {
  if (dialectOfKnex(db) !== 'sqlite') {
    await db.raw('select 1');
    return;
  }
  const filename = (db.client.config.connection as { filename?: string } | undefined)?.filename;
  if (!filename || filename === ':memory:') {
    await db.raw('select 1');
    return;
  }
  const sqlite3 = require('sqlite3') as typeof import('sqlite3');
  await new Promise<void>((resolve, reject) => {
    const conn = new sqlite3.Database(filename, sqlite3.OPEN_READWRITE, (openErr) => {
      if (openErr) return reject(openErr);
      // reads the database header (page 1): the file is there and is a database, without parsing the schema
      conn.get('pragma schema_version', (err) => conn.close(() => (err ? reject(err) : resolve())));
    });
  });
}
