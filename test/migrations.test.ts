/** Migrations go up, down and up again with data in the tables, on SQLite and PostgreSQL. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testDb, fixture, onPostgres } from './helpers.ts';
import { migrate, openDb, rollbackAll } from '../src/persistence/db.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';
import * as lib from '../src/index.ts';

test('up, down with data, and up again', async () => {
  const t = await testDb();
  try {
    const engine = new InsureflowEngine({ db: t.db }).registerHandler('summarise', () => ({}));
    await engine.deploy([{ name: 'parallel.bpmn', content: fixture('parallel.bpmn') }]);
    await engine.startInstance('parallel-test', { businessKey: 'M-1' });
    assert.ok(Number(((await t.db('history_events').count({ n: '*' }).first()) as any).n) > 0);
    await rollbackAll(t.db);
    assert.not.ok(await t.db.schema.hasTable('process_instances'), 'down removes the tables');
    await migrate(t.db);
    assert.ok(await t.db.schema.hasTable('process_instances'));
    const again = new InsureflowEngine({ db: t.db }).registerHandler('summarise', () => ({}));
    await again.deploy([{ name: 'parallel.bpmn', content: fixture('parallel.bpmn') }]);
    assert.is((await again.listDefinitions())[0].version, 1, 'a clean schema again');
  } finally {
    await t.destroy();
  }
});

// several nodes share a database on PostgreSQL only (a second engine process on a SQLite file is refused)
(onPostgres ? test : test.skip)('several nodes migrating one fresh PostgreSQL database at once: all succeed, the migrations run once', async () => {
  const t = await testDb();
  const others = await Promise.all([1, 2, 3].map(() => openDb({ url: t.url, schema: t.schema })));
  try {
    await rollbackAll(t.db);
    const logs = await Promise.all([t.db, ...others].map((db) => migrate(db)));
    assert.is(logs.filter((l) => l.length > 0).length, 1, 'one node applied them, the others found nothing to do');
    assert.ok(await t.db.schema.hasTable('process_instances'));
  } finally {
    for (const db of others) await db.destroy();
    await t.destroy();
  }
});

test('the library entry point exposes the engine without HTTP', () => {
  for (const name of ['InsureflowEngine', 'Scheduler', 'ManualClock', 'BpmnError', 'openDb', 'migrate', 'buildApp', 'serve']) {
    assert.type((lib as any)[name], 'function', name);
  }
});

test.run();
