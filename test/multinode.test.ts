/**
 * Two server processes on one PostgreSQL database under load: timers fire exactly once across nodes
 * (FOR UPDATE SKIP LOCKED), tasks complete once however many clients race, payments are made once, and
 * every history chain verifies. Also: a second engine process on one SQLite file is refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { here, onPostgres, TEST_DB_URL } from './helpers.ts';
import { startServer } from './support/server.ts';
import { openDb } from '../src/persistence/db.ts';
import { rowToEvent, verifyChain } from '../src/persistence/history.ts';

const TOKEN = `mn-admin-${randomBytes(8).toString('hex')}`;

async function call(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

function processesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-mn-'));
  mkdirSync(join(dir, 'processes'));
  copyFileSync(join(here, 'fixtures', 'crash', 'crash.bpmn'), join(dir, 'processes', 'crash.bpmn'));
  return join(dir, 'processes');
}

// several nodes need PostgreSQL (this suite runs on it with DATABASE_URL=postgres://...); SQLite is one process
(onPostgres ? test : test.skip)('two nodes on one PostgreSQL database: no job fires twice, no task completes twice', async () => {
  const dbName = `insureflow_mn_${randomBytes(4).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: TEST_DB_URL });
  await admin.raw(`create database ${dbName}`);
  const url = TEST_DB_URL.replace(/\/[^/]*$/, `/${dbName}`);
  const env = { DATABASE_URL: url, INSUREFLOW_PROCESSES_DIR: processesDir(), INSUREFLOW_ADMIN_TOKEN: TOKEN, INSUREFLOW_HANDLERS: join(here, 'fixtures', 'crash', 'handlers.ts') };
  const a = await startServer(env);
  const b = await startServer(env);
  const nodes = [a, b];
  try {
    // phase 1: start instances on both nodes in parallel
    const started: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, n) => {
        for (let i = 0; i < 8; i++) {
          const res = await call(nodes[(n + i) % 2].base, 'POST', '/api/process-definitions/crash-test/start', { variables: { amount: n * 10 + i } });
          assert.is(res.status, 201, JSON.stringify(res.json));
          started.push(res.json.id);
        }
      }),
    );
    // phase 2: the 1-second reminder timers fall due; both schedulers compete for them
    await new Promise((r) => setTimeout(r, 2500));
    // phase 3: clients on both nodes race to complete the same tasks
    const outcomes: number[] = [];
    for (let round = 0; round < 10; round++) {
      const open = await call(a.base, 'GET', '/api/tasks?processKey=crash-test&limit=200');
      if (open.json.total === 0) break;
      await Promise.all(
        open.json.items.flatMap((task: any) =>
          nodes.map(async (node) => {
            const res = await call(node.base, 'POST', `/api/tasks/${task.id}/complete`, { variables: { by: node.port } });
            outcomes.push(res.status);
            assert.ok(res.status === 200 || res.status === 409, `${res.status} ${JSON.stringify(res.json)}`);
          }),
        ),
      );
    }
    assert.is(outcomes.filter((s) => s === 200).length, started.length, 'each task completed exactly once');
    for (const node of nodes) assert.is(await node.kill('SIGTERM'), 0, 'graceful shutdown');

    const db = await openDb({ url });
    try {
      const instances = await db('process_instances').select('id', 'status');
      assert.is(instances.length, started.length);
      assert.ok(instances.every((i: any) => i.status === 'completed'), 'all completed');
      for (const i of instances) {
        const tasks = await db('user_tasks').where({ process_instance_id: i.id });
        assert.is(tasks.length, 1, 'one task row');
        const hist = (await db('history_events').where({ chain_id: i.id }).orderBy('seq')).map(rowToEvent);
        assert.is(hist.filter((h) => h.type === 'task.completed').length, 1, 'completed once');
        assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1, `reminder timer of ${i.id} fired exactly once`);
        assert.ok(verifyChain(hist).consistent, 'history verifies');
      }
      const calls = await db('test_calls').select('kind', 'process_instance_id', 'node');
      const reminders = calls.filter((c: any) => c.kind === 'remind');
      assert.is(reminders.length, started.length, 'each reminder handler ran once');
      assert.is(new Set(reminders.map((c: any) => c.process_instance_id)).size, started.length);
      const payments = await db('test_ledger').count({ n: '*' }).first();
      assert.is(Number((payments as any).n), started.length, 'one payment per instance');
      assert.is(Number(((await db('jobs').count({ n: '*' }).first()) as any).n), 0, 'no job left');
    } finally {
      await db.destroy();
    }
  } finally {
    for (const node of nodes) await node.kill('SIGKILL');
    await admin.raw(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await admin.destroy();
  }
});

(onPostgres ? test.skip : test)('a second engine process on the same SQLite file is refused with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-one-'));
  const env = { DATABASE_URL: join(dir, 'one.sqlite'), INSUREFLOW_PROCESSES_DIR: processesDir(), INSUREFLOW_ADMIN_TOKEN: TOKEN, INSUREFLOW_HANDLERS: join(here, 'fixtures', 'crash', 'handlers.ts') };
  const first = await startServer(env);
  try {
    let message = '';
    try {
      const second = await startServer(env, 15_000);
      await second.kill('SIGKILL');
    } catch (err) {
      message = String((err as Error).message);
    }
    assert.match(message, /another insureflow process .* is using this SQLite database/);
    assert.match(message, /PostgreSQL/);
    const health = await fetch(`${first.base}/health`);
    assert.is(health.status, 200, 'the first node keeps running');
  } finally {
    await first.kill('SIGKILL');
  }
});

test.run();
