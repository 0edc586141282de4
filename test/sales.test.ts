/** The sales flow from lead to issued policy and renewal, through the HTTP API with the real handlers and decisions. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, DAY, HOUR, type Domain } from './insurance.ts';
import { customerNumber, policyPeriod, quoteNumber } from '../src/processes/sales/rules.ts';

type Ctx = { d: Domain; seq: number };
const sales = suite<Ctx>('sales');
sales.before(async (ctx) => {
  ctx.d = await domain();
  ctx.seq = 0;
});
sales.after(async (ctx) => ctx.d.close());

const NEEDS = { productCode: 'HOME', sumInsured: 500_000, propertyType: 'residential', constructionClass: 'masonry', claimsLast3Years: 0, propertyAddress: '8 Garden Road, Hangzhou' };
const CHECKLIST = { partiesVerified: true, productVerified: true, contentVerified: true, attachmentsComplete: true, signaturesValid: true };

async function lead(ctx: Ctx, variables: Record<string, unknown> = {}) {
  const businessKey = `LEAD-${++ctx.seq}`;
  const res = await ctx.d.call<any>('agent', 'POST', '/api/process-definitions/sales/start', {
    businessKey,
    variables: { leadSource: 'online', customerName: `Prospect ${ctx.seq}`, contactEmail: `prospect${ctx.seq}@example.com`, agent: 'agent', agentLevel: 'junior', ...variables },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.id as string, businessKey };
}

/** Lead -> needs -> quote -> agreed (discount) -> [approval] -> underwriting approved: the offer is out. */
async function toOffer(ctx: Ctx, opts: { discountPercent?: number; needs?: Record<string, unknown>; lead?: Record<string, unknown> } = {}) {
  const { d } = ctx;
  const l = await lead(ctx, opts.lead);
  await d.complete('agent', l.id, 'Task_NeedsAnalysis', { ...NEEDS, ...opts.needs });
  await d.complete('agent', l.id, 'Task_Negotiate', { negotiationOutcome: 'agreed', discountPercent: opts.discountPercent ?? 0 });
  await d.complete('underwriter', l.id, 'Task_ReviewContract', { ...CHECKLIST, reviewOutcome: 'approved' });
  return l;
}

sales('straight through: quoted from the catalogue, signed, paid, policy issued', async (ctx) => {
  const { d } = ctx;
  const l = await lead(ctx);
  const needs = await d.task('agent', l.id, 'Task_NeedsAnalysis');
  assert.is(needs.assignee, 'agent', 'the lead goes to its agent');
  await d.complete('agent', l.id, 'Task_NeedsAnalysis', { ...NEEDS, coverStart: '2026-02-01' });
  let inst = await d.instance(l.id);
  noIncidents(inst);
  assert.is(inst.variables.riskFactor, 1);
  assert.is(inst.variables.creditGrade, 'C', 'a new customer without a credit assessment is graded C');
  assert.is(inst.variables.creditFactor, 1);
  assert.is(inst.variables.grossPremium, 1250, '500,000 x 0.0025 x 1.0 x 1.0');
  assert.match(inst.variables.quoteNo, /^QUO-2026-\d{6}$/);
  await d.complete('agent', l.id, 'Task_Negotiate', { negotiationOutcome: 'agreed', discountPercent: 5 });
  inst = await d.instance(l.id);
  assert.is(inst.variables.discountAuthority.approvalRequired, false, '5% is within every agent\'s authority');
  assert.is(inst.variables.netPremium, 1187.5);
  await d.complete('underwriter', l.id, 'Task_ReviewContract', { ...CHECKLIST, reviewOutcome: 'approved' });
  const quoteNo = inst.variables.quoteNo;
  let quote = (await d.store.quote(quoteNo))!;
  assert.is(quote.status, 'offered');
  assert.is(quote.expiresAt, d.t.clock.now() + 30 * DAY);
  assert.equal((await d.store.notifications({ businessRef: quoteNo })).map((n) => n.topic), ['offer']);

  assert.is((await d.message('agent', 'sales-contract-signed', { businessKey: l.businessKey })).status, 200);
  assert.is((await d.store.quote(quoteNo))!.status, 'signed');
  const paid = await d.message('agent', 'sales-premium-paid', { businessKey: l.businessKey }, { paidAmount: 1187.5, paymentReference: 'ALIPAY-778' });
  assert.is(paid.status, 200, JSON.stringify(paid.body));
  inst = await d.instance(l.id);
  noIncidents(inst);
  assert.match(inst.variables.policyNo, /^POL-HOME-2026-\d{6}$/);
  const policy = (await d.store.policy(inst.variables.policyNo))!;
  assert.is(policy.status, 'active');
  assert.is(policy.startDate, '2026-02-01');
  assert.is(policy.endDate, '2027-01-31');
  assert.is(policy.premium, 1187.5);
  assert.is(policy.deductible, 500, 'terms from the catalogue');
  assert.equal(policy.perils, ['fire', 'water', 'theft', 'storm', 'glass']);
  assert.is(policy.customerId, inst.variables.customerId);
  quote = (await d.store.quote(quoteNo))!;
  assert.is(quote.status, 'issued');
  const premium = await d.store.payments({ quoteNo });
  assert.is(premium.length, 1);
  assert.is(premium[0].direction, 'premium');
  assert.is(premium[0].reference, 'ALIPAY-778');
  assert.ok((await d.store.notifications({ businessRef: policy.policyNo })).some((n) => n.topic === 'policy-issued'));
  assert.is(inst.status, 'completed', 'the sale ends with the issued policy');
  const renewals = await d.call<any>('admin', 'GET', `/api/process-instances?key=policy-renewal&businessKey=${policy.policyNo}`);
  assert.equal(renewals.body.items.map((i: any) => i.id), [inst.variables.renewalInstanceId], 'issuing opened the policy\'s renewal case');
  const jobs = await d.call<any>('admin', 'GET', `/api/jobs?processInstanceId=${inst.variables.renewalInstanceId}&type=timer`);
  const renewal = jobs.body.items.find((j: any) => j.activityId === 'Timer_OfferDue');
  assert.is(renewal.dueAt, '2027-01-01T00:00:00.000Z', '30 days before the cover ends');
  // once its cover has started, the new policy is what a claim is verified against
  d.t.clock.set('2026-02-04T09:00:00Z');
  const claim = await d.call<any>('cs', 'POST', '/api/claims', { policyNo: policy.policyNo, channel: 'app', lossDate: '2026-02-03', peril: 'glass', claimedAmount: 1500, description: 'Cracked window pane' });
  assert.is(claim.status, 201);
  assert.is((await d.store.claim(claim.body.claimNo))!.payout, 1000);
});

sales('an existing customer is priced with their credit grade', async (ctx) => {
  const { d } = ctx;
  const l = await lead(ctx, { customerId: 'CUST-000003', customerName: 'Zhang Trading Co.' });
  await d.complete('agent', l.id, 'Task_NeedsAnalysis', { ...NEEDS, customerId: 'CUST-000003', propertyType: 'commercial', constructionClass: 'frame', sumInsured: 1_000_000 });
  const inst = await d.instance(l.id);
  assert.is(inst.variables.creditGrade, 'A');
  assert.is(inst.variables.riskFactor, 1.35);
  assert.is(inst.variables.creditFactor, 0.9);
  assert.is(inst.variables.grossPremium, 3037.5, '1,000,000 x 0.0025 x 1.35 x 0.9');
  const wrong = await lead(ctx);
  await d.complete('agent', wrong.id, 'Task_NeedsAnalysis', { ...NEEDS, customerId: 'CUST-999999' });
  const back = await d.instance(wrong.id);
  noIncidents(back);
  assert.equal(back.openTasks.map((t: any) => t.activityId), ['Task_NeedsAnalysis'], 'an unknown customer number goes back to the agent');
  assert.match(back.variables.quoteProblem, /CUST-999999 does not exist/);
});

sales('a discount above the agent\'s authority goes to a sales manager; a refusal returns to negotiation', async (ctx) => {
  const { d } = ctx;
  const l = await lead(ctx);
  await d.complete('agent', l.id, 'Task_NeedsAnalysis', NEEDS);
  await d.complete('agent', l.id, 'Task_Negotiate', { negotiationOutcome: 'agreed', discountPercent: 8 });
  const approval = await d.task('salesmanager', l.id, 'Task_ApproveDiscount');
  assert.equal(approval.candidateGroups, ['sales-managers']);
  assert.is((await d.call('agent', 'POST', `/api/tasks/${approval.id}/claim`)).status, 403, 'the agent cannot approve their own discount');
  await d.complete('salesmanager', l.id, 'Task_ApproveDiscount', { discountDecision: 'rejected', managerComment: 'Too generous for a new customer' });
  await d.complete('agent', l.id, 'Task_Negotiate', { negotiationOutcome: 'agreed', discountPercent: 8, negotiationNotes: 'Customer insists' });
  await d.complete('salesmanager', l.id, 'Task_ApproveDiscount', { discountDecision: 'approved' }, 400);
  await d.complete('salesmanager', l.id, 'Task_ApproveDiscount', { discountDecision: 'approved', approvedDiscountPercent: 7 });
  const inst = await d.instance(l.id);
  assert.is(inst.variables.discountPercent, 7);
  assert.is(inst.variables.netPremium, 1162.5, '1,250 - 7%');
  const quote = (await d.store.quote(inst.variables.quoteNo))!;
  assert.is(quote.discountPercent, 7);
  await d.task('underwriter', l.id, 'Task_ReviewContract');
  // a senior agent may give 8% alone
  const senior = await lead(ctx, { agentLevel: 'senior' });
  await d.complete('agent', senior.id, 'Task_NeedsAnalysis', NEEDS);
  await d.complete('agent', senior.id, 'Task_Negotiate', { negotiationOutcome: 'agreed', discountPercent: 8 });
  await d.task('underwriter', senior.id, 'Task_ReviewContract');
});

sales('underwriting sends the contract back for correction, then approves it', async (ctx) => {
  const { d } = ctx;
  const l = await lead(ctx);
  await d.complete('agent', l.id, 'Task_NeedsAnalysis', NEEDS);
  await d.complete('agent', l.id, 'Task_Negotiate', { negotiationOutcome: 'agreed', discountPercent: 0 });
  await d.complete('underwriter', l.id, 'Task_ReviewContract', { ...CHECKLIST, signaturesValid: false, reviewOutcome: 'approved' }, 400);
  await d.complete('underwriter', l.id, 'Task_ReviewContract', { ...CHECKLIST, signaturesValid: false, reviewOutcome: 'send-back' }, 400);
  await d.complete('underwriter', l.id, 'Task_ReviewContract', { ...CHECKLIST, signaturesValid: false, reviewOutcome: 'send-back', corrections: 'The proposal form is not signed by the applicant' });
  const fix = await d.task('agent', l.id, 'Task_CorrectContract');
  assert.is(fix.assignee, 'agent');
  assert.is((await d.instance(l.id)).variables.corrections, 'The proposal form is not signed by the applicant');
  await d.complete('agent', l.id, 'Task_CorrectContract', { correctionsMade: 'Signed proposal form attached' });
  await d.complete('underwriter', l.id, 'Task_ReviewContract', { ...CHECKLIST, reviewOutcome: 'approved' });
  assert.is((await d.store.quote((await d.instance(l.id)).variables.quoteNo))!.status, 'offered');
});

sales('an offer not signed within 30 days expires', async (ctx) => {
  const { d } = ctx;
  const l = await toOffer(ctx);
  await d.advance(29 * DAY);
  assert.is((await d.instance(l.id)).status, 'active');
  await d.advance(DAY + HOUR);
  const inst = await d.instance(l.id);
  noIncidents(inst);
  assert.is(inst.status, 'completed');
  assert.is((await d.store.quote(inst.variables.quoteNo))!.status, 'expired');
  assert.ok((await d.store.notifications({ businessRef: inst.variables.quoteNo })).some((n) => n.topic === 'offer-expired'));
  assert.is((await d.message('agent', 'sales-contract-signed', { businessKey: l.businessKey })).status, 404, 'too late to sign');
});

sales('a signed contract lapses when the premium is not paid in the grace period', async (ctx) => {
  const { d } = ctx;
  const l = await toOffer(ctx);
  await d.advance(10 * DAY);
  await d.message('agent', 'sales-contract-signed', { businessKey: l.businessKey });
  await d.advance(14 * DAY);
  assert.is((await d.instance(l.id)).status, 'active');
  await d.advance(DAY + HOUR);
  const inst = await d.instance(l.id);
  noIncidents(inst);
  assert.is(inst.status, 'completed');
  assert.is((await d.store.quote(inst.variables.quoteNo))!.status, 'lapsed');
  assert.is(await d.store.policyByQuote(inst.variables.quoteNo), null, 'no policy without premium');
  assert.equal(await d.store.payments({ quoteNo: inst.variables.quoteNo }), []);
  // the offer's own expiry date passing later changes nothing
  await d.advance(10 * DAY);
  assert.is((await d.store.quote(inst.variables.quoteNo))!.status, 'lapsed');
});

sales('renewal: issuing starts the policy-renewal case and ends the sale; the offer goes out 30 days before expiry, and without an answer the policy expires', async (ctx) => {
  const { d } = ctx;
  const l = await toOffer(ctx, { lead: { agentLevel: 'senior' } });
  await d.message('agent', 'sales-contract-signed', { businessKey: l.businessKey });
  await d.message('agent', 'sales-premium-paid', { businessKey: l.businessKey }, { paidAmount: 1250 });
  const sale = await d.instance(l.id);
  noIncidents(sale);
  assert.is(sale.status, 'completed');
  const policyNo = sale.variables.policyNo as string;
  const renewalId = sale.variables.renewalInstanceId as string;
  let renewal = await d.instance(renewalId);
  assert.equal([renewal.processKey, renewal.businessKey, renewal.status, renewal.variables.policyNo], ['policy-renewal', policyNo, 'active', policyNo]);
  assert.is((await d.message('admin', 'sales-renewal-requested', { businessKey: l.businessKey })).status, 404, 'the sale no longer waits for a renewal request');

  const policy = (await d.store.policy(policyNo))!;
  const offerAt = Date.parse(`${policy.endDate}T00:00:00Z`) - 30 * DAY;
  await d.advance(offerAt - d.t.clock.now() - HOUR);
  assert.equal(await d.store.notifications({ businessRef: policyNo, topic: 'renewal-offer' }), []);
  await d.advance(2 * HOUR);
  const offers = await d.store.notifications({ businessRef: policyNo, topic: 'renewal-offer' });
  assert.is(offers.length, 1);
  assert.match(offers[0].body, new RegExp(`ends on ${policy.endDate}`));
  renewal = await d.instance(renewalId);
  noIncidents(renewal);
  assert.equal(renewal.openTasks.map((t: any) => t.activityId), ['Task_RecordDecision']);

  await d.advance(31 * DAY);
  const lapsed = await d.instance(renewalId);
  noIncidents(lapsed);
  assert.equal([lapsed.status, lapsed.variables.renewalStatus], ['completed', 'lapsed']);
  assert.is((await d.store.policy(policyNo))!.status, 'expired');
  assert.is((await d.store.notifications({ businessRef: policyNo, topic: 'policy-lapsed' })).length, 1);
});

sales('a customer who declines closes the lead', async (ctx) => {
  const { d } = ctx;
  const l = await lead(ctx);
  await d.complete('agent', l.id, 'Task_NeedsAnalysis', NEEDS);
  await d.complete('agent', l.id, 'Task_Negotiate', { negotiationOutcome: 'declined', negotiationNotes: 'Found cheaper cover' });
  const inst = await d.instance(l.id);
  assert.is(inst.status, 'completed');
  assert.is((await d.store.quote(inst.variables.quoteNo))!.status, 'declined');
});

sales.run();

const rules = suite('sales rules added for the flow');
rules('numbers and the policy period', () => {
  assert.is(quoteNumber(42, new Date('2026-03-01T00:00:00Z')), 'QUO-2026-000042');
  assert.is(customerNumber(7), 'CUST-000007');
  assert.equal(policyPeriod('2026-03-01', new Date('2026-01-05T00:00:00Z')), { startDate: '2026-03-01', endDate: '2027-02-28' });
  assert.equal(policyPeriod('2025-12-01', new Date('2026-01-05T10:00:00Z')), { startDate: '2026-01-05', endDate: '2027-01-04' }, 'never backdated');
  assert.equal(policyPeriod(null, new Date('2026-01-31T00:00:00Z'), 1), { startDate: '2026-01-31', endDate: '2026-02-27' });
  assert.throws(() => policyPeriod('01/03/2026', new Date()), RangeError);
});
rules.run();
