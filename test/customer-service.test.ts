/**
 * Customer service end to end over HTTP on a real socket (complaint, consultation, dispute), with the real
 * handlers, the ComplaintClassification decision and the manual clock; and the complaints report against figures
 * computed by hand.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, DAY, HOUR, type Domain, type Person } from './insurance.ts';
import { complaintsReport, keywordFlags, serviceNumber } from '../src/processes/customer-service/rules.ts';

type Ctx = { d: Domain };
const cs = suite<Ctx>('customer service over HTTP');

cs.before(async (ctx) => {
  ctx.d = await domain({}, '2026-03-02T09:00:00Z', { socket: true });
});
cs.after(async (ctx) => ctx.d.close());

const complaintBody = (over: Record<string, unknown> = {}) => ({
  channel: 'phone',
  category: 'policy-service',
  complainantName: 'Li Wei',
  customerId: 'CUST-000001',
  summary: 'Nobody called me back about the change of address on my policy.',
  ...over,
});

async function register(d: Domain, body: Record<string, unknown>, who: Person = 'cs') {
  const res = await d.call(who, 'POST', '/api/complaints', body);
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body as { complaintNo: string; processInstanceId: string; complaint: any };
}

async function complaint(d: Domain, no: string, who: Person = 'cs') {
  const res = await d.call(who, 'GET', `/api/complaints/${no}`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

cs('complaint: a legal threat by phone is high, assigned to senior handlers, answered, resolved and rated', async ({ d }) => {
  const r = await register(d, complaintBody({ category: 'claim-delay', summary: 'My claim has waited two months; my lawyer will take you to court.' }));
  assert.match(r.complaintNo, /^CMP-20260302-\d{6}$/);
  assert.is(r.complaint.severity, 'high');
  assert.is(r.complaint.stage, 'assignment');
  assert.is(r.complaint.responseDueAt, '2026-03-07T09:00:00.000Z', 'high: 5 calendar days');
  assert.is((await d.instance(r.processInstanceId)).businessKey, r.complaintNo);
  const ack = await d.store.notifications({ businessRef: r.complaintNo, topic: 'complaint-acknowledged' });
  assert.is(ack.length, 1);
  assert.is(ack[0].recipient, 'li.wei@example.com');
  assert.match(ack[0].body, /by 2026-03-07/);
  // offered to the senior group only
  assert.is((await d.call('handler', 'GET', `/api/tasks?processInstanceId=${r.processInstanceId}`)).body.total, 0);
  const assign = await d.task('senior', r.processInstanceId, 'Task_AssignComplaint');
  assert.equal(assign.candidateGroups, ['complaints-senior']);
  await d.complete('senior', r.processInstanceId, 'Task_AssignComplaint', {}, 400);
  await d.complete('senior', r.processInstanceId, 'Task_AssignComplaint', { handler: 'senior' });
  const inv = await d.task('senior', r.processInstanceId, 'Task_InvestigateComplaint');
  assert.is(inv.assignee, 'senior');
  assert.is(inv.dueAt, '2026-03-07T09:00:00.000Z');
  assert.is((await complaint(d, r.complaintNo)).stage, 'investigation');
  d.t.clock.advance(2 * DAY);
  await d.complete('senior', r.processInstanceId, 'Task_InvestigateComplaint', { findings: 'The survey report was misfiled.', responseOutcome: 'upheld', responseText: 'You are right: your claim was delayed by our mistake.' }, 400);
  await d.complete('senior', r.processInstanceId, 'Task_InvestigateComplaint', { findings: 'The survey report was misfiled.', responseOutcome: 'upheld', responseText: 'You are right: your claim was delayed by our mistake.', remedy: 'The claim is settled this week.', compensationAmount: 200 });
  let s = await complaint(d, r.complaintNo);
  assert.is(s.status, 'responded');
  assert.is(s.respondedAt, '2026-03-04T09:00:00.000Z');
  assert.is(s.deadlineBreached, false);
  assert.is(s.stage, 'resolution');
  const letter = (await d.store.notifications({ businessRef: r.complaintNo, topic: 'complaint-response' }))[0];
  assert.match(letter.body, /settled this week/);
  assert.match(letter.body, /200\.00 CNY/);
  await d.advance(10 * DAY);
  assert.is((await complaint(d, r.complaintNo)).deadlineBreached, false, 'answered in time: the deadline timer went with the handling');
  await d.complete('senior', r.processInstanceId, 'Task_ResolveComplaint', { resolutionSummary: 'Claim paid, apology sent', remedyCompleted: true, customerAccepted: true });
  s = await complaint(d, r.complaintNo);
  assert.equal([s.status, s.stage, s.surveyStatus], ['closed', 'survey', 'sent']);
  assert.is((await d.store.notifications({ businessRef: r.complaintNo, topic: 'complaint-survey' })).length, 1);
  const bad = await d.message('cs', 'complaint-satisfaction', { businessKey: r.complaintNo }, { satisfactionScore: 6 });
  assert.is(bad.status, 400, JSON.stringify(bad.body));
  assert.is((await d.message('handler', 'complaint-satisfaction', { businessKey: r.complaintNo }, { satisfactionScore: 4 })).status, 403, 'only customer service records the answer');
  const ok = await d.message('cs', 'complaint-satisfaction', { businessKey: r.complaintNo }, { satisfactionScore: 4, satisfactionComment: 'Sorted in the end' });
  assert.is(ok.status, 200, JSON.stringify(ok.body));
  s = await complaint(d, r.complaintNo);
  assert.equal([s.surveyStatus, s.satisfactionScore], ['answered', 4]);
  const inst = await d.instance(r.processInstanceId);
  noIncidents(inst);
  assert.is(inst.status, 'completed');
});


const INVESTIGATION = { findings: 'The request was not passed on to the policy team.', rootCause: 'process', responseOutcome: 'not-upheld', responseText: 'We have checked what happened and the change was made on time.' };

cs('complaint: the response deadline passes: supervisors alerted, the complaint marked deadline_breached; the late answer and a survey without answer', async ({ d }) => {
  const r = await register(d, complaintBody({ channel: 'app', category: 'staff-conduct', summary: 'The agent at the branch was rude to me twice.' }));
  assert.is(r.complaint.severity, 'low');
  assert.is(r.complaint.responseDueAt, new Date(d.t.clock.now() + 15 * DAY).toISOString(), 'low: the regulatory 15 days');
  for (const handler of ['senior', 'nobody', 'adjuster']) {
    const refused = await d.complete('handler', r.processInstanceId, 'Task_AssignComplaint', { handler }, 400);
    assert.equal(refused.body.details.map((x: any) => x.field), ['handler'], `${handler} is not of complaints-handlers`);
  }
  await d.complete('handler', r.processInstanceId, 'Task_AssignComplaint', { handler: 'handler2', assignmentNote: 'Please take this one' });
  assert.is((await d.call('handler', 'POST', `/api/tasks/${(await d.task('handler2', r.processInstanceId, 'Task_InvestigateComplaint')).id}/complete`, { variables: INVESTIGATION })).status, 409, 'assigned to handler2');
  assert.is((await complaint(d, r.complaintNo)).handler, 'handler2');
  const jobs = await d.call<any>('admin', 'GET', `/api/jobs?processInstanceId=${r.processInstanceId}`);
  assert.ok(jobs.body.items.some((j: any) => j.activityId === 'Timer_ResponseDeadline' && j.dueAt === r.complaint.responseDueAt), JSON.stringify(jobs.body.items));
  await d.advance(15 * DAY - HOUR);
  assert.is((await complaint(d, r.complaintNo)).deadlineBreached, false);
  assert.equal(await d.store.notifications({ businessRef: r.complaintNo, topic: 'complaint-deadline-breached' }), []);
  await d.advance(2 * HOUR);
  let s = await complaint(d, r.complaintNo);
  assert.is(s.deadlineBreached, true);
  assert.is(s.stage, 'investigation', 'the handler can still answer');
  const alert = await d.store.notifications({ businessRef: r.complaintNo, topic: 'complaint-deadline-breached' });
  assert.is(alert.length, 1);
  assert.equal([alert[0].channel, alert[0].recipient], ['internal', 'complaints-supervisors']);
  assert.match(alert[0].body, /handler2/);
  await d.advance(DAY);
  assert.is((await d.store.notifications({ businessRef: r.complaintNo, topic: 'complaint-deadline-breached' })).length, 1, 'the timer does not repeat');
  await d.complete('handler2', r.processInstanceId, 'Task_InvestigateComplaint', INVESTIGATION);
  await d.complete('handler', r.processInstanceId, 'Task_ResolveComplaint', { resolutionSummary: 'Explained the timeline', customerAccepted: false });
  assert.match((await d.store.notifications({ businessRef: r.complaintNo, topic: 'complaint-closed' }))[0].body, /12378/);
  s = await complaint(d, r.complaintNo);
  assert.equal([s.status, s.deadlineBreached, s.responseOutcome, s.surveyStatus], ['closed', true, 'not-upheld', 'sent']);
  await d.advance(14 * DAY + HOUR);
  s = await complaint(d, r.complaintNo);
  assert.equal([s.surveyStatus, s.satisfactionScore, s.stage], ['no-answer', null, 'closed']);
  const inst = await d.instance(r.processInstanceId);
  noIncidents(inst);
  assert.is(inst.status, 'completed');
  assert.is((await d.message('cs', 'complaint-satisfaction', { businessKey: r.complaintNo }, { satisfactionScore: 3 })).status, 404, 'the survey is over');
});

cs('complaint: refused input is a 400 naming the fields and uses no number; only customer service registers; a regulator referral needs its reference', async ({ d }) => {
  const first = await register(d, complaintBody());
  const bad = await d.call('cs', 'POST', '/api/complaints', { channel: 'fax', category: 'policy-service', complainantName: 'L', summary: 'short' });
  assert.is(bad.status, 400);
  assert.is(bad.body.code, 'VALIDATION_FAILED');
  const fields = bad.body.details.map((x: any) => x.field);
  for (const f of ['channel', 'complainantName', 'summary']) assert.ok(fields.includes(f), JSON.stringify(bad.body.details));
  const noRef = await d.call('cs', 'POST', '/api/complaints', complaintBody({ channel: 'regulator' }));
  assert.is(noRef.status, 400);
  assert.ok(noRef.body.details.some((x: any) => x.field === 'regulatorReference'), JSON.stringify(noRef.body.details));
  assert.is((await d.call('adjuster', 'POST', '/api/complaints', complaintBody())).status, 403);
  assert.is((await d.call('analyst', 'GET', `/api/complaints/${first.complaintNo}`)).status, 403);
  assert.is((await d.call('cs', 'GET', '/api/complaints/CMP-20260302-999999')).status, 404);
  const next = await register(d, complaintBody({ channel: 'regulator', regulatorReference: 'NFRA-2026-0042', summary: 'Referred by the regulator: premium charged twice.' }));
  assert.is(Number(next.complaintNo.slice(13)), Number(first.complaintNo.slice(13)) + 1, 'the refused requests used no number');
  assert.equal([next.complaint.severity, next.complaint.handlingGroup], ['high', 'complaints-senior']);
  // a direct start with a made-up number does not register a complaint under it
  const direct = await d.call<any>('cs', 'POST', '/api/process-definitions/complaint/start', { businessKey: 'CMP-20260302-900000', variables: complaintBody() });
  assert.is(direct.status, 201, JSON.stringify(direct.body));
  for (let i = 0; i < 4; i++) await d.advance(HOUR); // the registration's retries
  const stopped = await d.instance(direct.body.id);
  assert.is(stopped.status, 'incident');
  assert.match(JSON.stringify(stopped.incidents), /has not been handed out yet/);
  assert.is((await d.call('cs', 'GET', '/api/complaints/CMP-20260302-900000')).status, 404);
});

cs('consultation: answered only', async ({ d }) => {
  const res = await d.call('cs', 'POST', '/api/consultations', { channel: 'phone', topic: 'coverage', question: 'Does my policy cover a burst washing machine hose?', customerName: 'Li Wei', customerId: 'CUST-000001' });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const { consultationNo, processInstanceId } = res.body;
  assert.match(consultationNo, /^CON-\d{8}-\d{6}$/);
  await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { answer: 'Yes: water damage is covered, less your 500 CNY deductible.', outcome: 'answered' });
  const c = await d.call('cs', 'GET', `/api/consultations/${consultationNo}`);
  assert.equal([c.body.status, c.body.outcome, c.body.salesInstanceId, c.body.claimNo], ['answered', 'answered', null, null]);
  assert.match((await d.store.notifications({ businessRef: consultationNo, topic: 'consultation-answer' }))[0].body, /deductible/);
  assert.is((await d.instance(processInstanceId)).status, 'completed');
});

cs('consultation: the customer wants cover: a sales lead for the agent named (a sales instance)', async ({ d }) => {
  const res = await d.call('cs', 'POST', '/api/consultations', { channel: 'branch', topic: 'product', question: 'What would home cover for my flat cost?', customerName: 'Chen Jie', contactEmail: 'chen.jie@example.com' });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const { consultationNo, processInstanceId } = res.body;
  await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { answer: 'An agent will call you with a quote.', outcome: 'sale' }, 400);
  await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { answer: 'An agent will call you with a quote.', outcome: 'sale', agent: 'agent', agentLevel: 'senior' });
  await d.advance(1000);
  noIncidents(await d.instance(processInstanceId));
  const c = (await d.call('cs', 'GET', `/api/consultations/${consultationNo}`)).body;
  assert.equal([c.status, c.outcome], ['converted', 'sale']);
  const sale = await d.instance(c.salesInstanceId);
  noIncidents(sale);
  assert.equal([sale.processKey, sale.businessKey, sale.status], ['sales', `LEAD-${consultationNo}`, 'active']);
  assert.equal([sale.variables.leadSource, sale.variables.customerName, sale.variables.agent, sale.variables.contactEmail], ['branch', 'Chen Jie', 'agent', 'chen.jie@example.com']);
  noIncidents(await d.instance(processInstanceId));
});

cs('consultation: the customer reports a loss: a claim numbered by claim intake, handled by claims', async ({ d }) => {
  const policyNo = d.demo.policies[0].policyNo;
  const res = await d.call('cs', 'POST', '/api/consultations', { channel: 'phone', topic: 'claim', question: 'A ball broke my window, what do I do?', customerName: 'Li Wei', policyNo });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const { consultationNo, processInstanceId } = res.body;
  const lossDate = new Date(d.t.clock.now() - 2 * DAY).toISOString().slice(0, 10);
  await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { answer: 'We have reported the loss for you.', outcome: 'claim', claimPolicyNo: policyNo }, 400);
  await d.complete('cs', processInstanceId, 'Task_AnswerConsultation', { answer: 'We have reported the loss for you.', outcome: 'claim', claimPolicyNo: policyNo, lossDate, peril: 'glass', claimedAmount: 3000, lossDescription: 'Living room window broken by a football' });
  await d.advance(1000);
  const c = (await d.call('cs', 'GET', `/api/consultations/${consultationNo}`)).body;
  assert.equal([c.status, c.outcome], ['converted', 'claim']);
  assert.match(c.claimNo, /^CLM-\d{8}-\d{6}$/);
  const claim = (await d.store.claim(c.claimNo))!;
  assert.equal([claim.channel, claim.policyNo, claim.status, claim.payout], ['phone', policyNo, 'closed', 2500]);
  const inst = await d.instance(claim.processInstanceId);
  assert.equal([inst.businessKey, inst.status], [c.claimNo, 'completed']);
  // the same numbering as POST /api/claims: the next report gets the next number
  const next = await d.call<any>('cs', 'POST', '/api/claims', { policyNo, channel: 'phone', lossDate, peril: 'glass', claimedAmount: 1000, description: 'Second window, same football' });
  assert.is(next.status, 201, JSON.stringify(next.body));
  assert.is(Number(next.body.claimNo.slice(13)), Number(c.claimNo.slice(13)) + 1);
});

async function refusedClaim(d: Domain) {
  const policyNo = d.demo.policies[0].policyNo;
  const lossDate = new Date(d.t.clock.now() - 2 * DAY).toISOString().slice(0, 10);
  const r = await d.call<any>('cs', 'POST', '/api/claims', { policyNo, channel: 'phone', lossDate, peril: 'storm', claimedAmount: 45000, description: 'Roof torn off in the storm' });
  assert.is(r.status, 201, JSON.stringify(r.body));
  const id = r.body.processInstanceId;
  await d.complete('adjuster', id, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', id, 'Task_Survey', { surveyDate: lossDate, surveyLossEstimate: 40000, surveyFindings: 'Roof torn off', surveyPhotoRefs: ['photo://d/1'] });
  await d.complete('supervisor', id, 'Task_SupervisorApproval', { supervisorDecision: 'reject', rejectionReason: 'The roof was in poor repair before the storm.' });
  assert.is((await d.store.claim(r.body.claimNo))!.status, 'rejected');
  return r.body.claimNo as string;
}

cs('dispute: a refused payout is reviewed by a second supervisor: the one who refused it may not (403 SEPARATION_OF_DUTIES); overturned, customer told, claims told to put it right', async ({ d }) => {
  const claimNo = await refusedClaim(d);
  const missing = await d.call('cs', 'POST', '/api/disputes', { subjectType: 'claim', claimNo: 'CLM-20260302-999999', contestedAction: 'claim-rejection', grounds: 'The roof was repaired last year.' });
  assert.is(missing.status, 404);
  assert.is((await d.call('cs', 'POST', '/api/disputes', { subjectType: 'claim', contestedAction: 'claim-rejection', grounds: 'The roof was repaired last year.' })).status, 400, 'the claim number is required');
  const res = await d.call<any>('cs', 'POST', '/api/disputes', { subjectType: 'claim', claimNo, contestedAction: 'claim-rejection', grounds: 'The roof was repaired last year; here is the invoice.' });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const { disputeNo, processInstanceId, dispute } = res.body;
  assert.match(disputeNo, /^DSP-\d{8}-\d{6}$/);
  assert.equal([dispute.status, dispute.reviewGroup, dispute.subjectRef], ['under-review', 'claims-supervisors', claimNo]);
  assert.equal(dispute.excludedReviewers.map((x: any) => x.user).sort(), ['adjuster', 'cs', 'supervisor', 'surveyor']);
  assert.match((await d.store.notifications({ businessRef: disputeNo, topic: 'dispute-acknowledged' }))[0].recipient ?? '', /li\.wei@example\.com/);
  const tk = await d.task('supervisor', processInstanceId, 'Task_ReviewDispute');
  const claimIt = await d.call<any>('supervisor', 'POST', `/api/tasks/${tk.id}/claim`);
  assert.equal([claimIt.status, claimIt.body.code], [403, 'SEPARATION_OF_DUTIES']);
  assert.match(claimIt.body.message, /supervisor may not review dispute/);
  const completeIt = await d.call<any>('supervisor', 'POST', `/api/tasks/${tk.id}/complete`, { variables: { disputeOutcome: 'upheld', reviewReason: 'I stand by my decision on this roof.' } });
  assert.equal([completeIt.status, completeIt.body.code], [403, 'SEPARATION_OF_DUTIES']);
  await d.complete('supervisor2', processInstanceId, 'Task_ReviewDispute', { disputeOutcome: 'overturned', reviewReason: 'The invoice shows the roof was renewed in 2025.' }, 400);
  await d.complete('supervisor2', processInstanceId, 'Task_ReviewDispute', { disputeOutcome: 'overturned', reviewReason: 'The invoice shows the roof was renewed in 2025.', remedy: 'Reopen the claim and pay the surveyed loss.' });
  const view = (await d.call<any>('cs', 'GET', `/api/disputes/${disputeNo}`)).body;
  assert.equal([view.status, view.outcome, view.reviewedBy, view.escalated], ['decided', 'overturned', 'supervisor2', false]);
  const told = await d.store.notifications({ businessRef: disputeNo, topic: 'dispute-outcome' });
  assert.is(told.length, 1);
  assert.is(told[0].recipient, 'li.wei@example.com');
  assert.match(told[0].body, /renewed in 2025/);
  const remedy = await d.store.notifications({ businessRef: claimNo, topic: 'dispute-overturned' });
  assert.equal([remedy.length, remedy[0]?.recipient], [1, 'claims-supervisors']);
  noIncidents(await d.instance(processInstanceId));
});

cs('dispute: the registering user may not review it, admins included; an overdue review alerts the supervisors; upheld', async ({ d }) => {
  const policyNo = d.demo.policies[1].policyNo;
  const res = await d.call<any>('admin', 'POST', '/api/disputes', { subjectType: 'policy', policyNo, contestedAction: 'premium', grounds: 'The premium rose 30% at renewal without explanation.', contactEmail: 'wang.fang@example.com' });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const { disputeNo, processInstanceId } = res.body;
  assert.is(res.body.dispute.reviewGroup, 'underwriters');
  const tk = await d.task('underwriter', processInstanceId, 'Task_ReviewDispute');
  const byAdmin = await d.call<any>('admin', 'POST', `/api/tasks/${tk.id}/complete`, { variables: { disputeOutcome: 'upheld', reviewReason: 'The rate change applies to every policy.' } });
  assert.equal([byAdmin.status, byAdmin.body.code], [403, 'SEPARATION_OF_DUTIES']);
  assert.is((await d.call('adjuster', 'GET', `/api/disputes/${disputeNo}`)).status, 403);
  await d.advance(10 * DAY - HOUR);
  assert.is((await d.call<any>('cs', 'GET', `/api/disputes/${disputeNo}`)).body.escalated, false);
  await d.advance(2 * HOUR);
  assert.is((await d.call<any>('cs', 'GET', `/api/disputes/${disputeNo}`)).body.escalated, true);
  const alert = await d.store.notifications({ businessRef: disputeNo, topic: 'dispute-review-overdue' });
  assert.equal([alert.length, alert[0]?.recipient], [1, 'complaints-supervisors']);
  await d.complete('underwriter', processInstanceId, 'Task_ReviewDispute', { disputeOutcome: 'upheld', reviewReason: 'The rate change applies to every policy of this product.' });
  const view = (await d.call<any>('cs', 'GET', `/api/disputes/${disputeNo}`)).body;
  assert.equal([view.outcome, view.reviewedBy, view.escalated], ['upheld', 'underwriter', true]);
  assert.match((await d.store.notifications({ businessRef: disputeNo, topic: 'dispute-outcome' }))[0].body, /12378/);
  assert.equal(await d.store.notifications({ businessRef: policyNo, topic: 'dispute-overturned' }), []);
  assert.is((await d.instance(processInstanceId)).status, 'completed');
});

cs.run();

// ------------------------------------------------------------------------------------------ the complaints report

const report = suite<Ctx>('the complaints report against hand-computed figures');
report.before(async (ctx) => {
  ctx.d = await domain({}, '2026-04-01T08:00:00Z', { socket: true });
});
report.after(async (ctx) => ctx.d.close());

/** Assign to `who` (of the handling group) and answer. */
async function answer(d: Domain, id: string, who: Person) {
  await d.complete(who, id, 'Task_AssignComplaint', { handler: who });
  await d.complete(who, id, 'Task_InvestigateComplaint', INVESTIGATION);
}

report('given four complaints over three days (one late, one unanswered, two rated) and one later: the figures of the period', async ({ d }) => {
  // T0 = 2026-04-01 08:00
  const c1 = await register(d, complaintBody()); // phone, policy-service: low
  d.t.clock.advance(HOUR);
  const c2 = await register(d, complaintBody({ channel: 'regulator', regulatorReference: 'NFRA-7', summary: 'Referred: the premium was charged twice.' })); // high, due T0+121h
  await d.advance(23 * HOUR); // T0+24h
  await answer(d, c1.processInstanceId, 'handler'); // 24 h
  const c3 = await register(d, complaintBody({ channel: 'email', category: 'claim-amount', summary: 'The payout on my claim was far too low.' })); // medium, 2026-04-02
  await d.advance(24 * HOUR); // T0+48h
  const c4 = await register(d, complaintBody({ channel: 'app', category: 'staff-conduct', summary: 'I will tell the newspaper how your staff treated me.' })); // high, 2026-04-03, due T0+168h
  await d.advance(24 * HOUR); // T0+72h
  await answer(d, c3.processInstanceId, 'handler'); // 48 h
  await d.advance(73 * HOUR); // T0+145h: c2's deadline (T0+121h) has passed
  assert.is((await complaint(d, c2.complaintNo)).deadlineBreached, true);
  await answer(d, c2.processInstanceId, 'senior'); // 144 h, late
  for (const [c, who] of [[c1, 'handler'], [c2, 'senior'], [c3, 'handler']] as const) await d.complete(who, c.processInstanceId, 'Task_ResolveComplaint', { resolutionSummary: 'Explained and apologised', customerAccepted: true });
  assert.is((await d.message('cs', 'complaint-satisfaction', { businessKey: c1.complaintNo }, { satisfactionScore: 5 })).status, 200);
  assert.is((await d.message('cs', 'complaint-satisfaction', { businessKey: c3.complaintNo }, { satisfactionScore: 2 })).status, 200);
  await d.advance(15 * DAY); // c2's survey goes unanswered; c4 (never answered) breaches its deadline
  assert.equal([(await complaint(d, c2.complaintNo)).surveyStatus, (await complaint(d, c4.complaintNo)).deadlineBreached], ['no-answer', true]);
  await register(d, complaintBody({ channel: 'branch' })); // outside the period

  const res = await d.call<any>('cssupervisor', 'GET', '/api/reports/complaints?from=2026-04-01&to=2026-04-03');
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body, {
    from: '2026-04-01',
    to: '2026-04-03',
    total: 4,
    bySeverity: { low: 1, medium: 1, high: 2, unclassified: 0 },
    byChannel: { phone: 1, email: 1, app: 1, branch: 0, regulator: 1 },
    deadlineBreaches: 2,
    responded: 3,
    averageHoursToResponse: 72, // (24 + 48 + 144) / 3
    closed: 3,
    satisfaction: { answered: 2, noAnswer: 1, average: 3.5 },
  });
  const firstDay = await d.call<any>('cssupervisor', 'GET', '/api/reports/complaints?from=2026-04-01&to=2026-04-01');
  assert.equal([firstDay.body.total, firstDay.body.averageHoursToResponse, firstDay.body.deadlineBreaches, firstDay.body.satisfaction], [2, 84, 1, { answered: 1, noAnswer: 1, average: 5 }]);
  assert.is((await d.call<any>('cssupervisor', 'GET', '/api/reports/complaints?from=2026-04-22&to=2026-04-30')).body.byChannel.branch, 1);
});

report('the period is validated (400 naming the field) and the report is for the complaints supervisors', async ({ d }) => {
  for (const q of ['from=2026-04-03&to=2026-04-01', 'from=2026-02-30&to=2026-03-01', 'from=2026-04-01', 'from=yesterday&to=2026-04-01']) {
    const res = await d.call<any>('cssupervisor', 'GET', `/api/reports/complaints?${q}`);
    assert.is(res.status, 400, `${q}: ${JSON.stringify(res.body)}`);
    assert.is(res.body.code, 'VALIDATION_FAILED');
  }
  assert.is((await d.call('handler', 'GET', '/api/reports/complaints?from=2026-04-01&to=2026-04-03')).status, 403);
  assert.is((await d.call('cs', 'GET', '/api/reports/complaints?from=2026-04-01&to=2026-04-03')).status, 403);
  assert.is((await d.call('admin', 'GET', '/api/reports/complaints?from=2026-04-01&to=2026-04-03')).status, 200);
});

report.run();

// ------------------------------------------------------------------------------------------ pure rules

const rules = suite('customer-service rules');

rules('numbers: prefix, UTC date, six digits at least', () => {
  assert.is(serviceNumber('CMP', 42, new Date('2026-01-05T23:59:00Z')), 'CMP-20260105-000042');
  assert.is(serviceNumber('DSP', 1234567, new Date('2026-01-05T00:00:00Z')), 'DSP-20260105-1234567');
  assert.throws(() => serviceNumber('CON', 1.5, new Date()), RangeError);
});

rules('keyword flags in English and Chinese', () => {
  assert.equal(keywordFlags('I will see you in court'), { legalThreat: true, mediaThreat: false, regulatorMentioned: false, vulnerableCustomer: false });
  assert.equal(keywordFlags('我要找律师,还要向媒体曝光,并打12378投诉'), { legalThreat: true, mediaThreat: true, regulatorMentioned: true, vulnerableCustomer: false });
  assert.is(keywordFlags('My elderly mother was refused').vulnerableCustomer, true);
  assert.equal(keywordFlags('The courtyard gate was broken'), { legalThreat: false, mediaThreat: false, regulatorMentioned: false, vulnerableCustomer: false }, 'whole words: courtyard is no court');
});

rules('report figures: averages of what exists, null when nothing', () => {
  const empty = complaintsReport([]);
  assert.equal([empty.total, empty.averageHoursToResponse, empty.satisfaction.average], [0, null, null]);
  const base = { channel: 'phone', severity: 'low', registeredAt: 0, respondedAt: null, deadlineBreached: false, status: 'registered', satisfactionScore: null, surveyStatus: 'not-sent' };
  const r = complaintsReport([
    { ...base, respondedAt: 3 * HOUR },
    { ...base, channel: 'email', severity: null, respondedAt: 4 * HOUR, deadlineBreached: true, status: 'closed', surveyStatus: 'answered', satisfactionScore: 4 },
  ]);
  assert.equal([r.averageHoursToResponse, r.bySeverity.unclassified, r.byChannel.email, r.deadlineBreaches, r.satisfaction.average], [3.5, 1, 1, 1, 4]);
  assert.throws(() => complaintsReport([{ ...base, registeredAt: 10, respondedAt: 5 }]), RangeError);
});

rules.run();
