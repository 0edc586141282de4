/**
 * Feature: the Camunda 7-compatible external task REST API (issue 11, section 3) over a real socket: HTTP Basic
 * (user name + API token) and bearer tokens, typed variables both ways, Camunda's shapes and status codes with our
 * stable error codes, the topic grant, long polling. ManualClock for locks. SQLite, or PostgreSQL with DATABASE_URL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Given, When, Then, And } from './feature/gwt.ts';
import { basic, call, fetchBody, setup, teardown, type Ctx } from './support/external-tasks-http.ts';

// ------------------------------------------------------------------------------------------ REST

const rest = suite<Ctx>('external task REST API over a socket (Camunda shapes, Basic auth, typed variables)');
rest.before(setup);
rest.after(teardown);

rest('Basic auth with the user name and its token fetches; the answer is Camunda\'s LockedExternalTaskDto with typed variables', async (ctx) => {
  const inst = await Given('an instance waiting at Pay', () => ctx.t.engine.startInstance('http-payment', { businessKey: 'r-1', variables: { amount: 120, rate: 0.5, big: 2 ** 40, name: 'Ann', ok: true, none: null, claim: { no: 7, tags: ['a'] } } }));
  const res = await When('wanda fetches over HTTP Basic', () => call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/fetchAndLock', fetchBody('w-1', 'http.pay', 'r-1')));
  await Then('200, exactly application/json, one locked task', () => {
    assert.is(res.status, 200, res.text);
    assert.is(res.type, 'application/json');
    assert.is(res.body.length, 1);
    const t = res.body[0];
    assert.equal([t.topicName, t.workerId, t.processInstanceId, t.activityId, t.businessKey, t.processDefinitionKey, t.retries, t.errorMessage, t.priority], ['http.pay', 'w-1', inst.id, 'Pay', 'r-1', 'http-payment', null, null, 0]);
    assert.is(t.lockExpirationTime, new Date(ctx.t.clock.now() + 60_000).toISOString());
    assert.ok(t.executionId && t.activityInstanceId);
    assert.equal(t.variables, {
      amount: { type: 'Integer', value: 120, valueInfo: {} },
      rate: { type: 'Double', value: 0.5, valueInfo: {} },
      big: { type: 'Long', value: 2 ** 40, valueInfo: {} },
      name: { type: 'String', value: 'Ann', valueInfo: {} },
      ok: { type: 'Boolean', value: true, valueInfo: {} },
      none: { type: 'Null', value: null, valueInfo: {} },
      claim: { type: 'Json', value: '{"no":7,"tags":["a"]}', valueInfo: {} },
    });
  });
  const id = res.body[0].id;
  await And('GET by id shows it (bearer token works too)', async () => {
    const g = await call(ctx, `Bearer ${ctx.tokens.wanda}`, 'GET', `/engine-rest/external-task/${id}`);
    assert.equal([g.status, g.body.id, g.body.suspended], [200, id, false]);
    const list = await call(ctx, `Bearer ${ctx.tokens.wanda}`, 'GET', '/engine-rest/external-task?topicName=http.pay');
    assert.ok(list.body.some((x: any) => x.id === id));
  });
  await When('she completes it with typed variables', async () => {
    const c = await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', `/engine-rest/external-task/${id}/complete`, {
      workerId: 'w-1',
      variables: { receipt: { type: 'String', value: 'R-1' }, fee: { type: 'Double', value: 1.5 }, paidAt: { type: 'Date', value: '2026-01-05T09:00:00.000+0000' }, detail: { type: 'Json', value: '{"x":[1,2]}' }, plain: { value: 3 } },
    });
    assert.is(c.status, 204, c.text);
  });
  await Then('the variables are plain values in the instance, which moved on to Check', async () => {
    const d: any = await ctx.t.engine.getInstance(inst.id);
    assert.ok(d.activeActivities.includes('Check') && !d.activeActivities.includes('Pay'), d.activeActivities.join());
    assert.equal([d.variables.receipt, d.variables.fee, d.variables.paidAt, d.variables.detail, d.variables.plain], ['R-1', 1.5, '2026-01-05T09:00:00.000+0000', { x: [1, 2] }, 3]);
  });
  await And('the same complete again is 204 and changes nothing', async () => {
    const again = await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', `/engine-rest/external-task/${id}/complete`, { workerId: 'w-1', variables: { receipt: { type: 'String', value: 'R-2' } } });
    assert.is(again.status, 204);
    assert.is(((await ctx.t.engine.getInstance(inst.id)) as any).variables.receipt, 'R-1');
  });
});

rest('errors: wrong Basic user 401, no grant 403, unknown task 404, stale worker 409; bodies carry Camunda\'s type and our code', async (ctx) => {
  await ctx.t.engine.startInstance('http-flaky', { businessKey: 'r-2' });
  const wrongUser = await call(ctx, basic('sam', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/fetchAndLock', fetchBody('w', 'http.flaky', 'r-2'));
  assert.equal([wrongUser.status, wrongUser.body.code], [401, 'UNAUTHENTICATED']);
  const noGrant = await call(ctx, basic('sam', ctx.tokens.sam), 'POST', '/engine-rest/external-task/fetchAndLock', fetchBody('w', 'http.flaky', 'r-2'));
  assert.equal([noGrant.status, noGrant.body.code, noGrant.body.type], [403, 'FORBIDDEN', 'AuthorizationException']);
  assert.match(noGrant.body.message, /http\.flaky/);
  const ops = await call(ctx, `Bearer ${ctx.tokens.olga}`, 'POST', '/engine-rest/external-task/fetchAndLock', fetchBody('w', 'http.flaky', 'r-2'));
  assert.is(ops.status, 403, 'an ops user is not a worker');
  const unknown = await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/no-such-task/complete', { workerId: 'w' });
  assert.equal([unknown.status, unknown.body.code, unknown.body.type], [404, 'EXTERNAL_TASK_NOT_FOUND', 'NotFoundException']);
  const badVar = await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/x/complete', { workerId: 'w', variables: { f: { type: 'Bytes', value: 'AAA=' } } });
  assert.equal([badVar.status, badVar.body.code], [400, 'VALIDATION_FAILED']);
  const [a] = (await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'w-a', maxTasks: 1, topics: [{ topicName: 'http.flaky', lockDuration: 1_000, businessKey: 'r-2' }] })).body;
  ctx.t.clock.advance(1_001);
  const [b] = (await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/fetchAndLock', fetchBody('w-b', 'http.flaky', 'r-2'))).body;
  assert.is(b.id, a.id, 'the expired lock made it fetchable');
  const stale = await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', `/engine-rest/external-task/${a.id}/complete`, { workerId: 'w-a' });
  assert.equal([stale.status, stale.body.code, stale.body.type], [409, 'EXTERNAL_TASK_LOCKED_BY_OTHER', 'RestException']);
  const unlock = await call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', `/engine-rest/external-task/${a.id}/unlock`);
  assert.is(unlock.status, 204);
});

rest('long polling over HTTP: a fetch held with asyncResponseTimeout is answered when a task appears', async (ctx) => {
  const held = call(ctx, basic('wanda', ctx.tokens.wanda), 'POST', '/engine-rest/external-task/fetchAndLock', { ...fetchBody('w-l', 'http.flaky', 'r-long'), asyncResponseTimeout: 20_000 });
  await new Promise((r) => setTimeout(r, 50));
  const inst = await ctx.t.engine.startInstance('http-flaky', { businessKey: 'r-long' });
  const res = await held;
  assert.is(res.status, 200);
  assert.equal(res.body.map((t: any) => t.processInstanceId), [inst.id]);
});

rest.run();

