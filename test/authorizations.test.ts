/**
 * Feature: authorizations, Camunda-style (issue 10, section 1), at the engine: no HTTP. Grants on process
 * definitions, messages, signals and decisions checked in the engine's operations; task participation; lists
 * narrowed to what the caller may see; sensitive variables redacted while the chains still verify; grants
 * managed by admins with their audit record; the default grants of processes/authorizations.json deployed and
 * redeployed. The shipped claims flow with its real handlers (test/insurance.ts), and small diagrams.
 */
import { suite } from 'uvu';
import { reporting } from './support/printable-errors.ts';
import * as assert from 'uvu/assert';
import { domain, DAY, type Domain } from './insurance.ts';
import { admin, ops, testEngine, fixture, type TestEngine } from './helpers.ts';
import { InsureflowError } from '../src/errors.ts';
import { REDACTED } from '../src/engine/authorization.ts';
import type { Actor } from '../src/engine/actor.ts';
import { operationPage } from '../src/audit/operations.ts';
import { Given, When, Then, And } from './feature/gwt.ts';

async function refusal(p: Promise<unknown>, code = 'FORBIDDEN'): Promise<InsureflowError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof InsureflowError) {
      assert.is(err.code, code, err.message);
      return err;
    }
    throw err;
  }
  throw new Error(`expected ${code}`);
}

// the scenario people of test/insurance.ts, as the engine sees them
const cs = ops('cs', 'customer-service');
const adjuster = ops('adjuster', 'adjusters');
const surveyor = ops('surveyor', 'surveyors');
const siu = ops('siu', 'special-investigations');
const supervisor = ops('supervisor', 'claims-supervisors');
const agent = ops('agent', 'sales-agents');
const auditor: Actor = { name: 'vera', roles: ['auditor'], groups: [] };
const analyst: Actor = { name: 'ana', roles: ['analyst'], groups: [] };

// ------------------------------------------------------------------------------------------ the shipped claims flow

const claims = reporting(suite<{ d: Domain; policy: string[] }>('authorizations on the shipped claims flow'));
claims.before(async (ctx) => {
  ctx.d = await domain();
  ctx.policy = ctx.d.demo.policies.map((p) => p.policyNo);
});
claims.after(async (ctx) => ctx.d.close());

const lossDate = (d: Domain, days: number) => new Date(d.t.clock.now() - days * DAY).toISOString().slice(0, 10);

async function openTask(d: Domain, instanceId: string, activityId: string) {
  const inst = await d.t.engine.getInstance(instanceId);
  const task = inst.openTasks.find((t) => t.activityId === activityId);
  if (!task) throw new Error(`no open ${activityId}; open: ${inst.openTasks.map((t) => t.activityId).join(', ') || 'none'}; status ${inst.status}`);
  return task;
}

async function work(d: Domain, who: Actor, instanceId: string, activityId: string, variables: Record<string, unknown>) {
  const task = await openTask(d, instanceId, activityId);
  await d.t.engine.claimTask(task.id, who);
  await d.t.engine.completeTask(task.id, variables, who);
}

claims('the injection of the issue: a surveyor may not correlate the documents message; the claim pays 7,200', async ({ d, policy }) => {
  const e = d.t.engine;
  const inst = await Given('a water claim of 10,000 on policy 2 (deductible 1,000, coinsurance 80%) reported by customer service', () =>
    e.startInstance('claims', { variables: { policyNo: policy[1], channel: 'phone', lossDate: lossDate(d, 2), peril: 'water', claimedAmount: 10000, description: 'Burst pipe under the sink' } }, cs),
  );
  await And('the adjuster asks for documents', () => work(d, adjuster, inst.id, 'Task_ManualReview', { reviewDecision: 'request-documents', missingDocuments: ['repair invoice'] }));
  const err = await When('a surveyor sends claim-documents-received with deductible 0 and coinsurance 1', () =>
    refusal(e.correlateMessage({ name: 'claim-documents-received', processInstanceId: inst.id, variables: { deductible: 0, coinsurance: 1 } }, surveyor)),
  );
  await Then('it is refused naming the permission, the message and how an admin grants it', () => {
    assert.equal(err.details, { permission: 'correlate', resourceType: 'message', resourceId: 'claim-documents-received', user: 'surveyor', groups: ['surveyors'] });
    assert.match(err.message, /POST \/api\/authorizations/);
    assert.match(err.message, /insureflow grant --group surveyors correlate message:claim-documents-received/);
  });
  await And('nothing reached the instance', async () => {
    const now = await e.getInstance(inst.id);
    assert.ok(now.activeActivities.includes('Task_WaitDocuments'), now.activeActivities.join());
    assert.is(now.variables.deductible, 1000);
    assert.not.ok((await e.history(inst.id)).some((h) => h.type === 'message.received'));
  });
  await When('customer service records the documents and the adjuster approves', async () => {
    await e.correlateMessage({ name: 'claim-documents-received', processInstanceId: inst.id, variables: { receivedDocuments: ['invoice-4711.pdf'] } }, cs);
    await work(d, adjuster, inst.id, 'Task_ManualReview', { reviewDecision: 'approve' });
  });
  await Then('the payout is (10,000 - 1,000) x 80% = 7,200', async () => {
    const claim = (await d.store.claimOfInstance(inst.id))!;
    assert.is(claim.payout, 7200);
    assert.is((await d.store.payments({ claimNo: claim.claimNo }))[0].amount, 7200);
  });
});

claims('start: customer service may start claims; a surveyor, a sales agent and an analyst may not', async ({ d, policy }) => {
  const e = d.t.engine;
  const body = { variables: { policyNo: policy[0], channel: 'phone', lossDate: lossDate(d, 1), peril: 'glass', claimedAmount: 800, description: 'Cracked window pane' } };
  for (const who of [surveyor, agent, analyst]) {
    const err = await refusal(e.startInstance('claims', { businessKey: 'CLM-20260105-000001', ...body }, who));
    assert.equal([err.details && (err.details as any).permission, (err.details as any).resourceId], ['start', 'claims']);
  }
  assert.is((await e.startInstance('claims', body, cs)).status, 'completed');
  // the sales agent drives sales (defaults): start and its messages
  const sale = await e.startInstance('sales', { businessKey: 'LEAD-AUTH-1', variables: { leadSource: 'branch', customerName: 'Ann Lee', agent: 'agent', agentLevel: 'senior' } }, agent);
  assert.ok(sale.id);
  await refusal(e.startInstance('product-development', { variables: {} }, agent));
});

claims('cross-group reads: a sales agent reads no claim; the adjuster reads the claim they reviewed, not another one', async ({ d, policy }) => {
  const e = d.t.engine;
  const mine = await e.startInstance('claims', { variables: { policyNo: policy[0], channel: 'phone', lossDate: lossDate(d, 2), peril: 'water', claimedAmount: 12000, description: 'Flooded kitchen', contactEmail: 'ann@example.com', contactPhone: '+86 10 5555 0101' } }, cs);
  const other = await e.startInstance('claims', { variables: { policyNo: policy[0], channel: 'phone', lossDate: lossDate(d, 2), peril: 'water', claimedAmount: 13000, description: 'Flooded bathroom', contactEmail: 'bo@example.com' } }, cs);
  await Given('the adjuster claims the review of the first claim only', async () => {
    await e.claimTask((await openTask(d, mine.id, 'Task_ManualReview')).id, adjuster);
  });
  await Then('a sales agent reads neither claim, nor its history, nor sees it listed', async () => {
    for (const id of [mine.id, other.id]) {
      const err = await refusal(e.getInstance(id, agent));
      assert.is((err.details as any).permission, 'read-instances');
      assert.is((await refusal(e.history(id, agent))).details && ((await refusal(e.history(id, agent))).details as any).permission, 'read-history');
    }
    assert.is((await e.listInstances({ key: 'claims' }, agent)).total, 0);
  });
  await And('the adjuster reads the claim it holds a task of, with its variables and history', async () => {
    const inst = await e.getInstance(mine.id, adjuster);
    assert.is(inst.variables.contactEmail, 'ann@example.com');
    assert.ok((await e.history(mine.id, adjuster)).length > 5);
    const listed = await e.listInstances({ key: 'claims' }, adjuster);
    assert.ok(listed.items.some((i) => i.id === mine.id));
    assert.not.ok(listed.items.some((i) => i.id === other.id));
  });
  await And('not the other claim', async () => {
    await refusal(e.getInstance(other.id, adjuster));
    await refusal(e.history(other.id, adjuster));
  });
  await And('customer service reads the claims (read-instances) but not their variables', async () => {
    const seen = await e.getInstance(mine.id, cs);
    assert.equal([seen.variablesWithheld, seen.variables], [true, {}]);
    assert.is(seen.openTasks[0].activityId, 'Task_ManualReview');
    await refusal(e.history(mine.id, cs));
  });
  await And('the claims supervisors and auditors read everything by grant and role', async () => {
    assert.is((await e.getInstance(other.id, supervisor)).variables.contactEmail, 'bo@example.com');
    assert.is((await e.getInstance(other.id, auditor)).variables.contactEmail, 'bo@example.com');
    assert.ok((await e.history(other.id, auditor)).length > 5);
  });
  await And('an analyst reads the decisions the claim evaluated, not the claim', async () => {
    await refusal(e.getInstance(other.id, analyst));
    const evaluated = await e.instanceDecisions(other.id, analyst);
    assert.equal(evaluated.map((x) => x.data.decisionKey), ['ClaimClassification', 'FraudIndicators']);
    await refusal(e.instanceDecisions(other.id, agent));
  });
  await And('held tasks count after they are completed', async () => {
    await e.completeTask((await openTask(d, mine.id, 'Task_ManualReview')).id, { reviewDecision: 'approve' }, adjuster);
    assert.is((await e.getInstance(mine.id, adjuster)).status, 'completed');
  });
});

claims('sensitive variables: investigation findings only for investigators and supervisors (and admins); the chain still verifies', async ({ d, policy }) => {
  const e = d.t.engine;
  const inst = await Given('a claim the screening sends to special investigations', () =>
    e.startInstance('claims', { variables: { policyNo: policy[2], channel: 'phone', lossDate: lossDate(d, 1), peril: 'water', claimedAmount: 1_850_000, description: 'Burst water main' } }, cs),
  );
  await When('the investigator clears it with findings', () => work(d, siu, inst.id, 'Task_Investigate', { investigationOutcome: 'cleared', investigationFindings: 'Burst main confirmed by the utility' }));
  await And('an adjuster picks up the review', async () => e.claimTask((await openTask(d, inst.id, 'Task_ManualReview')).id, adjuster));
  await Then('the adjuster (participant) and an auditor see the findings redacted in instance, task and history reads', async () => {
    for (const who of [adjuster, auditor]) {
      const seen = await e.getInstance(inst.id, who);
      assert.equal(seen.variables.investigationFindings, { ...REDACTED }, who.name);
      assert.is(seen.variables.investigationOutcome, 'cleared', 'the rest stays');
      const events = await e.history(inst.id, who);
      const done = events.find((h) => h.type === 'task.completed' && h.activityId === 'Task_Investigate')!;
      assert.equal((done.data.form as any).investigationFindings, { ...REDACTED });
      assert.is(done.redacted, true);
      assert.not.match(JSON.stringify(events), /utility/, `${who.name}: no trace of the findings in the history`);
    }
    const task = await e.getTask((await openTask(d, inst.id, 'Task_ManualReview')).id, adjuster);
    assert.equal(task.variables.investigationFindings, { ...REDACTED });
  });
  await And('investigators, supervisors and admins read them', async () => {
    for (const who of [siu, supervisor, admin]) assert.is((await e.getInstance(inst.id, who)).variables.investigationFindings, 'Burst main confirmed by the utility', who.name);
    assert.match(JSON.stringify(await e.history(inst.id, supervisor)), /utility/);
  });
  await And('the stored chain is untouched and verifies', async () => {
    assert.equal(await e.verifyInstanceHistory(inst.id), { consistent: true, checked: (await e.history(inst.id)).length });
  });
});

claims('incidents: listed to admins and to the grantees of the definition only', async ({ d }) => {
  const e = d.t.engine;
  const all = await e.listIncidents({ status: 'open' });
  const seed = all.total;
  // an incident in a process of its own, granted to nobody
  e.registerHandler('auth.boom', () => {
    throw new Error('downstream system down');
  }, { retries: 1 });
  await e.deploy([{ name: 'auth-boom.bpmn', content: BOOM }]);
  const inst = await e.startInstance('auth-boom', {}, admin);
  assert.is((await e.getInstance(inst.id)).status, 'incident');
  assert.is((await e.listIncidents({ status: 'open' }, admin)).total, seed + 1);
  assert.is((await e.listIncidents({ status: 'open', processInstanceId: inst.id }, surveyor)).total, 0);
  assert.is((await e.listIncidents({ status: 'open', processInstanceId: inst.id }, supervisor)).total, 0, 'claims supervisors read claims, not this process');
  const g = await e.grant({ group: 'surveyors', resourceType: 'process-definition', resourceId: 'auth-boom', permissions: ['read-instances'] }, admin);
  const listed = await e.listIncidents({ status: 'open' }, surveyor);
  assert.equal(listed.items.map((i) => i.processInstanceId), [inst.id]);
  await e.revoke(g.id, admin);
  assert.is((await e.listIncidents({ status: 'open' }, surveyor)).total, 0, 'revocation applies at once');
});

const BOOM = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_Boom" targetNamespace="http://insureflow.test">
  <bpmn:process id="auth-boom" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Call" />
    <bpmn:serviceTask id="Task_Call" name="Call the downstream system" camunda:type="external" camunda:topic="auth.boom" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Call" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

// ------------------------------------------------------------------------------------------ grants and defaults

const grants = reporting(suite<{ t: TestEngine }>('grants and the default grants file'));
grants.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.t.engine.registerHandler('logCall', () => ({}));
  await ctx.t.engine.deploy([
    { name: 'event-gateway.bpmn', content: fixture('event-gateway.bpmn') },
    { name: 'msg-start.bpmn', content: fixture('msg-start.bpmn') },
  ]);
});
grants.after(async (ctx) => ctx.t.close());

grants('signals: broadcast needs the permission on the signal name; a message start event needs start on its process too', async ({ t }) => {
  const e = t.engine;
  const ann = ops('ann', 'adjusters');
  const a = await e.startInstance('event-gateway-test', {}, admin);
  const b = await e.startInstance('event-gateway-test', {}, admin);
  const err = await refusal(e.broadcastSignal({ name: 'storm-alert' }, ann));
  assert.equal([(err.details as any).permission, (err.details as any).resourceType, (err.details as any).resourceId], ['broadcast', 'signal', 'storm-alert']);
  assert.equal((await e.getInstance(a.id)).status, 'active', 'nothing was delivered');
  await e.grant({ group: 'adjusters', resourceType: 'signal', resourceId: 'storm-alert', permissions: ['broadcast'] }, admin);
  await refusal(e.broadcastSignal({ name: 'other-signal' }, ann));
  assert.equal((await e.broadcastSignal({ name: 'storm-alert' }, ann)).delivered, 2);
  assert.equal([(await e.getInstance(a.id)).status, (await e.getInstance(b.id)).status], ['completed', 'completed']);

  await e.grant({ group: 'adjusters', resourceType: 'message', resourceId: 'loss-reported', permissions: ['correlate'] }, admin);
  const noStart = await refusal(e.correlateMessage({ name: 'loss-reported', businessKey: 'MS-1' }, ann));
  assert.equal([(noStart.details as any).permission, (noStart.details as any).resourceId], ['start', 'msg-start-test']);
  assert.is((await e.listInstances({ key: 'msg-start-test' })).total, 0);
  await e.grant({ user: 'ann', resourceType: 'process-definition', resourceId: 'msg-start-test', permissions: ['start'] }, admin);
  const started = await e.correlateMessage({ name: 'loss-reported', businessKey: 'MS-1' }, ann);
  assert.is(started.correlated[0].started, true);
  // a grant to another user is not ann's
  await refusal(e.correlateMessage({ name: 'loss-reported', businessKey: 'MS-2' }, ops('carl', 'adjusters')));
});

grants('only admins manage grants; each change commits with its event on the "authorizations" chain and shows in the operation log', async ({ t }) => {
  const e = t.engine;
  await refusal(e.grant({ group: 'x', resourceType: 'message', resourceId: 'm', permissions: ['correlate'] }, analyst));
  await refusal(e.listAuthorizations({}, adjuster));
  const bad = await refusal(e.grant({ group: 'x', resourceType: 'message', resourceId: 'm', permissions: ['start' as any] }, admin), 'VALIDATION_FAILED');
  assert.match(bad.message, /start is not a permission of message \(its permissions: correlate\)/);
  await refusal(e.grant({ group: 'x', user: 'y', resourceType: 'message', resourceId: 'm', permissions: ['correlate'] } as any, admin), 'VALIDATION_FAILED');
  await refusal(e.grant({ resourceType: 'message', resourceId: 'm', permissions: ['correlate'] } as any, admin), 'VALIDATION_FAILED');
  await refusal(e.grant({ group: 'x', resourceType: 'tenant' as any, resourceId: 'm', permissions: ['read'] as any }, admin), 'VALIDATION_FAILED');

  const chainBefore = (await t.tdb.db('history_events').where({ chain_id: 'authorizations' })).length;
  const g = await e.grant({ group: 'underwriters', resourceType: 'decision', resourceId: 'FraudIndicators', permissions: ['read'], description: 'tuning' }, { name: 'root', roles: ['admin'], groups: [] });
  assert.equal([g.group, g.user, g.source, g.createdBy, g.description], ['underwriters', null, 'admin', 'root', 'tuning']);
  const dup = await refusal(e.grant({ group: 'underwriters', resourceType: 'decision', resourceId: 'FraudIndicators', permissions: ['read'] }, admin), 'AUTHORIZATION_EXISTS');
  assert.is((dup.details as any).id, g.id);
  const listed = await e.listAuthorizations({ group: 'underwriters' }, admin);
  assert.equal(listed.items.map((x) => x.id), [g.id]);
  assert.ok((await e.permissions(ops('uma', 'underwriters'))).allows('read', 'decision', 'FraudIndicators'));
  await e.revoke(g.id, admin);
  assert.not.ok((await e.permissions(ops('uma', 'underwriters'))).allows('read', 'decision', 'FraudIndicators'));
  await refusal(e.revoke(g.id, admin), 'AUTHORIZATION_NOT_FOUND');

  const events = await t.tdb.db('history_events').where({ chain_id: 'authorizations' }).orderBy('seq');
  assert.equal(events.slice(chainBefore).map((r: any) => [r.type, r.actor]), [['authorization.granted', 'root'], ['authorization.revoked', 'admin']]);
  assert.equal(JSON.parse(events[events.length - 1].data).grant.permissions, ['read']);
  assert.is((await e.stores.history.verify('authorizations')).consistent, true);
  const log = await operationPage(t.tdb.db, { operations: ['grant', 'revoke'] }, { order: 'asc', limit: 10 });
  assert.equal(log.items.slice(-2).map((o) => [o.operation, o.actor, o.target.kind, o.target.id]), [['grant', 'root', 'authorization', g.id], ['revoke', 'admin', 'authorization', g.id]]);
  assert.equal((log.items[log.items.length - 1].before as any).resourceId, 'FraudIndicators');
});

grants('a grant that fails to record leaves no grant (one transaction)', async ({ t }) => {
  const e = t.engine;
  const append = e.stores.history.append;
  e.stores.history.append = async () => {
    throw new Error('disk full');
  };
  try {
    await e.grant({ group: 'ghosts', resourceType: 'signal', resourceId: '*', permissions: ['broadcast'] }, admin).then(
      () => assert.unreachable('the grant must fail with its audit record'),
      (err) => assert.match(err.message, /disk full/),
    );
  } finally {
    e.stores.history.append = append;
  }
  assert.is((await e.listAuthorizations({ group: 'ghosts' }, admin)).total, 0);
});

grants('the defaults file: validated at deploy (422 naming the entry), admins only; a changed file replaces its grants, admin grants stay', async ({ t }) => {
  const e = t.engine;
  const file = (doc: unknown) => ({ name: 'authorizations.json', content: JSON.stringify(doc, null, 2) });
  const v1 = {
    grants: [
      { group: 'intake', resourceType: 'process-definition', resourceId: 'msg-start-test', permissions: ['start', 'read-instances'] },
      { group: 'intake', resourceType: 'message', resourceId: 'loss-reported', permissions: ['correlate'] },
    ],
    sensitiveVariables: { 'msg-start-test': { iban: ['finance'] } },
  };
  await Given('a bad file: it is refused with every entry named, nothing stored', async () => {
    const bad = { grants: [v1.grants[0], { group: 'intake', resourceType: 'message', resourceId: 'x', permissions: ['start'] }, { resourceType: 'signal', resourceId: 's', permissions: ['broadcast'] }, v1.grants[0]], sensitiveVariables: { claims: { x: [] } } };
    const err = await refusal(e.deploy([file(bad)]), 'BPMN_INVALID');
    const where = (err.details as any[]).map((p) => `${p.resource} ${p.element}`);
    for (const el of ['grants[1]', 'grants[2]', 'grants[3]', 'sensitiveVariables.claims.x']) assert.ok(where.includes(`authorizations.json ${el}`), `${el} in ${where.join('; ')}`);
    assert.is((await e.listAuthorizations({ source: 'defaults' }, admin)).total, 0);
  });
  await And('an analyst may not deploy it', async () => {
    const err = await refusal(e.deploy([file(v1)], { actor: analyst }));
    assert.match(err.message, /only an admin may deploy it/);
  });
  const first = await When('an admin deploys it', () => e.deploy([file(v1)], { actor: admin, source: 'api' }));
  await Then('its grants are in force, as defaults of that deployment', async () => {
    assert.equal(first.authorizations, { resource: 'authorizations.json', created: true, grants: 2, sensitiveVariables: 1 });
    const defaults = (await e.listAuthorizations({ source: 'defaults' }, admin)).items;
    assert.equal(defaults.map((g) => [g.group, g.resourceType, g.resourceId, g.permissions, g.deploymentId]), [
      ['intake', 'message', 'loss-reported', ['correlate'], first.deploymentId],
      ['intake', 'process-definition', 'msg-start-test', ['start', 'read-instances'], first.deploymentId],
    ]);
    assert.equal(await e.sensitiveVariables(admin), [{ processKey: 'msg-start-test', variable: 'iban', groups: ['finance'] }]);
    assert.ok((await e.correlateMessage({ name: 'loss-reported', businessKey: 'DEF-1' }, ops('ivy', 'intake'))).correlated[0].started);
  });
  const mine = await And('an admin grants something of its own', () => e.grant({ group: 'intake', resourceType: 'signal', resourceId: 'storm-alert', permissions: ['broadcast'] }, admin));
  await When('the same file is deployed again (other whitespace)', async () => {
    const again = await e.deploy([{ name: 'authorizations.json', content: JSON.stringify(v1) }], { actor: admin });
    assert.equal([again.created, again.deploymentId, again.authorizations?.created], [false, null, false]);
  });
  const v2 = { grants: [{ group: 'intake', resourceType: 'process-definition', resourceId: 'msg-start-test', permissions: ['read-instances'] }] };
  const second = await When('a changed file is deployed', () => e.deploy([file(v2)], { actor: admin }));
  await Then('the previous file\'s grants and sensitive variables are gone, the admin grant stays', async () => {
    assert.is(second.authorizations?.created, true);
    const all = (await e.listAuthorizations({}, admin)).items.filter((g) => g.group === 'intake');
    assert.equal(all.map((g) => [g.source, g.resourceType, g.permissions]).sort(), [['admin', 'signal', ['broadcast']], ['defaults', 'process-definition', ['read-instances']]]);
    assert.ok(all.some((g) => g.id === mine.id));
    assert.equal(await e.sensitiveVariables(admin), []);
    await refusal(e.correlateMessage({ name: 'loss-reported', businessKey: 'DEF-2' }, ops('ivy', 'intake')));
  });
  await And('the change is on the "authorizations" chain with the grants before and after, and in the operation log', async () => {
    const ev = await t.tdb.db('history_events').where({ chain_id: 'authorizations', type: 'authorizations.deployed' }).orderBy('seq');
    assert.is(ev.length, 2);
    const data = JSON.parse(ev[1].data);
    assert.equal([data.deploymentId, data.before.length, data.after.length], [second.deploymentId, 2, 1]);
    assert.is((await e.stores.history.verify('authorizations')).consistent, true);
    const log = await operationPage(t.tdb.db, { operations: ['authorizations.deploy'] }, { order: 'asc', limit: 10 });
    assert.equal(log.items.map((o) => [o.actor, o.target.id]), [['admin', first.deploymentId], ['admin', second.deploymentId]]);
  });
  await And('a start-up file unchanged since the previous start-up never rolls back a file deployed since over the API', async () => {
    const v3 = { grants: [{ group: 'intake', resourceType: 'decision', resourceId: '*', permissions: ['read'] }] };
    const boot = await e.deploy([file(v3)], { source: 'startup', name: '/srv/processes' });
    assert.is(boot.authorizations?.created, true, 'a first start-up of the folder deploys it');
    await e.deploy([file(v2)], { actor: admin, source: 'api' });
    const restart = await e.deploy([file(v3)], { source: 'startup', name: '/srv/processes' });
    assert.is(restart.authorizations?.created, false);
    assert.equal((await e.listAuthorizations({ source: 'defaults' }, admin)).items.map((g) => g.resourceType), ['process-definition'], 'v2 stays');
    const v4 = { grants: [{ group: 'intake', resourceType: 'signal', resourceId: '*', permissions: ['broadcast'] }] };
    assert.is((await e.deploy([file(v4)], { source: 'startup', name: '/srv/processes' })).authorizations?.created, true, 'a file changed in the folder is deployed');
    assert.equal((await e.listAuthorizations({ source: 'defaults' }, admin)).items.map((g) => g.resourceType), ['signal']);
  });
});

grants('roles: workers may authenticate and nothing else yet; auditors read; a grant on "*" covers every resource of its type', async ({ t }) => {
  const e = t.engine;
  const worker: Actor = { name: 'bot', roles: ['worker'], groups: ['robots'] };
  const inst = await e.startInstance('event-gateway-test', {}, admin);
  await refusal(e.getInstance(inst.id, worker));
  await refusal(e.startInstance('event-gateway-test', {}, worker));
  assert.is((await e.listInstances({}, worker)).total, 0);
  assert.ok((await e.getInstance(inst.id, auditor)).id);
  await refusal(e.startInstance('event-gateway-test', {}, auditor));
  await e.grant({ group: 'robots', resourceType: 'topic', resourceId: 'pay', permissions: ['fetch'] }, admin);
  assert.ok((await e.permissions(worker)).allows('fetch', 'topic', 'pay'));
  await e.grant({ group: 'robots', resourceType: 'process-definition', resourceId: '*', permissions: ['read-instances'] }, admin);
  assert.is((await e.getInstance(inst.id, worker)).variablesWithheld, true);
  assert.ok((await e.listInstances({}, worker)).total >= 1);
});

claims.run();
grants.run();
