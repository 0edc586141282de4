/**
 * Findings of a newcomer's test of customer service, over HTTP on a real socket: a consultation answered as a
 * claim the claim would refuse, notices without a recipient, the complaints report refusing auditors (and
 * validating the query before the permission), a dispute whose contested action does not fit the claim.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, DAY, type Domain } from './insurance.ts';
import { contestedActionProblem } from '../src/processes/customer-service/rules.ts';

type Ctx = { d: Domain; base: string; auditor: string; nobody: string };
const f = suite<Ctx>('customer-service findings over HTTP');

f.before(async (ctx) => {
  ctx.d = await domain({}, '2026-03-02T09:00:00Z', { socket: true });
  const addr = ctx.d.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('the app listens on no TCP port');
  ctx.base = `http://127.0.0.1:${addr.port}`;
  ctx.auditor = (await ctx.d.t.engine.users.add({ name: 'auditor1', roles: ['auditor'], groups: [] })).token;
  ctx.nobody = (await ctx.d.t.engine.users.add({ name: 'ops-nogroup', roles: ['ops'], groups: [] })).token;
});
f.after(async (ctx) => ctx.d.close());

async function getAs(base: string, token: string, url: string) {
  const res = await fetch(base + url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as any };
}

/** Every notice to a customer (not the internal alerts) of `ref` has a recipient; returns them. */
async function addressed(d: Domain, ref: string) {
  const all = await d.store.notifications({ businessRef: ref });
  const customer = all.filter((n) => n.channel !== 'internal');
  for (const n of customer) assert.ok(n.recipient, `${n.topic} of ${ref} has no recipient: ${JSON.stringify(n)}`);
  return customer;
}

const daysAgo = (d: Domain, n: number) => new Date(d.t.clock.now() - n * DAY).toISOString().slice(0, 10);

f('Given a consultation answered as a claim with a future loss date, When the answer is completed, Then 400 naming lossDate, nothing sent, and a valid answer opens the claim', async ({ d }) => {
  const policyNo = d.demo.policies[0].policyNo;
  const res = await d.call<any>('cs', 'POST', '/api/consultations', { channel: 'phone', topic: 'claim', question: 'A ball broke my window, what do I do?', customerName: 'Li Wei', policyNo });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const { consultationNo, processInstanceId } = res.body;
  const answer = { answer: 'We have reported the loss for you.', outcome: 'claim', claimPolicyNo: policyNo, peril: 'glass', claimedAmount: 3000, lossDescription: 'Living room window broken by a football' };
  const future = await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { ...answer, lossDate: new Date(d.t.clock.now() + 3 * DAY).toISOString().slice(0, 10) }, 400);
  assert.is(future.body.code, 'VALIDATION_FAILED');
  assert.equal(future.body.details.map((x: any) => x.field), ['lossDate'], JSON.stringify(future.body));
  assert.equal(await d.store.notifications({ businessRef: consultationNo }), [], 'no answer was sent');
  assert.is((await d.call<any>('cs', 'GET', `/api/consultations/${consultationNo}`)).body.status, 'open');
  // a policy not on file: the claim needs a contact, and this consultation has none of its own
  const unknownPolicy = await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { ...answer, claimPolicyNo: 'POL-HOME-2026-999999', lossDate: daysAgo(d, 1) }, 400);
  assert.ok(unknownPolicy.body.details.some((x: any) => x.field === 'contactEmail'), JSON.stringify(unknownPolicy.body));
  assert.equal(await d.store.notifications({ businessRef: consultationNo }), []);
  // an amount with three decimals is not money (newcomer finding: 300.555 made a claim of 300.555)
  const fractions = await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { ...answer, claimedAmount: 300.555, lossDate: daysAgo(d, 1) }, 400);
  assert.ok(fractions.body.details.some((x: any) => x.field === 'claimedAmount'), JSON.stringify(fractions.body));
  await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { ...answer, lossDate: daysAgo(d, 1) });
  await d.advance(1000);
  noIncidents(await d.instance(processInstanceId));
  const c = (await d.call<any>('cs', 'GET', `/api/consultations/${consultationNo}`)).body;
  assert.equal([c.status, c.outcome], ['converted', 'claim']);
  assert.ok(await d.store.claim(c.claimNo), 'the claim was made');
  assert.is((await addressed(d, consultationNo)).length, 1);
});

f('Given a complaint with a customerId not on file or no customer and no contact, When registered, Then 400 naming the field; with a contact every notice has a recipient', async ({ d }) => {
  const body = { channel: 'phone', category: 'policy-service', complainantName: 'Li Wei', summary: 'Nobody called me back about my policy change.' };
  const unknown = await d.call<any>('cs', 'POST', '/api/complaints', { ...body, customerId: 'CUST-999999' });
  assert.is(unknown.status, 400, JSON.stringify(unknown.body));
  assert.is(unknown.body.code, 'VALIDATION_FAILED');
  assert.equal(unknown.body.details.map((x: any) => x.field), ['customerId']);
  const noContact = await d.call<any>('cs', 'POST', '/api/complaints', { ...body, policyNo: 'POL-HOME-2026-999999' });
  assert.is(noContact.status, 400, JSON.stringify(noContact.body));
  assert.equal(noContact.body.details.map((x: any) => x.field), ['contactEmail']);
  const ok = await d.call<any>('cs', 'POST', '/api/complaints', { ...body, contactPhone: '+86 139 1111 2222' });
  assert.is(ok.status, 201, JSON.stringify(ok.body));
  const sent = await addressed(d, ok.body.complaintNo);
  assert.equal(sent.map((n) => [n.topic, n.channel, n.recipient]), [['complaint-acknowledged', 'sms', '+86 139 1111 2222']]);
  // the rest of the complaint's notices reach the customer too
  const id = ok.body.processInstanceId;
  await d.complete('handler', id, 'Task_AssignComplaint', { handler: 'handler' });
  await d.complete('handler', id, 'Task_InvestigateComplaint', { findings: 'The change was made on time.', responseOutcome: 'not-upheld', responseText: 'We have checked: the change was made on time.' });
  await d.complete('handler', id, 'Task_ResolveComplaint', { resolutionSummary: 'Change made', customerAccepted: true });
  assert.equal((await addressed(d, ok.body.complaintNo)).map((n) => n.topic).sort(), ['complaint-acknowledged', 'complaint-closed', 'complaint-response', 'complaint-survey']);
});

f('Given a consultation with a customerId or policyNo not on file and no contact, When logged, Then 400 naming the field; with a contact the answer has a recipient', async ({ d }) => {
  const body = { channel: 'phone', topic: 'coverage', question: 'Does my policy cover a burst hose?', customerName: 'Li Wei' };
  const unknown = await d.call<any>('cs', 'POST', '/api/consultations', { ...body, customerId: 'CUST-999999' });
  assert.is(unknown.status, 400, JSON.stringify(unknown.body));
  assert.equal(unknown.body.details.map((x: any) => x.field), ['customerId']);
  const policy = await d.call<any>('cs', 'POST', '/api/consultations', { ...body, policyNo: 'POL-HOME-2026-999999' });
  assert.is(policy.status, 400, JSON.stringify(policy.body));
  assert.equal(policy.body.details.map((x: any) => x.field), ['contactEmail']);
  const ok = await d.call<any>('cs', 'POST', '/api/consultations', { ...body, policyNo: 'POL-HOME-2026-999999', contactEmail: 'visitor@example.com' });
  assert.is(ok.status, 201, JSON.stringify(ok.body));
  await d.complete('cs', ok.body.processInstanceId, 'Task_AnswerConsultation', { answer: 'Yes, water damage is covered.', outcome: 'answered' });
  assert.equal((await addressed(d, ok.body.consultationNo)).map((n) => [n.topic, n.recipient]), [['consultation-answer', 'visitor@example.com']]);
});

f('Given a claim reported with a contactEmail on a policy not on file, When disputed without a contact, Then the dispute notices go to the claim\'s report contact', async ({ d }) => {
  const r = await d.call<any>('cs', 'POST', '/api/claims', { policyNo: 'POL-HOME-2026-999998', channel: 'phone', lossDate: daysAgo(d, 2), peril: 'storm', claimedAmount: 5000, description: 'Roof damaged in the storm', contactEmail: 'reporter@example.com' });
  assert.is(r.status, 201, JSON.stringify(r.body));
  await d.advance(1000);
  const claim = (await d.store.claim(r.body.claimNo))!;
  assert.is(claim.status, 'rejected', 'no policy on file: refused');
  const res = await d.call<any>('cs', 'POST', '/api/disputes', { subjectType: 'claim', claimNo: claim.claimNo, contestedAction: 'claim-rejection', grounds: 'My policy was issued by your agent last month.' });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const sent = await addressed(d, res.body.disputeNo);
  assert.equal(sent.map((n) => [n.topic, n.recipient]), [['dispute-acknowledged', 'reporter@example.com']]);
  await d.complete('supervisor', res.body.processInstanceId, 'Task_ReviewDispute', { disputeOutcome: 'upheld', reviewReason: 'There is no such policy on file.' });
  assert.equal((await addressed(d, res.body.disputeNo)).map((n) => n.topic).sort(), ['dispute-acknowledged', 'dispute-outcome']);
});

f('Given an open claim, When disputed as a rejection or a payout amount, Then 400 naming contestedAction; a delay may be disputed', async ({ d }) => {
  const r = await d.call<any>('cs', 'POST', '/api/claims', { policyNo: d.demo.policies[0].policyNo, channel: 'phone', lossDate: daysAgo(d, 2), peril: 'storm', claimedAmount: 45000, description: 'Roof torn off in the storm' });
  assert.is(r.status, 201, JSON.stringify(r.body));
  await d.advance(1000);
  assert.is((await d.store.claim(r.body.claimNo))!.status, 'open');
  const dispute = (contestedAction: string, subjectType = 'claim') => d.call<any>('cs', 'POST', '/api/disputes', { subjectType, claimNo: r.body.claimNo, contestedAction, grounds: 'I do not accept how my claim is handled.' });
  for (const action of ['claim-rejection', 'payout-amount', 'premium']) {
    const res = await dispute(action);
    assert.is(res.status, 400, `${action}: ${JSON.stringify(res.body)}`);
    assert.is(res.body.code, 'VALIDATION_FAILED');
    assert.equal(res.body.details.map((x: any) => x.field), ['contestedAction']);
  }
  const delay = await dispute('claim-delay');
  assert.is(delay.status, 201, JSON.stringify(delay.body));
  assert.is((await addressed(d, delay.body.disputeNo)).length, 1);
});

f('Given an auditor, When reading the complaints report, Then 200 as for the claims and sales reports; a caller without the permission gets 403 even without from/to', async ({ d, base, auditor, nobody }) => {
  for (const name of ['complaints', 'claims', 'sales']) {
    const res = await getAs(base, auditor, `/api/reports/${name}?from=2026-03-01&to=2026-03-31`);
    assert.is(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
    const refused = await getAs(base, nobody, `/api/reports/${name}`);
    assert.is(refused.status, 403, `${name} without query: ${JSON.stringify(refused.body)}`);
    const badQuery = await getAs(base, nobody, `/api/reports/${name}?from=yesterday&bogus=1`);
    assert.is(badQuery.status, 403, `${name} with a bad query: ${JSON.stringify(badQuery.body)}`);
  }
  assert.is((await getAs(base, auditor, '/api/reports/complaints')).status, 400, 'the auditor gets the query validated');
  assert.is((await d.call('cssupervisor', 'GET', '/api/reports/complaints?from=2026-03-01&to=2026-03-31')).status, 200, 'by the shipped grant');
  assert.is((await d.call('handler', 'GET', '/api/reports/complaints')).status, 403);
});

f.run();

const rules = suite('dispute contested actions');

rules('a claim decision needs a claim in that state; policy actions need a policy', () => {
  assert.is(contestedActionProblem('claim', 'claim-rejection', { status: 'rejected', payout: null }), null);
  assert.match(contestedActionProblem('claim', 'claim-rejection', { status: 'open', payout: null }) ?? '', /rejected claim/);
  assert.is(contestedActionProblem('claim', 'payout-amount', { status: 'open', payout: 1200 }), null);
  assert.is(contestedActionProblem('claim', 'payout-amount', { status: 'paid', payout: 1200 }), null);
  assert.match(contestedActionProblem('claim', 'payout-amount', { status: 'open', payout: null }) ?? '', /payout decided/);
  assert.match(contestedActionProblem('claim', 'payout-amount', { status: 'rejected', payout: null }) ?? '', /payout decided/);
  assert.is(contestedActionProblem('claim', 'claim-delay', { status: 'open', payout: null }), null);
  assert.is(contestedActionProblem('claim', 'other', { status: 'open', payout: null }), null);
  assert.match(contestedActionProblem('claim', 'premium', { status: 'open', payout: null }) ?? '', /subjectType policy/);
  assert.match(contestedActionProblem('policy', 'claim-rejection', null) ?? '', /subjectType claim/);
  assert.is(contestedActionProblem('policy', 'renewal-terms', null), null);
});

rules.run();
