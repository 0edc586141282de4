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

cs.run();
