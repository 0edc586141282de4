/**
 * Acceptance (issue 11, section 3): the unmodified npm package camunda-external-task-client-js, pointed at
 * insureflow's /engine-rest over a real socket with its BasicAuthInterceptor (user name, API token): it subscribes,
 * completes with variables, throws a BPMN error that a boundary event catches, and fails with retries until the
 * incident opens after the last one (and gets the task again after an operator's retry). ManualClock for the retry
 * timeouts (the client's own failure handler advances it); outcomes are awaited by looking at the engine, with no
 * timing assertion. SQLite, or PostgreSQL with DATABASE_URL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client, BasicAuthInterceptor, Variables, type ClientTask, type TaskService } from 'camunda-external-task-client-js';
import { admin } from './helpers.ts';
import { Given, When, Then, And } from './feature/gwt.ts';
import { setup, teardown, type Ctx } from './support/external-tasks-http.ts';

// ------------------------------------------------------------------------------------------ the npm client

const client = suite<Ctx & { worker: Client }>('camunda-external-task-client-js (unmodified) against insureflow');
client.before(setup);
client.after(async (ctx) => {
  ctx.worker?.stop();
  await teardown(ctx);
});

/** Resolves when `check` holds; fails after a generous deadline (the outcome, not its speed, is asserted). */
async function until<T>(what: string, check: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

client('it subscribes, completes with variables, throws a BPMN error to a boundary, and fails with retries until an incident opens', async (ctx) => {
  const failures: (number | null)[] = [];
  ctx.worker = await Given('a client with Basic auth (wanda and her token) on /engine-rest, subscribed to three topics', () => {
    const c = new Client({ baseUrl: `${ctx.base}/engine-rest`, workerId: 'js-worker', interceptors: new BasicAuthInterceptor({ username: 'wanda', password: ctx.tokens.wanda }), interval: 50, asyncResponseTimeout: 1_000, lockDuration: 60_000, autoPoll: false });
    c.on('poll:error', (e: unknown) => console.error('client poll error', e));
    c.subscribe('http.pay', async ({ task, taskService }: { task: ClientTask; taskService: TaskService }) => {
      const out = new Variables();
      out.set('receipt', `R-${task.variables.get('amount')}`);
      out.set('charged', { amount: task.variables.get('amount'), currency: 'EUR' });
      await taskService.complete(task, out);
    });
    c.subscribe('http.check', async ({ task, taskService }: { task: ClientTask; taskService: TaskService }) => {
      const why = new Variables().set('declineReason', `over limit: ${task.variables.get('charged').amount}`);
      await taskService.handleBpmnError(task, 'DECLINED', 'the card was declined', why);
    });
    c.subscribe('http.flaky', async ({ task, taskService }: { task: ClientTask; taskService: TaskService }) => {
      failures.push(task.retries);
      // Camunda's documented pattern: start at 2 retries, count down
      const retries = task.retries === null ? 2 : task.retries - 1;
      await taskService.handleFailure(task, { errorMessage: 'core system down', errorDetails: 'ECONNREFUSED', retries, retryTimeout: 5_000 });
      // the engine's clock is the test's: the retry timeout passes at once
      ctx.t.clock.advance(5_001);
    });
    c.start();
    return c;
  });

  const pay = await When('a payment instance starts', () => ctx.t.engine.startInstance('http-payment', { businessKey: 'js-1', variables: { amount: 900 } }));
  await Then('the client completes Pay with its variables and Check throws DECLINED: the boundary path waits at Declined', async () => {
    const d: any = await until('the payment reaches Declined', async () => {
      const x: any = await ctx.t.engine.getInstance(pay.id);
      return x.activeActivities.includes('Declined') ? x : null;
    });
    assert.equal([d.variables.receipt, d.variables.charged, d.variables.declineReason], ['R-900', { amount: 900, currency: 'EUR' }, 'over limit: 900']);
    const h = await ctx.t.engine.history(pay.id);
    const done = h.find((e) => e.type === 'externalTask.completed')!;
    assert.equal([done.actor, (done.data as any).workerId], ['wanda', 'js-worker']);
    assert.ok(h.some((e) => e.type === 'externalTask.bpmnError' && (e.data as any).errorCode === 'DECLINED'));
    assert.ok(h.some((e) => e.type === 'error.caught'), h.map((e) => e.type).join());
  });

  const flaky = await When('a flaky instance starts', () => ctx.t.engine.startInstance('http-flaky', { businessKey: 'js-2' }));
  await Then('the client fails it three times (retries null, 2, 1) and the incident opens after the last retry', async () => {
    const incident = await until('an incident opens', async () => (await ctx.t.engine.listIncidents({ processInstanceId: flaky.id })).items[0]);
    assert.equal([incident.activityId, incident.handler, incident.status], ['Flaky', 'http.flaky', 'open']);
    assert.match(incident.errorMessage, /core system down/);
    assert.equal(failures, [null, 2, 1]);
    assert.is((await ctx.t.engine.getInstance(flaky.id)).status, 'incident');
    const h = (await ctx.t.engine.history(flaky.id)).map((e) => e.type);
    assert.is(h.filter((x) => x === 'externalTask.failed').length, 3);
    assert.ok(h.includes('incident.opened'));
  });
  await And('after an operator retries the incident, the client gets the task again (one retry)', async () => {
    const [incident] = (await ctx.t.engine.listIncidents({ processInstanceId: flaky.id })).items;
    await ctx.t.engine.retryIncident(incident.id, undefined, admin);
    await until('the client failed it once more', async () => failures.length === 4);
    assert.is(failures[3], 1);
    await until('the incident is open again', async () => (await ctx.t.engine.listIncidents({ processInstanceId: flaky.id })).items.some((i) => i.status === 'open'));
  });
});

client.run();
