/**
 * Feature: a business key is unique among the active top-level instances of a process key (issue 10,
 * src/engine/business-keys.ts): 409 BUSINESS_KEY_IN_USE naming the key and the instance holding it; completed and
 * cancelled instances free it; message starts obey it; called instances (a multi-instance call activity passing
 * the caller's key, a process calling itself) are not concerned. The database enforces it too (a partial unique
 * index): a start that passed the check but lost the race is a 409 naming the winner, not a 500, on SQLite and
 * PostgreSQL; on PostgreSQL, two engines (nodes) whose starts both passed the check, and two server processes
 * racing over HTTP.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { testEngine, onPostgres, TEST_DB_URL, admin, ops, type TestEngine, refusal } from './helpers.ts';
import { InsureflowError } from '../src/errors.ts';
import { EngineCore } from '../src/engine/service.ts';
import { InsureflowEngine, createKnexStores } from '../src/persistence/knex-engine.ts';
import { openDb } from '../src/persistence/db.ts';
import { startServer } from './support/server.ts';
import { domain } from './insurance.ts';
import { Given, When, Then, And } from './feature/gwt.ts';

const BPMN = (body: string, ns = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"${ns} id="Defs_${randomBytes(3).toString('hex')}" targetNamespace="http://insureflow.test">${body}</bpmn:definitions>`;

/** start -> a user task for adjusters -> end */
const waiting = (key: string) =>
  BPMN(`<bpmn:process id="${key}" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Task_Work" />
    <bpmn:userTask id="Task_Work" name="Work" camunda:candidateGroups="adjusters" />
    <bpmn:sequenceFlow id="f1" sourceRef="Task_Work" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);

const MESSAGE_START = BPMN(`<bpmn:message id="Msg_Reported" name="bk-loss-reported" />
  <bpmn:process id="bk-by-message" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:messageEventDefinition messageRef="Msg_Reported" /></bpmn:startEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Task_Work" />
    <bpmn:userTask id="Task_Work" name="Work" camunda:candidateGroups="adjusters" />
    <bpmn:sequenceFlow id="f1" sourceRef="Task_Work" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);

/** three children of bk-child at once, each given the caller's business key */
const MI_CALLER = BPMN(`<bpmn:process id="bk-caller" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Call_Child" />
    <bpmn:callActivity id="Call_Child" calledElement="bk-child">
      <bpmn:extensionElements><camunda:in businessKey="#{execution.processBusinessKey}" /></bpmn:extensionElements>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false"><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="f1" sourceRef="Call_Child" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);

/** depth 0 calls itself (same key, same business key) once; depth 1 waits at a task */
const SELF_CALLER = BPMN(`<bpmn:process id="bk-self" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Gw" />
    <bpmn:exclusiveGateway id="Gw" default="f_work" />
    <bpmn:sequenceFlow id="f_call" sourceRef="Gw" targetRef="Call_Self"><bpmn:conditionExpression>=depth = 0</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_work" sourceRef="Gw" targetRef="Task_Work" />
    <bpmn:callActivity id="Call_Self" calledElement="bk-self">
      <bpmn:extensionElements>
        <camunda:in businessKey="#{execution.processBusinessKey}" />
        <camunda:in sourceExpression="\${depth + 1}" target="depth" />
      </bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="f1" sourceRef="Call_Self" targetRef="End" />
    <bpmn:userTask id="Task_Work" name="Work" camunda:candidateGroups="adjusters" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task_Work" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);

/** start -> a service task `hold` (the test decides when it returns) -> a user task */
const HELD = BPMN(`<bpmn:process id="bk-held" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Task_Hold" />
    <bpmn:serviceTask id="Task_Hold" name="Hold" camunda:type="external" camunda:topic="hold" />
    <bpmn:sequenceFlow id="f1" sourceRef="Task_Hold" targetRef="Task_Work" />
    <bpmn:userTask id="Task_Work" name="Work" camunda:candidateGroups="adjusters" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task_Work" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);

const holderOf = (err: InsureflowError) => (err.details as { processInstanceId: string | null }).processInstanceId;
const adjuster = ops('ann', 'adjusters');

async function rowsWith(t: TestEngine, key: string, businessKey: string): Promise<{ id: string; status: string }[]> {
  return t.tdb.db('process_instances').where({ process_key: key, business_key: businessKey }).orderBy('started_at').select('id', 'status');
}

const keys = suite<{ t: TestEngine; held: number }>('a business key is unique among the active instances of a process key');
keys.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.held = 0;
  ctx.t.engine.registerHandler('hold', () => ({ held: ++ctx.held }));
  await ctx.t.engine.deploy([
    { name: 'bk-wait.bpmn', content: waiting('bk-wait') },
    { name: 'bk-other.bpmn', content: waiting('bk-other') },
    { name: 'bk-child.bpmn', content: waiting('bk-child') },
    { name: 'bk-by-message.bpmn', content: MESSAGE_START },
    { name: 'bk-self.bpmn', content: SELF_CALLER },
    { name: 'bk-held.bpmn', content: HELD },
  ]);
  await ctx.t.engine.deploy([{ name: 'bk-caller.bpmn', content: MI_CALLER }]);
});
keys.after(async (ctx) => ctx.t.close());

keys('a second start with the key of an active instance is 409 BUSINESS_KEY_IN_USE naming the key and the instance', async ({ t }) => {
  const first = await Given('an active instance of bk-wait with business key CLM-1', () => t.engine.startInstance('bk-wait', { businessKey: 'CLM-1' }, admin));
  const err = await When('bk-wait is started again with CLM-1', () => refusal(t.engine.startInstance('bk-wait', { businessKey: 'CLM-1', variables: { injected: true } }, admin)));
  await Then('409 naming the key and the holder; nothing was started', async () => {
    assert.is(err.code, 'BUSINESS_KEY_IN_USE');
    assert.is(err.statusCode, 409);
    assert.match(err.message, /business key "CLM-1" is in use by the active process instance/);
    assert.ok(err.message.includes(first.id), err.message);
    assert.equal(err.details, { processKey: 'bk-wait', businessKey: 'CLM-1', processInstanceId: first.id });
    assert.equal(await rowsWith(t, 'bk-wait', 'CLM-1'), [{ id: first.id, status: 'active' }]);
  });
  await And('the same key is free for another process key, and instances without a key are not concerned', async () => {
    await t.engine.startInstance('bk-other', { businessKey: 'CLM-1' }, admin);
    await t.engine.startInstance('bk-wait', {}, admin);
    await t.engine.startInstance('bk-wait', {}, admin);
  });
  await And('keys differing only by case or a space are other keys', async () => {
    await t.engine.startInstance('bk-wait', { businessKey: 'clm-1' }, admin);
    await t.engine.startInstance('bk-wait', { businessKey: 'CLM-1 ' }, admin);
  });
});

keys('completing or cancelling the instance frees its key', async ({ t }) => {
  const first = await t.engine.startInstance('bk-wait', { businessKey: 'CLM-2' }, admin);
  await When('the instance is cancelled', () => t.engine.cancelInstance(first.id, admin, 'opened twice'));
  const second = await Then('the key can be used again', () => t.engine.startInstance('bk-wait', { businessKey: 'CLM-2' }, admin));
  assert.is(holderOf(await refusal(t.engine.startInstance('bk-wait', { businessKey: 'CLM-2' }, admin))), second.id);
  await When('that one completes', async () => {
    await t.engine.claimTask(second.openTasks[0].id, adjuster);
    await t.engine.completeTask(second.openTasks[0].id, {}, adjuster);
  });
  await Then('the key is free again; the ended instances keep it in their rows', async () => {
    const third = await t.engine.startInstance('bk-wait', { businessKey: 'CLM-2' }, admin);
    // the manual clock stands still: the three rows share started_at, so compare them in id order
    const byId = (rows: string[][]) => rows.sort((a, b) => a[0].localeCompare(b[0]));
    assert.equal(byId((await rowsWith(t, 'bk-wait', 'CLM-2')).map((r) => [r.id, r.status])), byId([[first.id, 'cancelled'], [second.id, 'completed'], [third.id, 'active']]));
  });
});

keys('a message start event with a business key in use is 409 too; nothing is started', async ({ t }) => {
  const r = await Given('a message started an instance with business key CLM-3', () => t.engine.correlateMessage({ name: 'bk-loss-reported', businessKey: 'CLM-3' }, admin));
  const err = await When('the same message comes again for CLM-3', () => refusal(t.engine.correlateMessage({ name: 'bk-loss-reported', businessKey: 'CLM-3' }, admin)));
  await Then('409 naming the instance the first message started', async () => {
    assert.is(err.code, 'BUSINESS_KEY_IN_USE');
    assert.is(holderOf(err), r.correlated[0].processInstanceId);
    assert.is((await rowsWith(t, 'bk-by-message', 'CLM-3')).length, 1);
  });
});

keys('called instances keep working: three children given the caller\'s key at once, and a process calling itself', async ({ t }) => {
  const caller = await When('bk-caller (key CLM-4) calls bk-child three times in parallel, each with CLM-4', () => t.engine.startInstance('bk-caller', { businessKey: 'CLM-4' }, admin));
  await Then('the three children run, each with the key CLM-4', async () => {
    const children = await t.tdb.db('process_instances').where({ parent_instance_id: caller.id }).select('process_key', 'business_key', 'status');
    assert.equal(children.map((c) => [c.process_key, c.business_key, c.status]), [['bk-child', 'CLM-4', 'active'], ['bk-child', 'CLM-4', 'active'], ['bk-child', 'CLM-4', 'active']]);
    assert.equal((await t.engine.getInstance(caller.id)).incidents, []);
  });
  await And('called instances do not hold the key: bk-child can be started on its own with CLM-4, once', async () => {
    const own = await t.engine.startInstance('bk-child', { businessKey: 'CLM-4' }, admin);
    assert.is(holderOf(await refusal(t.engine.startInstance('bk-child', { businessKey: 'CLM-4' }, admin))), own.id);
  });
  const self = await When('bk-self (key CLM-5, depth 0) calls itself with its own key', () => t.engine.startInstance('bk-self', { businessKey: 'CLM-5', variables: { depth: 0 } }, admin));
  await Then('caller and child are both active instances of bk-self with CLM-5; a third start is refused', async () => {
    const rows = await t.tdb.db('process_instances').where({ process_key: 'bk-self', business_key: 'CLM-5' }).select('id', 'status', 'parent_instance_id');
    assert.equal(rows.map((r) => [r.status, r.parent_instance_id]).sort(), [['active', null], ['active', self.id]]);
    assert.equal((await t.engine.getInstance(self.id)).incidents, []);
    assert.is(holderOf(await refusal(t.engine.startInstance('bk-self', { businessKey: 'CLM-5', variables: { depth: 1 } }, admin))), self.id);
  });
});

keys('the database refuses a start that passed the check but lost the race: 409 naming the winner, no trace of the loser', async (ctx) => {
  const { t } = ctx;
  const winner = await Given('an active instance of bk-held with key CLM-6', () => t.engine.startInstance('bk-held', { businessKey: 'CLM-6' }, admin));
  // a second engine (node) on the same database whose check ran before the winner committed: it sees no holder once
  const stores = createKnexStores(t.tdb.db);
  let blind = 1;
  const real = stores.instances.activeWithBusinessKey.bind(stores.instances);
  stores.instances.activeWithBusinessKey = (key, businessKey) => (blind-- > 0 ? Promise.resolve(null) : real(key, businessKey));
  const late = new EngineCore({ stores, clock: t.clock }).registerHandler('hold', () => ({ held: ++ctx.held, late: true }));
  const heldBefore = ctx.held;
  const err = await When('that node starts bk-held with CLM-6', () => refusal(late.startInstance('bk-held', { businessKey: 'CLM-6' }, admin)));
  await Then('the unique index refused it: 409 BUSINESS_KEY_IN_USE naming the winner (not a 500)', () => {
    assert.is(err.code, 'BUSINESS_KEY_IN_USE');
    assert.is(holderOf(err), winner.id);
    assert.is(blind, -1, 'the check was skipped once, and the holder looked up after the refusal');
  });
  await And('its transition left nothing: one instance, its handler ran but its work rolled back', async () => {
    assert.is(ctx.held, heldBefore + 1);
    assert.equal(await rowsWith(t, 'bk-held', 'CLM-6'), [{ id: winner.id, status: 'active' }]);
    assert.is(Number(((await t.tdb.db('history_events').where({ business_key: 'CLM-6' }).count({ n: '*' }).first()) as { n: number | string }).n), (await t.engine.history(winner.id)).length);
  });
});

keys('the partial unique index exists on the database: two active rows with one key cannot be written', async ({ t }) => {
  const first = await t.engine.startInstance('bk-wait', { businessKey: 'CLM-7' }, admin);
  const row = await t.tdb.db('process_instances').where({ id: first.id }).first();
  let refused: unknown = null;
  try {
    await t.tdb.db('process_instances').insert({ ...row, id: `${first.id}-copy` });
  } catch (err) {
    refused = err;
  }
  assert.ok(refused, 'the copy was refused');
  assert.match(String((refused as Error).message), /unique|UNIQUE/);
  // an ended copy is allowed: only active rows hold the key
  await t.tdb.db('process_instances').insert({ ...row, id: `${first.id}-ended`, status: 'completed' });
});

// ---------------------------------------------------------------- the issue: starting claims with a claim's key

const claims = suite('starting claims directly with the business key of an open claim (shipped processes, HTTP)');

claims('409 BUSINESS_KEY_IN_USE naming the claim number and its instance', async () => {
  const d = await domain();
  try {
    const policy = d.demo.policies[0];
    const reported = await d.call('cs', 'POST', '/api/claims', { policyNo: policy.policyNo, channel: 'phone', lossDate: '2026-01-03', peril: 'water', claimedAmount: 14000, description: 'Burst pipe in the kitchen' });
    assert.is(reported.status, 201, JSON.stringify(reported.body));
    const { claimNo, processInstanceId } = reported.body;
    const res = await d.call('admin', 'POST', '/api/process-definitions/claims/start', {
      businessKey: claimNo,
      variables: { policyNo: policy.policyNo, channel: 'email', lossDate: '2026-01-03', peril: 'water', claimedAmount: 90000, description: 'The same loss again, bigger' },
    });
    assert.is(res.status, 409, JSON.stringify(res.body));
    assert.is(res.body.code, 'BUSINESS_KEY_IN_USE');
    assert.ok(res.body.message.includes(claimNo) && res.body.message.includes(processInstanceId), res.body.message);
    assert.equal(res.body.details, { processKey: 'claims', businessKey: claimNo, processInstanceId });
    const list = await d.call('admin', 'GET', `/api/process-instances?key=claims&businessKey=${claimNo}`);
    assert.is(list.body.total, 1);
  } finally {
    await d.close();
  }
});

// ---------------------------------------------------------------- PostgreSQL: several nodes at once

const nodes = suite('concurrent starts with one business key on several PostgreSQL nodes');

(onPostgres ? nodes : nodes.skip)('two engines whose starts both passed the check: the database lets one win, the other is 409 naming it', async () => {
  const t = await testEngine();
  const dbB = await openDb({ url: t.tdb.url, schema: t.tdb.schema });
  try {
    // both transitions are inside the handler (the check passed, nothing committed) before either goes on
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((r) => (release = r));
    const hold = async () => {
      if (++arrived === 2) release();
      await Promise.race([barrier, new Promise((r) => setTimeout(r, 5_000))]);
      return { held: arrived };
    };
    const a = t.engine.registerHandler('hold', hold);
    const b = new InsureflowEngine({ db: dbB, clock: t.clock }).registerHandler('hold', hold);
    await a.deploy([{ name: 'bk-held.bpmn', content: HELD }]);
    const outcomes = await Promise.allSettled([a.startInstance('bk-held', { businessKey: 'RACE-1' }, admin), b.startInstance('bk-held', { businessKey: 'RACE-1' }, admin)]);
    assert.is(arrived, 2, 'both starts passed the check and ran their first transition');
    const won = outcomes.filter((o) => o.status === 'fulfilled') as PromiseFulfilledResult<{ id: string }>[];
    const lost = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
    assert.is(won.length, 1, JSON.stringify(lost.map((l) => String(l.reason))));
    assert.is(lost.length, 1);
    assert.instance(lost[0].reason, InsureflowError);
    assert.is(lost[0].reason.code, 'BUSINESS_KEY_IN_USE');
    assert.is(holderOf(lost[0].reason), won[0].value.id);
    assert.equal((await t.tdb.db('process_instances').where({ business_key: 'RACE-1' }).select('id')).map((r) => r.id), [won[0].value.id]);
  } finally {
    await dbB.destroy();
    await t.close();
  }
});

(onPostgres ? nodes : nodes.skip)('two server processes racing over HTTP: per key exactly one 201, the others 409 naming it, never a 500', async () => {
  const dbName = `insureflow_bk_${randomBytes(4).toString('hex')}`;
  const server = knexFactory({ client: 'pg', connection: TEST_DB_URL, pool: { min: 0, max: 1 } });
  await server.raw(`create database ${dbName}`);
  const url = TEST_DB_URL.replace(/\/[^/?]*(\?.*)?$/, `/${dbName}`);
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-bk-'));
  writeFileSync(join(dir, 'bk-wait.bpmn'), waiting('bk-wait'));
  const token = `bk-admin-${randomBytes(8).toString('hex')}`;
  const env = { DATABASE_URL: url, INSUREFLOW_PROCESSES_DIR: dir, INSUREFLOW_ADMIN_TOKEN: token };
  const started: Awaited<ReturnType<typeof startServer>>[] = [];
  try {
    started.push(await startServer(env));
    started.push(await startServer(env));
    const start = async (base: string, businessKey: string) => {
      const res = await fetch(`${base}/api/process-definitions/bk-wait/start`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ businessKey }) });
      return { status: res.status, body: (await res.json()) as any };
    };
    for (let round = 0; round < 8; round++) {
      const key = `RACE-${round}`;
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => start(started[i % 2].base, key)));
      const won = replies.filter((r) => r.status === 201);
      assert.is(won.length, 1, `${key}: ${JSON.stringify(replies.map((r) => r.status))}`);
      for (const r of replies.filter((x) => x.status !== 201)) {
        assert.is(r.status, 409, JSON.stringify(r.body));
        assert.is(r.body.code, 'BUSINESS_KEY_IN_USE');
        assert.is(r.body.details.processInstanceId, won[0].body.id, `${key}: the loser names the winner`);
      }
    }
    for (const s of started) assert.is(await s.kill('SIGTERM'), 0, 'graceful shutdown');
    const db = await openDb({ url });
    try {
      const rows = (await db('process_instances').select('business_key').count({ n: '*' }).groupBy('business_key')) as { business_key: string; n: number | string }[];
      assert.equal(rows.map((r) => [r.business_key, Number(r.n)]).sort(), Array.from({ length: 8 }, (_, i) => [`RACE-${i}`, 1]));
    } finally {
      await db.destroy();
    }
  } finally {
    for (const s of started) await s.kill('SIGKILL');
    await server.raw(`drop database if exists ${dbName} with (force)`);
    await server.destroy();
  }
});

keys.run();
claims.run();
nodes.run();
