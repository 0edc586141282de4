/**
 * Feature: BPMN errors propagate up the scope chain (issue 9, section 3). A handler's BpmnError or an error end
 * event is caught by the activity's own boundary, else by the boundary of the innermost enclosing sub-process
 * that names its code (or catches all), with the error event sub-processes of each scope before the boundaries
 * of that scope (BPMN 2.0 §10.5.6); uncaught, an incident naming the code. Runs the engine without HTTP on the
 * suite's database (SQLite, or PostgreSQL with DATABASE_URL), ManualClock, stub handlers.
 * Case 10-error-boundary-on-subprocess is the first scenario.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, admin, type TestEngine } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { BpmnError } from '../../src/errors.ts';
import type { HandlerContext } from '../../src/engine/runtime.ts';
import { replayInstance } from '../../src/audit/replay.ts';
import { Given, When, Then, And } from './gwt.ts';

const intake = ops('ivy', 'intake');
const adjuster = ops('ann', 'adjusters');
const investigator = ops('fay', 'fraud');
const resources = (...names: string[]) => names.map((n) => ({ name: n, content: fixture(`feature/events/${n}`) }));

interface Ctx {
  t: TestEngine;
  calls: string[];
}

/** Handlers that record their calls; a variable `<topic>Throws` makes the handler throw that code. */
function register(engine: InsureflowEngine, ctx: Ctx): void {
  const topic = (name: string, out: Record<string, unknown> = {}) => (c: HandlerContext) => {
    ctx.calls.push(name);
    const code = c.variables[`${name}Throws`];
    if (typeof code === 'string') throw new BpmnError(code, `${name} says ${code}`, { thrownBy: name });
    return out;
  };
  for (const name of ['checkPolicy', 'checkLimits', 'pay', 'reject', 'notifyLapse', 'assess', 'logNoCover', 'recordAssessment', 'inform']) engine.registerHandler(name, topic(name));
  engine.registerHandler('policyStatus', (c) => {
    ctx.calls.push('policyStatus');
    return { status: c.variables.statusGiven ?? 'active' };
  });
}

const errors = suite<Ctx>('BPMN errors up the scope chain');
errors.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = [];
  register(ctx.t.engine, ctx);
  await ctx.t.engine.deploy(resources('error-subprocess-boundary.bpmn', 'error-end-event.bpmn', 'error-uncaught.bpmn', 'error-event-subprocess.bpmn', 'error-escalation-zeebe.bpmn'));
});
errors.before.each((ctx) => {
  ctx.calls.length = 0;
});
errors.after(async (ctx) => ctx.t.close());

const types = async (e: InsureflowEngine, id: string) => (await e.history(id)).map((h) => `${h.type}${h.activityId ? ':' + h.activityId : ''}`);
const incidentsOf = async (e: InsureflowEngine, id: string) => (await e.listIncidents({ processInstanceId: id })).items;

/** Starts error-subprocess-boundary and completes its first task, so the error happens in a later transition. */
async function throughRegister(t: TestEngine, variables: Record<string, unknown>) {
  const started = await t.engine.startInstance('error-subprocess-boundary', { variables });
  await t.engine.completeTask(started.openTasks[0].id, {}, intake);
  return t.engine.getInstance(started.id);
}

errors('case 10: an error thrown by a task inside a sub-process is caught by the boundary on the sub-process', async (ctx) => {
  const { t } = ctx;
  const inst = await When('checkPolicy throws NO_COVER inside Sub_Check, after the first task', () => throughRegister(t, { checkPolicyThrows: 'NO_COVER' }));
  await Then('the rejection path runs, not the sub-process\'s normal flow', () => {
    assert.equal(ctx.calls, ['checkPolicy', 'reject']);
    assert.is(inst.status, 'completed');
  });
  await And('no incident, and the history names the catcher', async () => {
    assert.is((await incidentsOf(t.engine, inst.id)).length, 0);
    const h = await t.engine.history(inst.id);
    const caught = h.find((e) => e.type === 'error.caught');
    assert.ok(caught, 'error.caught recorded');
    assert.equal([caught!.activityId, caught!.data.code, caught!.data.thrownBy], ['Boundary_NoCover', 'NO_COVER', 'Task_Policy']);
    assert.ok(h.some((e) => e.type === 'activity.completed' && e.activityId === 'End_Rejected'));
    assert.not.ok(h.some((e) => e.activityId === 'Task_Pay'));
  });
});

errors('two scopes deep: a boundary naming another code is passed over, the enclosing sub-process\'s boundary catches', async (ctx) => {
  const { t } = ctx;
  const inst = await When('checkLimits (inside Sub_Inner inside Sub_Check) throws NO_COVER', () => throughRegister(t, { checkLimitsThrows: 'NO_COVER' }));
  await Then('Task_Limits\'s own OTHER boundary does not catch it; Sub_Check\'s NO_COVER boundary does', async () => {
    assert.equal(ctx.calls, ['checkPolicy', 'checkLimits', 'reject']);
    assert.is(inst.status, 'completed');
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('error.caught:Boundary_NoCover'));
    assert.not.ok(h.includes('activity.completed:Inner_End_Other'));
  });
});

errors('the activity\'s own boundary comes first', async (ctx) => {
  const { t } = ctx;
  const inst = await When('checkLimits throws OTHER', () => throughRegister(t, { checkLimitsThrows: 'OTHER' }));
  await Then('Boundary_Other on the task catches it, the sub-processes complete normally and Pay runs', async () => {
    assert.equal(ctx.calls, ['checkPolicy', 'checkLimits', 'pay']);
    assert.is(inst.status, 'completed');
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('error.caught:Boundary_Other'));
    assert.ok(h.includes('activity.completed:Inner_End_Other'));
    assert.ok(h.includes('activity.completed:End_Paid'));
  });
});

errors('a code nothing names goes to the catch-all, with the code, message and error variables', async (ctx) => {
  const { t } = ctx;
  const inst = await When('checkLimits throws LIMIT_EXCEEDED', () => throughRegister(t, { checkLimitsThrows: 'LIMIT_EXCEEDED' }));
  await Then('the catch-all boundary on Sub_Check catches it and offers the review task', async () => {
    assert.is(inst.status, 'active');
    assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Review']);
    assert.is(inst.variables.caughtCode, 'LIMIT_EXCEEDED');
    assert.is(inst.variables.caughtMessage, 'checkLimits says LIMIT_EXCEEDED');
    assert.is(inst.variables.thrownBy, 'checkLimits');
  });
  await And('reviewing completes the instance; Pay never ran', async () => {
    await t.engine.completeTask(inst.openTasks[0].id, {}, adjuster);
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    assert.not.ok(ctx.calls.includes('pay'));
  });
});

errors('the specific boundary wins over the catch-all on the same sub-process', async (ctx) => {
  const { t } = ctx;
  const inst = await When('checkPolicy throws NO_COVER (both boundaries of Sub_Check could catch it)', () => throughRegister(t, { checkPolicyThrows: 'NO_COVER' }));
  await Then('Boundary_NoCover catches it, not Boundary_Any', async () => {
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('error.caught:Boundary_NoCover'));
    assert.not.ok(h.includes('error.caught:Boundary_Any'));
    assert.is(inst.variables.caughtCode, undefined);
  });
});

errors('an error end event inside a sub-process: its boundary catches it and cancels the rest of the sub-process', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the policy status is lapsed (the sub-process also waits at Collect documents)', async () => {
    const i = await t.engine.startInstance('error-end-event', { variables: { statusGiven: 'lapsed' } });
    return t.engine.getInstance(i.id);
  });
  await Then('the lapse is notified, the documents task is cancelled and the instance completes', async () => {
    assert.equal(ctx.calls, ['policyStatus', 'notifyLapse']);
    assert.is(inst.status, 'completed');
    const tasks = (await t.engine.listTasks({ processInstanceId: inst.id, status: 'cancelled' }, admin)).items;
    assert.equal(tasks.map((x) => x.activityId), ['Task_Docs']);
    assert.equal([inst.variables.errorCode, inst.variables.errorMessage], ['LAPSED', 'Policy lapsed']);
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('error.thrown:End_Lapsed'));
    assert.ok(h.includes('error.caught:Boundary_Lapsed'));
    assert.not.ok(h.includes('activity.completed:End_Valid'));
  });
  await And('with an active policy the sub-process waits for the documents and completes normally', async () => {
    ctx.calls.length = 0;
    const ok = await t.engine.startInstance('error-end-event', { variables: { statusGiven: 'active' } });
    assert.equal(ok.openTasks.map((x) => x.activityId), ['Task_Docs']);
    await t.engine.completeTask(ok.openTasks[0].id, {}, intake);
    const done = await t.engine.getInstance(ok.id);
    assert.is(done.status, 'completed');
    assert.ok((await types(t.engine, ok.id)).includes('activity.completed:End_Valid'));
    assert.equal(ctx.calls, ['policyStatus']);
  });
});

errors('uncaught: a handler\'s code no catcher names opens an incident naming the code', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance past its first task whose assessment throws FRAUD (the sub-process catches only NO_COVER)', async () => {
    const i = await t.engine.startInstance('error-uncaught', { variables: { assessThrows: 'FRAUD' } });
    await t.engine.completeTask(i.openTasks[0].id, {}, intake);
    return t.engine.getInstance(i.id);
  });
  await Then('the instance is in incident at Task_Assess, naming FRAUD', async () => {
    assert.is(inst.status, 'incident');
    const incidents = await incidentsOf(t.engine, inst.id);
    assert.is(incidents.length, 1);
    assert.is(incidents[0].activityId, 'Task_Assess');
    assert.match(incidents[0].errorMessage, /business error FRAUD .*not caught by any boundary event or event sub-process/);
  });
});

errors('uncaught: an error end event nothing catches opens an incident naming the code (also on a fresh engine)', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the route leads to the FRAUD error end event at process level', async () => {
    const i = await t.engine.startInstance('error-uncaught', { variables: { route: 'end-event' } });
    await t.engine.completeTask(i.openTasks[0].id, {}, intake);
    return t.engine.getInstance(i.id);
  });
  const incident = await Then('an incident at End_Fraud names the code; the instance does not complete', async () => {
    assert.is(inst.status, 'incident');
    const incidents = await incidentsOf(t.engine, inst.id);
    assert.is(incidents.length, 1);
    assert.is(incidents[0].activityId, 'End_Fraud');
    assert.match(incidents[0].errorMessage, /business error FRAUD \(Suspected fraud\) is not caught/);
    return incidents[0];
  });
  await And('a retry on an engine started afresh throws it again: still one incident, still not completed', async () => {
    const fresh = new InsureflowEngine({ db: t.tdb.db, clock: t.clock });
    register(fresh, ctx);
    await fresh.retryIncident(incident.id, undefined, admin);
    const now = await fresh.getInstance(inst.id);
    assert.is(now.status, 'incident');
    const incidents = await incidentsOf(fresh, inst.id);
    assert.is(incidents.filter((i) => i.status === 'open').length, 1);
  });
});

errors('an error event sub-process in the sub-process catches before the boundary on it; the sub-process then completes', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the assessment throws NO_COVER', async () => {
    const i = await t.engine.startInstance('error-event-subprocess', { variables: { assessThrows: 'NO_COVER' } });
    const gate = i.openTasks.find((x) => x.activityId === 'Task_Gate')!;
    await t.engine.completeTask(gate.id, {}, adjuster);
    return t.engine.getInstance(i.id);
  });
  await Then('Esp_NoCover runs (with its code variable), Sub_Assess completes and its outgoing flow is taken', async () => {
    assert.equal(ctx.calls, ['assess', 'logNoCover', 'recordAssessment']);
    assert.is(inst.variables.innerCode, 'NO_COVER');
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('error.caught:Esp_NoCover_Start'));
    assert.not.ok(h.includes('activity.completed:End_Boundary'));
  });
  await And('the parallel task is still open', () => {
    assert.is(inst.status, 'active');
    assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Wait']);
  });
});

errors('a process-level interrupting error event sub-process cancels everything else, then the instance completes with it', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the assessment throws FRAUD (nothing inside catches it)', async () => {
    const i = await t.engine.startInstance('error-event-subprocess', { variables: { assessThrows: 'FRAUD' } });
    const gate = i.openTasks.find((x) => x.activityId === 'Task_Gate')!;
    await t.engine.completeTask(gate.id, {}, adjuster);
    return t.engine.getInstance(i.id);
  });
  await Then('only the investigation task is open: the parallel task was cancelled', async () => {
    assert.is(inst.status, 'active');
    assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Investigate']);
    const cancelled = (await t.engine.history(inst.id)).filter((h) => h.type === 'task.cancelled').map((h) => h.activityId);
    assert.equal(cancelled, ['Task_Wait']);
    assert.equal(ctx.calls, ['assess']);
  });
  await And('completing the investigation completes the instance', async () => {
    await t.engine.completeTask(inst.openTasks[0].id, {}, investigator);
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    assert.not.ok(ctx.calls.includes('recordAssessment'));
  });
});

errors('Camunda 8: a job worker\'s error reaches the boundary on the sub-process; an escalation starts its event sub-process', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the policy check throws NO_COVER after a BIG_CLAIM escalation', async () => {
    const i = await t.engine.startInstance('error-escalation-zeebe', { variables: { checkPolicyThrows: 'NO_COVER' } });
    return t.engine.getInstance(i.id);
  });
  await Then('the supervisor was informed, the claim rejected, and the instance completed', async () => {
    assert.equal(ctx.calls, ['inform', 'checkPolicy', 'reject']);
    assert.is(inst.status, 'completed');
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('escalation.caught:Esp_Big_Start'));
    assert.ok(h.includes('error.caught:Boundary_NoCover'));
  });
});

errors('the history of every instance above replays consistently on its pinned version (nothing called, nothing written)', async (ctx) => {
  const ids = (await ctx.t.tdb.db('process_instances').select('id')).map((r: { id: string }) => r.id);
  assert.ok(ids.length > 0);
  for (const id of ids) {
    const r = await replayInstance(ctx.t.tdb.db, id);
    assert.ok(r.consistent, `${id}: ${JSON.stringify(r.divergence)}`);
  }
});

errors.run();
