/**
 * Feature: event sub-processes started by messages and signals (issue 9, section 3; BPMN 2.0 §10.3.5). While a
 * scope (the process or an embedded sub-process) runs, its message / signal event sub-processes are
 * subscriptions; a non-interrupting one runs once per message or signal while the main flow goes on (an
 * occurrence arriving during the previous run waits for it), an interrupting one cancels the rest of its scope,
 * which then completes with it. Error and escalation event sub-processes: bpmn-errors / escalations tests;
 * timer ones: test/event-subprocess.test.ts. Runs without HTTP on the suite's database (SQLite, or
 * PostgreSQL with DATABASE_URL), ManualClock, stub handlers. Case 13-event-subprocess-triggered-twice is the
 * first scenario.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine, refusal } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { replayInstance } from '../../src/audit/replay.ts';
import { Given, When, Then, And } from './gwt.ts';

const intake = ops('ivy', 'intake');
const adjuster = ops('ann', 'adjusters');
const resources = (...names: string[]) => names.map((n) => ({ name: n, content: fixture(`feature/events/${n}`) }));

interface Ctx {
  t: TestEngine;
  calls: string[];
}

function register(engine: InsureflowEngine, ctx: Ctx): InsureflowEngine {
  for (const name of ['logCall', 'flagStorm', 'closeClaim']) {
    engine.registerHandler(name, (c) => {
      ctx.calls.push(name);
      return { [`${name}Seen`]: c.variables.note ?? null };
    });
  }
  return engine;
}

const esp = suite<Ctx>('message and signal event sub-processes');
esp.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = [];
  register(ctx.t.engine, ctx);
  await ctx.t.engine.deploy(resources('esp-message-signal.bpmn', 'esp-message-scope.bpmn', 'esp-timer-and-messages.bpmn', 'messages/customer-called.schema.json'));
});
esp.before.each((ctx) => {
  ctx.calls.length = 0;
});
esp.after(async (ctx) => ctx.t.close());

const open = async (e: InsureflowEngine, id: string) => (await e.getInstance(id)).openTasks.map((x) => x.activityId).sort();

esp('case 13: each message and each signal runs its non-interrupting event sub-process once; the main task stays', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance waiting at Handle claim', () => t.engine.startInstance('esp-message-signal', { businessKey: 'CLM-ESP-1' }));
  await When('the message customer-called arrives twice', async () => {
    for (let k = 0; k < 2; k++) {
      const r = await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-ESP-1', variables: { note: `call ${k + 1}` } });
      assert.equal(r.correlated.map((c) => [c.processInstanceId, c.activityId]), [[inst.id, 'Esp_Called_Start']]);
    }
  });
  await Then('the call was logged twice, with each message\'s variables', async () => {
    assert.equal(ctx.calls, ['logCall', 'logCall']);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.variables.logCallSeen, 'call 2');
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Handle']);
  });
  await When('the signal storm-warning is broadcast twice (the second by an engine started afresh)', async () => {
    assert.is((await t.engine.broadcastSignal({ name: 'storm-warning' })).delivered, 1);
    const fresh = register(new InsureflowEngine({ db: t.tdb.db, clock: t.clock }), ctx);
    assert.is((await fresh.broadcastSignal({ name: 'storm-warning' })).delivered, 1);
  });
  await Then('the storm was flagged twice; the instance still waits at Handle claim', async () => {
    assert.equal(ctx.calls, ['logCall', 'logCall', 'flagStorm', 'flagStorm']);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'active');
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Handle']);
    const h = await t.engine.history(inst.id);
    assert.is(h.filter((e) => e.type === 'activity.completed' && e.activityId === 'Esp_Called_End').length, 2);
    assert.is(h.filter((e) => e.type === 'activity.completed' && e.activityId === 'Esp_Storm_End').length, 2);
  });
  await And('completing the main task completes the instance; its subscriptions are gone', async () => {
    const task = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(task.id, {}, adjuster);
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    const err = await refusal(t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-ESP-1' }));
    assert.is(err.code, 'MESSAGE_NOT_CORRELATED');
    assert.is((await t.engine.broadcastSignal({ name: 'storm-warning' })).delivered, 0);
  });
});

esp('a sub-process\'s event sub-processes subscribe while it runs; a second occurrence waits for the first run', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance at Intake, before the sub-process', () => t.engine.startInstance('esp-message-scope', { businessKey: 'CLM-SCOPE-1' }));
  await Then('nobody waits for customer-called yet', async () => {
    const err = await refusal(t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-SCOPE-1' }));
    assert.is(err.code, 'MESSAGE_NOT_CORRELATED');
  });
  await When('Intake is done and the customer calls twice', async () => {
    await t.engine.completeTask(inst.openTasks[0].id, {}, intake);
    await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-SCOPE-1', variables: { note: 'first' } });
    await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-SCOPE-1', variables: { note: 'second' } });
  });
  await Then('one call-back task is open beside Handle claim (the second call waits for it)', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_Callback', 'Task_Handle']);
    const h = await t.engine.history(inst.id);
    const received = h.filter((e) => e.type === 'message.received' && e.activityId === 'Esp_Called_Start');
    assert.equal(received.map((e) => Boolean(e.data.queued)), [false, true]);
  });
  await When('the call-back is done (by an engine started afresh)', async () => {
    const fresh = register(new InsureflowEngine({ db: t.tdb.db, clock: t.clock }), ctx);
    const cb = (await fresh.getInstance(inst.id)).openTasks.find((x) => x.activityId === 'Task_Callback')!;
    await fresh.completeTask(cb.id, {}, adjuster);
  });
  await Then('the second call\'s run starts: a new call-back task, the main task still open', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.activityId).sort(), ['Task_Callback', 'Task_Handle']);
    assert.is(now.variables.note, 'second');
    const cb = now.openTasks.find((x) => x.activityId === 'Task_Callback')!;
    await t.engine.completeTask(cb.id, {}, adjuster);
    assert.equal(await open(t.engine, inst.id), ['Task_Handle']);
  });
  await When('the claim is withdrawn (interrupting)', async () => {
    const r = await t.engine.correlateMessage({ name: 'claim-withdrawn', businessKey: 'CLM-SCOPE-1' });
    assert.equal(r.correlated.map((c) => c.activityId), ['Esp_Withdrawn_Start']);
  });
  await Then('Handle claim is cancelled, the claim closed, and the sub-process completes into Archive', async () => {
    assert.equal(ctx.calls, ['closeClaim']);
    assert.equal(await open(t.engine, inst.id), ['Task_Archive']);
    const h = await t.engine.history(inst.id);
    assert.ok(h.some((e) => e.type === 'task.cancelled' && e.activityId === 'Task_Handle'));
  });
  await And('the interrupted sub-process\'s event sub-processes no longer subscribe', async () => {
    for (const name of ['customer-called', 'claim-withdrawn']) {
      const err = await refusal(t.engine.correlateMessage({ name, businessKey: 'CLM-SCOPE-1' }));
      assert.is(err.code, 'MESSAGE_NOT_CORRELATED', name);
    }
    const archive = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(archive.id, {}, intake);
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
  });
});

esp('an interrupting occurrence also cancels a running non-interrupting event sub-process and its queued occurrences', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('a sub-process with a call-back run going on and a second call queued', async () => {
    const i = await t.engine.startInstance('esp-message-scope', { businessKey: 'CLM-SCOPE-2' });
    await t.engine.completeTask(i.openTasks[0].id, {}, intake);
    await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-SCOPE-2' });
    await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-SCOPE-2' });
    assert.equal(await open(t.engine, i.id), ['Task_Callback', 'Task_Handle']);
    return i;
  });
  await When('the claim is withdrawn', () => t.engine.correlateMessage({ name: 'claim-withdrawn', businessKey: 'CLM-SCOPE-2' }));
  await Then('both tasks of the sub-process are cancelled and the queued call never runs', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_Archive']);
    const h = await t.engine.history(inst.id);
    assert.equal(h.filter((e) => e.type === 'task.cancelled').map((e) => e.activityId).sort(), ['Task_Callback', 'Task_Handle']);
    assert.is(h.filter((e) => e.type === 'task.created' && e.activityId === 'Task_Callback').length, 1);
  });
});

esp('when the sub-process completes normally its subscriptions end', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance inside the sub-process', async () => {
    const i = await t.engine.startInstance('esp-message-scope', { businessKey: 'CLM-SCOPE-3' });
    await t.engine.completeTask(i.openTasks[0].id, {}, intake);
    return i;
  });
  await When('Handle claim is completed', async () => {
    const task = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(task.id, {}, adjuster);
  });
  await Then('the instance is at Archive and neither message finds it', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_Archive']);
    for (const name of ['customer-called', 'claim-withdrawn']) {
      const err = await refusal(t.engine.correlateMessage({ name, businessKey: 'CLM-SCOPE-3' }));
      assert.is(err.code, 'MESSAGE_NOT_CORRELATED', name);
    }
    assert.equal(ctx.calls, []);
  });
});

esp('an interrupting timer event sub-process ends the message event sub-processes of its scope', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance whose customer called once', async () => {
    const i = await t.engine.startInstance('esp-timer-and-messages', { businessKey: 'CLM-MIX-1' });
    await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-MIX-1' });
    assert.equal(ctx.calls, ['logCall']);
    return i;
  });
  await When('the hour is over and the overdue timer fires', async () => {
    t.clock.advance(3600_000);
    assert.is(await t.engine.runDueJobs(), 1);
  });
  await Then('only the escalation task is open and no message finds the instance any more', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_Escalate']);
    for (const name of ['customer-called', 'claim-withdrawn']) {
      const err = await refusal(t.engine.correlateMessage({ name, businessKey: 'CLM-MIX-1' }));
      assert.is(err.code, 'MESSAGE_NOT_CORRELATED', name);
    }
  });
});

esp('an interrupting message event sub-process ends the timer and the other message event sub-processes', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance with its overdue timer armed', async () => {
    const i = await t.engine.startInstance('esp-timer-and-messages', { businessKey: 'CLM-MIX-2' });
    assert.equal((await t.engine.listJobs({ processInstanceId: i.id })).items.map((j) => j.activityId), ['Esp_Overdue_Start']);
    return i;
  });
  await When('the claim is withdrawn', () => t.engine.correlateMessage({ name: 'claim-withdrawn', businessKey: 'CLM-MIX-2' }));
  await Then('only the closing task is open, the timer job is gone and the call log no longer subscribes', async () => {
    assert.equal(await open(t.engine, inst.id), ['Task_Close']);
    assert.equal((await t.engine.listJobs({ processInstanceId: inst.id })).items, []);
    const err = await refusal(t.engine.correlateMessage({ name: 'customer-called', businessKey: 'CLM-MIX-2' }));
    assert.is(err.code, 'MESSAGE_NOT_CORRELATED');
    t.clock.advance(2 * 3600_000);
    assert.is(await t.engine.runDueJobs(), 0);
  });
  await And('closing completes the instance', async () => {
    const close = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(close.id, {}, adjuster);
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
  });
});

esp('the history of every instance above replays consistently on its pinned version (nothing called, nothing written)', async (ctx) => {
  const ids = (await ctx.t.tdb.db('process_instances').select('id')).map((r: { id: string }) => r.id);
  assert.ok(ids.length > 0);
  for (const id of ids) {
    const r = await replayInstance(ctx.t.tdb.db, id);
    assert.ok(r.consistent, `${id}: ${JSON.stringify(r.divergence)}`);
  }
});

esp.run();
