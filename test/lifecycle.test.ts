/**
 * Lifecycle of the real service (the `serve` command as a child process, on real sockets and a real database):
 * configuration errors before anything is opened, a port already in use, SIGTERM/SIGINT through `npm start`,
 * repeated start/stop with the shipped processes/ folder on one database, a missing or empty processes folder.
 *
 * Each server test gets a fresh database of the suite's kind: a SQLite file in a new temporary folder, or
 * (DATABASE_URL=postgres://...) a new PostgreSQL database created next to the test database and dropped after.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import knexFactory from 'knex';
import { loadConfig } from '../src/config.ts';
import { openDb } from '../src/persistence/db.ts';
import { dialectOf, dialectOfKnex, parseDatabaseUrl, sqlitePath } from '../src/persistence/dialect.ts';
import { InsureflowError } from '../src/errors.ts';
import { onPostgres, testDb, TEST_DB_URL } from './helpers.ts';
import { descendants, isAlive, portIsFree, repoRoot, runToExit, spawnServer, waitHealthy } from './support/server.ts';

const TOKEN = `lc-admin-${randomBytes(8).toString('hex')}`;
const STACK_LINE = /^\s+at /m;

interface FreshDb {
  url: string;
  /** the SQLite file, or null on PostgreSQL */
  file: string | null;
  /** row counts of the tables a start-up deployment writes (server stopped) */
  counts(): Promise<Record<string, number>>;
  drop(): Promise<void>;
}

async function freshDatabase(): Promise<FreshDb> {
  const counts = async (url: string) => {
    const db = await openDb({ url });
    try {
      const out: Record<string, number> = {};
      for (const table of ['deployments', 'process_definitions', 'decision_definitions', 'form_schemas']) {
        out[table] = Number((await db(table).count({ n: '*' }))[0].n);
      }
      out['history_events(deployments)'] = Number((await db('history_events').where({ chain_id: 'deployments' }).count({ n: '*' }))[0].n);
      return out;
    } finally {
      await db.destroy();
    }
  };
  if (onPostgres) {
    const name = `t_${randomBytes(6).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: TEST_DB_URL, pool: { min: 0, max: 1 } });
    await admin.raw(`create database "${name}"`);
    const u = new URL(TEST_DB_URL);
    u.pathname = `/${name}`;
    const url = u.toString();
    return {
      url,
      file: null,
      counts: () => counts(url),
      async drop() {
        await admin.raw(`drop database if exists "${name}" with (force)`);
        await admin.destroy();
      },
    };
  }
  const file = join(mkdtempSync(join(tmpdir(), 'insureflow-lc-')), 'db', 'insureflow.sqlite');
  return { url: file, file, counts: () => counts(file), async drop() {} };
}

/** The error loadConfig(env) throws (an assertion fails if it throws none, or not an InsureflowError). */
function configError(env: Record<string, string>): InsureflowError {
  let caught: unknown = null;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  assert.instance(caught, InsureflowError, `loadConfig(${JSON.stringify(env)}) throws an InsureflowError`);
  return caught as InsureflowError;
}

// ------------------------------------------------------------------ DATABASE_URL forms (unit)

test('DATABASE_URL with an unknown scheme is CONFIG_INVALID naming the accepted forms, without the password', () => {
  for (const url of ['mysql://app:s3cret@db:3306/insureflow', 'foo:bar', 'http://x', 'postgres:relative', 'sqlite:']) {
    const err = configError({ DATABASE_URL: url });
    assert.is(err.code, 'CONFIG_INVALID', url);
    assert.match(err.message, 'DATABASE_URL');
    assert.match(err.message, 'SQLite file path', url);
    assert.match(err.message, 'sqlite:<path>', url);
    assert.match(err.message, 'postgres://', url);
    assert.match(err.message, 'postgresql://', url);
    assert.not.match(err.message, 's3cret', 'the password is not echoed');
  }
  assert.match(configError({ DATABASE_URL: 'mysql://app:s3cret@db:3306/insureflow' }).message, '"mysql:"');
});

test('accepted DATABASE_URL forms: SQLite paths, sqlite:<path>, postgres:// and postgresql://', () => {
  const cases: Array<[string, 'sqlite' | 'postgres', string | null]> = [
    ['./data/insureflow.sqlite', 'sqlite', './data/insureflow.sqlite'],
    ['/var/lib/insureflow/db.sqlite', 'sqlite', '/var/lib/insureflow/db.sqlite'],
    ['data/with:colon.sqlite', 'sqlite', 'data/with:colon.sqlite'],
    ['C:\\data\\db.sqlite', 'sqlite', 'C:\\data\\db.sqlite'],
    [':memory:', 'sqlite', ':memory:'],
    ['sqlite:data/x.sqlite', 'sqlite', 'data/x.sqlite'],
    ['sqlite:///abs/x.sqlite', 'sqlite', '/abs/x.sqlite'],
    ['postgres://postgres@127.0.0.1:5432/test', 'postgres', null],
    ['postgresql://u:p@host/db?sslmode=require', 'postgres', null],
  ];
  for (const [url, dialect, path] of cases) {
    assert.is(dialectOf(url), dialect, url);
    assert.is(loadConfig({ DATABASE_URL: url }).databaseUrl, url);
    if (path !== null) assert.is(sqlitePath(url), path, url);
    else assert.equal(parseDatabaseUrl(url), { dialect: 'postgres', url });
  }
  assert.throws(() => sqlitePath('postgres://h/db'), /not a SQLite database/);
  assert.is(loadConfig({ DATABASE_URL: '' }).databaseUrl, './data/insureflow.sqlite', 'empty means unset');
});

test("the dialect of an open Knex handle and of a transaction on it is the suite's database", async () => {
  const tdb = await testDb();
  try {
    const expected = onPostgres ? 'postgres' : 'sqlite';
    assert.is(dialectOfKnex(tdb.db), expected);
    await tdb.db.transaction(async (trx) => assert.is(dialectOfKnex(trx), expected));
  } finally {
    await tdb.destroy();
  }
});

// ------------------------------------------------------------------ processes folder (configuration)

test('loadConfig says whether INSUREFLOW_PROCESSES_DIR was set explicitly', () => {
  assert.equal([loadConfig({}).processesDir, loadConfig({}).processesDirExplicit], ['processes', false]);
  assert.is(loadConfig({ INSUREFLOW_PROCESSES_DIR: '' }).processesDirExplicit, false, 'empty means unset');
  const set = loadConfig({ INSUREFLOW_PROCESSES_DIR: '/srv/flows' });
  assert.equal([set.processesDir, set.processesDirExplicit], ['/srv/flows', true]);
});

// ------------------------------------------------------------------ start-up failures (real processes)

test('`insureflow serve` and `npm start` refuse an unknown DATABASE_URL before opening anything, without a stack trace', async () => {
  // the bin script (`npx insureflow serve`) in an empty working directory: it stays empty (no "foo:bar" file)
  const cwd = mkdtempSync(join(tmpdir(), 'insureflow-lc-cwd-'));
  const bin = spawn(process.execPath, [join(repoRoot, 'src', 'bin', 'insureflow.mjs'), 'serve'], { cwd, env: { ...process.env, DATABASE_URL: 'foo:bar' } });
  let out = '';
  bin.stdout.on('data', (d) => (out += d));
  bin.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => bin.once('exit', (c) => r(c)));
  assert.is.not(code, 0, 'insureflow serve exits non-zero');
  assert.match(out, 'insureflow: CONFIG_INVALID: invalid configuration: DATABASE_URL "foo:bar" has an unsupported scheme "foo:"; use a SQLite file path');
  assert.not.match(out, STACK_LINE, `no stack trace:\n${out}`);
  assert.equal(readdirSync(cwd), [], 'nothing was created in the working directory');

  const npm = await runToExit({ via: 'npm', env: { DATABASE_URL: 'mysql://app:s3cret@db/insureflow' } });
  assert.is.not(npm.code, 0, 'npm start exits non-zero');
  assert.match(npm.output, 'insureflow: CONFIG_INVALID: invalid configuration: DATABASE_URL "mysql://app:***@db/insureflow" has an unsupported scheme "mysql:"');
  assert.match(npm.output, 'postgres://');
  assert.not.match(npm.output, STACK_LINE, `no stack trace:\n${npm.output}`);
});

test('a port already in use fails before anything is written: no database file, non-zero exit, port and host named', async () => {
  const occupier: Server = createServer();
  await new Promise<void>((r) => occupier.listen(0, '127.0.0.1', () => r()));
  const port = (occupier.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-lc-port-'));
  const file = join(dir, 'db', 'insureflow.sqlite');
  try {
    const res = await runToExit({ port, env: { DATABASE_URL: file } });
    assert.is.not(res.code, 0, res.output);
    assert.match(res.output, `port ${port} on host 127.0.0.1 is already in use`);
    assert.not.match(res.output, STACK_LINE, res.output);
    assert.not.ok(existsSync(file), 'no SQLite file');
    assert.equal(readdirSync(dir), [], 'not even its folder');
  } finally {
    await new Promise((r) => occupier.close(r));
  }
});

test('an explicitly set processes folder that does not exist is an error naming it; nothing is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-lc-pd-'));
  const missing = join(dir, 'no-such-folder');
  const res = await runToExit({ env: { DATABASE_URL: join(dir, 'db', 'x.sqlite'), INSUREFLOW_PROCESSES_DIR: missing } });
  assert.is.not(res.code, 0, res.output);
  assert.match(res.output, `INSUREFLOW_PROCESSES_DIR "${missing}"`);
  assert.match(res.output, 'does not exist');
  assert.not.match(res.output, STACK_LINE, res.output);
  assert.equal(readdirSync(dir), [], 'no database');
});

test('the default processes folder missing: a warning naming it, and the server starts with nothing deployed', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'insureflow-lc-nopd-'));
  const fresh = await freshDatabase();
  const env: Record<string, string> = { DATABASE_URL: fresh.url, INSUREFLOW_ADMIN_TOKEN: TOKEN, INSUREFLOW_PROCESSES_DIR: '' };
  const server = await spawnServer({ cwd, env });
  try {
    await waitHealthy(server);
    assert.is(await server.kill('SIGTERM'), 0, server.output());
    const output = server.output().replace(/\\"/g, '"'); // the warning may be logged as JSON
    assert.match(output, `processes folder "processes" (${join(cwd, 'processes')}) does not exist`);
    assert.is((await fresh.counts()).process_definitions, 0);
  } finally {
    await server.kill('SIGKILL');
    await fresh.drop();
  }
});

// ------------------------------------------------------------------ signals through npm start

const hasProc = existsSync('/proc/self/stat');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  (hasProc ? test : test.skip)(`${signal} sent to the npm process of \`npm start\` stops the server cleanly: exit 0, no orphan, port free`, async () => {
    const fresh = await freshDatabase();
    const server = await spawnServer({ via: 'npm', env: { DATABASE_URL: fresh.url, INSUREFLOW_ADMIN_TOKEN: TOKEN, INSUREFLOW_PROCESSES_DIR: '' } });
    let below: number[] = [];
    try {
      await waitHealthy(server, 30_000);
      const npmPid = server.proc.pid!;
      below = descendants(npmPid);
      const servers = below.filter((pid) => /cli\.ts\0serve/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')));
      assert.is(servers.length, 1, `one server process below npm: ${below.join(', ')}`);

      process.kill(npmPid, signal); // the npm process only, as `kill <pid>` or a supervisor would
      // bounded, so that a signal that never reaches the server fails the test instead of hanging it
      const exit = await Promise.race([server.exited, new Promise<string>((r) => setTimeout(() => r('npm still running 30 s after the signal'), 30_000).unref())]);

      assert.equal(exit, { code: 0, signal: null }, `npm exits 0 because the server did:\n${server.output()}`);
      assert.equal(below.filter(isAlive), [], 'no process of the tree survives');
      assert.ok(await portIsFree(server.port), `port ${server.port} is free`);
      if (fresh.file) assert.not.ok(existsSync(`${fresh.file}-wal`), 'SQLite closed cleanly (its WAL was checkpointed and removed)');
    } finally {
      for (const pid of [...below, ...descendants(server.proc.pid!)]) if (isAlive(pid)) process.kill(pid, 'SIGKILL'); // orphans of a failed run
      await server.kill('SIGKILL');
      await fresh.drop();
    }
  });
}

// ------------------------------------------------------------------ five starts on one database

test('five start/stop cycles on one database with the shipped processes: healthy, exit 0, nothing redeployed', async () => {
  const fresh = await freshDatabase();
  const env: Record<string, string> = { DATABASE_URL: fresh.url, INSUREFLOW_ADMIN_TOKEN: TOKEN, INSUREFLOW_PROCESSES_DIR: '' };
  let first: Record<string, number> | null = null;
  try {
    for (let run = 1; run <= 5; run++) {
      const server = await spawnServer({ env });
      try {
        await waitHealthy(server, 30_000);
        const health = await (await fetch(`${server.base}/health`)).json();
        assert.equal(health, { status: 'ok', database: onPostgres ? 'postgres' : 'sqlite' }, `start ${run}`);
        assert.is(await server.kill('SIGTERM'), 0, `start ${run} stops with exit 0:\n${server.output()}`);
      } finally {
        await server.kill('SIGKILL');
      }
      const counts = await fresh.counts();
      if (!first) {
        first = counts;
        for (const [table, n] of Object.entries(counts)) assert.ok(n > 0, `the first start deployed into ${table}`);
      } else {
        assert.equal(counts, first, `start ${run} changed no deployment rows`);
      }
    }
  } finally {
    await fresh.drop();
  }
});

test.run();
