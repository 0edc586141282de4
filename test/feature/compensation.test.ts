/**
 * Feature: compensation, the saga pattern (issue 9, section 3; BPMN 2.0 §10.5.5): a reserved payout is released
 * when a claim is withdrawn. A compensation throw (intermediate or end event) runs the handlers of the completed
 * activities of its scope (for one in an event sub-process: the scope that sub-process is in) in reverse order of
 * completion, one at a time, and completes after the last one; activityRef compensates one activity only; an
 * instance that never compensates completes normally. Handlers may fail and be retried, or wait for a user,
 * across transitions. Runs without HTTP on the suite's database (SQLite, or PostgreSQL with DATABASE_URL),
 * ManualClock, stub handlers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { BpmnError } from '../../src/errors.ts';
import { replayInstance } from '../../src/audit/replay.ts';
import { Given, When, Then, And } from './gwt.ts';

const adjuster = ops('ann', 'adjusters');
const finance = ops('fin', 'finance');
const MINUTE = 60_000;

interface Ctx {
  t: TestEngine;
  calls: string[];
  /** failures still to come per handler */
  failures: Map<string, number>;
}

function register(engine: InsureflowEngine, ctx: Ctx): InsureflowEngine {
  for (const name of ['reserve', 'release', 'book', 'unbook', 'notifyWithdrawal', 'pay', 'notify']) {
    engine.registerHandler(name, () => {
      ctx.calls.push(name);
      const left = ctx.failures.get(name) ?? 0;
      if (left > 0) {
        ctx.failures.set(name, left - 1);
        throw new Error(`${name}: ledger unavailable`);
      }
      return {};
    });
  }
  engine.registerHandler('verify', (c) => {
    ctx.calls.push('verify');
    if (c.variables.reject === true) throw new BpmnError('REJECTED', 'claim rejected at the final check');
    return {};
  });
  return engine;
}

const comp = suite<Ctx>('compensation');
comp.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = [];
  ctx.failures = new Map();
  register(ctx.t.engine, ctx);
  await ctx.t.engine.deploy(['compensation.bpmn', 'compensation-subprocess.bpmn'].map((n) => ({ name: n, content: fixture(`feature/events/${n}`) })));
});
comp.before.each((ctx) => {
  ctx.calls.length = 0;
  ctx.failures.clear();
});
comp.after(async (ctx) => ctx.t.close());

const types = async (e: InsureflowEngine, id: string) => (await e.history(id)).map((h) => `${h.type}${h.activityId ? ':' + h.activityId : ''}`);

comp('a withdrawn claim: the booking is reversed, then the reservation released (reverse order), then the flow goes on', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('a payout reserved and booked, waiting for the customer\'s decision', async () => {
    const i = await t.engine.startInstance('compensation', {});
    assert.equal(ctx.calls, ['reserve', 'book']);
    assert.equal(i.openTasks.map((x) => x.activityId), ['Task_Decide']);
    assert.equal(i.activeActivities, ['Task_Decide'], 'compensation boundary events are not active activities');
    return i;
  });
  await When('the customer withdraws (decided on an engine started afresh)', async () => {
    const fresh = register(new InsureflowEngine({ db: t.tdb.db, clock: t.clock }), ctx);
    await fresh.completeTask(inst.openTasks[0].id, { withdrawn: true }, adjuster);
  });
  await Then('unbook runs before release, and the withdrawal is notified only after both', async () => {
    assert.equal(ctx.calls, ['reserve', 'book', 'unbook', 'release', 'notifyWithdrawal']);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    const h = await types(t.engine, inst.id);
    assert.ok(h.indexOf('compensation.completed:Throw_Compensate') < h.indexOf('activity.started:Task_Notify'));
    const started = (await t.engine.history(inst.id)).find((e) => e.type === 'compensation.started');
    assert.equal(started?.data.compensating, ['Task_Book', 'Task_Reserve']);
  });
});

comp('a paid claim compensates nothing and completes', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the customer does not withdraw', async () => {
    const i = await t.engine.startInstance('compensation', {});
    await t.engine.completeTask(i.openTasks[0].id, { withdrawn: false }, adjuster);
    return t.engine.getInstance(i.id);
  });
  await Then('the claim is paid and the instance is completed, nothing was undone', () => {
    assert.is(inst.status, 'completed');
    assert.equal(ctx.calls, ['reserve', 'book', 'pay']);
  });
});

comp('activityRef: a compensation end event undoes the one activity it names', async (ctx) => {
  const { t } = ctx;
  const inst = await When('the decision is to re-book', async () => {
    const i = await t.engine.startInstance('compensation', {});
    await t.engine.completeTask(i.openTasks[0].id, { rebook: true }, adjuster);
    return t.engine.getInstance(i.id);
  });
  await Then('only the booking is reversed; the reservation stays', () => {
    assert.is(inst.status, 'completed');
    assert.equal(ctx.calls, ['reserve', 'book', 'unbook']);
  });
});

comp('in a sub-process, from its error event sub-process: a handler retried, a handler waiting for a user, then the sub-process completes', async (ctx) => {
  const { t } = ctx;
  ctx.failures.set('unbook', 1);
  const inst = await Given('a payout reserved and booked inside the sub-process, at the final check', async () => {
    const i = await t.engine.startInstance('compensation-subprocess', {});
    assert.equal(i.openTasks.map((x) => x.activityId), ['Task_Check']);
    return i;
  });
  await When('the check passes but verification rejects the claim (REJECTED, caught by the error event sub-process)', async () => {
    await t.engine.completeTask(inst.openTasks[0].id, { reject: true }, adjuster);
  });
  await Then('the booking reversal failed once and waits for its retry; nothing else was undone yet', async () => {
    assert.equal(ctx.calls, ['reserve', 'book', 'verify', 'unbook']);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'active');
    assert.equal(now.openTasks, []);
    const jobs = (await t.engine.listJobs({ processInstanceId: inst.id })).items;
    assert.equal(jobs.map((j) => j.activityId), ['Task_Unbook']);
  });
  await When('the retry is due (run by an engine started afresh)', async () => {
    t.clock.advance(MINUTE);
    const fresh = register(new InsureflowEngine({ db: t.tdb.db, clock: t.clock }), ctx);
    assert.is(await fresh.runDueJobs(), 1);
  });
  await Then('the booking is reversed and finance is asked to release the reservation', async () => {
    assert.equal(ctx.calls, ['reserve', 'book', 'verify', 'unbook', 'unbook']);
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Release']);
  });
  await And('once released, the sub-process completes and the customer is notified', async () => {
    const release = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(release.id, {}, finance);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.equal(ctx.calls.slice(-1), ['notify']);
    const h = await types(t.engine, inst.id);
    assert.ok(h.includes('compensation.completed:End_Compensate'));
    assert.ok(h.includes('activity.completed:Sub_Payout'));
  });
});

comp('the history of every instance above replays consistently on its pinned version (nothing called, nothing written)', async (ctx) => {
  const ids = (await ctx.t.tdb.db('process_instances').select('id')).map((r: { id: string }) => r.id);
  assert.ok(ids.length > 0);
  for (const id of ids) {
    const r = await replayInstance(ctx.t.tdb.db, id);
    assert.ok(r.consistent, `${id}: ${JSON.stringify(r.divergence)}`);
  }
});

comp.run();
