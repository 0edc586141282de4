/**
 * Feature: terminate end events (issue 9, section 3; BPMN 2.0 §10.5.3). Inside a sub-process a terminate end
 * event ends that sub-process (its other tasks are cancelled) and the flow goes on after it; at process level it
 * ends the instance: every task, timer job and subscription goes. Runs without HTTP on the suite's database
 * (SQLite, or PostgreSQL with DATABASE_URL), ManualClock.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { replayInstance } from '../../src/audit/replay.ts';
import { Given, When, Then, And } from './gwt.ts';

const adjuster = ops('ann', 'adjusters');

interface Ctx {
  t: TestEngine;
}

const term = suite<Ctx>('terminate end events');
term.before(async (ctx) => {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy([{ name: 'terminate.bpmn', content: fixture('feature/events/terminate.bpmn') }]);
});
term.after(async (ctx) => ctx.t.close());

const open = async (e: InsureflowEngine, id: string) => (await e.getInstance(id)).openTasks.map((x) => x.activityId).sort();
const taskOf = async (e: InsureflowEngine, id: string, activityId: string) => (await e.getInstance(id)).openTasks.find((x) => x.activityId === activityId)!;

term('inside a sub-process it ends the sub-process only; at process level it ends the instance', async ({ t }) => {
  const inst = await Given('an instance waiting at Part A, Part B and the parallel work', async () => {
    const i = await t.engine.startInstance('terminate', {});
    assert.equal(await open(t.engine, i.id), ['Task_A', 'Task_B', 'Task_Parallel']);
    return i;
  });
  await When('Part B is done (its path ends in a terminate end event inside the sub-process)', async () => {
    await t.engine.completeTask((await taskOf(t.engine, inst.id, 'Task_B')).id, {}, adjuster);
  });
  await Then('Part A is cancelled, the flow goes on after the sub-process, the parallel work is still open', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_After', 'Task_Parallel']);
    const h = await t.engine.history(inst.id);
    assert.ok(h.some((e) => e.type === 'task.cancelled' && e.activityId === 'Task_A'));
    assert.ok(h.some((e) => e.type === 'activity.completed' && e.activityId === 'Sub_Parts'));
    const jobs = (await t.engine.listJobs({ processInstanceId: inst.id })).items;
    assert.equal(jobs.map((j) => j.activityId), ['Boundary_Timeout']);
  });
  await When('the parallel work is done (a terminate end event at process level; an engine started afresh)', async () => {
    const fresh = new InsureflowEngine({ db: t.tdb.db, clock: t.clock });
    await fresh.completeTask((await taskOf(fresh, inst.id, 'Task_Parallel')).id, {}, adjuster);
  });
  await Then('the instance is completed: the task after the sub-process is cancelled and its timer job is gone', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.equal(now.openTasks, []);
    const h = await t.engine.history(inst.id);
    assert.ok(h.some((e) => e.type === 'task.cancelled' && e.activityId === 'Task_After'));
    assert.is((await t.engine.listJobs({ processInstanceId: inst.id })).items.length, 0);
  });
});

term('a process-level terminate while a sub-process waits cancels the sub-process\'s tasks', async ({ t }) => {
  const inst = await Given('an instance waiting at Part A, Part B and the parallel work', () => t.engine.startInstance('terminate', {}));
  await When('the parallel work is done first', async () => {
    await t.engine.completeTask((await taskOf(t.engine, inst.id, 'Task_Parallel')).id, {}, adjuster);
  });
  await Then('the instance is completed and both parts are cancelled', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    const cancelled = (await t.engine.history(inst.id)).filter((e) => e.type === 'task.cancelled').map((e) => e.activityId).sort();
    assert.equal(cancelled, ['Task_A', 'Task_B']);
  });
  await And('nothing of the instance can be worked any more', async () => {
    assert.equal((await t.engine.listTasks({ processInstanceId: inst.id, status: 'open' }, ops('admin-like', 'adjusters'))).items, []);
  });
});

term('the history of every instance above replays consistently on its pinned version (nothing called, nothing written)', async (ctx) => {
  const ids = (await ctx.t.tdb.db('process_instances').select('id')).map((r: { id: string }) => r.id);
  assert.ok(ids.length > 0);
  for (const id of ids) {
    const r = await replayInstance(ctx.t.tdb.db, id);
    assert.ok(r.consistent, `${id}: ${JSON.stringify(r.divergence)}`);
  }
});

term.run();
