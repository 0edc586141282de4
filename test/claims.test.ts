/** The property-claims flow end to end, through the HTTP API, with the real handlers, decisions and ledger. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, DAY, HOUR, type Domain } from './insurance.ts';
import { createClaimHandlers, type PaymentGateway } from '../src/processes/claims/handlers.ts';
import { insuranceStoreOf } from '../src/processes/unit-of-work.ts';
import { inUnitOfWork } from '../src/persistence/unit-of-work.ts';
import { assessedLoss, closureFigures, durationUntil, rejectionOf } from '../src/processes/claims/rules.ts';
import { claimStatusView } from '../src/processes/claims/status.ts';
import { testDb } from './helpers.ts';
import { migrationsDir } from '../src/persistence/db.ts';
import { seedDemo } from '../src/processes/demo.ts';
import { ManualClock } from '../src/engine/clock.ts';

/** A bank that honours idempotency keys and can lose its answer once after accepting a transfer. */
class FakeBank implements PaymentGateway {
  readonly executed = new Map<string, number>();
  calls: string[] = [];
  loseNextAnswer = false;
  async transfer(req: { idempotencyKey: string; amount: number }) {
    this.calls.push(req.idempotencyKey);
    if (!this.executed.has(req.idempotencyKey)) this.executed.set(req.idempotencyKey, req.amount);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new Error('connection reset after the transfer was accepted');
    }
    return { reference: `BANK-${this.executed.size}` };
  }
}

type Ctx = { d: Domain; bank: FakeBank; policy: string[] };
const claims = suite<Ctx>('claims');

claims.before(async (ctx) => {
  ctx.bank = new FakeBank();
  ctx.d = await domain({ payments: ctx.bank });
  ctx.policy = ctx.d.demo.policies.map((p) => p.policyNo);
});
claims.after(async (ctx) => ctx.d.close());

const daysAgo = (d: Domain, n: number) => new Date(d.t.clock.now() - n * DAY).toISOString().slice(0, 10);

/** Reports a claim on its own copy of the policy named (claims of several scenarios on one policy would be duplicates or too frequent). */
async function report(d: Domain, body: Record<string, unknown>) {
  const policyNo = await d.policyLike(String(body.policyNo));
  const res = await d.call('cs', 'POST', '/api/claims', { channel: 'phone', lossDate: daysAgo(d, 2), description: 'Damage reported by phone', ...body, policyNo });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body as { claimNo: string; processInstanceId: string; claim: any };
}

async function status(d: Domain, claimNo: string, who: 'cs' | 'admin' = 'cs') {
  const res = await d.call(who, 'GET', `/api/claims/${claimNo}/status`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

claims('simple claim: classified simple, assessed and paid automatically in one go', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], channel: 'online', peril: 'glass', claimedAmount: 3000 });
  assert.match(r.claimNo, /^CLM-20260105-\d{6}$/);
  const inst = await d.instance(r.processInstanceId);
  noIncidents(inst);
  assert.is(inst.status, 'completed');
  assert.is(inst.businessKey, r.claimNo);
  assert.is(inst.variables.complexity, 'simple');
  assert.is(inst.variables.fraudLevel, 'low');
  assert.is(inst.variables.autoApproved, true);
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'closed');
  assert.is(claim.payout, 2500, 'glass 3,000 - deductible 500');
  assert.is(claim.slaMet, true);
  assert.equal(claim.analysis?.incurred, 2500);
  assert.equal(claim.analysis?.earnedPremium, 2000);
  assert.equal(claim.analysis?.lossRatio, 1.25);
  const payments = await d.store.payments({ claimNo: r.claimNo });
  assert.is(payments.length, 1);
  assert.is(payments[0].status, 'completed');
  assert.is(payments[0].amount, 2500);
  const mail = await d.store.notifications({ businessRef: r.claimNo });
  assert.equal(mail.map((m) => m.topic), ['claim-paid']);
  assert.is(mail[0].recipient, 'li.wei@example.com');
  const s = await status(d, r.claimNo);
  assert.is(s.status, 'closed');
  assert.is(s.stage, 'closed');
  assert.is(s.payout, 2500);
});

claims('a claim the policy does not cover is rejected at once with the reason', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[1], peril: 'theft', claimedAmount: 4000 });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'rejected');
  assert.is(claim.rejectionCode, 'PERIL_NOT_COVERED');
  const mail = await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-rejected' });
  assert.is(mail.length, 1);
  assert.match(mail[0].body, /does not cover this kind of loss/);
  const unknown = await report(d, { policyNo: 'POL-HOME-2026-999999', peril: 'fire', claimedAmount: 100, contactEmail: 'reporter@example.com' });
  assert.is((await d.store.claim(unknown.claimNo))!.rejectionCode, 'POLICY_NOT_FOUND');
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);
});

claims('the report is validated by the start form; the status enquiry is for customer service', async ({ d, policy }) => {
  const bad = await d.call('cs', 'POST', '/api/claims', { policyNo: policy[0], channel: 'fax', lossDate: '2026-01-01', peril: 'fire', claimedAmount: -5, description: 'x' });
  assert.is(bad.status, 400);
  assert.is(bad.body.code, 'VALIDATION_FAILED');
  const fields = bad.body.details.map((x: any) => x.field).sort();
  assert.equal(fields, ['channel', 'claimedAmount', 'description']);
  const r = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 12000 });
  assert.is((await d.call('adjuster', 'GET', `/api/claims/${r.claimNo}/status`)).status, 403, 'ops outside customer-service');
  assert.is((await d.call('analyst', 'GET', `/api/claims/${r.claimNo}/status`)).status, 403);
  assert.is((await d.call('cs', 'GET', '/api/claims/CLM-20260105-999999/status')).status, 404);
  assert.is((await d.call('adjuster', 'POST', '/api/claims', {})).status, 403);
  assert.is((await status(d, r.claimNo, 'admin')).stage, 'review');
});

claims('any channel can also start the process directly; the claim gets its number from the register step', async ({ d, policy }) => {
  const res = await d.call<any>('cs', 'POST', '/api/process-definitions/claims/start', {
    variables: { policyNo: policy[0], channel: 'email', lossDate: daysAgo(d, 1), peril: 'glass', claimedAmount: 800, description: 'Window broken by a ball', contactEmail: 'li.wei@example.com' },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const claimNo = res.body.variables.claimNo;
  assert.match(claimNo, /^CLM-/);
  const claim = (await d.store.claim(claimNo))!;
  assert.is(claim.channel, 'email');
  assert.is(claim.status, 'closed');
  assert.is(claim.payout, 300);
});

claims('complex claim: an adjuster reviews and approves; paid within authority', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 12000, injuries: false });
  assert.is(r.claim.stage, 'review');
  assert.match(r.claim.nextStep, /adjuster/);
  const tk = await d.task('adjuster', r.processInstanceId, 'Task_ManualReview');
  assert.equal(tk.candidateGroups, ['adjusters']);
  assert.is(tk.formKey, 'claims-manual-review');
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'reject' }, 400);
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve', reviewNotes: 'Plumber invoice checks out' });
  const inst = await d.instance(r.processInstanceId);
  noIncidents(inst);
  assert.is(inst.status, 'completed');
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.payout, 11500);
  assert.is(claim.status, 'closed');
  assert.is(claim.slaMet, true);
});

claims('partial approval: the payout is computed on the approved amount with deductible and coinsurance', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[1], peril: 'water', claimedAmount: 12000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'partial' }, 400);
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'partial', approvedAmount: 8000, reviewNotes: 'Old damage excluded' });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.approvedAmount, 8000);
  assert.is(claim.assessedLoss, 8000);
  assert.is(claim.payout, 5600, '(8,000 - 1,000) x 80%');
  assert.is((await d.store.payments({ claimNo: r.claimNo }))[0].amount, 5600);
  assert.match((await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-paid' }))[0].body, /5,600\.00/);
});

claims('on-site survey: the surveyor\'s estimate caps the loss and starts the 72-hour clock', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 12000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve', surveyRequested: true });
  let s = await status(d, r.claimNo);
  assert.is(s.stage, 'survey');
  assert.is(s.slaDeadline, null);
  d.t.clock.advance(5 * HOUR);
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0) }, 400);
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 9000, surveyFindings: 'Kitchen floor and cabinets', surveyPhotoRefs: ['photo://c1/1', 'photo://c1/2'] });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.surveyCompletedAt, d.t.clock.now());
  assert.is(claim.slaDeadline, d.t.clock.now() + 72 * HOUR);
  assert.equal(claim.surveyReport?.photoRefs, ['photo://c1/1', 'photo://c1/2']);
  assert.is(claim.assessedLoss, 9000);
  assert.is(claim.payout, 8500);
  s = await status(d, r.claimNo);
  assert.is(s.status, 'closed');
  assert.is(s.slaDeadline, new Date(claim.slaDeadline!).toISOString());
  // the surveyor who worked the claim reads its status, as the instance (participation); a sales agent does not
  assert.is((await d.call('surveyor', 'GET', `/api/claims/${r.claimNo}/status`)).status, 200);
  assert.is((await d.call('agent', 'GET', `/api/claims/${r.claimNo}/status`)).status, 403);
});

claims('above the authority limit a claims supervisor approves the payout', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'fire', claimedAmount: 30000 });
  const inst0 = await d.instance(r.processInstanceId);
  assert.is(inst0.variables.surveyRequired, true, 'large fire: survey required by the rules');
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 28000, surveyFindings: 'Living room burnt', surveyPhotoRefs: ['photo://c2/1'] });
  let s = await status(d, r.claimNo);
  assert.is(s.stage, 'approval');
  assert.match(s.nextStep, /supervisor/);
  const tk = await d.task('supervisor', r.processInstanceId, 'Task_SupervisorApproval');
  assert.is(tk.priority, 80);
  assert.equal((await d.store.claim(r.claimNo))!.payout, 27500);
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), [], 'nothing paid before approval');
  assert.is((await d.call('adjuster', 'POST', `/api/tasks/${tk.id}/claim`)).status, 403, 'adjusters cannot approve above their authority');
  await d.complete('supervisor', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve', supervisorComment: 'Consistent with the survey' });
  s = await status(d, r.claimNo);
  assert.is(s.status, 'closed');
  assert.is(s.payout, 27500);
  assert.is((await d.store.claim(r.claimNo))!.slaMet, true);
});

claims('a supervisor can refuse the payout: the customer gets the reason', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'storm', claimedAmount: 45000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 40000, surveyFindings: 'Roof torn off', surveyPhotoRefs: ['photo://c3/1'] });
  await d.complete('supervisor', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'reject', rejectionReason: 'The roof damage predates the policy, as the survey photos show.' });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'rejected');
  assert.is(claim.rejectionCode, 'REJECTED_BY_SUPERVISOR');
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);
  assert.match((await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-rejected' }))[0].body, /predates the policy/);
});

claims('high fraud score: special investigations confirm fraud and the claim is rejected with a reason', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[2], peril: 'fire', claimedAmount: 1_900_000, lossDate: daysAgo(d, 1) });
  const inst = await d.instance(r.processInstanceId);
  assert.is(inst.variables.fraudLevel, 'high');
  assert.equal(inst.variables.fraudFlags.sort(), ['EARLY_CLAIM', 'HIGH_AMOUNT_RATIO']);
  assert.is((await status(d, r.claimNo)).stage, 'investigation');
  await d.complete('siu', r.processInstanceId, 'Task_Investigate', { investigationOutcome: 'fraud-confirmed', investigationFindings: 'Stock moved out the day before the fire' }, 400);
  await d.complete('siu', r.processInstanceId, 'Task_Investigate', {
    investigationOutcome: 'fraud-confirmed',
    investigationFindings: 'Stock moved out the day before the fire',
    rejectionReason: 'Our investigation found that the goods declared were not on the premises at the time of the fire.',
  });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'rejected');
  assert.is(claim.rejectionCode, 'FRAUD_CONFIRMED');
  assert.is(claim.fraudScore, 55);
  assert.is(claim.stage, 'closed');
  assert.ok(claim.closedAt);
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);
  const s = await status(d, r.claimNo);
  assert.is(s.status, 'rejected');
  assert.match(s.rejectionReason, /not on the premises/);
});

claims('cleared by special investigations, the claim continues to review', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[2], peril: 'water', claimedAmount: 1_850_000, lossDate: daysAgo(d, 1) });
  await d.complete('siu', r.processInstanceId, 'Task_Investigate', { investigationOutcome: 'cleared', investigationFindings: 'Burst main confirmed by the utility' });
  assert.is((await status(d, r.claimNo)).stage, 'review');
});

claims('missing documents arrive: the review resumes, no reminder is sent', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 14000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'request-documents' }, 400);
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'request-documents', missingDocuments: ['repair invoice', 'photos of the damage'] });
  let s = await status(d, r.claimNo);
  assert.is(s.stage, 'documents');
  assert.match(s.nextStep, /by 2026-01-19/);
  const request = await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-documents-requested' });
  assert.is(request.length, 1);
  assert.match(request[0].body, /repair invoice; photos of the damage/);
  await d.advance(3 * DAY);
  const sent = await d.call('cs', 'POST', `/api/claims/${r.claimNo}/documents`, { documents: ['invoice-4711.pdf', 'photos.zip'] });
  assert.is(sent.status, 200, JSON.stringify(sent.body));
  assert.is(sent.body.stage, 'review');
  const inst = await d.instance(r.processInstanceId);
  assert.is(inst.variables.documentsStatus, 'received');
  assert.equal(inst.variables.receivedDocuments, ['invoice-4711.pdf', 'photos.zip']);
  assert.equal((await d.store.claim(r.claimNo))!.documents?.received, ['invoice-4711.pdf', 'photos.zip']);
  await d.advance(10 * DAY);
  assert.equal(await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-documents-reminder' }), [], 'no reminder once the documents came');
  noIncidents(await d.instance(r.processInstanceId));
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  s = await status(d, r.claimNo);
  assert.is(s.status, 'closed');
  assert.is((await d.call('cs', 'POST', `/api/claims/${r.claimNo}/documents`, { documents: ['late.pdf'] })).status, 409, 'a closed claim needs no more documents');
});

claims('missing documents never arrive: reminder after 7 days, back to the adjuster after 14, who rejects', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 14000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'request-documents', missingDocuments: ['police report'] });
  await d.advance(6 * DAY);
  assert.equal(await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-documents-reminder' }), []);
  await d.advance(1 * DAY + HOUR);
  const reminder = await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-documents-reminder' });
  assert.is(reminder.length, 1);
  assert.match(reminder[0].body, /police report/);
  assert.is((await status(d, r.claimNo)).stage, 'documents', 'still waiting after the reminder');
  await d.advance(7 * DAY);
  const inst = await d.instance(r.processInstanceId);
  noIncidents(inst);
  assert.is(inst.variables.documentsStatus, 'overdue');
  assert.is((await status(d, r.claimNo)).stage, 'review');
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'reject', rejectionReason: 'Without the police report the theft of the pipes cannot be established.' });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'rejected');
  assert.is(claim.rejectionCode, 'REJECTED_ON_REVIEW');
  assert.is((await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-documents-reminder' })).length, 1, 'one reminder only');
});

claims('SLA breach: 72 hours after the survey the supervisors are alerted and the breach recorded', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'fire', claimedAmount: 35000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 30000, surveyFindings: 'Kitchen fire', surveyPhotoRefs: ['photo://c9/1'] });
  const deadline = (await d.store.claim(r.claimNo))!.slaDeadline!;
  const jobs = await d.call<any>('admin', 'GET', `/api/jobs?processInstanceId=${r.processInstanceId}`);
  assert.ok(jobs.body.items.some((j: any) => j.activityId === 'Timer_SettlementSla' && j.dueAt === new Date(deadline).toISOString()), JSON.stringify(jobs.body.items));
  await d.advance(71 * HOUR);
  assert.is((await d.store.claim(r.claimNo))!.slaBreached, false);
  await d.advance(2 * HOUR);
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.slaBreached, true);
  assert.ok(claim.slaBreachedAt! > deadline - 1);
  const alert = await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-sla-breached' });
  assert.is(alert.length, 1);
  assert.is(alert[0].recipient, 'claims-supervisors');
  const chase = await d.task('supervisor', r.processInstanceId, 'Task_ChaseSettlement');
  assert.is(chase.priority, 90);
  await d.task('supervisor', r.processInstanceId, 'Task_SupervisorApproval');
  assert.is((await status(d, r.claimNo)).slaBreached, true);
  await d.advance(24 * HOUR);
  assert.is((await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-sla-breached' })).length, 1, 'the timer does not repeat');
  await d.complete('supervisor', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve' });
  const inst = await d.instance(r.processInstanceId);
  assert.is(inst.status, 'completed');
  assert.equal(inst.openTasks, [], 'the chase task closes with the claim');
  const closed = (await d.store.claim(r.claimNo))!;
  assert.is(closed.status, 'closed');
  assert.is(closed.slaMet, false);
  assert.is(closed.analysis?.slaMet, false);
  assert.ok(closed.cycleTimeMs! >= 73 * HOUR);
});

claims('a payout is sent to the bank after its transition commits; a lost bank answer is resent with the same key and pays once', async ({ d, bank, policy }) => {
  bank.loseNextAnswer = true;
  const before = bank.executed.size;
  const r = await report(d, { policyNo: policy[0], peril: 'glass', claimedAmount: 2000 });
  let inst = await d.instance(r.processInstanceId);
  noIncidents(inst);
  assert.is(inst.status, 'completed', 'the claim flow does not wait for the bank');
  const ledger = await d.store.payments({ claimNo: r.claimNo });
  assert.is(ledger.length, 1);
  assert.is(ledger[0].status, 'pending', 'the bank accepted but its answer was lost: the instruction stays pending');
  assert.is(bank.executed.size, before + 1);
  await d.advance(1000); // the relay sweep resends the pending payout
  const after = await d.store.payments({ claimNo: r.claimNo });
  assert.is(after.length, 1);
  assert.is(after[0].status, 'completed');
  assert.is(bank.executed.size, before + 1, 'the bank moved the money once');
  assert.is(bank.calls.filter((k) => k === after[0].idempotencyKey).length, 2, 'asked twice with the same key');
  assert.is((await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-paid' })).length, 1);
  await d.advance(1000);
  assert.is(bank.calls.filter((k) => k === after[0].idempotencyKey).length, 2, 'a completed payout is never sent again');

  // the same handler reached again by another execution (another idempotency key) finds the claim paid
  const calls = bank.calls.length;
  const handlers = createClaimHandlers({ store: insuranceStoreOf(d.t.clock), clock: d.t.clock });
  const again = await inUnitOfWork(d.t.engine.db, async (uow) =>
    handlers['claims.pay']({ instanceId: r.processInstanceId, businessKey: r.claimNo, activityId: 'Task_PayClaim', executionId: 'other', attempt: 1, variables: {}, idempotencyKey: 'another-path', signal: new AbortController().signal, unitOfWork: uow }),
  );
  assert.is((again as any).paymentId, after[0].id);
  await d.advance(1000);
  assert.is(bank.calls.length, calls, 'no transfer attempted');
  assert.is((await d.store.payments({ claimNo: r.claimNo })).length, 1);
});

claims('a handler that fails after writing leaves none of its writes (savepoint per handler call)', async ({ d, policy }) => {
  const original = d.t.engine.handlers.get('claims.notifyPayment')!;
  let calls = 0;
  d.t.engine.registerHandler('claims.notifyPayment', async (ctx) => {
    calls++;
    await original.fn(ctx); // writes the outbox row
    if (calls === 1) throw new Error('mail server unreachable after queueing');
    return {};
  });
  try {
    const r = await report(d, { policyNo: policy[0], peril: 'glass', claimedAmount: 1500 });
    assert.is((await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-paid' })).length, 0, 'the failed call left no outbox row');
    await d.advance(60_000);
    const inst = await d.instance(r.processInstanceId);
    noIncidents(inst);
    assert.is(inst.status, 'completed');
    assert.is((await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-paid' })).length, 1);
  } finally {
    d.t.engine.registerHandler('claims.notifyPayment', original.fn, original.options);
  }
});

claims.run();

const rules = suite('claims rules added for the flow');

rules('assessed loss is the lowest of claimed, approved and surveyed', () => {
  assert.is(assessedLoss({ claimedAmount: 12000 }), 12000);
  assert.is(assessedLoss({ claimedAmount: 12000, approvedAmount: 8000 }), 8000);
  assert.is(assessedLoss({ claimedAmount: 12000, approvedAmount: 8000, surveyedLoss: 9000 }), 8000);
  assert.is(assessedLoss({ claimedAmount: 12000, approvedAmount: null, surveyedLoss: 13000 }), 12000);
  assert.throws(() => assessedLoss({ claimedAmount: 100, surveyedLoss: -1 }), RangeError);
});

rules('rejection reasons by source, coverage first', () => {
  assert.equal(rejectionOf({ rejectionCode: 'PERIL_NOT_COVERED', rejectionReason: 'no theft cover' }), { code: 'PERIL_NOT_COVERED', reason: 'no theft cover' });
  assert.is(rejectionOf({ investigationOutcome: 'fraud-confirmed', rejectionReason: 'x y z' })!.code, 'FRAUD_CONFIRMED');
  assert.is(rejectionOf({ investigationOutcome: 'cleared', reviewDecision: 'approve', supervisorDecision: 'reject' })!.code, 'REJECTED_BY_SUPERVISOR');
  assert.is(rejectionOf({ investigationOutcome: 'cleared', reviewDecision: 'reject' })!.code, 'REJECTED_ON_REVIEW');
  assert.ok(rejectionOf({ reviewDecision: 'reject' })!.reason.length > 10, 'a default reason');
  assert.is(rejectionOf({ reviewDecision: 'approve' }), null);
});

rules('closure figures: cycle time, SLA met, loss ratio', () => {
  const base = { reportedAt: 0, closedAt: 50 * HOUR, payout: 1000, paidAt: 49 * HOUR, slaDeadline: 72 * HOUR, slaBreached: false, premium: 2000 };
  assert.equal(closureFigures(base), { cycleTimeHours: 50, slaMet: true, incurred: 1000, earnedPremium: 2000, lossRatio: 0.5 });
  assert.is(closureFigures({ ...base, slaBreached: true }).slaMet, false);
  assert.is(closureFigures({ ...base, paidAt: 80 * HOUR, closedAt: 80 * HOUR }).slaMet, false);
  assert.is(closureFigures({ ...base, paidAt: null, payout: 0 }).slaMet, null);
  assert.is(closureFigures({ ...base, premium: 0 }).lossRatio, null);
  assert.throws(() => closureFigures({ ...base, closedAt: -1 }), RangeError);
});

rules('timer durations are whole seconds, never negative', () => {
  assert.is(durationUntil(0, 72 * HOUR), 'PT259200S');
  assert.is(durationUntil(1000, 500), 'PT0S');
  assert.is(durationUntil(0, 1), 'PT1S');
});

rules('status wording follows where the claim waits', () => {
  const claim: any = { claimNo: 'CLM-20260105-000001', policyNo: 'P', status: 'open', stage: 'settlement', reportedAt: 0, slaDeadline: 72 * HOUR, slaBreached: false, payout: null, paidAt: null, rejectionReason: null, closedAt: null, documents: { dueAt: '2026-01-19T09:00:00.000Z' } };
  assert.is(claimStatusView(claim, ['Task_WaitDocuments']).stage, 'documents');
  assert.match(claimStatusView(claim, ['Task_WaitDocuments']).nextStep, /2026-01-19/);
  assert.is(claimStatusView(claim, ['SubProcess_Settlement', 'Task_SupervisorApproval']).stage, 'approval');
  assert.match(claimStatusView(claim, ['SubProcess_Settlement']).nextStep, /1970-01-04 00:00 UTC/);
  assert.is(claimStatusView({ ...claim, status: 'rejected' }, []).stage, 'rejected');
});

rules.run();

const tables = suite('insurance tables');

tables('the migration goes down and up again with data; the demo seed is idempotent', async () => {
  const tdb = await testDb();
  try {
    const db = tdb.db;
    const clock = new ManualClock('2026-01-05T09:00:00Z');
    const first = await seedDemo(db, clock);
    const again = await seedDemo(db, clock);
    assert.equal(again, first);
    assert.is(Number((await db('policies').count({ n: '*' }).first())!.n), 3);
    assert.is(Number((await db('insurance_sequences').where({ name: 'policy' }).first()).value), 3, 'new policy numbers follow the seeded ones');
    // later migrations build on the insurance tables (versions, reserve movements): they go down first, newest first
    const opts = { directory: migrationsDir, loadExtensions: ['.ts'] };
    const INSURANCE = '20261125150000_insurance.ts';
    const applied = async () => ((await db.migrate.list(opts)) as [{ name: string }[], unknown])[0].map((m) => m.name);
    for (let guard = 0; (await applied()).includes(INSURANCE); guard++) {
      assert.ok(guard < 100, 'the insurance migration never went down');
      await db.migrate.down(opts);
    }
    for (const t of ['claims', 'policies', 'payments', 'outbox', 'product_catalogue', 'quotes', 'customers', 'insurance_sequences', 'policy_versions', 'claim_reserve_movements']) assert.not.ok(await db.schema.hasTable(t), `${t} dropped`);
    assert.ok(await db.schema.hasTable('process_instances'), 'engine tables stay');
    await db.migrate.latest(opts);
    const reseeded = await seedDemo(db, clock);
    assert.is(reseeded.policies.length, 3);
  } finally {
    await tdb.destroy();
  }
});

tables.run();
