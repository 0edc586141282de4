/**
 * Feature: a message or a signal may set only the variables its schema declares (issue 10, section 1):
 * processes/messages/<name>.schema.json, processes/signals/<name>.schema.json (src/engine/event-variables.ts).
 * The injection of the issue over a real socket against the shipped processes (the payout stays 7,200), then the
 * rules on the engine with small diagrams: no schema -> no variables, undeclared or mistyped fields refused,
 * additionalProperties false implied, versions, buffered messages and message starts, signals.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import { domain, noIncidents, type Domain } from './insurance.ts';
import { fixture, testEngine, ops, type TestEngine, refusal } from './helpers.ts';
import { InsureflowError } from '../src/errors.ts';
import { Given, When, Then, And } from './feature/gwt.ts';

const fields = (err: InsureflowError) => (err.details as { field: string }[]).map((d) => d.field);
const schema = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'object', properties, ...extra });

// ---------------------------------------------------------------- the injection, shipped processes, HTTP

const shipped = suite<{ d: Domain; base: string }>('the claim-documents-received injection (shipped processes, real socket)');
shipped.before(async (ctx) => {
  ctx.d = await domain();
  await ctx.d.app.listen({ port: 0, host: '127.0.0.1' });
  ctx.base = `http://127.0.0.1:${(ctx.d.app.server.address() as AddressInfo).port}`;
});
shipped.after(async (ctx) => ctx.d.close());

shipped('a message cannot set the deductible and coinsurance of a claim: 400 naming the field, the payout stays 7,200', async ({ d, base }) => {
  const post = async (who: 'cs' | 'admin', path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${d.tokens[who]}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const policy = d.demo.policies[1]; // deductible 1,000, coinsurance 0.8, covers water
  const claim = await Given('a water claim of 10,000 on a policy with deductible 1,000 and coinsurance 0.8, waiting for documents', async () => {
    const r = await post('cs', '/api/claims', { policyNo: policy.policyNo, channel: 'phone', lossDate: new Date(d.t.clock.now() - 2 * 86_400_000).toISOString().slice(0, 10), peril: 'water', claimedAmount: 10_000, description: 'Burst pipe in the kitchen' });
    assert.is(r.status, 201, JSON.stringify(r.body));
    await d.complete('adjuster', r.body.processInstanceId, 'Task_ManualReview', { reviewDecision: 'request-documents', missingDocuments: ['repair invoice'] });
    assert.is((await d.call('cs', 'GET', `/api/claims/${r.body.claimNo}/status`)).body.stage, 'documents');
    return r.body as { claimNo: string; processInstanceId: string };
  });
  await When('customer service sends the documents message with deductible 0 and coinsurance 1', async () => {
    const res = await post('cs', '/api/messages', { name: 'claim-documents-received', processInstanceId: claim.processInstanceId, variables: { deductible: 0, coinsurance: 1 } });
    await Then('it is refused with 400 VALIDATION_FAILED naming deductible (and coinsurance) and the declared variables', async () => {
      assert.is(res.status, 400, JSON.stringify(res.body));
      assert.is(res.body.code, 'VALIDATION_FAILED');
      assert.match(res.body.message, /"deductible"/);
      assert.match(res.body.message, /receivedDocuments/);
      assert.match(res.body.message, /messages\/claim-documents-received\.schema\.json/);
      assert.equal(res.body.details.map((x: any) => x.field), ['deductible', 'coinsurance']);
    });
  });
  await And('a declared variable of the wrong type is refused too, naming it', async () => {
    const res = await post('cs', '/api/messages', { name: 'claim-documents-received', processInstanceId: claim.processInstanceId, variables: { receivedDocuments: 'invoice.pdf' } });
    assert.is(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.details.map((x: any) => x.field), ['receivedDocuments']);
    const mixed = await post('cs', '/api/messages', { name: 'claim-documents-received', processInstanceId: claim.processInstanceId, variables: { receivedDocuments: ['invoice.pdf'], deductible: 0 } });
    assert.is(mixed.status, 400, 'one undeclared field refuses the whole message');
    assert.equal(mixed.body.details.map((x: any) => x.field), ['deductible']);
  });
  await Then('the claim still waits for its documents with the policy terms unchanged', async () => {
    const inst = await d.instance(claim.processInstanceId);
    assert.is(inst.variables.deductible, 1000);
    assert.is(inst.variables.coinsurance, 0.8);
    assert.ok(inst.activeActivities.includes('Task_WaitDocuments'), inst.activeActivities.join(', '));
  });
  await When('the documents arrive with the declared variables and the adjuster approves', async () => {
    const res = await post('cs', '/api/messages', { name: 'claim-documents-received', processInstanceId: claim.processInstanceId, variables: { receivedDocuments: ['invoice-4711.pdf'], documentsNote: null } });
    assert.is(res.status, 200, JSON.stringify(res.body));
    await d.complete('adjuster', claim.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  });
  await Then('the payout is (10,000 - 1,000) x 0.8 = 7,200', async () => {
    noIncidents(await d.instance(claim.processInstanceId));
    const stored = (await d.store.claim(claim.claimNo))!;
    assert.is(stored.status, 'closed');
    assert.is(stored.payout, 7200);
    assert.equal((await d.store.payments({ claimNo: claim.claimNo })).map((p) => p.amount), [7200]);
  });
});

shipped('the shipped message schemas are deployed as versioned forms under messages/', async ({ d }) => {
  for (const name of ['claim-documents-received', 'sales-premium-paid']) {
    const res = await d.call('admin', 'GET', `/api/forms/messages/${name}`);
    assert.is(res.status, 200, JSON.stringify(res.body));
    assert.is(res.body.key, `messages/${name}`);
    assert.is(res.body.versions[0].resourceName, `messages/${name}.schema.json`);
  }
});

shipped('POST /api/signals with variables and no signal schema: 400 naming the field and where to declare it', async ({ d }) => {
  const res = await d.call('admin', 'POST', '/api/signals', { name: 'storm-warning', variables: { coinsurance: 1 } });
  assert.is(res.status, 400, JSON.stringify(res.body));
  assert.is(res.body.code, 'VALIDATION_FAILED');
  assert.match(res.body.message, /"coinsurance"/);
  assert.match(res.body.message, /signals\/storm-warning\.schema\.json/);
  assert.is((await d.call('admin', 'POST', '/api/signals', { name: 'storm-warning' })).status, 200, 'without variables no schema is needed');
});

// ---------------------------------------------------------------- the rules, on the engine

const ESP = fixture('feature/events/esp-message-signal.bpmn');
const MSG_START = fixture('msg-start.bpmn');
const adjuster = ops('ann', 'adjusters');

const rules = suite<{ t: TestEngine; calls: Record<string, unknown>[] }>('message and signal variables are declared');
rules.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = [];
  for (const name of ['logCall', 'flagStorm']) ctx.t.engine.registerHandler(name, (c) => (ctx.calls.push({ [name]: c.variables }), {}));
  for (const name of ['notify', 'closeClaim', 'remind']) ctx.t.engine.registerHandler(name, () => ({}));
  await ctx.t.engine.deploy([
    { name: 'esp-message-signal.bpmn', content: ESP },
    { name: 'msg-start.bpmn', content: MSG_START },
    { name: 'messages/customer-called.schema.json', content: schema({ note: { type: 'string', maxLength: 20 }, callCount: { type: 'integer', minimum: 1 } }) },
    { name: 'signals/storm-warning.schema.json', content: schema({ region: { type: 'string', enum: ['north', 'south'] } }, { required: ['region'] }) },
  ]);
});
rules.after(async (ctx) => ctx.t.close());

rules('a message without a schema sets no variables; without variables it needs none', async ({ t }) => {
  await Given('an instance waiting for messages', () => t.engine.startInstance('esp-message-signal', { businessKey: 'MV-1' }));
  const err = await When('the message "customer-texted" (no schema) carries a variable', () =>
    refusal(t.engine.correlateMessage({ name: 'customer-texted', businessKey: 'MV-1', variables: { amount: 5 } })));
  await Then('400 VALIDATION_FAILED naming the field and the file to declare it in, before any correlation', () => {
    assert.is(err.code, 'VALIDATION_FAILED');
    assert.is(err.statusCode, 400);
    assert.equal(fields(err), ['amount']);
    assert.match(err.message, /"amount"/);
    assert.match(err.message, /declares no variables; declare it in messages\/customer-texted\.schema\.json/);
  });
  await And('without variables the same message is only "not correlated" (no schema needed)', async () => {
    const e2 = await refusal(t.engine.correlateMessage({ name: 'customer-texted', businessKey: 'MV-1' }));
    assert.is(e2.code, 'MESSAGE_NOT_CORRELATED');
    const e3 = await refusal(t.engine.correlateMessage({ name: 'customer-texted', businessKey: 'MV-1', variables: {} }));
    assert.is(e3.code, 'MESSAGE_NOT_CORRELATED', 'an empty variables object is no variables');
  });
});

rules('declared variables pass; undeclared or mistyped ones are refused and nothing runs', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance waiting at Handle claim', () => t.engine.startInstance('esp-message-signal', { businessKey: 'MV-2' }));
  ctx.calls.length = 0;
  await When('customer-called sends a declared note', async () => {
    const r = await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'MV-2', variables: { note: 'called back', callCount: 2 } });
    assert.is(r.correlated.length, 1);
  });
  await Then('the event sub-process saw the variables', () => assert.equal(ctx.calls, [{ logCall: { note: 'called back', callCount: 2 } }]));
  const undeclared = await When('it sends an undeclared variable next to a declared one', () =>
    refusal(t.engine.correlateMessage({ name: 'customer-called', businessKey: 'MV-2', variables: { note: 'x', approved: true } })));
  await Then('400 naming the undeclared field and listing the declared ones', () => {
    assert.equal(fields(undeclared), ['approved']);
    assert.match(undeclared.message, /may not set the variable "approved": it declares "note", "callCount"/);
  });
  const mistyped = await When('it sends declared variables of the wrong type or size', () =>
    refusal(t.engine.correlateMessage({ name: 'customer-called', businessKey: 'MV-2', variables: { note: 'a note far longer than twenty characters', callCount: 0 } })));
  await Then('400 naming each field', () => {
    assert.is(mistyped.code, 'VALIDATION_FAILED');
    assert.equal(fields(mistyped).sort(), ['callCount', 'note']);
  });
  await And('nothing was delivered by the refused messages', async () => {
    assert.is(ctx.calls.length, 1);
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.variables.approved, undefined);
    assert.is((await t.engine.history(inst.id)).filter((h) => h.type === 'message.received').length, 1);
  });
});

rules('a buffered message and a message start are checked before anything is kept or started', async ({ t }) => {
  const before = (await t.tdb.db('process_instances').count({ n: '*' }).first()) as { n: number | string };
  const start = await When('loss-reported (a message start, no schema) carries a variable', () =>
    refusal(t.engine.correlateMessage({ name: 'loss-reported', businessKey: 'MV-START', variables: { channel: 'phone' } })));
  const buffered = await And('customer-called with a time to live carries an undeclared variable', () =>
    refusal(t.engine.correlateMessage({ name: 'customer-called', businessKey: 'MV-NOBODY', timeToLive: 'PT1H', variables: { payout: 1 } })));
  await Then('both are 400 naming the field; no instance was started, no message buffered', async () => {
    assert.equal([start.code, fields(start)], ['VALIDATION_FAILED', ['channel']]);
    assert.equal([buffered.code, fields(buffered)], ['VALIDATION_FAILED', ['payout']]);
    const after = (await t.tdb.db('process_instances').count({ n: '*' }).first()) as { n: number | string };
    assert.is(Number(after.n), Number(before.n));
    assert.is(await t.tdb.db('buffered_messages').where({ name: 'customer-called', business_key: 'MV-NOBODY' }).first(), undefined);
  });
  await And('the message start without variables still starts an instance', async () => {
    const r = await t.engine.correlateMessage({ name: 'loss-reported', businessKey: 'MV-START' });
    assert.is(r.correlated[0].started, true);
  });
});

rules('a signal sets only what its schema declares, and the schema applies to every broadcast', async (ctx) => {
  const { t } = ctx;
  const inst = await Given('an instance waiting for the storm warning', () => t.engine.startInstance('esp-message-signal', { businessKey: 'MV-3' }));
  ctx.calls.length = 0;
  const undeclared = await When('storm-warning is broadcast with an undeclared variable', () =>
    refusal(t.engine.broadcastSignal({ name: 'storm-warning', variables: { region: 'north', deductible: 0 } })));
  await Then('400 naming it; no instance received the signal', async () => {
    assert.equal([undeclared.code, fields(undeclared)], ['VALIDATION_FAILED', ['deductible']]);
    assert.match(undeclared.message, /signal "storm-warning" may not set the variable "deductible"/);
    assert.equal(ctx.calls, []);
  });
  const missing = await When('it is broadcast without the required region', () => refusal(t.engine.broadcastSignal({ name: 'storm-warning' })));
  await Then('400 naming region (a deployed schema applies even without variables)', () => assert.equal(fields(missing), ['region']));
  await When('it is broadcast with a declared region', async () => {
    const r = await t.engine.broadcastSignal({ name: 'storm-warning', variables: { region: 'south' } });
    assert.ok(r.processInstanceIds.includes(inst.id));
  });
  await Then('the sub-process saw it', () => assert.ok(ctx.calls.some((c) => (c.flagStorm as any)?.region === 'south')));
  await And('the instance completes as before', async () => {
    const task = (await t.engine.getInstance(inst.id)).openTasks[0];
    await t.engine.completeTask(task.id, {}, adjuster);
  });
});

rules('a new version of a schema applies from its deployment on', async ({ t }) => {
  await Given('an instance waiting for customer-called', () => t.engine.startInstance('esp-message-signal', { businessKey: 'MV-4' }));
  const before = await refusal(t.engine.correlateMessage({ name: 'customer-called', businessKey: 'MV-4', variables: { channel: 'sms' } }));
  assert.equal(fields(before), ['channel']);
  const deployed = await When('version 2 of the schema declares channel', () =>
    t.engine.deploy([{ name: 'messages/customer-called.schema.json', content: schema({ note: { type: 'string' }, channel: { type: 'string' } }) }]));
  await Then('it is version 2 of form messages/customer-called, and the message may now set channel', async () => {
    assert.equal(deployed.forms, [{ formKey: 'messages/customer-called', version: 2, created: true }]);
    const r = await t.engine.correlateMessage({ name: 'customer-called', businessKey: 'MV-4', variables: { channel: 'sms' } });
    assert.is(r.correlated.length, 1);
  });
});

rules('a variable schema that would allow undeclared variables is refused at deploy', async ({ t }) => {
  const cases: [string, string, RegExp][] = [
    ['messages/open.schema.json', schema({ a: { type: 'string' } }, { additionalProperties: true }), /remove "additionalProperties" \(false is implied\)/],
    ['signals/open.schema.json', schema({ a: { type: 'string' } }, { patternProperties: { '^x': {} } }), /remove "patternProperties"/],
    ['messages/none.schema.json', JSON.stringify({ type: 'object' }), /declares the variables it may set in "properties"/],
    ['messages/list.schema.json', JSON.stringify({ type: 'array', properties: {} }), /"type" must be "object"/],
  ];
  for (const [name, content, why] of cases) {
    const err = await refusal(t.engine.deploy([{ name, content }]));
    assert.is(err.code, 'BPMN_INVALID', name);
    const problems = err.details as { resource: string; message: string }[];
    assert.is(problems[0].resource, name);
    assert.match(problems[0].message, why);
  }
  const ok = await t.engine.deploy([{ name: 'forms/intake/open.schema.json', content: schema({ a: { type: 'string' } }, { additionalProperties: true }) }]);
  assert.equal(ok.forms.map((f) => f.formKey), ['intake/open'], 'an ordinary form may still be open');
});

shipped.run();
rules.run();
