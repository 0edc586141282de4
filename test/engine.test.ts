/** Engine semantics over small fixture diagrams, through the library API, on a real database. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, admin, ops, type TestEngine } from './helpers.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';
import { BpmnError, InsureflowError } from '../src/errors.ts';

async function rejects(p: Promise<unknown>, code: string): Promise<InsureflowError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, InsureflowError, `expected InsureflowError ${code}, got ${err}`);
    assert.is((err as InsureflowError).code, code);
    return err as InsureflowError;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}

function withHandlers(engine: InsureflowEngine) {
  engine.registerHandler('score', ({ variables }) => ({ severity: (variables.amount as number) > 5000 ? 4 : (variables.amount as number) < 500 ? 1 : 2 }));
  engine.registerHandler('approve', () => ({ approved: true }));
  engine.registerHandler('summarise', ({ variables }) => ({ summary: `${variables.risk}/${variables.legal}` }));
  engine.registerHandler('verifyPolicy', ({ variables }) => {
    if (!variables.covered) throw new BpmnError('NOT_COVERED', 'peril not covered', { rejectionReason: 'peril not covered' });
    return { verified: true };
  });
  engine.registerHandler('notifyRejection', () => ({ notified: true }));
  engine.registerHandler('remind', () => ({ reminded: true }));
  return engine;
}

const bundle = (...names: string[]) => names.map((n) => ({ name: n, content: fixture(n) }));

// ------------------------------------------------------------------ gateways and expressions
const flows = suite<{ t: TestEngine }>('flows');
flows.before(async (ctx) => {
  ctx.t = await testEngine();
  withHandlers(ctx.t.engine);
  await ctx.t.engine.deploy(bundle('gateway.bpmn', 'parallel.bpmn', 'form.bpmn', 'forms/claim-review.schema.json', 'error.bpmn', 'message.bpmn', 'messages/documents-received.schema.json'));
});
flows.after(async (ctx) => ctx.t.close());

flows('exclusive gateway: FEEL in =expr and ${expr} forms, and the default flow', async ({ t }) => {
  const e = t.engine;
  const high = await e.startInstance('gateway-test', { variables: { amount: 9000 } });
  assert.equal(high.activeActivities, ['Task_Expert']);
  assert.equal(high.openTasks[0].candidateGroups, ['experts']);
  const low = await e.startInstance('gateway-test', { variables: { amount: 100 } });
  assert.is(low.status, 'completed');
  assert.is(low.variables.approved, true);
  const mid = await e.startInstance('gateway-test', { variables: { amount: 3000 } });
  assert.equal(mid.activeActivities, ['Task_Normal']);
  assert.equal(mid.openTasks[0].candidateGroups, ['adjusters', 'experts']);
  assert.is(mid.openTasks[0].priority, 40, 'priority from a FEEL expression');
});

flows('parallel fork and join wait for both branches', async ({ t }) => {
  const e = t.engine;
  const inst = await e.startInstance('parallel-test', { businessKey: 'P-1' });
  assert.equal(inst.openTasks.map((x) => x.activityId).sort(), ['Task_Legal', 'Task_Risk']);
  const risk = inst.openTasks.find((x) => x.activityId === 'Task_Risk')!;
  await e.completeTask(risk.id, { risk: 'ok' }, ops('rita', 'risk'));
  const mid = await e.getInstance(inst.id);
  assert.is(mid.status, 'active');
  assert.equal(mid.openTasks.map((x) => x.activityId), ['Task_Legal']);
  const legal = mid.openTasks[0];
  await e.completeTask(legal.id, { legal: 'fine' }, ops('leo', 'legal'));
  const done = await e.getInstance(inst.id);
  assert.is(done.status, 'completed');
  assert.is(done.variables.summary, 'ok/fine');
});

flows('user task form: Camunda 8 assignment, due date and priority; invalid data names the fields', async ({ t }) => {
  const e = t.engine;
  const inst = await e.startInstance('form-test', { variables: { reviewGroup: 'adjusters' } });
  const task = inst.openTasks[0];
  assert.equal(task.candidateGroups, ['adjusters']);
  assert.is(task.formKey, 'claim-review');
  assert.is(task.priority, 70);
  assert.ok(task.dueAt, 'due date from FEEL');
  const err = await rejects(e.completeTask(task.id, { decision: 'maybe', approvedAmount: -5, extra: 1 }, ops('ann', 'adjusters')), 'VALIDATION_FAILED');
  const fields = (err.details as { field: string }[]).map((d) => d.field).sort();
  assert.equal(fields, ['approvedAmount', 'decision', 'extra']);
  const still = await e.getInstance(inst.id);
  assert.is(still.openTasks.length, 1, 'a rejected completion loses nothing');
  const full = await e.getTask(task.id, ops('ann', 'adjusters'));
  assert.is((full.formSchema as any).title, 'Claim review');
  await e.completeTask(task.id, { decision: 'approve', approvedAmount: 1200 }, ops('ann', 'adjusters'));
  const done = await e.getInstance(inst.id);
  assert.is(done.status, 'completed');
  assert.ok((await e.history(inst.id)).some((h) => h.activityId === 'End_Approved'));
});

flows('ops outside the candidate groups get FORBIDDEN; two completions: exactly one wins', async ({ t }) => {
  const e = t.engine;
  const inst = await e.startInstance('form-test', { variables: { reviewGroup: 'adjusters' } });
  const task = inst.openTasks[0];
  await rejects(e.completeTask(task.id, { decision: 'approve', approvedAmount: 1 }, ops('bob', 'sales')), 'FORBIDDEN');
  const list = await e.listTasks({}, ops('bob', 'sales'));
  assert.not.ok(list.items.some((x) => x.id === task.id), 'not listed for others');
  const results = await Promise.allSettled([
    e.completeTask(task.id, { decision: 'approve', approvedAmount: 1 }, ops('ann', 'adjusters')),
    e.completeTask(task.id, { decision: 'reject', approvedAmount: 0 }, ops('carl', 'adjusters')),
  ]);
  assert.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.is(lost.reason.code, 'TASK_NOT_OPEN');
  const hist = await e.history(inst.id);
  assert.is(hist.filter((h) => h.type === 'task.completed').length, 1);
});

flows('claim and unclaim', async ({ t }) => {
  const e = t.engine;
  const inst = await e.startInstance('gateway-test', { variables: { amount: 3000 } });
  const task = inst.openTasks[0];
  await e.claimTask(task.id, ops('ann', 'adjusters'));
  await rejects(e.claimTask(task.id, ops('carl', 'adjusters')), 'TASK_ALREADY_CLAIMED');
  await rejects(e.completeTask(task.id, {}, ops('carl', 'adjusters')), 'TASK_ALREADY_CLAIMED');
  await rejects(e.unclaimTask(task.id, ops('carl', 'adjusters')), 'FORBIDDEN');
  await e.unclaimTask(task.id, ops('ann', 'adjusters'));
  await e.claimTask(task.id, ops('carl', 'adjusters'));
  await e.completeTask(task.id, {}, ops('carl', 'adjusters'));
  const types = (await e.history(inst.id)).map((h) => `${h.type}:${h.actor}`);
  for (const x of ['task.claimed:ann', 'task.unclaimed:ann', 'task.claimed:carl', 'task.completed:carl']) assert.ok(types.includes(x), x);
});

flows('a BpmnError from a handler is caught by the matching error boundary', async ({ t }) => {
  const e = t.engine;
  const ok = await e.startInstance('error-test', { variables: { covered: true } });
  assert.is(ok.status, 'completed');
  assert.is(ok.variables.verified, true);
  const rejected = await e.startInstance('error-test', { variables: { covered: false } });
  assert.is(rejected.status, 'completed');
  assert.is(rejected.variables.notified, true);
  assert.is(rejected.variables.rejectionReason, 'peril not covered');
  const hist = await e.history(rejected.id);
  assert.ok(hist.some((h) => h.type === 'handler.failed' && h.data.bpmnError === 'NOT_COVERED'));
  assert.ok(hist.some((h) => h.activityId === 'End_Rejected' && h.type === 'activity.completed'));
});

flows('messages: correlation key from zeebe:subscription, receive task by business key, no match, ambiguity', async ({ t }) => {
  const e = t.engine;
  const a = await e.startInstance('message-test', { businessKey: 'CLM-1', variables: { claimNo: 'C-1' } });
  const b = await e.startInstance('message-test', { businessKey: 'CLM-2', variables: { claimNo: 'C-2' } });
  await rejects(e.correlateMessage({ name: 'documents-received', correlationKey: 'C-9' }), 'MESSAGE_NOT_CORRELATED');
  await rejects(e.correlateMessage({ name: 'documents-received' }), 'MESSAGE_AMBIGUOUS');
  const r = await e.correlateMessage({ name: 'documents-received', correlationKey: 'C-2', variables: { docs: ['photo.jpg'] } });
  assert.equal(r.correlated.map((c) => c.processInstanceId), [b.id]);
  const bNow = await e.getInstance(b.id);
  assert.equal(bNow.activeActivities, ['Receive_Signed']);
  assert.equal(bNow.variables.docs, ['photo.jpg']);
  assert.equal((await e.getInstance(a.id)).activeActivities, ['Catch_Docs']);
  await e.correlateMessage({ name: 'contract-signed', businessKey: 'CLM-2' });
  assert.is((await e.getInstance(b.id)).status, 'completed');
});

flows('history is hash-chained, carries actors, and verifies', async ({ t }) => {
  const e = t.engine;
  // ops users start what their group is granted (src/engine/authorization.ts)
  await e.grant({ user: 'olga', resourceType: 'process-definition', resourceId: 'form-test', permissions: ['start'] }, admin);
  const inst = await e.startInstance('form-test', { variables: { reviewGroup: 'adjusters' } }, ops('olga', 'adjusters'));
  await e.completeTask(inst.openTasks[0].id, { decision: 'reject', approvedAmount: 0 }, ops('ann', 'adjusters'));
  const hist = await e.history(inst.id);
  assert.is(hist[0].type, 'instance.started');
  assert.is(hist[0].actor, 'olga');
  assert.is(hist[0].prevHash, '0'.repeat(64));
  for (let i = 1; i < hist.length; i++) {
    assert.is(hist[i].seq, i + 1);
    assert.is(hist[i].prevHash, hist[i - 1].hash);
  }
  const completed = hist.find((h) => h.type === 'task.completed')!;
  assert.is(completed.actor, 'ann');
  assert.equal((completed.data as any).form, { decision: 'reject', approvedAmount: 0 });
  assert.ok(hist.some((h) => h.type === 'variables.changed'));
  assert.is(hist[hist.length - 1].type, 'instance.completed');
  assert.equal(await e.verifyInstanceHistory(inst.id), { consistent: true, checked: hist.length });
  await t.tdb.db('history_events').where({ chain_id: inst.id, seq: 3 }).update({ actor: 'mallory' });
  const broken = await e.verifyInstanceHistory(inst.id);
  assert.is(broken.consistent, false);
  assert.is(broken.firstBroken?.seq, 3);
});

flows('cancel removes tasks and subscriptions and records who did it', async ({ t }) => {
  const e = t.engine;
  const inst = await e.startInstance('message-test', { businessKey: 'CX', variables: { claimNo: 'CX' } });
  await e.cancelInstance(inst.id, admin, 'duplicate report');
  const after = await e.getInstance(inst.id);
  assert.is(after.status, 'cancelled');
  await rejects(e.correlateMessage({ name: 'documents-received', correlationKey: 'CX' }), 'MESSAGE_NOT_CORRELATED');
  await rejects(e.cancelInstance(inst.id, admin), 'INSTANCE_NOT_ACTIVE');
  const last = (await e.history(inst.id)).pop()!;
  assert.is(last.type, 'instance.cancelled');
  assert.is(last.actor, 'admin');
});

flows.run();

// ------------------------------------------------------------------ versions and restarts
const lifecycle = suite<{ t: TestEngine }>('versions and restart');
lifecycle.before(async (ctx) => {
  ctx.t = await testEngine();
  withHandlers(ctx.t.engine);
});
lifecycle.after(async (ctx) => ctx.t.close());

lifecycle('unchanged XML is not redeployed; a change makes version 2; running instances stay on version 1', async ({ t }) => {
  const e = t.engine;
  const first = await e.deploy(bundle('gateway.bpmn'));
  assert.is(first.created, true);
  assert.is(first.definitions[0].version, 1);
  const again = await e.deploy(bundle('gateway.bpmn'));
  assert.is(again.created, false);
  assert.is(again.definitions[0].version, 1);
  const v1 = await e.startInstance('gateway-test', { variables: { amount: 9000 } });
  const changed = fixture('gateway.bpmn').replace('name="Expert review"', 'name="Senior expert review"');
  const second = await e.deploy([{ name: 'gateway.bpmn', content: changed }]);
  assert.is(second.definitions[0].version, 2);
  const v2 = await e.startInstance('gateway-test', { variables: { amount: 9000 } });
  assert.is(v2.processVersion, 2);
  assert.is(v2.openTasks[0].name, 'Senior expert review');
  await e.completeTask(v1.openTasks[0].id, {}, ops('x', 'experts'));
  const v1done = await e.getInstance(v1.id);
  assert.is(v1done.status, 'completed');
  assert.is(v1done.processVersion, 1);
  assert.equal((await e.getDefinition('gateway-test')).versions, [1, 2]);
});

lifecycle('a new engine on the same database completes instances left waiting', async ({ t }) => {
  await t.engine.deploy(bundle('parallel.bpmn'));
  const inst = await t.engine.startInstance('parallel-test', {});
  // a second engine process: nothing in memory, same database
  const fresh = withHandlers(new InsureflowEngine({ db: t.tdb.db, clock: t.clock }));
  const tasks = await fresh.listTasks({ processInstanceId: inst.id }, admin);
  assert.is(tasks.total, 2);
  for (const task of tasks.items) await fresh.completeTask(task.id, { [task.activityId === 'Task_Risk' ? 'risk' : 'legal']: 'y' }, admin);
  const done = await fresh.getInstance(inst.id);
  assert.is(done.status, 'completed');
  assert.is(done.variables.summary, 'y/y');
  const all = await t.tdb.db('user_tasks').where({ process_instance_id: inst.id });
  assert.is(all.length, 2, 'no duplicated task rows after recovery');
  assert.is((await fresh.verifyInstanceHistory(inst.id)).consistent, true);
});

lifecycle.run();
