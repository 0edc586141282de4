/**
 * Feature: external tasks (issue 11, section 3), at the engine's API (no HTTP): a service task bound to a topic no
 * in-process handler serves waits durably for a worker; fetchAndLock, complete, failure (retries, incident),
 * bpmnError (boundary), extendLock, unlock, the topic grant, Camunda 8 job types, long polling. The suite's
 * database (SQLite, or PostgreSQL with DATABASE_URL), ManualClock for lock expiry (no real waiting).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testEngine, admin, type TestEngine } from './helpers.ts';
import type { Actor } from '../src/engine/actor.ts';
import { InsureflowError } from '../src/errors.ts';
import { Given, When, Then, And } from './feature/gwt.ts';
import { replayInstance } from '../src/audit/replay.ts';

const C7 = (id: string, body: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_${id.replace(/-/g, '_')}" targetNamespace="http://insureflow.test">
  <bpmn:error id="Err_Declined" name="Declined" errorCode="DECLINED" />
  <bpmn:process id="${id}" isExecutable="true">${body}</bpmn:process>
</bpmn:definitions>`;

/** charge (topic ext.charge) with an error boundary DECLINED -> Declined task; then End */
const CHARGE = C7(
  'ext-charge',
  `<bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Charge" />
  <bpmn:serviceTask id="Charge" name="Charge card" camunda:type="external" camunda:topic="ext.charge" camunda:taskPriority="7" />
  <bpmn:boundaryEvent id="OnDeclined" attachedToRef="Charge"><bpmn:errorEventDefinition errorRef="Err_Declined" /></bpmn:boundaryEvent>
  <bpmn:sequenceFlow id="F2" sourceRef="Charge" targetRef="Done" />
  <bpmn:sequenceFlow id="F3" sourceRef="OnDeclined" targetRef="Declined" />
  <bpmn:userTask id="Declined" name="Call the customer" camunda:candidateGroups="adjusters" />
  <bpmn:sequenceFlow id="F4" sourceRef="Declined" targetRef="EndDeclined" /><bpmn:endEvent id="EndDeclined" />
  <bpmn:userTask id="Done" name="Check receipt" camunda:candidateGroups="adjusters" />
  <bpmn:sequenceFlow id="F5" sourceRef="Done" targetRef="End" /><bpmn:endEvent id="End" />`,
);

/** ext.plain: one external task without boundary, then a user task */
const PLAIN = C7(
  'ext-plain',
  `<bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Work" />
  <bpmn:serviceTask id="Work" camunda:type="external" camunda:topic="ext.plain" />
  <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="After" />
  <bpmn:userTask id="After" camunda:candidateGroups="adjusters" /><bpmn:sequenceFlow id="F3" sourceRef="After" targetRef="End" /><bpmn:endEvent id="End" />`,
);

/** ext.timed: an interrupting one-hour timer on the external task */
const TIMED = C7(
  'ext-timed',
  `<bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Work" />
  <bpmn:serviceTask id="Work" camunda:type="external" camunda:topic="ext.timed" />
  <bpmn:boundaryEvent id="Late" attachedToRef="Work"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
  <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="End" /><bpmn:sequenceFlow id="F3" sourceRef="Late" targetRef="EndLate" />
  <bpmn:endEvent id="End" /><bpmn:endEvent id="EndLate" />`,
);

/** ext.mi: a parallel multi-instance external task over `items`, with an input mapping */
const MI = C7(
  'ext-mi',
  `<bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Each" />
  <bpmn:serviceTask id="Each" camunda:type="external" camunda:topic="ext.mi">
    <bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="channel">post</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>
    <bpmn:multiInstanceLoopCharacteristics camunda:collection="\${items}" camunda:elementVariable="item" />
  </bpmn:serviceTask>
  <bpmn:sequenceFlow id="F2" sourceRef="Each" targetRef="End" /><bpmn:endEvent id="End" />`,
);

/** Camunda 8: a job type no handler serves */
const ZEEBE = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D_ext_zeebe" targetNamespace="http://insureflow.test">
  <bpmn:process id="ext-zeebe" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Job" />
    <bpmn:serviceTask id="Job"><bpmn:extensionElements><zeebe:taskDefinition type="ext.job" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Job" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

/** ext.local: a handler is registered under the topic, so it runs in-process */
const LOCAL = C7(
  'ext-local',
  `<bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Work" />
  <bpmn:serviceTask id="Work" camunda:type="external" camunda:topic="ext.local" />
  <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="End" /><bpmn:endEvent id="End" />`,
);

const worker: Actor = { name: 'wanda', roles: ['worker'], groups: ['payments-workers'] };
const stranger: Actor = { name: 'sam', roles: ['worker'], groups: ['other-workers'] };

interface Ctx {
  t: TestEngine;
  warnings: { element?: string; message: string; source: string }[];
}

const ext = suite<Ctx>('external tasks: a topic no handler serves waits for a worker');
ext.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.t.engine.registerHandler('ext.local', (c) => ({ localRan: c.activityId }));
  const r = await ctx.t.engine.deploy([
    { name: 'charge.bpmn', content: CHARGE },
    { name: 'plain.bpmn', content: PLAIN },
    { name: 'timed.bpmn', content: TIMED },
    { name: 'zeebe.bpmn', content: ZEEBE },
    { name: 'local.bpmn', content: LOCAL },
    { name: 'mi.bpmn', content: MI },
  ]);
  ctx.warnings = r.warnings;
  for (const topic of ['ext.charge', 'ext.plain']) await ctx.t.engine.grant({ group: 'payments-workers', resourceType: 'topic', resourceId: topic, permissions: ['fetch'] }, admin);
});
ext.after(async (ctx) => ctx.t.close());

const fetchOne = (ctx: Ctx, actor: Actor, workerId: string, topicName: string, businessKey?: string, lockDuration = 60_000) =>
  ctx.t.engine.externalTasks.fetchAndLock(actor, { workerId, maxTasks: 5, topics: [{ topicName, lockDuration, ...(businessKey !== undefined && { businessKey }) }] });

async function rejects(p: Promise<unknown>, code: string): Promise<InsureflowError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, InsureflowError);
    assert.is((err as InsureflowError).code, code, (err as Error).message);
    return err as InsureflowError;
  }
  throw new assert.Assertion({ message: `expected ${code}, it succeeded`, operator: 'rejects', expects: code, actual: 'ok', generated: false });
}

const types = async (ctx: Ctx, id: string) => (await ctx.t.engine.history(id)).map((h) => h.type);

ext('deploy accepts topics and job types without a handler, and says they are external tasks', async (ctx) => {
  const external = ctx.warnings.filter((w) => w.source === 'engine').map((w) => w.element).sort();
  assert.equal(external, ['Charge', 'Each', 'Job', 'Work', 'Work'].sort());
  assert.ok(ctx.warnings.some((w) => w.element === 'Charge' && /external task of topic "ext\.charge"/.test(w.message)));
  assert.not.ok(ctx.warnings.some((w) => /ext\.local/.test(w.message)), 'a topic with a registered handler is not external');
});

ext('a worker fetches, completes with variables; the instance goes on; history has the worker', async (ctx) => {
  const inst = await Given('an instance waiting at the charge task', () => ctx.t.engine.startInstance('ext-charge', { businessKey: 'c-1', variables: { amount: 120, card: '4111' } }));
  const [task] = await When('wanda fetches the topic', () => fetchOne(ctx, worker, 'w-1', 'ext.charge', 'c-1'));
  await Then('she gets the task with its variables, priority and lock', () => {
    assert.is(task.topic, 'ext.charge');
    assert.is(task.activityId, 'Charge');
    assert.is(task.processInstanceId, inst.id);
    assert.is(task.businessKey, 'c-1');
    assert.is(task.priority, 7);
    assert.is(task.workerId, 'w-1');
    assert.is(task.lockExpiresAt, ctx.t.clock.now() + 60_000);
    assert.equal(task.variables, { amount: 120, card: '4111' });
  });
  await And('nobody else can fetch it while locked', async () => assert.equal(await fetchOne(ctx, worker, 'w-2', 'ext.charge', 'c-1'), []));
  await When('she completes it with variables', () => ctx.t.engine.externalTasks.complete(worker, task.id, { workerId: 'w-1', variables: { receipt: 'R-9' } }));
  await Then('the instance moved on with the variables', async () => {
    const d = await ctx.t.engine.getInstance(inst.id);
    assert.equal(d.activeActivities, ['Done']);
    assert.is((d as any).variables.receipt, 'R-9');
  });
  await And('the history records creation and completion, by wanda with her worker id', async () => {
    const h = await ctx.t.engine.history(inst.id);
    const created = h.find((e) => e.type === 'externalTask.created')!;
    assert.equal([created.activityId, (created.data as any).topic, (created.data as any).taskId], ['Charge', 'ext.charge', task.id]);
    const done = h.find((e) => e.type === 'externalTask.completed')!;
    assert.is(done.actor, 'wanda');
    assert.equal([(done.data as any).workerId, (done.data as any).variables], ['w-1', { receipt: 'R-9' }]);
  });
  await And('completing again by the same worker changes nothing; by another is 409', async () => {
    await ctx.t.engine.externalTasks.complete(worker, task.id, { workerId: 'w-1', variables: { receipt: 'R-10' } });
    assert.is(((await ctx.t.engine.getInstance(inst.id)) as any).variables.receipt, 'R-9');
    assert.is((await types(ctx, inst.id)).filter((x) => x === 'externalTask.completed').length, 1);
    await rejects(ctx.t.engine.externalTasks.complete(worker, task.id, { workerId: 'w-2' }), 'EXTERNAL_TASK_NOT_FOUND');
  });
});

ext('an expired lock makes the task fetchable again; the stale worker is refused; unlock and extendLock', async (ctx) => {
  const inst = await Given('an instance waiting at the plain task', () => ctx.t.engine.startInstance('ext-plain', { businessKey: 'p-1' }));
  const [a] = await fetchOne(ctx, worker, 'w-a', 'ext.plain', 'p-1', 10_000);
  await When('the lock of w-a expires', () => ctx.t.clock.advance(10_001));
  await Then('w-a may not extend it any more', () => rejects(ctx.t.engine.externalTasks.extendLock(worker, a.id, { workerId: 'w-a', newDuration: 5_000 }), 'EXTERNAL_TASK_LOCK_EXPIRED'));
  const [b] = await When('w-b fetches it', () => fetchOne(ctx, worker, 'w-b', 'ext.plain', 'p-1', 10_000));
  await Then('it is the same task, now locked by w-b', () => assert.equal([b.id, b.workerId], [a.id, 'w-b']));
  await And('w-a completing it is refused, nothing moves', async () => {
    await rejects(ctx.t.engine.externalTasks.complete(worker, a.id, { workerId: 'w-a', variables: { x: 1 } }), 'EXTERNAL_TASK_LOCKED_BY_OTHER');
    assert.equal((await ctx.t.engine.getInstance(inst.id)).activeActivities, ['Work']);
  });
  await And('w-b extends its lock: it outlives the first duration', async () => {
    await ctx.t.engine.externalTasks.extendLock(worker, b.id, { workerId: 'w-b', newDuration: 60_000 });
    ctx.t.clock.advance(30_000);
    assert.equal(await fetchOne(ctx, worker, 'w-c', 'ext.plain', 'p-1'), []);
  });
  await When('the task is unlocked', () => ctx.t.engine.externalTasks.unlock(worker, b.id));
  const [c] = await Then('w-c fetches it at once', () => fetchOne(ctx, worker, 'w-c', 'ext.plain', 'p-1'));
  assert.is(c.id, a.id);
  await And('w-c completes it', async () => {
    await ctx.t.engine.externalTasks.complete(worker, c.id, { workerId: 'w-c' });
    assert.equal((await ctx.t.engine.getInstance(inst.id)).activeActivities, ['After']);
  });
});

ext('failure with retries: fetchable again after retryTimeout; retries 0: an incident like a handler; the operator retry makes it fetchable', async (ctx) => {
  const inst = await Given('an instance waiting at the plain task', () => ctx.t.engine.startInstance('ext-plain', { businessKey: 'p-2' }));
  const [t1] = await fetchOne(ctx, worker, 'w-f', 'ext.plain', 'p-2');
  await When('the worker fails it with 1 retry and a 5 s retry timeout', () => ctx.t.engine.externalTasks.failure(worker, t1.id, { workerId: 'w-f', errorMessage: 'gateway down', errorDetails: 'stack...', retries: 1, retryTimeout: 5_000 }));
  await Then('it is not fetchable before the timeout, then it is, with its retries and error', async () => {
    assert.equal(await fetchOne(ctx, worker, 'w-f', 'ext.plain', 'p-2'), []);
    ctx.t.clock.advance(5_001);
    const [again] = await fetchOne(ctx, worker, 'w-f', 'ext.plain', 'p-2');
    assert.equal([again.id, again.retries, again.errorMessage, again.errorDetails], [t1.id, 1, 'gateway down', 'stack...']);
    assert.is((await ctx.t.engine.getInstance(inst.id)).status, 'active');
  });
  await When('it fails again with 0 retries', () => ctx.t.engine.externalTasks.failure(worker, t1.id, { workerId: 'w-f', errorMessage: 'still down', retries: 0 }));
  const incident = await Then('an incident is open, the instance is in incident and the task is not fetchable', async () => {
    const list = (await ctx.t.engine.listIncidents({ processInstanceId: inst.id })).items;
    assert.is(list.length, 1);
    assert.equal([list[0].activityId, list[0].handler, list[0].status], ['Work', 'ext.plain', 'open']);
    assert.match(list[0].errorMessage, /still down/);
    assert.is((await ctx.t.engine.getInstance(inst.id)).status, 'incident');
    ctx.t.clock.advance(3_600_000);
    assert.equal(await fetchOne(ctx, worker, 'w-f', 'ext.plain', 'p-2'), []);
    const h = await types(ctx, inst.id);
    assert.ok(h.includes('externalTask.failed') && h.includes('incident.opened'), h.join());
    return list[0];
  });
  await When('an operator retries the incident', () => ctx.t.engine.retryIncident(incident.id, undefined, admin));
  await Then('the incident is resolved and the task is fetchable with one retry', async () => {
    assert.is((await ctx.t.engine.listIncidents({ processInstanceId: inst.id })).items.filter((i) => i.status === 'open').length, 0);
    const [back] = await fetchOne(ctx, worker, 'w-f', 'ext.plain', 'p-2');
    assert.equal([back.id, back.retries], [t1.id, 1]);
    await ctx.t.engine.externalTasks.complete(worker, back.id, { workerId: 'w-f' });
    const d = await ctx.t.engine.getInstance(inst.id);
    assert.equal([d.status, d.activeActivities], ['active', ['After']]);
  });
});

ext('a BPMN error from the worker goes to the error boundary, with its variables', async (ctx) => {
  const inst = await Given('an instance waiting at the charge task', () => ctx.t.engine.startInstance('ext-charge', { businessKey: 'c-2', variables: { amount: 5 } }));
  const [t] = await fetchOne(ctx, worker, 'w-e', 'ext.charge', 'c-2');
  await When('the worker throws DECLINED', () => ctx.t.engine.externalTasks.bpmnError(worker, t.id, { workerId: 'w-e', errorCode: 'DECLINED', errorMessage: 'card declined', variables: { reason: 'insufficient funds' } }));
  await Then('the boundary path runs and the variables are set', async () => {
    const d = await ctx.t.engine.getInstance(inst.id);
    assert.equal(d.activeActivities, ['Declined']);
    assert.is((d as any).variables.reason, 'insufficient funds');
    await rejects(ctx.t.engine.externalTasks.get(worker, t.id), 'EXTERNAL_TASK_NOT_FOUND');
  });
});

ext('an uncaught BPMN error is an incident naming the code', async (ctx) => {
  const inst = await ctx.t.engine.startInstance('ext-plain', { businessKey: 'p-3' });
  const [t] = await fetchOne(ctx, worker, 'w-u', 'ext.plain', 'p-3');
  await ctx.t.engine.externalTasks.bpmnError(worker, t.id, { workerId: 'w-u', errorCode: 'NOBODY_CATCHES' });
  const list = (await ctx.t.engine.listIncidents({ processInstanceId: inst.id })).items;
  assert.is(list.length, 1);
  assert.match(list[0].errorMessage, /NOBODY_CATCHES/);
  assert.equal(await fetchOne(ctx, worker, 'w-u', 'ext.plain', 'p-3'), []);
});

ext('the topic grant: a worker fetches and acts only on topics granted to it (403 naming the topic)', async (ctx) => {
  await ctx.t.engine.startInstance('ext-plain', { businessKey: 'p-4' });
  const err = await rejects(fetchOne(ctx, stranger, 'w-s', 'ext.plain', 'p-4'), 'FORBIDDEN');
  assert.match(err.message, /ext\.plain/);
  const [t] = await fetchOne(ctx, worker, 'w-g', 'ext.plain', 'p-4');
  await rejects(ctx.t.engine.externalTasks.complete(stranger, t.id, { workerId: 'w-g' }), 'FORBIDDEN');
  await rejects(ctx.t.engine.externalTasks.unlock(stranger, t.id), 'FORBIDDEN');
  await rejects(fetchOne(ctx, worker, 'w-g', 'ext.timed'), 'FORBIDDEN');
  // admins need no grant
  assert.is((await ctx.t.engine.externalTasks.get(admin, t.id)).id, t.id);
});

ext('a boundary timer that interrupts the task cancels it: no worker gets it any more', async (ctx) => {
  const inst = await ctx.t.engine.startInstance('ext-timed', { businessKey: 't-1' });
  const [t] = await fetchOne(ctx, admin, 'w-t', 'ext.timed', 't-1');
  ctx.t.clock.advance(3_600_001);
  await ctx.t.engine.runDueJobs();
  assert.is((await ctx.t.engine.getInstance(inst.id)).status, 'completed');
  assert.ok((await types(ctx, inst.id)).includes('externalTask.cancelled'));
  await rejects(ctx.t.engine.externalTasks.complete(admin, t.id, { workerId: 'w-t' }), 'EXTERNAL_TASK_NOT_FOUND');
  ctx.t.clock.advance(100_000);
  assert.equal(await fetchOne(ctx, admin, 'w-t', 'ext.timed', 't-1'), []);
});

ext('cancelling the instance cancels its external task: the worker\'s answer is refused, nothing is fetched', async (ctx) => {
  const inst = await ctx.t.engine.startInstance('ext-plain', { businessKey: 'x-1' });
  const [t] = await fetchOne(ctx, worker, 'w-x', 'ext.plain', 'x-1');
  await ctx.t.engine.cancelInstance(inst.id, admin, 'withdrawn');
  await rejects(ctx.t.engine.externalTasks.complete(worker, t.id, { workerId: 'w-x' }), 'EXTERNAL_TASK_NOT_FOUND');
  await rejects(ctx.t.engine.externalTasks.get(admin, t.id), 'EXTERNAL_TASK_NOT_FOUND');
  ctx.t.clock.advance(120_000);
  assert.equal(await fetchOne(ctx, worker, 'w-x', 'ext.plain', 'x-1'), []);
  assert.ok((await types(ctx, inst.id)).includes('externalTask.cancelled'));
});

ext('a multi-instance external task: one task per element, each with its element and input mapping; the body completes after the last', async (ctx) => {
  const inst = await ctx.t.engine.startInstance('ext-mi', { businessKey: 'm-1', variables: { items: ['a', 'b', 'c'] } });
  const tasks = await fetchOne(ctx, admin, 'w-m', 'ext.mi', 'm-1');
  assert.equal(tasks.map((t) => [t.variables.item, t.variables.channel]).sort(), [['a', 'post'], ['b', 'post'], ['c', 'post']]);
  for (const t of tasks) {
    assert.is((await ctx.t.engine.getInstance(inst.id)).status, 'active');
    await ctx.t.engine.externalTasks.complete(admin, t.id, { workerId: 'w-m' });
  }
  assert.is((await ctx.t.engine.getInstance(inst.id)).status, 'completed');
});

ext('Camunda 8 job types are external tasks too; a registered handler wins over the worker', async (ctx) => {
  const z = await ctx.t.engine.startInstance('ext-zeebe', { businessKey: 'z-1' });
  const [job] = await fetchOne(ctx, admin, 'w-z', 'ext.job', 'z-1');
  assert.is(job.activityId, 'Job');
  await ctx.t.engine.externalTasks.complete(admin, job.id, { workerId: 'w-z', variables: { done: true } });
  assert.is((await ctx.t.engine.getInstance(z.id)).status, 'completed');
  const local = await ctx.t.engine.startInstance('ext-local', {});
  assert.is((await ctx.t.engine.getInstance(local.id)).status, 'completed');
  assert.equal(await fetchOne(ctx, admin, 'w-z', 'ext.local'), []);
});

ext('long polling: a fetch waiting with asyncResponseTimeout gets a task created meanwhile', async (ctx) => {
  const waiting = ctx.t.engine.externalTasks.fetchAndLock(worker, { workerId: 'w-long', maxTasks: 1, asyncResponseTimeout: 20_000, topics: [{ topicName: 'ext.plain', lockDuration: 60_000, businessKey: 'p-long' }] });
  await new Promise((r) => setTimeout(r, 20));
  const inst = await ctx.t.engine.startInstance('ext-plain', { businessKey: 'p-long' });
  const got = await waiting;
  assert.equal(got.map((t) => t.processInstanceId), [inst.id]);
  // nothing there: it answers [] once the (short) timeout passes
  assert.equal(await ctx.t.engine.externalTasks.fetchAndLock(worker, { workerId: 'w-long', maxTasks: 1, asyncResponseTimeout: 30, topics: [{ topicName: 'ext.plain', lockDuration: 1, businessKey: 'none' }] }), []);
});

ext('replay: every instance of this suite replays consistently from its history (audit verify)', async (ctx) => {
  const ids: string[] = (await ctx.t.tdb.db('process_instances').select('id')).map((r: { id: string }) => r.id);
  assert.ok(ids.length >= 8);
  for (const id of ids) {
    const r = await replayInstance(ctx.t.tdb.db, id);
    assert.ok(r.consistent, `${id}: ${JSON.stringify(r.divergence)}`);
  }
});

ext.run();
