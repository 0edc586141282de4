/**
 * Feature: a premium payment must match the quote (issue 12, "Sales that add up"). End to end over a real socket
 * with the shipped processes: a sale is driven to Task_AwaitPremium (net premium 1,181.25 = 1,250 less 5.5 %), then
 * sales-premium-paid messages pay it. Every payment is booked in the ledger once (per payment reference); less than
 * the premium leaves the sale waiting for the rest with a reminder naming what is outstanding, and the original
 * grace period still ends it (lapse, what was received due for refund); more than the premium issues the policy and
 * records the excess for refund; an amount with more than 2 decimals, 0 or negative is refused at the message.
 * Then the pure rules: premiumBalance and computePremium in decimals, the `money` format of message schemas.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, DAY, HOUR, type Domain } from './insurance.ts';
import { Given, When, Then, And } from './feature/gwt.ts';
import { computePremium, premiumBalance } from '../src/processes/sales/rules.ts';
import { isMoneyNumber } from '../src/engine/forms.ts';

type Ctx = { d: Domain; seq: number };
const payments = suite<Ctx>('sales: premium payments against the quote (real socket)');
payments.before(async (ctx) => {
  ctx.d = await domain({}, '2026-01-05T09:00:00Z', { socket: true });
  ctx.seq = 0;
});
payments.after(async (ctx) => ctx.d.close());

const NET = 1181.25;
const NEEDS = { productCode: 'HOME', sumInsured: 500_000, propertyType: 'residential', constructionClass: 'masonry', claimsLast3Years: 0, propertyAddress: '8 Garden Road, Hangzhou' };
const CHECKLIST = { partiesVerified: true, productVerified: true, contentVerified: true, attachmentsComplete: true, signaturesValid: true };

interface Sale {
  id: string;
  businessKey: string;
  quoteNo: string;
}

/** Lead -> needs -> 5.5 % discount (a senior agent's authority) -> underwriting -> signed: waiting for the premium. */
async function signedSale(ctx: Ctx): Promise<Sale> {
  const { d } = ctx;
  const businessKey = `PAY-${++ctx.seq}`;
  const res = await d.call<any>('agent', 'POST', '/api/process-definitions/sales/start', {
    businessKey,
    variables: { leadSource: 'online', customerName: `Payer ${ctx.seq}`, contactEmail: `payer${ctx.seq}@example.com`, agent: 'agent', agentLevel: 'senior' },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const id = res.body.id as string;
  await d.complete('agent', id, 'Task_NeedsAnalysis', NEEDS);
  await d.complete('agent', id, 'Task_Negotiate', { negotiationOutcome: 'agreed', discountPercent: 5.5 });
  await d.complete('underwriter', id, 'Task_ReviewContract', { ...CHECKLIST, reviewOutcome: 'approved' });
  assert.is((await d.message('agent', 'sales-contract-signed', { businessKey })).status, 200);
  const inst = await d.instance(id);
  noIncidents(inst);
  assert.is(inst.variables.netPremium, NET, '1,250 less 5.5 % (68.75)');
  assert.equal(inst.openTasks, [], 'no user task while waiting for the premium');
  return { id, businessKey, quoteNo: inst.variables.quoteNo };
}

const pay = (d: Domain, sale: Sale, variables: Record<string, unknown>) => d.message('agent', 'sales-premium-paid', { businessKey: sale.businessKey }, variables);

const ledger = async (d: Domain, quoteNo: string, direction: 'premium' | 'refund') => (await d.store.payments({ quoteNo, direction })).map((p) => ({ amount: p.amount, status: p.status, reference: p.reference }));

payments('Why: 1 and 0.01 against a net premium of 1,181.25 issue no policy; the sale waits for the rest and says what is outstanding', async (ctx) => {
  const { d } = ctx;
  for (const [paid, outstanding] of [[1, '1,180.25'], [0.01, '1,181.24']] as const) {
    const sale = await Given(`a signed sale with a net premium of 1,181.25`, () => signedSale(ctx));
    await When(`the provider reports a payment of ${paid}`, async () => {
      const res = await pay(d, sale, { paidAmount: paid, paymentReference: `ALIPAY-${sale.businessKey}` });
      assert.is(res.status, 200, JSON.stringify(res.body));
    });
    await Then('no policy is issued and the quote is partially paid', async () => {
      const inst = await d.instance(sale.id);
      noIncidents(inst);
      assert.is(inst.status, 'active');
      assert.is(inst.variables.policyNo, undefined, `a payment of ${paid} issued a policy`);
      assert.is(await d.store.policyByQuote(sale.quoteNo), null);
      assert.is((await d.store.quote(sale.quoteNo))!.status, 'partially-paid');
      assert.is(inst.variables.quoteStatus, 'partially-paid', 'the instance shows the quote status (newcomer finding)');
      assert.is(inst.variables.premiumStatus, 'partial');
      assert.is(inst.variables.premiumReceived, paid);
      assert.is(inst.variables.premiumOutstanding, Number(outstanding.replace(',', '')));
      assert.is(inst.variables.premiumOverpaid, 0);
    });
    await And(`the ledger books ${paid}, the payment as it was received`, async () => {
      assert.equal(await ledger(d, sale.quoteNo, 'premium'), [{ amount: paid, status: 'completed', reference: `ALIPAY-${sale.businessKey}` }]);
    });
    await And(`the customer is reminded of the outstanding ${outstanding} CNY`, async () => {
      const reminders = await d.store.notifications({ businessRef: sale.quoteNo, topic: 'premium-outstanding' });
      assert.is(reminders.length, 1);
      assert.ok(reminders[0].recipient, 'the reminder has a recipient');
      assert.match(reminders[0].body, `outstanding ${outstanding} CNY`);
      assert.is(reminders[0].payload.outstanding, Number(outstanding.replace(',', '')));
    });
    await And('the sale still waits for a payment (a second message correlates)', async () => {
      const res = await pay(d, sale, { paidAmount: Number(outstanding.replace(',', '')), paymentReference: `ALIPAY-${sale.businessKey}-2` });
      assert.is(res.status, 200, JSON.stringify(res.body));
      const inst = await d.instance(sale.id);
      noIncidents(inst);
      assert.match(inst.variables.policyNo, /^POL-HOME-2026-\d{6}$/);
    });
  }
});

payments('an underpayment then the rest: issued, the ledger holds exactly the net premium; a redelivered payment is booked once', async (ctx) => {
  const { d } = ctx;
  const sale = await Given('a signed sale with a net premium of 1,181.25', () => signedSale(ctx));
  await When('1,000 arrives, and the same payment (same reference) is delivered again', async () => {
    assert.is((await pay(d, sale, { paidAmount: 1000, paymentReference: 'BANK-1' })).status, 200);
    assert.is((await pay(d, sale, { paidAmount: 1000, paymentReference: 'BANK-1' })).status, 200);
  });
  await Then('1,000 is booked once and 181.25 is outstanding; one reminder', async () => {
    assert.equal(await ledger(d, sale.quoteNo, 'premium'), [{ amount: 1000, status: 'completed', reference: 'BANK-1' }]);
    const inst = await d.instance(sale.id);
    noIncidents(inst);
    assert.is(inst.status, 'active');
    assert.is(inst.variables.premiumOutstanding, 181.25);
    assert.is(inst.variables.premiumPaymentRepeated, true);
    assert.is(await d.store.policyByQuote(sale.quoteNo), null);
    assert.is((await d.store.notifications({ businessRef: sale.quoteNo, topic: 'premium-outstanding' })).length, 1);
    assert.equal(await d.store.notifications({ businessRef: sale.quoteNo, topic: 'premium-reference-conflict' }), [], 'the same amount again is a plain redelivery');
  });
  await When('the same reference is reported again with another amount', async () => {
    assert.is((await pay(d, sale, { paidAmount: 700, paymentReference: 'BANK-1' })).status, 200);
  });
  await Then('it is not booked, and finance is told (not silently dropped)', async () => {
    assert.equal(await ledger(d, sale.quoteNo, 'premium'), [{ amount: 1000, status: 'completed', reference: 'BANK-1' }]);
    const conflict = await d.store.notifications({ businessRef: sale.quoteNo, topic: 'premium-reference-conflict' });
    assert.equal(conflict.map((n) => [n.channel, n.recipient]), [['internal', 'finance']]);
    assert.match(conflict[0].body, '1,000.00 CNY');
  });
  await When('the rest, 181.25, arrives three days later (as a decimal text would, 181.25)', async () => {
    await d.advance(3 * DAY);
    assert.is((await pay(d, sale, { paidAmount: 181.25, paymentReference: 'BANK-2' })).status, 200);
  });
  await Then('the policy is issued and the premium booked adds up to the net premium', async () => {
    const inst = await d.instance(sale.id);
    noIncidents(inst);
    const policy = (await d.store.policy(inst.variables.policyNo))!;
    assert.is(policy.status, 'active');
    assert.is(policy.premium, NET);
    assert.is((await d.store.quote(sale.quoteNo))!.status, 'issued');
    const booked = await ledger(d, sale.quoteNo, 'premium');
    assert.equal(booked.map((p) => p.reference), ['BANK-1', 'BANK-2']);
    assert.is(booked.reduce((cents, p) => cents + Math.round(p.amount * 100), 0), 118_125, 'ledger = net premium');
    assert.equal(await ledger(d, sale.quoteNo, 'refund'), [], 'nothing to refund');
    assert.equal([inst.variables.premiumStatus, inst.variables.premiumReceived, inst.variables.premiumOutstanding, inst.variables.premiumOverpaid], ['paid', NET, 0, 0]);
    assert.is(inst.variables.quoteStatus, 'issued');
    assert.is(inst.variables.paymentReference, null, 'the reference does not stick to a later payment');
  });
});

payments('an underpayment then nothing: the original grace period ends the sale, no policy, what was received is due for refund', async (ctx) => {
  const { d } = ctx;
  const sale = await Given('a sale signed today (15 days of grace)', () => signedSale(ctx));
  await When('500 arrives on day 10', async () => {
    await d.advance(10 * DAY);
    assert.is((await pay(d, sale, { paidAmount: 500, paymentReference: 'WIRE-77' })).status, 200);
    assert.is((await d.instance(sale.id)).status, 'active');
  });
  await And('day 15 passes (waiting again for the rest does not restart the grace period)', async () => {
    await d.advance(5 * DAY - HOUR);
    assert.is((await d.instance(sale.id)).status, 'active', 'not before the due date');
    await d.advance(2 * HOUR);
  });
  await Then('the contract lapses without a policy', async () => {
    const inst = await d.instance(sale.id);
    noIncidents(inst);
    assert.is(inst.status, 'completed');
    assert.is(inst.variables.policyNo, undefined);
    assert.is(await d.store.policyByQuote(sale.quoteNo), null);
    assert.is((await d.store.quote(sale.quoteNo))!.status, 'lapsed');
  });
  await And('the 500 received stays booked and is due back to the customer (a pending refund), and they are told', async () => {
    assert.equal(await ledger(d, sale.quoteNo, 'premium'), [{ amount: 500, status: 'completed', reference: 'WIRE-77' }]);
    assert.equal(await ledger(d, sale.quoteNo, 'refund'), [{ amount: 500, status: 'pending', reference: null }]);
    const inst = await d.instance(sale.id);
    assert.is(inst.variables.premiumRefundDue, 500);
    const [lapsed] = await d.store.notifications({ businessRef: sale.quoteNo, topic: 'contract-lapsed' });
    assert.match(lapsed.body, 'The 500.00 CNY you paid will be refunded.');
    assert.is(lapsed.payload.refundDue, 500);
  });
  await And('a payment after the lapse finds no sale waiting', async () => {
    assert.is((await pay(d, sale, { paidAmount: 681.25, paymentReference: 'WIRE-78' })).status, 404);
  });
});

payments('an overpayment issues the policy and records the excess for refund', async (ctx) => {
  const { d } = ctx;
  const sale = await Given('a signed sale with a net premium of 1,181.25', () => signedSale(ctx));
  await When('1,200 arrives', async () => {
    assert.is((await pay(d, sale, { paidAmount: 1200, paymentReference: 'CARD-9' })).status, 200);
  });
  await Then('the policy is issued', async () => {
    const inst = await d.instance(sale.id);
    noIncidents(inst);
    assert.match(inst.variables.policyNo, /^POL-HOME-2026-\d{6}$/);
    assert.is((await d.store.quote(sale.quoteNo))!.status, 'issued');
    assert.equal([inst.variables.premiumStatus, inst.variables.premiumReceived, inst.variables.premiumOutstanding, inst.variables.premiumOverpaid], ['overpaid', 1200, 0, 18.75]);
  });
  await And('the ledger has the 1,200 received and a pending refund of 18.75, and the customer is told', async () => {
    assert.equal(await ledger(d, sale.quoteNo, 'premium'), [{ amount: 1200, status: 'completed', reference: 'CARD-9' }]);
    assert.equal(await ledger(d, sale.quoteNo, 'refund'), [{ amount: 18.75, status: 'pending', reference: null }]);
    const [refund] = await d.store.notifications({ businessRef: sale.quoteNo, topic: 'premium-refund' });
    assert.ok(refund.recipient);
    assert.match(refund.body, 'The 18.75 CNY paid in excess will be refunded');
    assert.equal(await d.store.notifications({ businessRef: sale.quoteNo, topic: 'premium-outstanding' }), []);
  });
});

payments('paidAmount with 3 decimals, 0, negative, as text or missing: 400 VALIDATION_FAILED naming it, nothing booked', async (ctx) => {
  const { d } = ctx;
  const sale = await Given('a signed sale with a net premium of 1,181.25', () => signedSale(ctx));
  for (const variables of [{ paidAmount: 1181.255 }, { paidAmount: 0.001 }, { paidAmount: 0 }, { paidAmount: -5 }, { paidAmount: '1181.25' }, { paymentReference: 'NO-AMOUNT' }] as Record<string, unknown>[]) {
    await When(`the message carries ${JSON.stringify(variables)}`, async () => {
      const res = await pay(d, sale, variables);
      await Then('it is refused naming paidAmount', async () => {
        assert.is(res.status, 400, JSON.stringify(res.body));
        assert.is(res.body.code, 'VALIDATION_FAILED');
        assert.ok(res.body.details.some((x: any) => x.field === 'paidAmount'), JSON.stringify(res.body.details));
        assert.match(res.body.message, /paidAmount/);
      });
    });
  }
  await Then('3 decimals are named as such', async () => {
    const res = await pay(d, sale, { paidAmount: 1181.255 });
    assert.match(res.body.message, /paidAmount must be an amount of money with at most 2 decimals/);
  });
  await And('nothing was booked, no reminder, and the sale still waits for the premium', async () => {
    assert.equal(await d.store.payments({ quoteNo: sale.quoteNo }), []);
    assert.equal(await d.store.notifications({ businessRef: sale.quoteNo, topic: 'premium-outstanding' }), []);
    assert.is((await d.store.quote(sale.quoteNo))!.status, 'signed');
    assert.is((await pay(d, sale, { paidAmount: NET })).status, 200, 'the exact premium, without a reference');
    const inst = await d.instance(sale.id);
    noIncidents(inst);
    assert.match(inst.variables.policyNo, /^POL-HOME-2026-\d{6}$/);
    assert.equal((await ledger(d, sale.quoteNo, 'premium')).map((p) => p.amount), [NET]);
  });
});

payments.run();

// ---------------------------------------------------------------- pure rules

const rules = suite('sales: premium balance and premium in decimals');

rules('premiumBalance: partial, paid, overpaid, unpaid; exact where binary floats are not', () => {
  assert.equal(premiumBalance(1181.25, [1]), { received: 1, outstanding: 1180.25, overpaid: 0, status: 'partial' });
  assert.equal(premiumBalance(1181.25, [0.01]), { received: 0.01, outstanding: 1181.24, overpaid: 0, status: 'partial' });
  assert.equal(premiumBalance(1181.25, [1000, 181.25]), { received: 1181.25, outstanding: 0, overpaid: 0, status: 'paid' });
  assert.equal(premiumBalance(1181.25, [1200]), { received: 1200, outstanding: 0, overpaid: 18.75, status: 'overpaid' });
  assert.equal(premiumBalance(1181.25, []), { received: 0, outstanding: 1181.25, overpaid: 0, status: 'unpaid' });
  // 0.1 + 0.2 is 0.30000000000000004 in binary floating point: that would be "overpaid" by a float artefact
  assert.equal(premiumBalance(0.3, [0.1, 0.2]), { received: 0.3, outstanding: 0, overpaid: 0, status: 'paid' });
  assert.equal(premiumBalance('1181.25', ['1181.24', '0.01']).status, 'paid', 'decimal texts too');
  assert.throws(() => premiumBalance(1181.25, [1.005]), RangeError);
  assert.throws(() => premiumBalance(1181.25, [-1]), RangeError);
});

rules('computePremium: net = gross x factors - discount, each rounded to cents in decimals', () => {
  assert.equal(computePremium({ baseRate: 0.0025, sumInsured: 500_000, riskFactor: 1, creditFactor: 1, discountPercent: 5.5 }), { grossPremium: 1250, discount: 68.75, netPremium: NET });
  // 402 x 0.0025 = 1.005 exactly (computed in decimals, not as the float 1.0050000000000001): half a cent rounds up
  assert.equal(computePremium({ baseRate: 0.0025, sumInsured: 402, riskFactor: 1, creditFactor: 1 }), { grossPremium: 1.01, discount: 0, netPremium: 1.01 });
  // half up at the cent: 627 * 7.5 % = 47.025 -> 47.03
  assert.equal(computePremium({ baseRate: 0.002, sumInsured: 300_000, riskFactor: 1.1, creditFactor: 0.95, discountPercent: 7.5 }), { grossPremium: 627, discount: 47.03, netPremium: 579.97 });
});

rules('the money format of message and form schemas: at most two decimals, judged on the decimal text', () => {
  for (const ok of [1181.25, 0.01, 1, 0, 0.1, 1000000000, -5.5]) assert.ok(isMoneyNumber(ok), String(ok));
  for (const bad of [1181.255, 0.001, 1e-7, 1e21, Number.NaN, Number.POSITIVE_INFINITY]) assert.not.ok(isMoneyNumber(bad), String(bad));
});

rules.run();
