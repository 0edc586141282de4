/**
 * Claim reserves, payment authority and money in decimals (issue 12), end to end over a real socket with the
 * real handlers and decisions, plus the pure rules they use.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domain, noIncidents, DAY, processesDir, type Domain } from './insurance.ts';
import { computePayout, assessedLoss } from '../src/processes/claims/rules.ts';
import { initialReserve, expectedPayout, reservesOf } from '../src/processes/claims/reserves.ts';
import { appendApproval, authorityOf, initialApprovalLevel, withinAuthority, type ApprovalEntry } from '../src/processes/claims/authority.ts';
import { sum, toNumber } from '../src/processes/money.ts';
import { insuranceStoreOf } from '../src/processes/unit-of-work.ts';
import { inUnitOfWork } from '../src/persistence/unit-of-work.ts';
import { compileSchema, isDecimalMultipleOf } from '../src/engine/forms.ts';

type Ctx = { d: Domain; policy: string[] };
const e2e = suite<Ctx>('claim reserves and payment authority');

e2e.before(async (ctx) => {
  ctx.d = await domain({}, '2026-01-05T09:00:00Z', { socket: true });
  ctx.policy = ctx.d.demo.policies.map((p) => p.policyNo);
});
e2e.after(async (ctx) => ctx.d.close());

async function refused(fn: () => Promise<unknown>, pattern: RegExp) {
  try {
    await fn();
  } catch (err) {
    assert.match(String((err as Error).message), pattern);
    return;
  }
  assert.unreachable('expected a refusal');
}

const daysAgo = (d: Domain, n: number) => new Date(d.t.clock.now() - n * DAY).toISOString().slice(0, 10);

/** Reports a claim on a fresh copy of the policy named (its own claim history: no duplicate or frequency flags between scenarios). */
async function report(d: Domain, body: Record<string, unknown>) {
  const policyNo = await d.policyLike(String(body.policyNo));
  const res = await d.call('cs', 'POST', '/api/claims', { channel: 'phone', lossDate: daysAgo(d, 2), description: 'Damage reported by phone', ...body, policyNo });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body as { claimNo: string; processInstanceId: string };
}

async function history(d: Domain, instanceId: string): Promise<any[]> {
  const res = await d.call<any[]>('admin', 'GET', `/api/process-instances/${instanceId}/history`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The reserve movements as the history shows them (handler outputs), in order. */
async function reserveChainInHistory(d: Domain, instanceId: string) {
  return (await history(d, instanceId))
    .filter((e) => e.type === 'handler.completed' && e.data?.output?.reserveMovement)
    .map((e) => ({ handler: e.data.handler, ...e.data.output.reserveMovement }));
}

e2e('Given a water claim approved with a survey, then the reserve moves at registration, review, survey and payment, and each movement is in the history', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 12000 });
  let claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.reserveOutstanding, 12000, 'ClaimReserves: water, factor 1, at least 1,000');
  const registered = (await history(d, r.processInstanceId)).find((e) => e.type === 'handler.completed' && e.data.handler === 'claims.register');
  assert.is(registered.data.output.reserveDecision.decisionKey, 'ClaimReserves');
  assert.equal(registered.data.output.reserveDecision.matchedRules, ['ClaimReserves_Water']);

  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve', surveyRequested: true });
  claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.reserveOutstanding, 11500, 'at review: the payout expected on the claimed amount (12,000 - 500)');
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 9000.4, surveyFindings: 'Kitchen floor', surveyPhotoRefs: ['photo://r1/1'] });
  noIncidents(await d.instance(r.processInstanceId));
  claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'closed');
  assert.is(claim.payout, 8500.4);
  assert.is(claim.reserveOutstanding, 0, 'released by the payment');

  const movements = await d.store.reserveMovements(r.claimNo);
  assert.equal(
    movements.map((m) => [m.reason, m.amountBefore, m.amountAfter, m.change]),
    [
      ['initial', 0, 12000, 12000],
      ['review', 12000, 11500, -500],
      ['survey', 11500, 8500.4, -2999.6],
      ['payment', 8500.4, 0, -8500.4],
    ],
    'settlement computed the payout the survey reserved: no movement',
  );
  assert.ok(movements.every((m) => m.movementKey.startsWith(`${r.processInstanceId}:`)), 'keyed by the handler call');
  const inHistory = await reserveChainInHistory(d, r.processInstanceId);
  assert.equal(inHistory.map((m) => [m.handler, m.reason, m.after]), [
    ['claims.register', 'initial', 12000],
    ['claims.recordReview', 'review', 11500],
    ['claims.startSettlementClock', 'survey', 8500.4],
    ['claims.pay', 'payment', 0],
  ]);
  const ledger = await d.store.payments({ claimNo: r.claimNo });
  assert.equal(ledger.map((p) => p.amount), [8500.4]);
});

e2e('Given claims that are rejected (on review, or not covered), then their reserve is released to 0 with a rejection movement', async ({ d, policy }) => {
  const reviewed = await report(d, { policyNo: policy[0], peril: 'theft', claimedAmount: 14000 });
  assert.is((await d.store.claim(reviewed.claimNo))!.reserveOutstanding, 11900, 'theft: 85% of 14,000');
  await d.complete('adjuster', reviewed.processInstanceId, 'Task_ManualReview', { reviewDecision: 'reject', rejectionReason: 'The items were not in the home at the time.' });
  const notCovered = await report(d, { policyNo: policy[1], peril: 'theft', claimedAmount: 300 });
  for (const r of [reviewed, notCovered]) {
    const claim = (await d.store.claim(r.claimNo))!;
    assert.is(claim.status, 'rejected');
    assert.is(claim.reserveOutstanding, 0);
    const movements = await d.store.reserveMovements(r.claimNo);
    assert.equal(movements.map((m) => m.reason), ['initial', 'rejection']);
    assert.is(movements[1].amountAfter, 0);
    assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);
  }
  assert.is((await d.store.reserveMovements(notCovered.claimNo))[0].amountAfter, 500, 'theft minimum 500 above 85% of 300');
});

e2e('Given a partial approval on a policy with 80% coinsurance, then reserve and payout are computed in decimals to the fen', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[1], peril: 'water', claimedAmount: 12000.1 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'partial', approvedAmount: 8000.55 });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.payout, 5600.44, '(8,000.55 - 1,000) x 0.8 = 5,600.44');
  assert.equal((await d.store.reserveMovements(r.claimNo)).map((m) => [m.reason, m.amountAfter]), [
    ['initial', 12000.1],
    ['review', 5600.44],
    ['payment', 0],
  ]);
  assert.equal((await d.store.payments({ claimNo: r.claimNo })).map((p) => p.amount), [5600.44]);
});

e2e('Given amounts with more than two decimals, then the start, review and survey forms answer 400 VALIDATION_FAILED naming the field', async ({ d, policy }) => {
  const start = await d.call('cs', 'POST', '/api/claims', { policyNo: policy[0], channel: 'phone', lossDate: daysAgo(d, 1), peril: 'water', claimedAmount: 100.005, description: 'Leak under the sink' });
  assert.is(start.status, 400, JSON.stringify(start.body));
  assert.is(start.body.code, 'VALIDATION_FAILED');
  assert.equal(start.body.details.map((x: any) => x.field), ['claimedAmount']);
  const ok = await report(d, { policyNo: policy[0], peril: 'fire', claimedAmount: 30000.07 });
  const review = await d.complete('adjuster', ok.processInstanceId, 'Task_ManualReview', { reviewDecision: 'partial', approvedAmount: 100.005 }, 400);
  assert.equal(review.body.details.map((x: any) => x.field), ['approvedAmount']);
  await d.complete('adjuster', ok.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  const survey = await d.complete('surveyor', ok.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 0.001, surveyFindings: 'Burnt sofa', surveyPhotoRefs: ['photo://r4/1'] }, 400);
  assert.equal(survey.body.details.map((x: any) => x.field), ['surveyLossEstimate']);
  await d.complete('surveyor', ok.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 0.07, surveyFindings: 'Burnt sofa', surveyPhotoRefs: ['photo://r4/1'] });
  const claim = (await d.store.claim(ok.claimNo))!;
  assert.is(claim.claimedAmount, 30000.07);
  assert.is(claim.payout, 0, 'below the deductible');
  assert.is(claim.reserveOutstanding, 0);
});

e2e('Given a payout above every limit but the director\'s, then it is approved level by level and the approval chain names each approver', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'fire', claimedAmount: 600000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 600000, surveyFindings: 'House burnt down', surveyPhotoRefs: ['photo://r5/1'] });
  assert.is((await d.store.claim(r.claimNo))!.reserveOutstanding, 599500, 'the reserve is the payout awaiting approval');

  const supervisorTask = await d.task('supervisor', r.processInstanceId, 'Task_SupervisorApproval');
  assert.equal(supervisorTask.candidateGroups, ['claims-supervisors']);
  await d.complete('supervisor', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve' });
  const managerTask = await d.task('manager', r.processInstanceId, 'Task_SupervisorApproval');
  assert.equal(managerTask.candidateGroups, ['claims-managers']);
  assert.is((await d.call('supervisor', 'POST', `/api/tasks/${managerTask.id}/claim`)).status, 403, 'a supervisor cannot approve above the supervisors\' limit');
  await d.complete('manager', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve' });
  const directorTask = await d.task('director', r.processInstanceId, 'Task_SupervisorApproval');
  assert.equal(directorTask.candidateGroups, ['claims-director']);
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), [], 'nothing paid before the last approval');
  await d.complete('director', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve', supervisorComment: 'Total loss confirmed' });

  noIncidents(await d.instance(r.processInstanceId));
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'closed');
  assert.is(claim.reserveOutstanding, 0);
  const chain = claim.approvalChain as ApprovalEntry[];
  assert.equal(chain.map((e) => [e.level, e.group, e.user, e.limit, e.decision, e.payout]), [
    [1, 'adjusters', 'adjuster', 20000, 'approve', 599500],
    [2, 'claims-supervisors', 'supervisor', 100000, 'approve', 599500],
    [3, 'claims-managers', 'manager', 500000, 'approve', 599500],
    [4, 'claims-director', 'director', null, 'approve', 599500],
  ]);
  assert.ok(chain.every((e) => !Number.isNaN(Date.parse(e.at)) && e.at.endsWith('Z')), 'ISO 8601 times');
  const recorded = (await history(d, r.processInstanceId)).filter((e) => e.type === 'handler.completed' && e.data.handler === 'claims.recordApproval');
  assert.is(recorded.length, 4);
  assert.equal(recorded[3].data.output.approvalChain.map((e: any) => e.user), ['adjuster', 'supervisor', 'manager', 'director']);
  const evaluated = (await history(d, r.processInstanceId)).filter((e) => e.type === 'decision.evaluated' && e.data.decisionKey === 'PaymentAuthority');
  assert.is(evaluated.length, 4, 'the first approver\'s level, then the next level at each escalation');
  assert.equal((await d.store.payments({ claimNo: r.claimNo })).map((p) => p.amount), [599500]);
});

e2e('Given a manager refuses a payout, then the refusal closes the chain, nothing is paid and the reserve is released', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'storm', claimedAmount: 150000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 140000, surveyFindings: 'Roof and garage', surveyPhotoRefs: ['photo://r6/1'] });
  await d.complete('supervisor', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve' });
  await d.complete('manager', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'reject', rejectionReason: 'The garage is not part of the insured building.' });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'rejected');
  assert.is(claim.rejectionCode, 'REJECTED_BY_SUPERVISOR');
  assert.is(claim.reserveOutstanding, 0);
  assert.equal((claim.approvalChain as ApprovalEntry[]).map((e) => [e.level, e.user, e.decision]), [
    [1, 'adjuster', 'approve'],
    [2, 'supervisor', 'approve'],
    [3, 'manager', 'reject'],
  ]);
  assert.equal((await d.store.reserveMovements(r.claimNo)).map((m) => m.reason), ['initial', 'review', 'survey', 'rejection'], 'the settlement computed what the survey reserved');
  assert.equal(await d.store.payments({ claimNo: r.claimNo }), []);
});

e2e('Given an automatically approved claim, then the chain has the automatic approval only', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], channel: 'app', peril: 'glass', claimedAmount: 1200.5 });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'closed');
  assert.equal((claim.approvalChain as ApprovalEntry[]).map((e) => [e.level, e.group, e.user, e.limit]), [[0, 'automatic', null, 5000]]);
  assert.equal((await d.store.reserveMovements(r.claimNo)).map((m) => [m.reason, m.amountAfter]), [
    ['initial', 1200.5],
    ['settlement', 700.5],
    ['payment', 0],
  ]);
});

e2e('Given an analyst deploys higher limits, then claims settled afterwards use them (the newest PaymentAuthority)', async ({ d, policy }) => {
  const xml = (await readFile(join(processesDir, 'decisions', 'payment-authority.dmn'), 'utf8')).replace('<text>20000</text>', '<text>50000</text>');
  await d.t.engine.deploy([{ name: 'decisions/payment-authority.dmn', content: xml }]);
  const r = await report(d, { policyNo: policy[0], peril: 'fire', claimedAmount: 30000 });
  await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 28000, surveyFindings: 'Living room', surveyPhotoRefs: ['photo://r7/1'] });
  const claim = (await d.store.claim(r.claimNo))!;
  assert.is(claim.status, 'closed', 'within the adjusters\' new limit: no supervisor');
  assert.equal((claim.approvalChain as ApprovalEntry[]).map((e) => [e.level, e.limit]), [[1, 50000]]);
});

e2e('Given a movement that would make a reserve negative, then it is refused and nothing is written', async ({ d, policy }) => {
  const r = await report(d, { policyNo: policy[0], peril: 'glass', claimedAmount: 800 });
  const claim = (await d.store.claim(r.claimNo))!;
  const before = (await d.store.reserveMovements(r.claimNo)).length;
  const ctx: any = { instanceId: r.processInstanceId, businessKey: r.claimNo, activityId: 'Test', executionId: 'x', attempt: 1, variables: {}, idempotencyKey: 'negative-test', signal: new AbortController().signal };
  await refused(() => inUnitOfWork(d.t.engine.db, (uow) => reservesOf(insuranceStoreOf(d.t.clock)({ ...ctx, unitOfWork: uow }), { ...ctx, unitOfWork: uow }).move(claim, 'review', -0.01)), /never go negative/);
  await refused(
    () => d.store.moveReserve({ claimNo: r.claimNo, movementKey: 'negative-store', reason: 'review', amountBefore: 0, amountAfter: -1, change: -1, processInstanceId: null, activityId: null }),
    /never go negative/,
  );
  assert.is((await d.store.reserveMovements(r.claimNo)).length, before);
  // the database refuses it too, whatever code writes
  await refused(() => d.t.engine.db('claims').where({ claim_no: r.claimNo }).update({ reserve_outstanding: -5 }), /negative|check constraint|claims_reserve_nonnegative/i);
  assert.is((await d.store.claim(r.claimNo))!.reserveOutstanding, 0);
  // the same movement key twice moves once
  const once = await d.store.moveReserve({ claimNo: r.claimNo, movementKey: 'twice', reason: 'review', amountBefore: 0, amountAfter: 10, change: 10, processInstanceId: null, activityId: null });
  const again = await d.store.moveReserve({ claimNo: r.claimNo, movementKey: 'twice', reason: 'review', amountBefore: 10, amountAfter: 20, change: 10, processInstanceId: null, activityId: null });
  assert.is(once.moved, true);
  assert.is(again.moved, false);
  assert.is(again.movement.amountAfter, 10);
  assert.is((await d.store.claim(r.claimNo))!.reserveOutstanding, 10);
});

e2e.run();

const pure = suite('money, reserve and authority rules');

pure('Given coinsurance 0.7 on a loss of 5.00, then the payout is exactly 3.50; 0.1 + 0.2 is 0.3', () => {
  assert.is(computePayout({ lossAmount: 5, deductible: 0, sumInsured: 100, coinsurance: 0.7 }).payout, 3.5);
  assert.is(computePayout({ lossAmount: 0.3, deductible: 0.1, sumInsured: 100 }).payout, 0.2, 'binary floating point gives 0.19999999999999998');
  assert.is(computePayout({ lossAmount: 1.015, deductible: 0, sumInsured: 100 }).payout, 1.02, 'half up on the decimal value, not on 1.01499999...');
  assert.is(computePayout({ lossAmount: 8000.55, deductible: 1000, sumInsured: 300000, coinsurance: 0.8 }).payout, 5600.44);
  assert.is(toNumber(sum([0.1, 0.2])), 0.3);
  assert.is(assessedLoss({ claimedAmount: 0.3, approvedAmount: 0.1 + 0.2 }), 0.3);
});

pure('Given the ClaimReserves row, then the initial reserve is max(claimed x factor, minimum) in fen', () => {
  assert.is(initialReserve(12000, { reserveFactor: 1, reserveMinimum: 1000 }), 12000);
  assert.is(initialReserve(300, { reserveFactor: 0.85, reserveMinimum: 500 }), 500);
  assert.is(initialReserve(1000.01, { reserveFactor: 1.1, reserveMinimum: 0 }), 1100.01);
  assert.throws(() => initialReserve(100, null), /ClaimReserves/);
  assert.throws(() => initialReserve(100, { reserveFactor: -1, reserveMinimum: 0 }), RangeError);
  assert.is(expectedPayout({ claimedAmount: 12000 }, { reviewDecision: 'partial', approvedAmount: 8000, deductible: 1000, sumInsured: 300000, coinsurance: 0.8 }), 5600);
  assert.is(expectedPayout({ claimedAmount: 12000 }, { reviewDecision: 'approve', approvedAmount: 1, surveyLossEstimate: 9000, deductible: 500, sumInsured: 800000, coinsurance: 1 }), 8500);
});

pure('Given authority limits, then the limit is inclusive, null is unlimited, and a retried record appends once', () => {
  assert.is(withinAuthority(20000, 20000), true);
  assert.is(withinAuthority(20000.01, 20000), false);
  assert.is(withinAuthority(1e12, null), true);
  assert.equal(authorityOf({ group: 'claims-director', limit: null }, 4), { group: 'claims-director', limit: null });
  assert.throws(() => authorityOf(null, 5), /no approver group for level 5/);
  assert.is(initialApprovalLevel({ autoApproved: true }), 0);
  assert.is(initialApprovalLevel({ autoApproved: false, reviewDecision: 'approve' }), 1);
  const e: ApprovalEntry = { level: 1, group: 'adjusters', user: 'a', limit: 20000, payout: 1, decision: 'approve', at: '2026-01-05T09:00:00.000Z', key: 'k1' };
  assert.is(appendApproval(appendApproval([], e), e).length, 1);
  assert.is(appendApproval([e], { ...e, key: 'k2' }).length, 2);
});

pure('Given "multipleOf": 0.01 in a form, then it is judged on the decimal value, not by a binary division', () => {
  for (const ok of [0, 0.07, 0.1, 0.29, 1181.25, 100, 12000.1, 9007199254740.99]) assert.ok(isDecimalMultipleOf(ok, 0.01), String(ok));
  for (const bad of [100.005, 0.001, 0.30000000000000004, 1e-7, Number.NaN]) assert.not.ok(isDecimalMultipleOf(bad, 0.01), String(bad));
  assert.ok(isDecimalMultipleOf(7.5, 2.5));
  assert.not.ok(isDecimalMultipleOf(7.6, 2.5));
  const validate = compileSchema({ type: 'object', properties: { amount: { type: 'number', multipleOf: 0.01 } } });
  assert.ok(validate({ amount: 0.07 }));
  assert.not.ok(validate({ amount: 100.005 }));
  assert.is(validate.errors?.[0]?.instancePath, '/amount');
});

pure.run();

const legacy = suite('claims instances on the version before the authority loop');

legacy('Given the previous claims diagram (supervisor approval above 20,000), then its instances still route on supervisorApprovalRequired', async () => {
  // processes/claims.bpmn as it was before the authority loop (issue 12)
  const previous = await readFile(join(processesDir, '..', 'test', 'fixtures', 'claims-before-payment-authority.bpmn'), 'utf8');
  const d = await domain({}, '2026-01-05T09:00:00Z', { socket: true });
  try {
    const deployed = await d.t.engine.deploy([{ name: 'claims.bpmn', content: previous }]);
    assert.ok(JSON.stringify(deployed).includes('claims'), 'the previous diagram is deployed as a new version');
    const policy = d.demo.policies[0].policyNo;
    const r = await report(d, { policyNo: policy, peril: 'fire', claimedAmount: 30000 });
    await d.complete('adjuster', r.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
    await d.complete('surveyor', r.processInstanceId, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 28000, surveyFindings: 'Living room', surveyPhotoRefs: ['photo://l1/1'] });
    assert.equal(await d.store.payments({ claimNo: r.claimNo }), [], 'above the adjusters\' limit: not paid without a supervisor');
    const task = await d.task('supervisor', r.processInstanceId, 'Task_SupervisorApproval');
    assert.equal(task.candidateGroups, ['claims-supervisors']);
    await d.complete('supervisor', r.processInstanceId, 'Task_SupervisorApproval', { supervisorDecision: 'approve' });
    const claim = (await d.store.claim(r.claimNo))!;
    assert.is(claim.status, 'closed');
    assert.is(claim.payout, 27500);
    assert.is(claim.reserveOutstanding, 0);
  } finally {
    await d.close();
  }
});

legacy.run();
