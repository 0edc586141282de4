/**
 * Feature: FEEL temporal values (issue 9, section 8). A timer written as `=duration("PT1H")` or
 * `=date and time("...")` is armed at that time; a user task's due date and follow-up date from FEEL (Camunda 7
 * camunda:dueDate, Camunda 8 zeebe:taskSchedule) or written literally is set on the task; FEEL that parses but
 * cannot be evaluated for any input (`=amount >> 1000`) is refused at deploy, naming the element. Runs without
 * HTTP on the suite's database (SQLite, or PostgreSQL with DATABASE_URL), ManualClock from 2098-01-05T09:00:00Z (bpmn-elements
 * compares a timer date with the real time, so the test's dates lie in the future of the machine's clock).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { InsureflowError } from '../../src/errors.ts';
import { Given, When, Then, And } from './gwt.ts';

const HOUR = 3600_000;
const adjuster = ops('ann', 'adjusters');
const feel = suite<{ t: TestEngine }>('FEEL temporal values');
feel.before(async (ctx) => {
  ctx.t = await testEngine('2098-01-05T09:00:00Z');
  await ctx.t.engine.deploy(['feel-timers', 'zeebe-task-schedule'].map((n) => ({ name: `${n}.bpmn`, content: fixture(`feature/feel-values/${n}.bpmn`) })));
});
feel.after(async (ctx) => ctx.t.close());

const jobsOf = async (t: TestEngine, id: string) => (await t.engine.listJobs({ processInstanceId: id })).items.map((j) => [j.activityId, j.dueAt]);
const tasksOf = async (t: TestEngine, id: string) => (await t.engine.getInstance(id)).openTasks;

feel('timers from =duration(...) and =date and time(...), due dates from FEEL (Camunda 7)', async ({ t }) => {
  const inst = await Given('an instance started at 09:00', () => t.engine.startInstance('feel-timers', { variables: {} }));
  await Then('the =duration("PT1H") timer is due at 10:00', async () => {
    assert.equal(await jobsOf(t, inst.id), [['Wait_Duration', '2098-01-05T10:00:00.000Z']]);
  });
  await When('an hour passes and due jobs run', async () => {
    t.clock.advance(HOUR);
    while ((await t.engine.runDueJobs()) > 0);
  });
  await Then('the =date and time("2098-01-06T10:00:00Z") timer is due then', async () => {
    assert.equal(await jobsOf(t, inst.id), [['Wait_Date', '2098-01-06T10:00:00.000Z']]);
  });
  await When('that time comes', async () => {
    t.clock.set('2098-01-06T10:00:00Z');
    while ((await t.engine.runDueJobs()) > 0);
  });
  const review = await Then('the review task is due at the FEEL date', async () => {
    const tasks = await tasksOf(t, inst.id);
    assert.equal(tasks.map((x) => [x.activityId, x.dueAt]), [['Task_Review', '2098-01-07T10:00:00.000Z']]);
    return tasks[0];
  });
  await When('it is completed', () => t.engine.completeTask(review.id, {}, adjuster));
  await Then('the next task is due two days after its creation (=duration("P2D"))', async () => {
    assert.equal((await tasksOf(t, inst.id)).map((x) => [x.activityId, x.dueAt]), [['Task_Check', '2098-01-08T10:00:00.000Z']]);
  });
});

feel('zeebe:taskSchedule: a FEEL due date and a literal one are set on the task', async ({ t }) => {
  const inst = await Given('a Camunda 8 instance', () => t.engine.startInstance('zeebe-task-schedule', { variables: {} }));
  const first = await Then('the first task is due at the FEEL date', async () => {
    const tasks = await tasksOf(t, inst.id);
    assert.equal(tasks.map((x) => [x.activityId, x.dueAt]), [['Task_Review', '2098-01-08T12:00:00.000Z']]);
    return tasks[0];
  });
  await When('it is completed', () => t.engine.completeTask(first.id, {}, adjuster));
  await And('the second task is due at its literal date', async () => {
    assert.equal((await tasksOf(t, inst.id)).map((x) => [x.activityId, x.dueAt]), [['Task_Fixed', '2098-01-09T12:00:00.000Z']]);
  });
});

feel('FEEL that parses but cannot be evaluated for any input is refused at deploy', async ({ t }) => {
  const err = await When('a diagram with the condition =amount >> 1000 is deployed', async () => {
    try {
      await t.engine.deploy([{ name: 'never-evaluates.bpmn', content: fixture('feature/feel-values/never-evaluates.bpmn') }]);
    } catch (e) {
      return e;
    }
    throw new Error('the deployment was accepted');
  });
  await Then('it is refused naming the flow, and nothing is stored', async () => {
    assert.ok(err instanceof InsureflowError);
    const details = (err as InsureflowError).details as { element: string; message: string }[];
    assert.equal(details.map((p) => p.element), ['F_High']);
    assert.match(details[0].message, /"=amount >> 1000".*cannot be evaluated for any value of its variables/);
    assert.not.ok((await t.engine.listDefinitions()).some((d: { key: string }) => d.key === 'never-evaluates'));
  });
});

feel.run();
