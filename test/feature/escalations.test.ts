/**
 * Feature: escalations (issue 9, section 3; BPMN 2.0 §10.5.6, Camunda 7 and 8). An escalation thrown by an
 * intermediate or end event propagates like an error (boundary events of the enclosing sub-processes, event
 * sub-processes of each scope, innermost first, a code before a catch-all). A non-interrupting catcher runs
 * beside the flow, which goes on after the throw event; an interrupting one cancels its scope; nothing
 * catching is not an incident: the flow goes on (escalation.uncaught in the history). Runs without HTTP on the
 * suite's database (SQLite, or PostgreSQL with DATABASE_URL), ManualClock, stub handlers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { replayInstance } from '../../src/audit/replay.ts';
import { Given, When, Then, And } from './gwt.ts';

const surveyor = ops('sue', 'surveyors');
const adjuster = ops('ann', 'adjusters');
const resources = (...names: string[]) => names.map((n) => ({ name: n, content: fixture(`feature/events/${n}`) }));

interface Ctx {
  t: TestEngine;
  calls: string[];
}

function register(engine: InsureflowEngine, ctx: Ctx): InsureflowEngine {
  for (const name of ['settle', 'notifyLate', 'abortSurvey', 'cleanup']) {
    engine.registerHandler(name, () => {
      ctx.calls.push(name);
      return {};
    });
  }
  return engine;
}

const esc = suite<Ctx>('escalations');
esc.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = [];
  register(ctx.t.engine, ctx);
  await ctx.t.engine.deploy(resources('escalation-boundary.bpmn', 'escalation-event-subprocess.bpmn', 'escalation-event-subprocess-interrupting.bpmn'));
});
esc.before.each((ctx) => {
  ctx.calls.length = 0;
});
esc.after(async (ctx) => ctx.t.close());

const open = async (e: InsureflowEngine, id: string) => (await e.getInstance(id)).openTasks.map((x) => x.activityId).sort();
const types = async (e: InsureflowEngine, id: string) => (await e.history(id)).map((h) => `${h.type}${h.activityId ? ':' + h.activityId : ''}`);

esc('a non-interrupting boundary on the sub-process catches each intermediate escalation; both paths go on', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the survey sub-process starts and throws LATE twice on its way to the survey task', () => t.engine.startInstance('escalation-boundary', {}));
  await Then('the customer is notified twice, and the survey and photos tasks are open', async () => {
    assert.equal(ctx.calls, ['notifyLate', 'notifyLate']);
    assert.equal(await open(t.engine, inst.id), ['Task_Photos', 'Task_Survey']);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.variables.escalated, 'LATE');
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('escalation.thrown:Throw_Late'));
    assert.is(h.filter((x) => x === 'escalation.caught:Boundary_Late').length, 2);
    assert.ok(h.includes('activity.completed:Throw_Late'), 'the throw event goes on');
    assert.equal((await t.engine.getInstance(inst.id)).activeActivities.sort(), ['Boundary_Late', 'Boundary_Abort', 'Sub_Survey'].sort());
  });
  await And('when both tasks are done the sub-process completes normally and the claim is settled', async () => {
    for (const task of (await t.engine.getInstance(inst.id)).openTasks) await t.engine.completeTask(task.id, { abort: false }, surveyor);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.equal(ctx.calls, ['notifyLate', 'notifyLate', 'settle']);
  });
});

esc('an escalation end event caught by an interrupting boundary cancels the sub-process', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('the survey sub-process waiting at survey and photos', () => t.engine.startInstance('escalation-boundary', {}));
  await When('the survey is completed with abort = true (an engine started afresh)', async () => {
    const fresh = register(new InsureflowEngine({ db: t.tdb.db, clock: t.clock }), ctx);
    const survey = (await fresh.getInstance(inst.id)).openTasks.find((x) => x.activityId === 'Task_Survey')!;
    await fresh.completeTask(survey.id, { abort: true }, surveyor);
  });
  await Then('the photos task is cancelled, the abort is recorded and the claim is not settled', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.equal(ctx.calls, ['notifyLate', 'notifyLate', 'abortSurvey']);
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('task.cancelled:Task_Photos'));
    assert.ok(h.includes('escalation.caught:Boundary_Abort'));
    assert.not.ok(h.includes('activity.completed:Sub_Survey'));
  });
});

esc('a non-interrupting escalation event sub-process runs once per escalation; an uncaught one lets the flow go on', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance at Main work and Prepare', () => t.engine.startInstance('escalation-event-subprocess', {}));
  await When('Prepare is done: NEED_INFO is thrown twice, then NOBODY', async () => {
    const prepare = inst.openTasks.find((x) => x.activityId === 'Task_Prepare')!;
    await t.engine.completeTask(prepare.id, {}, adjuster);
  });
  await Then('one information task is open (the second escalation waits for it), the branch reached its end', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_Info', 'Task_Main']);
    const h = await types(t.engine, inst.id);
    assert.is(h.filter((x) => x === 'escalation.caught:Esp_Info_Start').length, 2);
    assert.ok(h.includes('escalation.uncaught:Throw_Nobody'));
    assert.ok(h.includes('activity.completed:End_Prepared'));
    assert.is((await t.engine.getInstance(inst.id)).variables.infoCode, 'NEED_INFO');
  });
  await When('the information task is done', async () => {
    const info = (await t.engine.getInstance(inst.id)).openTasks.find((x) => x.activityId === 'Task_Info')!;
    await t.engine.completeTask(info.id, {}, adjuster);
  });
  await Then('the second run offers its own information task', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_Info', 'Task_Main']);
    const info = (await t.engine.getInstance(inst.id)).openTasks.find((x) => x.activityId === 'Task_Info')!;
    await t.engine.completeTask(info.id, {}, adjuster);
    assert.equal(await open(t.engine, inst.id), ['Task_Main']);
  });
  await And('the main work completes the instance', async () => {
    const main = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(main.id, {}, adjuster);
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    const h = await types(t.engine, inst.id);
    assert.is(h.filter((x) => x === 'activity.completed:Esp_Info_End').length, 2);
  });
});

esc('an escalation end event starts the interrupting escalation event sub-process of its sub-process', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('the work sub-process waiting at Work and Check', () => t.engine.startInstance('escalation-event-subprocess-interrupting', {}));
  await When('Check is done and the STOP escalation end event is reached', async () => {
    const check = inst.openTasks.find((x) => x.activityId === 'Task_Check')!;
    await t.engine.completeTask(check.id, {}, adjuster);
  });
  await Then('Work is cancelled, the clean-up ran and the sub-process completed into After', async () => {
    assert.equal(ctx.calls, ['cleanup']);
    assert.equal(await open(t.engine, inst.id), ['Task_After']);
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('task.cancelled:Task_Work'));
    assert.ok(h.includes('escalation.caught:Esp_Stop_Start'));
    assert.ok(h.includes('activity.completed:Sub_Work'));
  });
});

esc('the history of every instance above replays consistently on its pinned version (nothing called, nothing written)', async (ctx) => {
  const ids = (await ctx.t.tdb.db('process_instances').select('id')).map((r: { id: string }) => r.id);
  assert.ok(ids.length > 0);
  for (const id of ids) {
    const r = await replayInstance(ctx.t.tdb.db, id);
    assert.ok(r.consistent, `${id}: ${JSON.stringify(r.divergence)}`);
  }
});

esc.run();
