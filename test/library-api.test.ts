/**
 * The embedding API (src/index.ts) is a contract: its names stay, and an embedding team's handler writes its own
 * rows through the transition's unit of work, so they commit with the engine's state or not at all.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as lib from '../src/index.ts';
import { fixture, testDb } from './helpers.ts';

const OPERATIONS = [
  'registerHandler', 'registerHandlers', 'deploy', 'listDefinitions', 'getDefinition', 'startInstance', 'startInstanceAfterCommit',
  'listInstances', 'getInstance', 'cancelInstance', 'history', 'verifyInstanceHistory', 'listTasks', 'getTask', 'claimTask',
  'unclaimTask', 'completeTask', 'correlateMessage', 'broadcastSignal', 'listJobs', 'setJobDue', 'runDueJobs', 'listIncidents',
  'getIncident', 'retryIncident', 'resolveIncident', 'drain',
] as const;

test('Given the library entry point, its documented names are exported and the engine has every operation', () => {
  for (const name of ['openDb', 'migrate', 'InsureflowEngine', 'Scheduler', 'ManualClock', 'systemClock', 'BpmnError', 'InsureflowError', 'ErrorCodes', 'transactionOf', 'SYSTEM', 'ROLES', 'buildApp', 'loadConfig', 'serve', 'createEngine', 'registerInsuranceDomain', 'replayInstance', 'verifyAll', 'verifyHistoryChain', 'reconstructState'] as const) {
    assert.ok((lib as Record<string, unknown>)[name] !== undefined, `src/index.ts exports ${name}`);
  }
  for (const op of OPERATIONS) assert.type((lib.InsureflowEngine.prototype as unknown as Record<string, unknown>)[op], 'function', `InsureflowEngine#${op}`);
});

test('Given an embedding handler that writes its own row and then fails, When it is retried and succeeds, Then only the successful call left its row', async () => {
  const t = await testDb();
  try {
    await t.db.schema.createTable('embed_ledger', (x) => {
      x.string('idempotency_key', 200).primary();
      x.integer('attempt').notNullable();
    });
    const clock = new lib.ManualClock('2026-03-02T09:00:00Z');
    const engine = new lib.InsureflowEngine({ db: t.db, clock });
    engine.registerHandler('pay', async ({ idempotencyKey, attempt, unitOfWork }) => {
      await lib.transactionOf(unitOfWork)('embed_ledger').insert({ idempotency_key: idempotencyKey, attempt });
      if (attempt === 1) throw new Error('bank timeout after booking');
      return { paid: true };
    });
    await engine.deploy([{ name: 'retry.bpmn', content: fixture('retry.bpmn') }]);
    const inst = await engine.startInstance('retry-test', { businessKey: 'EMB-1' });
    assert.equal(await t.db('embed_ledger').select('attempt'), [], 'the failed call left nothing');
    clock.advance(5 * 60_000);
    await engine.runDueJobs();
    assert.is((await engine.getInstance(inst.id)).status, 'completed');
    assert.equal((await t.db('embed_ledger').select('attempt')).map((r: { attempt: number }) => r.attempt), [2]);
  } finally {
    await t.destroy();
  }
});

test.run();
