/**
 * Policy servicing: the findings of a newcomer's test of the product (issue 12), over HTTP on a real socket with
 * the demo policies (seeded with the clock at 2026-11-30: POL-HOME-2026-000001 Li Wei 2026-05-14..2027-05-13,
 * sum insured 800,000, premium 2,000; -000002 Wang Fang 2026-08-02..2027-08-01, 300,000, premium 900; -000003).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, type Domain } from './insurance.ts';
import { cancellationRefund, rescaledPremium } from '../src/processes/policy-servicing/rules.ts';
import { seedDemo } from '../src/processes/demo.ts';

const START = '2026-11-30T09:00:00Z';
const [P1, P2, P3] = ['POL-HOME-2026-000001', 'POL-HOME-2026-000002', 'POL-HOME-2026-000003'];

const s = suite('policy servicing findings');

async function withDomain(fn: (d: Domain) => Promise<void>) {
  const d = await domain({}, START, { socket: true });
  try {
    assert.equal(d.demo.policies.map((p) => p.policyNo), [P1, P2, P3]);
    await fn(d);
  } finally {
    await d.close();
  }
}

s('Given customer service and underwriting, when either starts the other side\'s cancellation, then it is 403 FORBIDDEN, over the route and a direct start alike', () =>
  withDomain(async (d) => {
    const insurerByCs = await d.call<any>('cs', 'POST', `/api/policies/${P2}/cancellations`, { cancelledBy: 'insurer', reason: 'non-payment' });
    assert.equal([insurerByCs.status, insurerByCs.body.code], [403, 'FORBIDDEN'], JSON.stringify(insurerByCs.body));
    assert.match(insurerByCs.body.message, /policy-cancellation:insurer/);
    const customerByUw = await d.call<any>('underwriter', 'POST', `/api/policies/${P2}/cancellations`, { cancelledBy: 'customer', reason: 'surrender' });
    assert.equal([customerByUw.status, customerByUw.body.code], [403, 'FORBIDDEN'], JSON.stringify(customerByUw.body));
    assert.match(customerByUw.body.message, /policy-cancellation:customer/);
    const direct = await d.call<any>('cs', 'POST', '/api/process-definitions/policy-cancellation/start', { businessKey: P2, variables: { policyNo: P2, cancelledBy: 'insurer', reason: 'non-payment' } });
    assert.equal([direct.status, direct.body.code], [403, 'FORBIDDEN'], 'the engine checks the side at every start, not only the route');
    assert.is((await d.call<any>('admin', 'GET', `/api/process-instances?key=policy-cancellation`)).body.items.length, 0, 'nothing started');
    assert.is((await d.store.policy(P2))!.status, 'active');

    // each side's own cancellation still works
    const byInsurer = await d.call<any>('underwriter', 'POST', `/api/policies/${P2}/cancellations`, { cancelledBy: 'insurer', reason: 'non-payment' });
    assert.is(byInsurer.status, 201, JSON.stringify(byInsurer.body));
    assert.is(byInsurer.body.outcome, 'notified');
    const byCustomer = await d.call<any>('cs', 'POST', `/api/policies/${P3}/cancellations`, { cancelledBy: 'customer', reason: 'request', effectiveDate: '2026-12-31' });
    assert.is(byCustomer.status, 201, JSON.stringify(byCustomer.body));
    noIncidents(await d.instance(byInsurer.body.processInstanceId));
    noIncidents(await d.instance(byCustomer.body.processInstanceId));
  }));

s('Given demo policies whose premiums are not the tariff\'s, when only the address changes or the sum insured rises, then the premium stays or scales with the rating', () =>
  withDomain(async (d) => {
    // amounts of a change are money (newcomer finding: a deductible of 100.555 was stored as such)
    const fractions = await d.call<any>('cs', 'POST', `/api/policies/${P1}/changes`, { effectiveDate: '2026-11-30', changes: { deductible: 100.555 } });
    assert.equal([fractions.status, fractions.body.code], [400, 'VALIDATION_FAILED'], JSON.stringify(fractions.body));
    const moved = await d.call<any>('cs', 'POST', `/api/policies/${P1}/changes`, { effectiveDate: '2026-11-30', changes: { propertyAddress: 'No. 8 New Street, Shanghai' } });
    assert.is(moved.status, 201, JSON.stringify(moved.body));
    assert.equal([moved.body.outcome, moved.body.newPremium, moved.body.proRataDifference, moved.body.approvalRequired], ['applied', 2000, 0, false]);
    assert.equal([(await d.store.policy(P1))!.premium, ((await d.store.policy(P1))!.schedule as any).propertyAddress], [2000, 'No. 8 New Street, Shanghai']);

    const raised = await d.call<any>('cs', 'POST', `/api/policies/${P2}/changes`, { effectiveDate: '2026-12-01', changes: { sumInsured: 350_000 } });
    assert.is(raised.status, 201, JSON.stringify(raised.body));
    assert.is(raised.body.newPremium, 1050, '900 x 350,000 / 300,000');
    noIncidents(await d.instance(raised.body.processInstanceId));
  }));

s('Given the servicing routes, when a date is no real calendar day, then 400 VALIDATION_FAILED names the field', () =>
  withDomain(async (d) => {
    for (const on of ['2026-02-30', '2026-13-45', '2026-1-05']) {
      const r = await d.call<any>('cs', 'GET', `/api/policies/${P1}?on=${on}`);
      assert.equal([r.status, r.body.code, r.body.details?.[0]?.field], [400, 'VALIDATION_FAILED', 'on'], `on=${on}: ${JSON.stringify(r.body)}`);
    }
    assert.is((await d.call<any>('cs', 'GET', `/api/policies/${P1}?on=2027-02-28`)).body.versionInForce.version, 1);
    for (const date of ['2027-02-30', '2026-13-45']) {
      const change = await d.call<any>('cs', 'POST', `/api/policies/${P1}/changes`, { effectiveDate: date, changes: { deductible: 1000 } });
      assert.equal([change.status, change.body.code, change.body.details?.[0]?.field], [400, 'VALIDATION_FAILED', 'effectiveDate'], JSON.stringify(change.body));
      const cancel = await d.call<any>('cs', 'POST', `/api/policies/${P1}/cancellations`, { cancelledBy: 'customer', reason: 'request', effectiveDate: date });
      assert.equal([cancel.status, cancel.body.code, cancel.body.details?.[0]?.field], [400, 'VALIDATION_FAILED', 'effectiveDate'], JSON.stringify(cancel.body));
    }
    assert.is((await d.call<any>('admin', 'GET', '/api/process-instances?key=policy-change')).body.items.length, 0);
    assert.is((await d.call<any>('admin', 'GET', '/api/process-instances?key=policy-cancellation')).body.items.length, 0);
  }));

s('Given an endorsement from 2026-12-15, when the demo policy is surrendered from 2026-11-30, then the endorsement is superseded, the policy shows the terms in force and the seeded premium is refunded pro rata', () =>
  withDomain(async (d) => {
    assert.equal((await d.store.policyLedger(P2, null)).map((p) => [p.direction, p.amount, p.status, p.reference]), [['premium', 900, 'completed', `DEMO-${P2}`]], 'the seed booked the premium');
    const later = await d.call<any>('cs', 'POST', `/api/policies/${P2}/changes`, { effectiveDate: '2026-12-15', changes: { sumInsured: 350_000 } });
    assert.is(later.status, 201, JSON.stringify(later.body));
    if (later.body.approvalRequired) await d.complete('underwriter', later.body.processInstanceId, 'Task_UnderwriterApproval', { underwritingDecision: 'approved' });
    assert.is((await d.instance(later.body.processInstanceId)).variables.changeStatus, 'applied');
    assert.equal([(await d.store.policy(P2))!.premium, (await d.store.policy(P2))!.sumInsured], [1050, 350000]);

    const surrender = await d.call<any>('cs', 'POST', `/api/policies/${P2}/cancellations`, { cancelledBy: 'customer', reason: 'surrender' });
    assert.is(surrender.status, 201, JSON.stringify(surrender.body));
    const inst = await d.instance(surrender.body.processInstanceId);
    noIncidents(inst);
    assert.equal([surrender.body.outcome, surrender.body.effectiveDate], ['cancelled', '2026-11-30']);

    const shown = await d.call<any>('cs', 'GET', `/api/policies/${P2}?on=2026-11-29`);
    assert.is(shown.status, 200);
    const vs = shown.body.versions.map((v: any) => [v.version, v.reason, v.effectiveFrom, v.effectiveTo, v.premium, v.superseded]);
    assert.equal(vs, [
      [1, 'issue', '2026-08-02', '2026-11-29', 900, false],
      [2, 'endorsement', '2026-12-15', '2026-12-14', 1050, true],
      [3, 'cancellation', '2026-11-30', '2026-11-29', 900, false],
    ]);
    for (const v of shown.body.versions) assert.ok(v.effectiveTo >= v.effectiveFrom || v.effectiveTo === dayBefore(v.effectiveFrom), `v${v.version}: an empty span ends the day before it starts, never earlier`);
    assert.equal([shown.body.status, shown.body.endDate, shown.body.premium, shown.body.sumInsured, shown.body.versionInForce.version], ['cancelled', '2026-11-29', 900, 300000, 1]);
    for (const day of ['2026-11-30', '2026-12-15', '2027-01-01']) assert.is(await d.store.policyVersionOn(P2, day), null, `no cover on ${day}`);

    const terms = inst.variables.cancellationTerms as { refundShare: number };
    const expected = cancellationRefund({ netPaid: 900, firstDayWithoutCover: '2026-11-30', termStart: '2026-08-02', termEnd: '2027-08-01', refundShare: terms.refundShare });
    assert.ok(expected.refund > 0, 'a pro-rata refund of the seeded premium');
    assert.equal([inst.variables.netPremiumPaid, surrender.body.refundAmount], [900, expected.refund]);
    assert.equal(shown.body.ledger.map((p: any) => [p.direction, p.amount, p.status]), [['premium', 900, 'completed'], ['refund', expected.refund, 'completed']]);
  }));

s('Given the demo seed, when it runs again, then each policy keeps exactly one premium payment', () =>
  withDomain(async (d) => {
    await seedDemo(d.t.engine.db, d.t.clock);
    for (const p of d.demo.policies) {
      const rows = (await d.store.policyLedger(p.policyNo, null)).map((r) => [r.direction, r.amount, r.status]);
      assert.equal(rows, [['premium', p.policyNo === P1 ? 2000 : p.policyNo === P2 ? 900 : 5000, 'completed']], p.policyNo);
    }
  }));

s('Given a current premium off the tariff, when rescaledPremium rates the current and new terms, then it scales the premium by their ratio in decimals', () => {
  const r = (sumInsured: number, riskFactor = 1, creditFactor = 1.05, discountPercent = 0) => ({ sumInsured, baseRate: 0.0025, riskFactor, creditFactor, discountPercent });
  assert.is(rescaledPremium(2000, r(800_000), r(800_000)), 2000, 'nothing rated changes: the premium stays, though the tariff says 2,100');
  assert.is(rescaledPremium(900, r(300_000), r(350_000)), 1050);
  assert.is(rescaledPremium(1250, r(500_000, 1, 1), r(800_000, 1.1, 1)), 2200);
  assert.is(rescaledPremium(1000, r(300_000, 1, 1, 10), r(100_000, 1, 1, 10)), 333.33, 'half up to the fen');
  assert.is(rescaledPremium(0.1, r(300_000), r(600_000)), 0.2, 'no binary float error');
  assert.is(rescaledPremium(500, r(0), r(100_000)), 262.5, 'no current rating: the new rating is the premium');
  assert.throws(() => rescaledPremium(500, r(100_000, 0), r(100_000)), /riskFactor/);
});

const dayBefore = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

s.run();
