/**
 * The unhappy paths of claims intake and screening (issue 12, "Why"), end to end over HTTP on a real socket with
 * the shipped diagrams, decisions and forms: the same loss reported twice, a policy with too many claims, a loss
 * inside the cover reported after the policy expired or was cancelled, reports that must be refused before a claim
 * number is used, rejections the policyholder must hear about on their channel, and the status of a refused claim.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, DAY, type Domain } from './insurance.ts';
import { policyNumber } from '../src/processes/sales/rules.ts';

type Ctx = { d: Domain };
const paths = suite<Ctx>('claims: unhappy paths');

const START = '2026-01-05T09:00:00Z';

paths.before(async (ctx) => {
  ctx.d = await domain({}, START, { socket: true });
  const { store } = ctx.d;
  await store.insertCustomer({ id: 'CUST-SMS-01', name: 'Chen Jie', email: 'chen.jie@example.com', phone: '+86 139 0000 0101', creditGrade: 'B', preferredChannel: 'sms', postalAddress: null });
  await store.insertCustomer({ id: 'CUST-POST-01', name: 'Zhao Min', email: null, phone: null, creditGrade: 'B', preferredChannel: 'post', postalAddress: '18 Nanjing Road, Huangpu, Shanghai 200001' });
});
paths.after(async (ctx) => ctx.d.close());

const daysAgo = (d: Domain, n: number) => new Date(d.t.clock.now() - n * DAY).toISOString().slice(0, 10);

let nextPolicy = 700;
/** A home policy of its own (a fresh claim history), `start`/`end` in days from today (negative: in the past). */
async function policy(d: Domain, o: { customerId?: string; start?: number; end?: number; status?: string; deductible?: number; perils?: string[] } = {}): Promise<string> {
  const policyNo = policyNumber('HOME', nextPolicy++, new Date(d.t.clock.now()));
  const startDate = daysAgo(d, -(o.start ?? -200));
  const endDate = daysAgo(d, -(o.end ?? 164));
  const terms = { sumInsured: 800_000, deductible: o.deductible ?? 500, coinsurance: 1, perils: o.perils ?? ['fire', 'water', 'theft', 'storm', 'glass'], premium: 2_000 };
  await d.store.insertPolicy({
    policyNo,
    customerId: o.customerId ?? 'CUST-000001',
    productCode: 'HOME',
    productVersion: 1,
    status: o.status ?? 'active',
    startDate,
    endDate,
    ...terms,
    coverChangedAt: null,
    quoteNo: null,
    schedule: { policyNo, ...terms },
    processInstanceId: null,
  });
  return policyNo;
}

async function report(d: Domain, body: Record<string, unknown>, expect = 201) {
  const res = await d.call('cs', 'POST', '/api/claims', { channel: 'phone', lossDate: daysAgo(d, 2), description: 'Damage reported by phone', ...body });
  assert.is(res.status, expect, JSON.stringify(res.body));
  return res.body as { claimNo: string; processInstanceId: string; claim: any };
}

async function status(d: Domain, claimNo: string) {
  const res = await d.call('cs', 'GET', `/api/claims/${claimNo}/status`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The rejection notice of a claim: exactly one, with its channel and recipient. */
async function rejectionNotice(d: Domain, claimNo: string) {
  const sent = await d.store.notifications({ businessRef: claimNo, topic: 'claim-rejected' });
  assert.is(sent.length, 1, `one rejection notice for ${claimNo}: ${JSON.stringify(sent)}`);
  return sent[0];
}

// ------------------------------------------------------------------------------------------ duplicates

paths('Given a loss reported by phone and paid automatically, When the same loss is reported again by app, Then it is a possible duplicate for an adjuster and is not paid again', async ({ d }) => {
  const p = await policy(d);
  const first = await report(d, { policyNo: p, channel: 'phone', peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 3) });
  assert.is((await d.store.claim(first.claimNo))!.status, 'closed', 'the first report is paid automatically');
  assert.is((await d.store.payments({ claimNo: first.claimNo })).length, 1);

  const second = await report(d, { policyNo: p, channel: 'app', peril: 'glass', claimedAmount: 3200, lossDate: daysAgo(d, 3), description: 'Broken window, reported in the app' });
  const claim = (await d.store.claim(second.claimNo))!;
  assert.is(claim.duplicateOf, first.claimNo);
  assert.ok(claim.fraudIndicators?.includes('POSSIBLE_DUPLICATE'), JSON.stringify(claim.fraudIndicators));
  assert.is(claim.status, 'open');
  assert.is(claim.decisionMode, null, 'nobody decided yet');
  const inst = await d.instance(second.processInstanceId);
  noIncidents(inst);
  assert.is(inst.variables.autoApproved, false);
  assert.equal(inst.variables.autoPaymentStoppedBy, ['POSSIBLE_DUPLICATE']);
  assert.is(second.claim.stage, 'review');
  assert.equal(await d.store.payments({ claimNo: second.claimNo }), [], 'not paid twice');

  // the adjuster sees which claim it may repeat, in the task's variables
  const task = await d.task('adjuster', second.processInstanceId, 'Task_ManualReview');
  const detail = await d.call<any>('adjuster', 'GET', `/api/tasks/${task.id}`);
  assert.is(detail.status, 200, JSON.stringify(detail.body));
  assert.is(detail.body.variables.duplicateOf, first.claimNo);
  assert.is(detail.body.variables.possibleDuplicate, true);
  await d.complete('adjuster', second.processInstanceId, 'Task_ManualReview', { reviewDecision: 'reject', rejectionReason: `The same loss was already paid under claim ${first.claimNo}.` });
  const rejected = (await d.store.claim(second.claimNo))!;
  assert.is(rejected.status, 'rejected');
  assert.is(rejected.decisionMode, 'manual');
  assert.is((await d.store.payments({ claimNo: second.claimNo })).length, 0);
});

paths('Given an open claim, When the same loss is reported within the tolerance, Then it is flagged; another amount, peril or day, or a rejected claim, is not', async ({ d }) => {
  const p = await policy(d);
  const open = await report(d, { policyNo: p, peril: 'water', claimedAmount: 12000, lossDate: daysAgo(d, 4) });
  assert.is((await d.store.claim(open.claimNo))!.status, 'open', 'waits in review');
  const within = await report(d, { policyNo: p, peril: 'water', claimedAmount: 13200, lossDate: daysAgo(d, 4) }); // 10% of 13,200 = 1,320 >= 1,200
  assert.is((await d.store.claim(within.claimNo))!.duplicateOf, open.claimNo);
  const outside = await report(d, { policyNo: p, peril: 'water', claimedAmount: 15000, lossDate: daysAgo(d, 4) }); // 1,800 and 3,000 > 1,500
  assert.is((await d.store.claim(outside.claimNo))!.duplicateOf, null);
  const otherPeril = await report(d, { policyNo: p, peril: 'storm', claimedAmount: 12000, lossDate: daysAgo(d, 4) });
  assert.is((await d.store.claim(otherPeril.claimNo))!.duplicateOf, null);
  const otherDay = await report(d, { policyNo: p, peril: 'water', claimedAmount: 12000, lossDate: daysAgo(d, 5) });
  assert.is((await d.store.claim(otherDay.claimNo))!.duplicateOf, null);

  // a rejected claim is no original: its loss may be reported again
  const q = await policy(d);
  const first = await report(d, { policyNo: q, peril: 'water', claimedAmount: 12000, lossDate: daysAgo(d, 4) });
  await d.complete('adjuster', first.processInstanceId, 'Task_ManualReview', { reviewDecision: 'reject', rejectionReason: 'No evidence of the leak was sent.' });
  const again = await report(d, { policyNo: q, peril: 'water', claimedAmount: 12000, lossDate: daysAgo(d, 4) });
  assert.is((await d.store.claim(again.claimNo))!.duplicateOf, null);
});

// ------------------------------------------------------------------------------------------ frequency

paths('Given a policy with five claims in the last 12 months, When a small glass claim is reported, Then the risk is high, special investigations look at it and, cleared, an adjuster decides: never paid automatically', async ({ d }) => {
  const p = await policy(d, { start: -300, end: 64 });
  for (let i = 0; i < 5; i++) {
    const claimNo = `CLM-20251201-${900_000 + nextPolicy * 10 + i}`;
    await d.store.registerClaim({ claimNo, processInstanceId: `earlier-${p}-${i}`, policyNo: p, channel: 'phone', lossDate: daysAgo(d, 20 + 30 * i), reportedAt: d.t.clock.now() - (19 + 30 * i) * DAY, peril: i % 2 ? 'water' : 'theft', description: 'An earlier claim', claimedAmount: 2000 + 100 * i });
    await d.store.updateClaim(claimNo, { status: 'closed', stage: 'closed' });
  }
  const r = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000 });
  let inst = await d.instance(r.processInstanceId);
  noIncidents(inst);
  assert.is(inst.variables.claimsLast12Months, 5);
  assert.is(inst.variables.fraudLevel, 'high');
  assert.ok(inst.variables.fraudFlags.includes('EXCESSIVE_CLAIM_FREQUENCY'), JSON.stringify(inst.variables.fraudFlags));
  assert.is(inst.variables.stopAutoPayment, true);
  assert.is((await status(d, r.claimNo)).stage, 'investigation');
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);

  await d.complete('siu', r.processInstanceId, 'Task_Investigate', { investigationOutcome: 'cleared', investigationFindings: 'Each earlier claim was a separate, documented loss' });
  assert.is((await d.store.claim(r.claimNo))!.fraudOutcome, 'cleared');
  inst = await d.instance(r.processInstanceId);
  assert.is(inst.variables.complexity, 'simple');
  assert.is(inst.variables.autoApproved, false, 'simple, within the automatic limit, and still not automatic');
  assert.equal(inst.variables.autoPaymentStoppedBy, ['EXCESSIVE_CLAIM_FREQUENCY']);
  assert.is((await status(d, r.claimNo)).stage, 'review');
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve', reviewNotes: 'Glazier invoice checks out' });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'closed');
  assert.is(claim.payout, 2500);
  assert.is(claim.decisionMode, 'manual');
});

// ------------------------------------------------------------------------------------------ coverage on the loss date

paths('Given a policy that has expired since, When a loss inside its cover period is reported, Then the cover of that day applies', async ({ d }) => {
  const p = await policy(d, { start: -400, end: -35, status: 'expired' });
  const r = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 40) });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.rejectionCode, null, JSON.stringify(claim.rejectionReason));
  assert.is(claim.status, 'closed');
  assert.is(claim.payout, 2500);
  // a loss after the end of the cover is outside the period, reported or not after the expiry
  const late = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 10) });
  assert.is((await d.store.claim(late.claimNo))!.rejectionCode, 'LOSS_OUTSIDE_PERIOD');
});

paths('Given a policy cancelled ten days ago, When losses before and after the cancellation are reported, Then the one before is covered and the one after is refused as not in force', async ({ d }) => {
  const p = await policy(d, { start: -100, end: 265 });
  const current = (await d.store.policy(p))!;
  await d.store.addPolicyVersion({ policyNo: p, effectiveFrom: daysAgo(d, 10), effectiveTo: current.endDate, sumInsured: current.sumInsured, deductible: current.deductible, coinsurance: current.coinsurance, perils: current.perils, premium: current.premium, reason: 'cancellation', processInstanceId: null });
  assert.is((await d.store.policy(p))!.status, 'cancelled');
  const before = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 11) });
  const covered = (await d.store.claim(before.claimNo))!;
  assert.is(covered.rejectionCode, null, JSON.stringify(covered.rejectionReason));
  assert.is(covered.payout, 2500);
  const after = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 10) });
  const refused = (await d.store.claim(after.claimNo))!;
  assert.is(refused.status, 'rejected');
  assert.is(refused.rejectionCode, 'POLICY_NOT_ACTIVE');
  assert.is(refused.decisionMode, 'automatic');
  const notice = await rejectionNotice(d, after.claimNo);
  assert.is(notice.channel, 'email');
  assert.is(notice.recipient, 'li.wei@example.com');
  assert.match(notice.body, /not in force on the date of the loss/);
});

paths('Given an endorsement that raised the deductible twenty days ago, When losses before and after it are reported, Then each is paid on the terms of its day', async ({ d }) => {
  const p = await policy(d, { start: -200, end: 164, deductible: 500 });
  const current = (await d.store.policy(p))!;
  await d.store.addPolicyVersion({ policyNo: p, effectiveFrom: daysAgo(d, 20), effectiveTo: current.endDate, sumInsured: current.sumInsured, deductible: 1500, coinsurance: 1, perils: current.perils, premium: 1_800, reason: 'endorsement', processInstanceId: null });
  const before = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 30) });
  const after = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 10) });
  assert.is((await d.store.claim(before.claimNo))!.payout, 2500, 'deductible 500 of version 1');
  assert.is((await d.store.claim(after.claimNo))!.payout, 1500, 'deductible 1,500 of version 2');
  assert.is((await d.instance(before.processInstanceId)).variables.policyVersion, 1);
  assert.is((await d.instance(after.processInstanceId)).variables.policyVersion, 2);
});

// ------------------------------------------------------------------------------------------ second newcomer round

paths('Given a possible duplicate an adjuster approves, When it is settled, Then a claims supervisor must approve it too (four eyes) and the approval may not exceed the claim', async ({ d }) => {
  const p = await policy(d);
  const first = await report(d, { policyNo: p, channel: 'phone', peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 3) });
  assert.is((await d.store.claim(first.claimNo))!.status, 'closed');
  const second = await report(d, { policyNo: p, channel: 'app', peril: 'glass', claimedAmount: 3100, lossDate: daysAgo(d, 3), description: 'Broken window, reported in the app' });
  // an approval above the claimed amount is refused (it was stored as 50000 before)
  const tooMuch = await d.complete('adjuster', second.processInstanceId, 'Task_ManualReview', { reviewDecision: 'partial', approvedAmount: 50_000 }, 400);
  assert.equal([tooMuch.body.code, tooMuch.body.details?.[0]?.field], ['VALIDATION_FAILED', 'approvedAmount'], JSON.stringify(tooMuch.body));
  await d.complete('adjuster', second.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  // the payout (2600) is within the adjuster's 20,000, but a possible duplicate needs a supervisor as well
  assert.equal(await d.store.payments({ claimNo: second.claimNo }), [], 'not paid on the approval of the adjuster alone');
  const approval = await d.task('supervisor', second.processInstanceId, 'Task_SupervisorApproval');
  assert.equal(approval.candidateGroups, ['claims-supervisors']);
  await d.complete('supervisor', second.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve' });
  const paid = (await d.store.claim(second.claimNo))!;
  assert.is(paid.status, 'closed');
  assert.equal(paid.approvalChain!.map((e: any) => [e.level, e.group, e.decision]), [[1, 'adjusters', 'approve'], [2, 'claims-supervisors', 'approve']]);
  assert.is((await d.store.payments({ claimNo: second.claimNo })).length, 1);
});

paths('Given a claim far above the sum insured, When it is registered, Then its reserve is capped at the sum insured of the version in force, and the status shows it', async ({ d }) => {
  const p = await policy(d);
  const r = await report(d, { policyNo: p, peril: 'storm', claimedAmount: 9_999_999_999.99 });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.reserveOutstanding, 800_000, 'the sum insured, not 1.1 x 9,999,999,999.99');
  assert.is((await status(d, r.claimNo)).reserveOutstanding, 800_000);
});

paths('Given a loss below the deductible, When it is accepted, Then the notice says there is nothing to pay; a claim of 0 is refused at intake', async ({ d }) => {
  const p = await policy(d, { deductible: 500 });
  const r = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 300 });
  const notice = (await d.store.notifications({ businessRef: r.claimNo, topic: 'claim-paid' }))[0];
  assert.match(notice.subject, 'nothing to pay');
  // documents for a claim that is already decided: 409 saying so (it was a 404 "no process instance waits")
  const late = await d.call<any>('cs', 'POST', `/api/claims/${r.claimNo}/documents`, { documents: ['receipt.pdf'] });
  assert.equal([late.status, late.body.code], [409, 'INSTANCE_NOT_ACTIVE'], JSON.stringify(late.body));
  assert.match(late.body.message, 'needs no more documents');
  assert.is((await d.call<any>('cs', 'POST', '/api/claims', { policyNo: p, channel: 'phone', lossDate: daysAgo(d, 1), peril: 'glass', claimedAmount: 0, description: 'Nothing lost' })).status, 400);
});

// ------------------------------------------------------------------------------------------ intake validation

paths('Given reports with a bad loss date or form, When customer service sends them, Then each is a 400 naming the field and no claim number is used', async ({ d }) => {
  const p = await policy(d, { start: -10, end: 355 });
  const before = await d.store.currentNumber('claim');
  const claimRows = async () => Number((await d.t.engine.db('claims').count({ n: '*' }).first())!.n);
  const rowsBefore = await claimRows();
  const refused = async (body: Record<string, unknown>, field: string, keyword?: string) => {
    const res = await d.call<any>('cs', 'POST', '/api/claims', { policyNo: p, channel: 'phone', peril: 'glass', claimedAmount: 3000, description: 'Broken window pane', ...body });
    assert.is(res.status, 400, JSON.stringify(res.body));
    assert.is(res.body.code, 'VALIDATION_FAILED');
    assert.ok(res.body.details.some((x: any) => x.field === field && (keyword === undefined || x.keyword === keyword)), JSON.stringify(res.body.details));
  };
  await refused({ lossDate: '2026-02-30' }, 'lossDate');
  await refused({ lossDate: '05/01/2026' }, 'lossDate');
  await refused({ lossDate: daysAgo(d, -1) }, 'lossDate', 'notInFuture');
  await refused({ lossDate: daysAgo(d, 11) }, 'lossDate', 'withinCover');
  await refused({ lossDate: daysAgo(d, 1), channel: 'fax' }, 'channel');
  await refused({ lossDate: daysAgo(d, 1), policyNo: 'POL-HOME-2026-999998' }, 'contactEmail', 'contactRequired');
  // amounts are money (at most 2 decimals, not absurdly large) and the policy number is bounded (newcomer findings:
  // 100.123 was registered and then blocked every later claim on the policy; 1e300 and a 100,000-character number too)
  await refused({ lossDate: daysAgo(d, 1), claimedAmount: 100.123 }, 'claimedAmount', 'multipleOf');
  await refused({ lossDate: daysAgo(d, 1), claimedAmount: 1e300 }, 'claimedAmount', 'maximum');
  await refused({ lossDate: daysAgo(d, 1), policyNo: `POL-HOME-2026-${'1'.repeat(100_000)}`, contactEmail: 'a@example.com' }, 'policyNo', 'maxLength');
  assert.is(await d.store.currentNumber('claim'), before, 'the claim sequence did not move');
  assert.is(await claimRows(), rowsBefore, 'no claim was registered');

  const ok = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 3000, lossDate: daysAgo(d, 10) });
  assert.is(Number(ok.claimNo.slice(13)), before + 1, 'the next claim gets the next number');
});

paths('Given a report the start form refuses, When customer service sends it, Then it is a 400 and the claim sequence does not move', async ({ d }) => {
  const p = await policy(d);
  const before = await d.store.currentNumber('claim');
  const res = await d.call<any>('cs', 'POST', '/api/claims', { policyNo: p, channel: 'phone', lossDate: daysAgo(d, 1), peril: 'meteor', claimedAmount: -1, description: 'x' });
  assert.is(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.details.map((x: any) => x.field).sort(), ['claimedAmount', 'description', 'peril']);
  // the form's and the intake's problems come in one answer (a form error no longer hides a loss date in the future)
  const both = await d.call<any>('cs', 'POST', '/api/claims', { policyNo: p, channel: 'phone', lossDate: daysAgo(d, -2), peril: 'meteor', claimedAmount: 100, description: 'Something fell from the sky' });
  assert.is(both.status, 400, JSON.stringify(both.body));
  assert.equal(both.body.details.map((x: any) => x.field).sort(), ['lossDate', 'peril']);
  assert.is(await d.store.currentNumber('claim'), before, 'the form is checked before a number is taken');
  const ok = await report(d, { policyNo: p, peril: 'glass', claimedAmount: 900, lossDate: daysAgo(d, 1) });
  assert.is(Number(ok.claimNo.slice(13)), before + 1);
});

paths('Given a direct start of the claims process, When its loss date is in the future, Then it still starts and the claim is refused with a notice', async ({ d }) => {
  const p = await policy(d);
  const res = await d.call<any>('cs', 'POST', '/api/process-definitions/claims/start', {
    variables: { policyNo: p, channel: 'email', lossDate: daysAgo(d, -3), peril: 'glass', claimedAmount: 800, description: 'Window broken next week?' },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const claimNo = res.body.variables.claimNo;
  const claim = (await d.store.claim(claimNo))!;
  assert.is(claim.rejectionCode, 'INVALID_LOSS_DATE');
  const notice = await rejectionNotice(d, claimNo);
  assert.is(notice.recipient, 'li.wei@example.com');
});

paths('Given a direct start on a policy not on file without any contact, When the claim is refused, Then customer service gets the notice to reach the reporter (no notice without a recipient)', async ({ d }) => {
  const res = await d.call<any>('cs', 'POST', '/api/process-definitions/claims/start', {
    variables: { policyNo: 'POL-HOME-2026-987654', channel: 'phone', lossDate: daysAgo(d, 1), peril: 'glass', claimedAmount: 800, description: 'Window broken by a ball' },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const claimNo = res.body.variables.claimNo;
  assert.is((await d.store.claim(claimNo))!.rejectionCode, 'POLICY_NOT_FOUND');
  const notice = await rejectionNotice(d, claimNo);
  assert.equal([notice.channel, notice.recipient, notice.payload.unreachable], ['internal', 'customer-service', true]);
  assert.match(notice.subject, '[no customer address]');
  // customer service sees what was sent, and to whom, over HTTP
  const seen = await d.call<any>('cs', 'GET', `/api/claims/${claimNo}/notifications`);
  assert.is(seen.status, 200, JSON.stringify(seen.body));
  assert.equal(seen.body.items.map((n: any) => [n.topic, n.channel, n.recipient]), [['claim-rejected', 'internal', 'customer-service']]);
  assert.is((await d.call<any>('adjuster', 'GET', `/api/claims/${claimNo}/notifications`)).status, 403, 'adjusters have no read-instances grant on claims');
});

// ------------------------------------------------------------------------------------------ rejection notices

paths('Given each way a claim is refused, When it is rejected, Then the policyholder is told on their preferred channel, with a recipient', async ({ d }) => {
  const cases: { claimNo: string; code: string; channel: string; recipient: string }[] = [];
  const add = async (claimNo: string, code: string, channel: string, recipient: string) => cases.push({ claimNo, code, channel, recipient });

  // policy number not on file: the contact given at the report
  const unknownByPhone = await report(d, { policyNo: 'POL-HOME-2026-999997', peril: 'fire', claimedAmount: 900, contactPhone: '+86 137 0000 0202' });
  await add(unknownByPhone.claimNo, 'POLICY_NOT_FOUND', 'sms', '+86 137 0000 0202');
  const unknownByMail = await report(d, { policyNo: 'POL-HOME-2026-999996', peril: 'fire', claimedAmount: 900, contactEmail: 'neighbour@example.com', contactPhone: '+86 137 0000 0303' });
  await add(unknownByMail.claimNo, 'POLICY_NOT_FOUND', 'email', 'neighbour@example.com');
  // peril not covered, customer who prefers SMS
  const smsPolicy = await policy(d, { customerId: 'CUST-SMS-01', perils: ['fire', 'water'] });
  const notCovered = await report(d, { policyNo: smsPolicy, peril: 'theft', claimedAmount: 4000 });
  await add(notCovered.claimNo, 'PERIL_NOT_COVERED', 'sms', '+86 139 0000 0101');
  // outside the cover period, customer who prefers post
  const postPolicy = await policy(d, { customerId: 'CUST-POST-01', start: -400, end: -35, status: 'expired' });
  const outside = await report(d, { policyNo: postPolicy, peril: 'fire', claimedAmount: 4000, lossDate: daysAgo(d, 5) });
  await add(outside.claimNo, 'LOSS_OUTSIDE_PERIOD', 'post', '18 Nanjing Road, Huangpu, Shanghai 200001');
  // not in force: cancelled before the loss, e-mail by default
  const cancelled = await policy(d, { start: -100, end: 265 });
  const c = (await d.store.policy(cancelled))!;
  await d.store.addPolicyVersion({ policyNo: cancelled, effectiveFrom: daysAgo(d, 30), effectiveTo: c.endDate, sumInsured: c.sumInsured, deductible: c.deductible, coinsurance: 1, perils: c.perils, premium: c.premium, reason: 'cancellation', processInstanceId: null });
  const notInForce = await report(d, { policyNo: cancelled, peril: 'fire', claimedAmount: 4000 });
  await add(notInForce.claimNo, 'POLICY_NOT_ACTIVE', 'email', 'li.wei@example.com');
  // a person's refusals: adjuster, special investigations
  const reviewed = await report(d, { policyNo: await policy(d, { customerId: 'CUST-SMS-01' }), peril: 'water', claimedAmount: 12000 });
  await d.complete('adjuster', reviewed.processInstanceId, 'Task_ManualReview', { reviewDecision: 'reject', rejectionReason: 'Gradual leak over months: not a sudden escape of water.' });
  await add(reviewed.claimNo, 'REJECTED_ON_REVIEW', 'sms', '+86 139 0000 0101');
  const suspicious = await report(d, { policyNo: await policy(d, { start: -20, end: 345 }), peril: 'fire', claimedAmount: 790_000, lossDate: daysAgo(d, 1) });
  await d.complete('siu', suspicious.processInstanceId, 'Task_Investigate', { investigationOutcome: 'fraud-confirmed', investigationFindings: 'Stock moved out the day before the fire', rejectionReason: 'Our investigation found that the goods declared were not on the premises.' });
  await add(suspicious.claimNo, 'FRAUD_CONFIRMED', 'email', 'li.wei@example.com');

  for (const k of cases) {
    const claim = (await d.store.claim(k.claimNo))!;
    assert.is(claim.rejectionCode, k.code, k.claimNo);
    const notice = await rejectionNotice(d, k.claimNo);
    assert.ok(notice.recipient, `${k.code}: a recipient`);
    assert.is(notice.channel, k.channel, k.code);
    assert.is(notice.recipient, k.recipient, k.code);
  }
  const fraud = (await d.store.claim(suspicious.claimNo))!;
  assert.is(fraud.fraudOutcome, 'confirmed');
  assert.is(fraud.decisionMode, 'manual');
  assert.is((await d.store.claim(notCovered.claimNo))!.decisionMode, 'automatic');
  assert.is((await rejectionNotice(d, outside.claimNo)).payload.postalAddress, '18 Nanjing Road, Huangpu, Shanghai 200001');
});

// ------------------------------------------------------------------------------------------ status of a refused claim

paths('Given a payout the supervisor refused, When the status is asked, Then it shows no payout and the reason', async ({ d }) => {
  const p = await policy(d);
  const r = await report(d, { policyNo: p, peril: 'fire', claimedAmount: 30000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 28000, surveyFindings: 'Living room burnt', surveyPhotoRefs: ['photo://u1/1'] });
  assert.is((await d.store.claim(r.claimNo))!.payout, 27500, 'adjudicated before the refusal');
  await d.complete('supervisor', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'reject', rejectionReason: 'The fire started in an unapproved heater, excluded by the policy.' });
  const s = await status(d, r.claimNo);
  assert.is(s.status, 'rejected');
  assert.is(s.payout, null);
  assert.match(s.rejectionReason, /unapproved heater/);
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.payout, null, 'the row keeps no payout either');
  assert.is(claim.decisionMode, 'manual');
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);
});

paths('Given a small claim approved by the rules, When it is paid, Then the claim records an automatic decision', async ({ d }) => {
  const r = await report(d, { policyNo: await policy(d), peril: 'glass', claimedAmount: 1200 });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'closed');
  assert.is(claim.decisionMode, 'automatic');
  assert.is(claim.fraudOutcome, null, 'no investigation ran');
  assert.is(claim.duplicateOf, null);
});

paths.run();
