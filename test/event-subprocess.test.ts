/** Timer-started event sub-processes: armed by the runtime, durable as job rows, interrupting and not. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from './helpers.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';

const HOUR = 3600_000;
const bundle = (...names: string[]) => names.map((n) => ({ name: n, content: fixture(n) }));

interface Ctx {
  t: TestEngine;
  reminded: Map<string, number>;
}

const remindHandler = (ctx: Ctx) => ({ instanceId }: { instanceId: string }) => {
  ctx.reminded.set(instanceId, (ctx.reminded.get(instanceId) ?? 0) + 1);
  return { reminded: (ctx.reminded.get(instanceId) ?? 0) };
};

/** A second engine on the same database: nothing of the first one's memory is used. */
const restart = (ctx: Ctx) => new InsureflowEngine({ db: ctx.t.tdb.db, clock: ctx.t.clock }).registerHandler('remind', remindHandler(ctx));

const jobsOf = async (e: InsureflowEngine, id: string) => (await e.listJobs({ processInstanceId: id })).items;

const esp = suite<Ctx>('timer event sub-processes');
esp.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.reminded = new Map();
  ctx.t.engine.registerHandler('remind', remindHandler(ctx));
  await ctx.t.engine.deploy(bundle('esp-reminders.bpmn', 'esp-deadline.bpmn'));
});
esp.after(async (ctx) => ctx.t.close());

esp('non-interrupting R2/PT1H: two reminders while the task waits, also across a restart; none after', async (ctx) => {
  const { t } = ctx;
  const inst = await t.engine.startInstance('esp-reminders', {});
  assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Handle']);
  let jobs = await jobsOf(t.engine, inst.id);
  assert.equal(jobs.map((j) => j.activityId), ['Start_Reminder']);
  assert.is(jobs[0].dueAt, new Date(t.clock.now() + HOUR).toISOString());
  assert.equal((await t.engine.getInstance(inst.id)).activeActivities, ['Task_Handle'], 'an armed start timer is not an active activity');

  t.clock.advance(HOUR);
  assert.is(await t.engine.runDueJobs(), 1);
  assert.is(ctx.reminded.get(inst.id), 1);
  jobs = await jobsOf(t.engine, inst.id);
  assert.equal(jobs.map((j) => j.activityId), ['Start_Reminder'], 'the next cycle is armed');
  assert.is(jobs[0].dueAt, new Date(t.clock.now() + HOUR).toISOString());
  let now = await t.engine.getInstance(inst.id);
  assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Handle']);
  assert.is(now.variables.reminded, 1);

  // a new engine (restart) finds the armed timer in the database and fires it
  const second = restart(ctx);
  assert.is(await second.runDueJobs(), 0, 'not due yet');
  t.clock.advance(HOUR);
  assert.is(await second.runDueJobs(), 1);
  assert.is(ctx.reminded.get(inst.id), 2);
  assert.is((await jobsOf(second, inst.id)).length, 0, 'R2: used up after two firings');

  t.clock.advance(10 * HOUR);
  assert.is(await second.runDueJobs(), 0);
  assert.is(ctx.reminded.get(inst.id), 2);
  now = await second.getInstance(inst.id);
  assert.is(now.status, 'active');
  assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Handle']);

  await second.completeTask(now.openTasks[0].id, {}, ops('ann', 'adjusters'));
  now = await second.getInstance(inst.id);
  assert.is(now.status, 'completed');
  assert.is((await jobsOf(second, inst.id)).length, 0);
  const hist = await second.history(inst.id);
  assert.is(hist.filter((h) => h.type === 'timer.fired' && h.activityId === 'Start_Reminder').length, 2);
  assert.is(hist.filter((h) => h.type === 'activity.completed' && h.activityId === 'End_Reminder').length, 2, 'the sub-process ran once per firing');
});

esp('non-interrupting reminders stop when the instance ends', async (ctx) => {
  const { t } = ctx;
  const inst = await t.engine.startInstance('esp-reminders', {});
  t.clock.advance(HOUR);
  await t.engine.runDueJobs();
  assert.is(ctx.reminded.get(inst.id), 1);
  assert.is((await jobsOf(t.engine, inst.id)).length, 1);
  await t.engine.completeTask(inst.openTasks[0].id, {}, ops('ann', 'adjusters'));
  const now = await t.engine.getInstance(inst.id);
  assert.is(now.status, 'completed', 'an armed start timer does not keep the instance alive');
  assert.equal(now.activeActivities, []);
  assert.is((await jobsOf(t.engine, inst.id)).length, 0);
  t.clock.advance(5 * HOUR);
  assert.is(await t.engine.runDueJobs(), 0);
  assert.is(ctx.reminded.get(inst.id), 1);
});

esp('a task completed before the first cycle: no reminder at all', async (ctx) => {
  const { t } = ctx;
  const inst = await t.engine.startInstance('esp-reminders', {});
  await t.engine.completeTask(inst.openTasks[0].id, {}, ops('ann', 'adjusters'));
  assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
  assert.is((await jobsOf(t.engine, inst.id)).length, 0);
  assert.is(ctx.reminded.get(inst.id), undefined);
});

esp('interrupting deadline: cancels the waiting task and its boundary timer, completes via the sub-process, across a restart', async (ctx) => {
  const { t } = ctx;
  const inst = await t.engine.startInstance('esp-deadline', { variables: { deadline: 'PT24H' } });
  const jobs = await jobsOf(t.engine, inst.id);
  const due = Object.fromEntries(jobs.map((j) => [j.activityId, j.dueAt]));
  assert.equal(Object.keys(due).sort(), ['Start_Deadline', 'Timer_Nudge']);
  assert.is(due.Start_Deadline, new Date(t.clock.now() + 24 * HOUR).toISOString());
  assert.is(due.Timer_Nudge, new Date(t.clock.now() + 48 * HOUR).toISOString());

  const second = restart(ctx);
  t.clock.advance(24 * HOUR);
  assert.is(await second.runDueJobs(), 1);
  let now = await second.getInstance(inst.id);
  assert.is(now.status, 'active');
  assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Escalate']);
  assert.equal(now.activeActivities, ['Sub_Deadline']);
  assert.is((await jobsOf(second, inst.id)).length, 0, 'the boundary timer of the cancelled task is gone');
  const hist = await second.history(inst.id);
  assert.ok(hist.some((h) => h.type === 'task.cancelled' && h.activityId === 'Task_Handle'));

  // and after one more restart, the escalated task completes the instance through the sub-process's end
  const third = restart(ctx);
  await third.completeTask(now.openTasks[0].id, {}, ops('sue', 'supervisors'));
  now = await third.getInstance(inst.id);
  assert.is(now.status, 'completed');
  const ends = (await third.history(inst.id)).filter((h) => h.type === 'activity.completed' && h.activityType === 'bpmn:EndEvent').map((h) => h.activityId);
  assert.equal(ends, ['End_Escalated']);
  assert.is((await jobsOf(third, inst.id)).length, 0);
});

esp('interrupting deadline not reached: the task completes normally and the deadline job goes', async (ctx) => {
  const { t } = ctx;
  const inst = await t.engine.startInstance('esp-deadline', { variables: { deadline: 'PT24H' } });
  t.clock.advance(2 * HOUR);
  await t.engine.completeTask(inst.openTasks[0].id, {}, ops('ann', 'adjusters'));
  const now = await t.engine.getInstance(inst.id);
  assert.is(now.status, 'completed');
  assert.is((await jobsOf(t.engine, inst.id)).length, 0);
  t.clock.advance(48 * HOUR);
  assert.is(await t.engine.runDueJobs(), 0);
  const ends = (await t.engine.history(inst.id)).filter((h) => h.type === 'activity.completed' && h.activityType === 'bpmn:EndEvent').map((h) => h.activityId);
  assert.equal(ends, ['End']);
});

esp('an interrupting deadline of PT0S interrupts at once or on the next scheduler run', async ({ t }) => {
  // bpmn-elements fires a zero timeout itself, or arms it for 1 ms (then it is a job due now): both end the same
  const inst = await t.engine.startInstance('esp-deadline', { variables: { deadline: 'PT0S' } });
  await t.engine.runDueJobs();
  const now = await t.engine.getInstance(inst.id);
  assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Escalate']);
  assert.is((await jobsOf(t.engine, inst.id)).length, 0);
  await t.engine.completeTask(now.openTasks[0].id, {}, ops('sue', 'supervisors'));
  assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
});

esp('an interrupting deadline date already past when armed interrupts at once (bpmn-elements fires it without a timer)', async ({ t }) => {
  const xml = fixture('esp-deadline.bpmn')
    .replace('id="esp-deadline"', 'id="esp-deadline-date"')
    .replace('<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=deadline</bpmn:timeDuration>', '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">=deadline</bpmn:timeDate>');
  await t.engine.deploy([{ name: 'esp-deadline-date.bpmn', content: xml }]);
  const inst = await t.engine.startInstance('esp-deadline-date', { variables: { deadline: '2020-01-01T00:00:00Z' } });
  const now = await t.engine.getInstance(inst.id);
  assert.is(now.status, 'active');
  assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Escalate']);
  assert.is((await jobsOf(t.engine, inst.id)).length, 0);
  assert.equal(now.activeActivities, ['Sub_Deadline'], 'Task_Handle and its boundary timer were discarded');
  await t.engine.completeTask(now.openTasks[0].id, {}, ops('sue', 'supervisors'));
  assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
});

esp('non-interrupting cycle whose flow waits: one run at a time, the next due one period after the previous firing', async ({ t }) => {
  const xml = fixture('esp-reminders.bpmn')
    .replace('id="esp-reminders"', 'id="esp-reminders-task"')
    .replace('R2/PT1H', 'R3/PT1H')
    .replace('<bpmn:serviceTask id="Task_Remind" name="Remind" camunda:type="external" camunda:topic="remind" />', '<bpmn:userTask id="Task_Remind" name="Follow up" camunda:candidateGroups="adjusters" />');
  await t.engine.deploy([{ name: 'esp-reminders-task.bpmn', content: xml }]);
  const start = t.clock.now();
  const inst = await t.engine.startInstance('esp-reminders-task', {});
  t.clock.advance(HOUR);
  await t.engine.runDueJobs();
  let now = await t.engine.getInstance(inst.id);
  assert.equal(now.openTasks.map((x) => x.activityId).sort(), ['Task_Handle', 'Task_Remind']);
  assert.is((await jobsOf(t.engine, inst.id)).length, 0, 'not re-armed while its flow runs');

  t.clock.advance(HOUR / 2);
  await t.engine.completeTask(now.openTasks.find((x) => x.activityId === 'Task_Remind')!.id, {}, ops('ann', 'adjusters'));
  const jobs = await jobsOf(t.engine, inst.id);
  assert.equal(jobs.map((j) => j.dueAt), [new Date(start + 2 * HOUR).toISOString()]);

  // the main task ends while a reminder task is open: the instance waits for it, then completes
  t.clock.advance(HOUR / 2);
  await t.engine.runDueJobs();
  now = await t.engine.getInstance(inst.id);
  await t.engine.completeTask(now.openTasks.find((x) => x.activityId === 'Task_Handle')!.id, {}, ops('ann', 'adjusters'));
  now = await t.engine.getInstance(inst.id);
  assert.is(now.status, 'active');
  assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Remind']);
  assert.is((await jobsOf(t.engine, inst.id)).length, 0);
  await t.engine.completeTask(now.openTasks[0].id, {}, ops('ann', 'adjusters'));
  now = await t.engine.getInstance(inst.id);
  assert.is(now.status, 'completed');
  assert.is((await jobsOf(t.engine, inst.id)).length, 0);
});

esp('the jobs table is clean at the end', async ({ t }) => {
  const rows = await t.tdb.db('jobs').select('id', 'type', 'activity_id');
  assert.equal(rows, []);
});

esp.run();
