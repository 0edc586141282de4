/**
 * Feature: wait states at any depth, atomic actions, incidents in the first transition (issue 9, section 1).
 * Runs the engine without HTTP (except the one 201 check over a socket) on the suite's database (SQLite, or
 * PostgreSQL with DATABASE_URL), with a ManualClock and stub handlers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import { fixture, testEngine, ops, admin, type TestEngine, refusal } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { BpmnError } from '../../src/errors.ts';
import { buildApp } from '../../src/http/app.ts';
import { Given, When, Then, And } from './gwt.ts';

const MINUTE = 60_000;
const surveyor = ops('sue', 'surveyors');
const adjuster = ops('ann', 'adjusters');
const resources = (...names: string[]) => names.map((n) => ({ name: n.replace(/^feature\//, ''), content: fixture(n) }));

// ------------------------------------------------------------------------------------------------ at any depth

interface DepthCtx { t: TestEngine }
const depth = suite<DepthCtx>('wait states at any depth');
depth.before(async (ctx) => {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy(resources('feature/deep-waits.bpmn', 'feature/deep-multi-instance.bpmn', 'feature/messages/surveyor-ack.schema.json'));
});
depth.after(async (ctx) => ctx.t.close());

depth('a user task, a message catch and a timer three sub-processes deep, and an event sub-process task, each reached by its executionId', async ({ t }) => {
  const inst = await Given('an instance waiting three sub-processes deep at a task, a message and a timer', async () => {
    const i = await t.engine.startInstance('deep-waits', { businessKey: 'CLM-DEEP-1' });
    assert.is(i.status, 'active');
    assert.equal(i.openTasks.map((x) => x.activityId), ['Task_Inspect']);
    const jobs = (await t.engine.listJobs({ processInstanceId: i.id })).items.map((j) => j.activityId).sort();
    assert.equal(jobs, ['Start_Reminder', 'Timer_Cooling']);
    return i;
  });

  await When('the reminder event sub-process fires after 30 minutes (run by an engine started afresh)', async () => {
    t.clock.advance(30 * MINUTE);
    const fresh = new InsureflowEngine({ db: t.tdb.db, clock: t.clock });
    assert.is(await fresh.runDueJobs(), 1);
  });
  const remind = await Then('its user task is offered next to the deep one, and completing it by its id works', async () => {
    const now = await t.engine.getInstance(inst.id);
    const task = now.openTasks.find((x) => x.activityId === 'Task_Remind');
    assert.ok(task, 'the reminder task is open');
    await t.engine.completeTask(task!.id, { chased: true }, adjuster);
    return task!;
  });
  await And('the instance still waits deep inside', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'active');
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Inspect']);
    assert.is(now.variables.chased, true);
    assert.ok(!now.openTasks.some((x) => x.id === remind.id));
  });

  await When('the deep task is completed by its id', async () => {
    const task = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(task.id, { damage: 'minor' }, surveyor);
  });
  await And('the message is correlated by business key', async () => {
    const r = await t.engine.correlateMessage({ name: 'surveyor-ack', businessKey: 'CLM-DEEP-1', variables: { surveyor: 'sue' } });
    assert.equal(r.correlated.map((c) => c.activityId), ['Catch_Ack']);
  });
  await Then('only the timer is left', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'active');
    assert.equal(now.openTasks, []);
    assert.equal((await t.engine.listJobs({ processInstanceId: inst.id })).items.map((j) => j.activityId), ['Timer_Cooling']);
  });

  await When('the hour is up', async () => {
    t.clock.advance(30 * MINUTE);
    assert.is(await t.engine.runDueJobs(), 1);
  });
  await Then('the join passes, the three sub-processes end and the instance completes with every value', async () => {
    const done = await t.engine.getInstance(inst.id);
    assert.is(done.status, 'completed');
    assert.equal({ damage: done.variables.damage, surveyor: done.variables.surveyor, chased: done.variables.chased }, { damage: 'minor', surveyor: 'sue', chased: true });
    const completed = (await t.engine.history(inst.id)).filter((h) => h.type === 'activity.completed').map((h) => h.activityId);
    for (const id of ['Task_Inspect', 'Catch_Ack', 'Timer_Cooling', 'Join', 'Sub_Inspect', 'Sub_Assess', 'Sub_Claim', 'End']) assert.ok(completed.includes(id), `${id} completed`);
    assert.is(completed.filter((id) => id === 'Join').length, 1, 'the join passed once');
    assert.equal((await t.engine.listJobs({ processInstanceId: inst.id })).items, []);
  });
});

depth('multi-instance iterations three sub-processes deep: each task completed by its own id, in any order', async ({ t }) => {
  const inst = await Given('three parallel iterations of a task three sub-processes deep', async () => {
    const i = await t.engine.startInstance('deep-multi-instance', {});
    assert.equal(i.openTasks.map((x) => x.activityId), ['Task_Quote', 'Task_Quote', 'Task_Quote']);
    const executions = await t.tdb.db('user_tasks').where({ process_instance_id: i.id }).pluck('execution_id');
    assert.is(new Set(executions).size, 3, 'one execution per iteration');
    return i;
  });
  await When('they are completed last first, each by its own id (the middle one by a restarted engine)', async () => {
    const [a, b, c] = inst.openTasks;
    const repairer = ops('rob', 'repairers');
    await t.engine.completeTask(c.id, { quote: 3 }, repairer);
    let now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.id).sort(), [a.id, b.id].sort(), 'only the completed iteration left');
    await new InsureflowEngine({ db: t.tdb.db, clock: t.clock }).completeTask(a.id, { quote: 1 }, repairer);
    now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.id), [b.id]);
    await t.engine.completeTask(b.id, { quote: 2 }, repairer);
  });
  await Then('the sequential sign-off offers one iteration at a time', async () => {
    for (let n = 0; n < 2; n++) {
      const now = await t.engine.getInstance(inst.id);
      assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Sign'], `iteration ${n + 1}`);
      await t.engine.completeTask(now.openTasks[0].id, {}, adjuster);
    }
  });
  await And('the instance completes', async () => {
    const done = await t.engine.getInstance(inst.id);
    assert.is(done.status, 'completed');
    const hist = await t.engine.history(inst.id);
    assert.is(hist.filter((h) => h.type === 'task.completed' && h.activityId === 'Task_Quote').length, 3);
  });
});

// ------------------------------------------------------------------------------------------------ all or nothing

interface AtomicCtx { t: TestEngine }
const atomic = suite<AtomicCtx>('an action the engine refuses writes nothing');
atomic.before(async (ctx) => {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy(resources('feature/deep-waits.bpmn'));
});
atomic.after(async (ctx) => ctx.t.close());

/** Everything an instance owns, to compare before and after a refused action. */
async function snapshot(t: TestEngine, id: string) {
  const db = t.tdb.db;
  const order = (q: any) => q.orderBy('id');
  return {
    instance: await db('process_instances').where({ id }).first(),
    tasks: await order(db('user_tasks').where({ process_instance_id: id })),
    subscriptions: await db('subscriptions').where({ process_instance_id: id }).orderBy('execution_id'),
    jobs: await order(db('jobs').where({ process_instance_id: id })),
    incidents: await order(db('incidents').where({ process_instance_id: id })),
    history: (await t.engine.history(id)).length,
  };
}

atomic('a completion whose execution no longer waits: 409, the task stays open, the instance is unchanged', async ({ t }) => {
  const { inst, task } = await Given('a task whose execution the engine does not have (a row that lost its wait)', async () => {
    const i = await t.engine.startInstance('deep-waits', { businessKey: 'CLM-ATOMIC-1' });
    const task = i.openTasks[0];
    await t.tdb.db('user_tasks').where({ id: task.id }).update({ execution_id: 'Task_Inspect_gone' });
    return { inst: i, task };
  });
  const before = await snapshot(t, inst.id);
  const err = await When('it is completed', () => refusal(t.engine.completeTask(task.id, { damage: 'major' }, surveyor)));
  await Then('the caller gets 409 TASK_NOT_OPEN', () => {
    assert.is(err.code, 'TASK_NOT_OPEN');
    assert.is(err.statusCode, 409);
  });
  await And('nothing was written: the task is open, state, variables, jobs, subscriptions and history are as before', async () => {
    const after = await snapshot(t, inst.id);
    assert.equal(after, before);
    assert.is(after.tasks.find((x: any) => x.id === task.id).status, 'open');
  });
});

atomic('a message whose subscription no longer waits: 404, the subscription is kept, the instance is unchanged', async ({ t }) => {
  const inst = await Given('a subscription whose execution the engine does not have', async () => {
    const i = await t.engine.startInstance('deep-waits', { businessKey: 'CLM-ATOMIC-2' });
    await t.tdb.db('subscriptions').where({ process_instance_id: i.id }).update({ execution_id: 'Catch_Ack_gone' });
    return i;
  });
  const before = await snapshot(t, inst.id);
  const err = await When('the message is sent', () => refusal(t.engine.correlateMessage({ name: 'surveyor-ack', businessKey: 'CLM-ATOMIC-2' })));
  await Then('the caller gets 404 MESSAGE_NOT_CORRELATED and nothing was written', async () => {
    assert.is(err.code, 'MESSAGE_NOT_CORRELATED');
    assert.is(err.statusCode, 404);
    assert.equal(await snapshot(t, inst.id), before);
  });
});

// ------------------------------------------------------------------------------------------------ first transition

interface FirstCtx { t: TestEngine; lookups: number }
const first = suite<FirstCtx>('an incident in the first transition');
first.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.lookups = 0;
  ctx.t.engine.registerHandler('policyLookup', ({ variables }) => {
    ctx.lookups++;
    if (variables.mode === 'lapsed') throw new BpmnError('POLICY_LAPSED', 'the policy lapsed');
    if (variables.mode === 'down') throw new Error('policy system unavailable');
    return { policyFound: true };
  }, { retries: 1 });
  await ctx.t.engine.deploy(resources('feature/first-step-incidents.bpmn', 'feature/first-step-handlers.bpmn', 'feature/decisions/excess-band.dmn'));
});
first.after(async (ctx) => ctx.t.close());

first('a UNIQUE decision with two matching rules: the instance exists in status incident, naming the conflict', async ({ t }) => {
  const inst = await When('an instance starts whose first step is the conflicting decision', () =>
    t.engine.startInstance('first-step-decision', { businessKey: 'CLM-U-1', variables: { zone: 'flood', amount: 1500 } }));
  await Then('it is in status incident with the incident, and no excess was chosen', () => {
    assert.is(inst.status, 'incident');
    assert.is(inst.incidents.length, 1);
    assert.is(inst.incidents[0].activityId, 'Rule_Excess');
    assert.match(inst.incidents[0].errorMessage, /UNIQUE/);
    assert.is(inst.variables.excess, undefined);
    assert.equal(inst.openTasks, []);
  });
  await And('the history starts with the instance and records the incident', async () => {
    const types = (await t.engine.history(inst.id)).map((h) => h.type);
    assert.is(types[0], 'instance.started');
    assert.ok(types.includes('incident.opened'));
    assert.is((await t.engine.verifyInstanceHistory(inst.id)).consistent, true);
  });
  await When('an operator retries with a corrected zone', () => t.engine.retryIncident(inst.incidents[0].id, { zone: 'inland' }, admin));
  await Then('one rule matches and the instance continues', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'active');
    assert.is(now.variables.excess, 250);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Settle']);
  });
  await And('a single match never was an incident', async () => {
    const ok = await t.engine.startInstance('first-step-decision', { variables: { zone: 'inland', amount: 1500 } });
    assert.is(ok.status, 'active');
    assert.is(ok.variables.excess, 250);
  });
});

first('an uncaught BPMN error and a failing handler without retries left, in the first step: status incident', async ({ t }) => {
  for (const [mode, text] of [['lapsed', /POLICY_LAPSED/], ['down', /policy system unavailable/]] as const) {
    const inst = await When(`the first handler fails (${mode})`, () => t.engine.startInstance('first-step-handler', { variables: { mode } }));
    await Then(`the instance is in status incident naming the failure (${mode})`, () => {
      assert.is(inst.status, 'incident');
      assert.is(inst.incidents.length, 1);
      assert.is(inst.incidents[0].activityId, 'Task_Lookup');
      assert.match(inst.incidents[0].errorMessage, text);
    });
  }
});

first('over HTTP: POST start answers 201 with the instance in status incident and its incident', async ({ t }) => {
  const app = await buildApp({ engine: t.engine });
  try {
    const token = (await t.engine.users.add({ name: 'opal', roles: ['ops'], groups: ['adjusters'] })).token;
    // an ops user starts what its group is granted (src/engine/authorization.ts)
    await t.engine.grant({ group: 'adjusters', resourceType: 'process-definition', resourceId: 'first-step-decision', permissions: ['start'] }, admin);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const res = await When('the conflicting decision instance is started over a socket', () =>
      fetch(`http://127.0.0.1:${port}/api/process-definitions/first-step-decision/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ businessKey: 'CLM-U-HTTP', variables: { zone: 'flood', amount: 2000 } }),
      }));
    await Then('201, status incident, the incident names the conflict', async () => {
      assert.is(res.status, 201);
      const body = await res.json();
      assert.is(body.status, 'incident');
      assert.is(body.incidents.length, 1);
      assert.match(body.incidents[0].errorMessage, /UNIQUE/);
    });
  } finally {
    await app.close();
  }
});

depth.run();
atomic.run();
first.run();
