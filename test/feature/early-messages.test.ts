/**
 * Feature: messages that arrive before the wait state (issue 9, section 7). With a timeToLive (ISO 8601 duration,
 * Camunda 8 semantics) a message nothing waits for is buffered and delivered to the first matching catch event
 * that appears before it expires; messageId de-duplicates; without a time to live, today's 404. Engine without
 * HTTP (except one socket test), ManualClock, stub handlers, on the suite's database.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import { fixture, testEngine, ops, type TestEngine, refusal } from '../helpers.ts';
import { buildApp } from '../../src/http/app.ts';
import type { MessageInput } from '../../src/engine/correlation.ts';
import { Given, When, Then, And } from './gwt.ts';

const MINUTE = 60_000;
const resources = (...names: string[]) => names.map((n) => ({ name: n.replace(/^feature\//, ''), content: fixture(n) }));
const adjuster = ops('ann', 'adjusters');

interface Ctx {
  t: TestEngine;
  /** what the requestSurvey handler sends while it runs (null: nothing) */
  replyDuringRequest: MessageInput | null;
  replies: Promise<unknown>[];
}

const received = async (t: TestEngine, id: string) => (await t.engine.history(id)).filter((h) => h.type === 'message.received');
const row = (t: TestEngine, id: string) => t.tdb.db('buffered_messages').where({ id }).first();

const early = suite<Ctx>('messages that arrive before the wait state');
early.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.replyDuringRequest = null;
  ctx.replies = [];
  ctx.t.engine.registerHandler('requestSurvey', ({ businessKey }) => {
    // the surveyor answers at once, while this transition is still running (fire and forget)
    if (ctx.replyDuringRequest) ctx.replies.push(ctx.t.engine.correlateMessage({ ...ctx.replyDuringRequest, businessKey: businessKey ?? undefined }).catch((e) => e));
    return { requested: true };
  });
  await ctx.t.engine.deploy(resources('feature/early-messages.bpmn', 'feature/early-messages-zeebe.bpmn', 'feature/messages/surveyor-report.schema.json', 'feature/messages/payment-confirmed.schema.json', 'feature/messages/claim-documents.schema.json'));
});
early.before.each((ctx) => {
  ctx.replyDuringRequest = null;
  ctx.replies = [];
});
early.after(async (ctx) => ctx.t.close());

early('a message with a time to live waits for the catch event and is delivered when it appears', async ({ t }) => {
  const sent = await Given('a survey report and a payment confirmation sent before the claim started (TTL one hour)', async () => {
    const report = await t.engine.correlateMessage({ name: 'surveyor-report', businessKey: 'CLM-E-1', variables: { surveyAmount: 4200 }, timeToLive: 'PT1H' });
    t.clock.advance(MINUTE);
    const paid = await t.engine.correlateMessage({ name: 'payment-confirmed', businessKey: 'CLM-E-1', variables: { paidAt: '2026-01-05' }, timeToLive: 'PT1H' });
    return { report, paid };
  });
  await Then('both are buffered with their id and expiry, nothing is correlated', async () => {
    assert.equal(sent.report.correlated, []);
    assert.ok(sent.report.buffered?.id);
    assert.is(sent.report.buffered!.expiresAt, '2026-01-05T10:00:00.000Z');
    assert.is((await row(t, sent.report.buffered!.id)).state, 'buffered');
  });
  const inst = await When('the claim starts and its request reaches the catch event', () => t.engine.startInstance('early-messages', { businessKey: 'CLM-E-1' }));
  await Then('the report is delivered, then the payment at the receive task, oldest first: the instance completes', async () => {
    assert.is(inst.status, 'completed');
    assert.equal({ surveyAmount: inst.variables.surveyAmount, paidAt: inst.variables.paidAt }, { surveyAmount: 4200, paidAt: '2026-01-05' });
    const events = await received(t, inst.id);
    assert.equal(events.map((e) => [e.activityId, e.data.bufferedMessageId]), [['Catch_Report', sent.report.buffered!.id], ['Receive_Paid', sent.paid.buffered!.id]]);
  });
  await And('the buffered messages are marked correlated to the instance', async () => {
    const r = await row(t, sent.report.buffered!.id);
    assert.equal([r.state, r.correlated_to], ['correlated', inst.id]);
  });
});

early('a message that expired before the wait appeared is not delivered, and is forgotten', async ({ t }) => {
  const sent = await Given('a report with a ten-minute time to live', () =>
    t.engine.correlateMessage({ name: 'surveyor-report', businessKey: 'CLM-E-2', timeToLive: 'PT10M' }));
  const inst = await When('the claim reaches the catch event eleven minutes later', async () => {
    t.clock.advance(11 * MINUTE);
    return t.engine.startInstance('early-messages', { businessKey: 'CLM-E-2' });
  });
  await Then('the instance waits for a report; the expired one is dropped by the next sweep', async () => {
    assert.is(inst.status, 'active');
    assert.equal(inst.activeActivities, ['Catch_Report']);
    assert.equal(await received(t, inst.id), []);
    assert.is(await t.engine.runDueJobs(), 0);
    assert.is(await row(t, sent.buffered!.id), undefined);
  });
  await And('a message without a time to live still gets 404 when nothing waits', async () => {
    const err = await refusal(t.engine.correlateMessage({ name: 'payment-confirmed', businessKey: 'CLM-E-2' }));
    assert.equal([err.code, err.statusCode], ['MESSAGE_NOT_CORRELATED', 404]);
    assert.is(await t.tdb.db('buffered_messages').where({ name: 'payment-confirmed', business_key: 'CLM-E-2' }).first(), undefined);
  });
  await And('a report sent now is correlated directly', async () => {
    const r = await t.engine.correlateMessage({ name: 'surveyor-report', businessKey: 'CLM-E-2', timeToLive: 'PT10M' });
    assert.equal(r.correlated.map((c) => c.activityId), ['Catch_Report']);
    assert.is(r.buffered, undefined);
  });
});

early('messageId de-duplicates while the message is kept, buffered or already correlated', async ({ t }) => {
  const first = await Given('a payment confirmation with messageId PAY-1 buffered for an hour', () =>
    t.engine.correlateMessage({ name: 'payment-confirmed', businessKey: 'CLM-E-3', messageId: 'PAY-1', timeToLive: 'PT1H', variables: { amount: 100 } }));
  await When('the sender sends it again', async () => {
    const err = await refusal(t.engine.correlateMessage({ name: 'payment-confirmed', businessKey: 'CLM-E-3', messageId: 'PAY-1', timeToLive: 'PT1H', variables: { amount: 100 } }));
    await Then('409 MESSAGE_ALREADY_EXISTS naming the first', () => {
      assert.equal([err.code, err.statusCode], ['MESSAGE_ALREADY_EXISTS', 409]);
      assert.is((err.details as { id: string }).id, first.buffered!.id);
    });
  });
  const inst = await When('the claim reaches the receive task (its report correlated directly, with messageId REP-1)', async () => {
    const i = await t.engine.startInstance('early-messages', { businessKey: 'CLM-E-3' });
    const r = await t.engine.correlateMessage({ name: 'surveyor-report', businessKey: 'CLM-E-3', messageId: 'REP-1', timeToLive: 'PT1H' });
    assert.equal(r.correlated.map((c) => c.activityId), ['Catch_Report']);
    return i;
  });
  await Then('the buffered payment was delivered once; the instance completed', async () => {
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    assert.equal((await received(t, inst.id)).map((e) => e.activityId), ['Catch_Report', 'Receive_Paid']);
  });
  await And('repeating either message within the hour is refused, not buffered for another claim', async () => {
    for (const [name, messageId] of [['surveyor-report', 'REP-1'], ['payment-confirmed', 'PAY-1']]) {
      const err = await refusal(t.engine.correlateMessage({ name, businessKey: 'CLM-E-3', messageId, timeToLive: 'PT1H' }));
      assert.is(err.code, 'MESSAGE_ALREADY_EXISTS', `${name} ${messageId}`);
    }
  });
  await And('once the hour is over the id may be used again', async () => {
    t.clock.advance(61 * MINUTE);
    const again = await t.engine.correlateMessage({ name: 'payment-confirmed', businessKey: 'CLM-E-3', messageId: 'PAY-1', timeToLive: 'PT1M' });
    assert.ok(again.buffered?.id);
  });
});

early('Camunda 8 correlation key: a buffered message goes to the instance with the matching key only', async ({ t }) => {
  const sent = await Given('documents for claim CLM-Z-2 sent while both claims are still being registered', async () => {
    const one = await t.engine.startInstance('early-documents', { variables: { claimNo: 'CLM-Z-1' } });
    const two = await t.engine.startInstance('early-documents', { variables: { claimNo: 'CLM-Z-2' } });
    const docs = await t.engine.correlateMessage({ name: 'claim-documents', correlationKey: 'CLM-Z-2', timeToLive: 'P1D', variables: { pages: 3 } });
    assert.ok(docs.buffered);
    return { one, two, docs };
  });
  await When('CLM-Z-1 is registered', () => t.engine.completeTask(sent.one.openTasks[0].id, {}, adjuster));
  await Then('it waits for its own documents', async () => {
    const now = await t.engine.getInstance(sent.one.id);
    assert.equal([now.status, now.activeActivities], ['active', ['Catch_Docs']]);
    assert.is((await row(t, sent.docs.buffered!.id)).state, 'buffered');
  });
  await When('CLM-Z-2 is registered', () => t.engine.completeTask(sent.two.openTasks[0].id, {}, adjuster));
  await Then('the documents are delivered to it at once and it completes', async () => {
    const now = await t.engine.getInstance(sent.two.id);
    assert.is(now.status, 'completed');
    assert.is(now.variables.pages, 3);
    assert.is((await row(t, sent.docs.buffered!.id)).correlated_to, sent.two.id);
  });
});

early('the reply sent by the request handler itself, while the instance is not yet waiting, is delivered once', async (ctx) => {
  const { t } = ctx;
  ctx.replyDuringRequest = { name: 'surveyor-report', variables: { surveyAmount: 900 }, timeToLive: 'PT5M' };
  const inst = await When('the claim starts and its survey request is answered during the request', () =>
    t.engine.startInstance('early-messages', { businessKey: 'CLM-E-5' }));
  await Then('the reply was accepted (correlated or buffered), never refused', async () => {
    const [reply] = await Promise.all(ctx.replies);
    assert.not.ok(reply instanceof Error, String(reply));
  });
  await And('the instance took the report exactly once and waits for the payment', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal([now.status, now.activeActivities, now.variables.surveyAmount], ['active', ['Receive_Paid'], 900]);
    assert.equal((await received(t, inst.id)).map((e) => e.activityId), ['Catch_Report']);
  });
});

early('a buffered message whose wait appeared unseen is delivered by the scheduler sweep', async ({ t }) => {
  const inst = await Given('a claim waiting for its report', () => t.engine.startInstance('early-messages', { businessKey: 'CLM-E-6' }));
  await And('a report stored in the buffer without the delivery that follows a send (as after a crash)', async () => {
    const now = t.clock.now();
    const ok = await t.engine.stores.messages.insert({
      id: 'crash-left-1', name: 'surveyor-report', businessKey: 'CLM-E-6', correlationKey: null, processInstanceId: null, variables: { surveyAmount: 7 },
      messageId: null, state: 'buffered', correlatedTo: null, createdAt: now, expiresAt: now + 60 * MINUTE, correlatedAt: null, createdBy: 'ops-bot',
    }, now);
    assert.ok(ok);
  });
  await When('the due jobs run', async () => assert.is(await t.engine.runDueJobs(), 1));
  await Then('the report is delivered, by its sender', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.activeActivities, ['Receive_Paid']);
    const [event] = await received(t, inst.id);
    assert.equal([event.actor, event.data.bufferedMessageId], ['ops-bot', 'crash-left-1']);
  });
});

early('a time to live that is not an ISO 8601 duration, or with all, is refused', async ({ t }) => {
  for (const m of [{ name: 'x', timeToLive: '10 minutes' }, { name: 'x', timeToLive: 'PT5M', all: true }] as MessageInput[]) {
    const err = await refusal(t.engine.correlateMessage(m));
    assert.equal([err.code, err.statusCode], ['VALIDATION_FAILED', 400], JSON.stringify(m));
  }
});

early('over HTTP: 202 with the buffered id, 409 for a repeated messageId, 400 for a bad duration, 404 without TTL', async ({ t }) => {
  const app = await buildApp({ engine: t.engine });
  try {
    const token = (await t.engine.users.add({ name: 'mo', roles: ['ops'], groups: [] })).token;
    // an ops user sends the messages granted to it (src/engine/authorization.ts)
    await t.engine.grant({ user: 'mo', resourceType: 'message', resourceId: 'payment-confirmed', permissions: ['correlate'] }, { name: 'admin', roles: ['admin'], groups: [] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const post = (body: unknown) => fetch(`http://127.0.0.1:${port}/api/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const msg = { name: 'payment-confirmed', businessKey: 'CLM-H-1', messageId: 'H-1', timeToLive: 'PT30M' };
    const res = await post(msg);
    assert.is(res.status, 202);
    const body = await res.json();
    assert.ok(body.buffered.id);
    assert.equal(body.correlated, []);
    const again = await post(msg);
    assert.is(again.status, 409);
    assert.is((await again.json()).code, 'MESSAGE_ALREADY_EXISTS');
    assert.is((await post({ ...msg, messageId: 'H-2', timeToLive: 'half an hour' })).status, 400);
    assert.is((await post({ name: 'payment-confirmed', businessKey: 'CLM-H-1' })).status, 404);
  } finally {
    await app.close();
  }
});

early.run();
