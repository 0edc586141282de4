/**
 * A verification scan (see scan.ts) in a worker thread. It reads through its own connection with the bare
 * driver (sqlite3 read-only, or pg), which keeps the worker light: no knex, no pool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scanRange, type PageReader, type ScanInput } from './scan.ts';
import { scanSql, sqlitePageReader } from './store.ts';

export interface ScanWorkerData {
  db: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema?: string };
}

const { db: where } = workerData as ScanWorkerData;

async function open(): Promise<{ read: PageReader; close(): Promise<void> }> {
  if (where.kind === 'sqlite') {
    const sqlite3 = (await import('sqlite3')).default;
    const conn = await new Promise<any>((resolve, reject) => {
      const c = new sqlite3.Database(where.file, sqlite3.OPEN_READONLY, (err: Error | null) => (err ? reject(err) : resolve(c)));
    });
    conn.configure('busyTimeout', 5000);
    const query = (sql: string, params: unknown[]) => new Promise<any[]>((resolve, reject) => conn.all(sql, params, (err: Error | null, rows: any[]) => (err ? reject(err) : resolve(rows))));
    return { read: sqlitePageReader(query), close: () => new Promise((resolve) => conn.close(() => resolve())) };
  }
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: where.url });
  await client.connect();
  if (where.schema) await client.query(`set search_path to "${where.schema.replace(/"/g, '')}"`);
  const sql = scanSql('postgres');
  return {
    read: async (after, upTo, limit) => (await client.query(sql, [after, upTo, limit])).rows.map((r: { l: string | null }) => r.l ?? ''),
    close: () => client.end(),
  };
}

// connect at once; the range comes in a message (the main thread is still checking the digests meanwhile).
// The worker always ends by itself, after closing its connection: terminating it while the driver still has
// work in flight would crash the process.
const ready = open();
ready.catch(() => undefined);
const close = async () => {
  const reader = await ready.catch(() => null);
  await reader?.close().catch(() => undefined);
  parentPort?.close();
};
parentPort?.once('message', async (msg: ScanInput | 'stop') => {
  if (msg === 'stop') return close();
  try {
    const reader = await ready;
    const result = await scanRange(reader.read, msg, (events) => parentPort?.postMessage({ type: 'progress', events }));
    parentPort?.postMessage({ type: 'done', result });
  } catch (err) {
    parentPort?.postMessage({ type: 'error', message: (err as Error).message });
  } finally {
    await close();
  }
});
