/** Migrations go up, down and up again with data in the tables, on SQLite and PostgreSQL. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testDb, fixture } from './helpers.ts';
import { migrate, rollbackAll } from '../src/persistence/db.ts';
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

test('the library entry point exposes the engine without HTTP', () => {
  for (const name of ['InsureflowEngine', 'Scheduler', 'ManualClock', 'BpmnError', 'openDb', 'migrate', 'buildApp', 'serve']) {
    assert.type((lib as any)[name], 'function', name);
  }
});

test.run();
