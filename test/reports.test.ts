/**
 * The operations reports (issue 12, section 5) over a real socket: a hand-computed fixture of claims and quotes
 * written straight into the tables, every figure of GET /api/reports/claims and /api/reports/sales compared with
 * the value worked out by hand (the arithmetic is in the comments), the filters, the period's edges, the 400s of
 * bad input, who may read; then one real claim run through the engine and counted.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { domain, noIncidents, HOUR, type Domain } from './insurance.ts';
import { claimsReport } from '../src/processes/reports/figures.ts';

type Ctx = { d: Domain };
const reports = suite<Ctx>('operations reports');

const at = (iso: string) => Date.parse(iso);

interface FixtureClaim {
  no: string;
  channel: string;
  peril: string;
  reportedAt: string;
  status: 'open' | 'paid' | 'closed' | 'rejected';
  /** hours from report to payment (paid claims) */
  paidAfterHours?: number;
  closed?: boolean;
  payout?: number;
  slaBreached?: boolean;
  decisionMode?: 'automatic' | 'manual';
  fraudOutcome?: 'confirmed' | 'cleared';
  reserve?: number;
}

/**
 * Seven claims reported in March 2026 (C1..C7) and one on each side of it (C8 on the last millisecond of
 * February, C9 on the first of April), and C10 in May, accepted with nothing to pay.
 */
const CLAIMS: FixtureClaim[] = [
  { no: 'C1', channel: 'phone', peril: 'water', reportedAt: '2026-03-02T08:00:00.000Z', status: 'closed', paidAfterHours: 30, closed: true, payout: 1234.56, decisionMode: 'manual' },
  { no: 'C2', channel: 'phone', peril: 'water', reportedAt: '2026-03-05T00:00:00.000Z', status: 'paid', paidAfterHours: 80, payout: 0.1, slaBreached: true, decisionMode: 'automatic', fraudOutcome: 'cleared' },
  { no: 'C3', channel: 'online', peril: 'glass', reportedAt: '2026-03-10T12:00:00.000Z', status: 'closed', paidAfterHours: 2, closed: true, payout: 0.2, decisionMode: 'automatic' },
  { no: 'C4', channel: 'online', peril: 'water', reportedAt: '2026-03-15T10:00:00.000Z', status: 'open', slaBreached: true, reserve: 1000.05 },
  { no: 'C5', channel: 'app', peril: 'fire', reportedAt: '2026-03-20T10:00:00.000Z', status: 'open', fraudOutcome: 'confirmed', reserve: 2500.1 },
  { no: 'C6', channel: 'phone', peril: 'fire', reportedAt: '2026-03-25T10:00:00.000Z', status: 'rejected', closed: true, decisionMode: 'automatic', fraudOutcome: 'confirmed' },
  { no: 'C7', channel: 'email', peril: 'theft', reportedAt: '2026-03-31T23:59:59.999Z', status: 'open', reserve: 0.15 },
  { no: 'C8', channel: 'phone', peril: 'water', reportedAt: '2026-02-28T23:59:59.999Z', status: 'closed', paidAfterHours: 10, closed: true, payout: 999.99, decisionMode: 'automatic' },
  { no: 'C9', channel: 'online', peril: 'glass', reportedAt: '2026-04-01T00:00:00.000Z', status: 'open', reserve: 777.77 },
  // accepted in May, but below the deductible: "paid" with a payout of 0 is not money paid out
  { no: 'C10', channel: 'app', peril: 'glass', reportedAt: '2026-05-04T10:00:00.000Z', status: 'closed', paidAfterHours: 5, closed: true, payout: 0, decisionMode: 'automatic' },
];

interface FixtureQuote {
  no: string;
  product: string;
  createdAt: string;
  status: string;
  offered?: boolean;
  netPremium: number;
}

/** Seven quotes created in March 2026 (Q1..Q7), one in April (Q8). */
const QUOTES: FixtureQuote[] = [
  { no: 'Q1', product: 'HOME', createdAt: '2026-03-01T00:00:00.000Z', status: 'issued', offered: true, netPremium: 1200.1 },
  { no: 'Q2', product: 'HOME', createdAt: '2026-03-02T09:00:00.000Z', status: 'issued', offered: true, netPremium: 0.2 },
  { no: 'Q3', product: 'HOME', createdAt: '2026-03-03T09:00:00.000Z', status: 'declined', netPremium: 800 },
  { no: 'Q4', product: 'HOME', createdAt: '2026-03-04T09:00:00.000Z', status: 'expired', offered: true, netPremium: 900 },
  { no: 'Q5', product: 'CONDO', createdAt: '2026-03-05T09:00:00.000Z', status: 'lapsed', offered: true, netPremium: 500 },
  { no: 'Q6', product: 'CONDO', createdAt: '2026-03-06T09:00:00.000Z', status: 'offered', offered: true, netPremium: 600 },
  { no: 'Q7', product: 'CONDO', createdAt: '2026-03-31T23:59:59.999Z', status: 'issued', offered: true, netPremium: 0.1 },
  { no: 'Q8', product: 'HOME', createdAt: '2026-04-01T00:00:00.000Z', status: 'issued', offered: true, netPremium: 999 },
];

reports.before(async (ctx) => {
  ctx.d = await domain({}, '2026-01-05T09:00:00Z', { socket: true });
  const db = ctx.d.t.engine.db;
  for (const c of CLAIMS) {
    const reportedAt = at(c.reportedAt);
    const paidAt = c.paidAfterHours === undefined ? null : reportedAt + c.paidAfterHours * HOUR;
    await db('claims').insert({
      claim_no: `CLM-FIXTURE-${c.no}`,
      process_instance_id: `fixture-${c.no}`,
      policy_no: 'POL-HOME-2026-999999',
      channel: c.channel,
      loss_date: c.reportedAt.slice(0, 10),
      reported_at: reportedAt,
      peril: c.peril,
      claimed_amount: 5000,
      payout: c.payout ?? null,
      status: c.status,
      stage: c.status,
      sla_breached: c.slaBreached ?? false,
      paid_at: paidAt,
      closed_at: c.closed ? (paidAt ?? reportedAt) + HOUR : null,
      decision_mode: c.decisionMode ?? null,
      fraud_outcome: c.fraudOutcome ?? null,
      reserve_outstanding: c.reserve ?? 0,
      updated_at: reportedAt,
    });
  }
  for (const q of QUOTES) {
    const createdAt = at(q.createdAt);
    await db('quotes').insert({
      quote_no: `QUO-FIXTURE-${q.no}`,
      process_instance_id: `fixture-${q.no}`,
      product_code: q.product,
      product_version: 1,
      sum_insured: 500000,
      base_rate: 0.002,
      risk_factor: 1,
      credit_factor: 1,
      gross_premium: q.netPremium,
      net_premium: q.netPremium,
      status: q.status,
      offered_at: q.offered ? createdAt + HOUR : null,
      created_at: createdAt,
      updated_at: createdAt,
    });
  }
});
reports.after(async (ctx) => ctx.d.close());

async function claimsOf(d: Domain, query: string, who: 'admin' | 'supervisor' = 'supervisor') {
  const res = await d.call(who, 'GET', `/api/reports/claims${query}`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

const NONE = { automatic: 0, manual: 0, automaticShare: null, fraudConfirmed: 0, fraudCleared: 0 };

reports('Given the March fixture, when the claims supervisor reads March, then every total is the hand-computed one (decimal-exact money)', async ({ d }) => {
  const r = await claimsOf(d, '?from=2026-03-01&to=2026-03-31');
  assert.equal(r.period, { from: '2026-03-01', to: '2026-03-31' });
  assert.equal(r.totals, {
    reported: 7, // C1..C7 (C7 on the last millisecond of March; C8 and C9 outside)
    open: 3, // C4, C5, C7
    paid: 3, // C1, C2, C3
    acceptedWithoutPayout: 0,
    rejected: 1, // C6
    closed: 3, // C1, C3 (paid), C6 (rejected)
    paidAmount: 1234.86, // 1234.56 + 0.10 + 0.20 (binary floats would give 1234.8599999999999)
    averageHoursToPayment: 37.33, // (30 + 80 + 2) / 3 = 37.333...
    slaBreaches: 2, // C2, C4
    automatic: 3, // C2, C3, C6
    manual: 1, // C1
    automaticShare: 0.75, // 3 / (3 + 1)
    fraudConfirmed: 2, // C5, C6
    fraudCleared: 1, // C2
    openReserves: 3500.3, // 1000.05 + 2500.10 + 0.15 (C4, C5, C7)
  });
  assert.equal(r.byChannel, [
    { channel: 'app', reported: 1, open: 1, paid: 0, acceptedWithoutPayout: 0, rejected: 0, closed: 0, paidAmount: 0, averageHoursToPayment: null, slaBreaches: 0, ...NONE, fraudConfirmed: 1, openReserves: 2500.1 }, // C5
    { channel: 'email', reported: 1, open: 1, paid: 0, acceptedWithoutPayout: 0, rejected: 0, closed: 0, paidAmount: 0, averageHoursToPayment: null, slaBreaches: 0, ...NONE, openReserves: 0.15 }, // C7
    // C3, C4: paid C3 0.20 after 2 h; C4 open, breached, reserve 1000.05
    { channel: 'online', reported: 2, open: 1, paid: 1, acceptedWithoutPayout: 0, rejected: 0, closed: 1, paidAmount: 0.2, averageHoursToPayment: 2, slaBreaches: 1, ...NONE, automatic: 1, automaticShare: 1, openReserves: 1000.05 },
    // C1, C2, C6: paid 1234.56 + 0.10 = 1234.66 after (30 + 80) / 2 = 55 h; automatic C2, C6, manual C1: 2 / 3 = 0.6667
    { channel: 'phone', reported: 3, open: 0, paid: 2, acceptedWithoutPayout: 0, rejected: 1, closed: 2, paidAmount: 1234.66, averageHoursToPayment: 55, slaBreaches: 1, automatic: 2, manual: 1, automaticShare: 0.6667, fraudConfirmed: 1, fraudCleared: 1, openReserves: 0 },
  ]);
  assert.equal(r.byPeril, [
    // C5, C6
    { peril: 'fire', reported: 2, open: 1, paid: 0, acceptedWithoutPayout: 0, rejected: 1, closed: 1, paidAmount: 0, averageHoursToPayment: null, slaBreaches: 0, ...NONE, automatic: 1, automaticShare: 1, fraudConfirmed: 2, openReserves: 2500.1 },
    // C3
    { peril: 'glass', reported: 1, open: 0, paid: 1, acceptedWithoutPayout: 0, rejected: 0, closed: 1, paidAmount: 0.2, averageHoursToPayment: 2, slaBreaches: 0, ...NONE, automatic: 1, automaticShare: 1, openReserves: 0 },
    // C7
    { peril: 'theft', reported: 1, open: 1, paid: 0, acceptedWithoutPayout: 0, rejected: 0, closed: 0, paidAmount: 0, averageHoursToPayment: null, slaBreaches: 0, ...NONE, openReserves: 0.15 },
    // C1, C2, C4: 1234.56 + 0.10; (30 + 80) / 2 h; breached C2, C4; automatic C2, manual C1: 1 / 2
    { peril: 'water', reported: 3, open: 1, paid: 2, acceptedWithoutPayout: 0, rejected: 0, closed: 1, paidAmount: 1234.66, averageHoursToPayment: 55, slaBreaches: 2, automatic: 1, manual: 1, automaticShare: 0.5, fraudConfirmed: 0, fraudCleared: 1, openReserves: 1000.05 },
  ]);
});

reports('Given the fixture, when filtered by channel, by channel and peril, then only those claims count', async ({ d }) => {
  const phone = await claimsOf(d, '?from=2026-03-01&to=2026-03-31&channel=phone');
  assert.is(phone.channel, 'phone');
  assert.equal(phone.byChannel.map((g: any) => g.channel), ['phone']);
  // the totals of the filtered report are the phone group of the unfiltered one
  const { channel: _channel, ...phoneGroup } = (await claimsOf(d, '?from=2026-03-01&to=2026-03-31')).byChannel.find((g: any) => g.channel === 'phone');
  assert.equal(phone.totals, phoneGroup);
  assert.is(phone.totals.reported, 3); // C1, C2, C6
  assert.is(phone.totals.paidAmount, 1234.66); // 1234.56 + 0.10
  // peril groups within phone: fire C6, water C1 and C2
  assert.equal(phone.byPeril.map((g: any) => [g.peril, g.reported, g.paidAmount]), [['fire', 1, 0], ['water', 2, 1234.66]]);

  const phoneWater = await claimsOf(d, '?from=2026-03-01&to=2026-03-31&channel=phone&peril=water');
  assert.equal(phoneWater.totals, {
    reported: 2, // C1, C2
    open: 0,
    paid: 2,
    acceptedWithoutPayout: 0,
    rejected: 0,
    closed: 1, // C1
    paidAmount: 1234.66, // 1234.56 + 0.10
    averageHoursToPayment: 55, // (30 + 80) / 2
    slaBreaches: 1, // C2
    automatic: 1, // C2
    manual: 1, // C1
    automaticShare: 0.5,
    fraudConfirmed: 0,
    fraudCleared: 1, // C2
    openReserves: 0,
  });
  const none = await claimsOf(d, '?from=2026-03-01&to=2026-03-31&channel=app&peril=water');
  assert.equal(none.totals, { reported: 0, open: 0, paid: 0, acceptedWithoutPayout: 0, rejected: 0, closed: 0, paidAmount: 0, averageHoursToPayment: null, slaBreaches: 0, automatic: 0, manual: 0, automaticShare: null, fraudConfirmed: 0, fraudCleared: 0, openReserves: 0 });
  assert.equal([none.byChannel, none.byPeril], [[], []]);
});

reports('Given a claim accepted with nothing to pay (loss below the deductible), when May is read, then it is not counted as paid nor in the time to payment', async ({ d }) => {
  const may = await claimsOf(d, '?from=2026-05-01&to=2026-05-31');
  assert.equal([may.totals.reported, may.totals.paid, may.totals.acceptedWithoutPayout, may.totals.paidAmount, may.totals.averageHoursToPayment, may.totals.closed], [1, 0, 1, 0, null, 1]);
});

reports('Given claims on the edges of March, when the period is one day, then its first and last millisecond belong to it and the next day does not', async ({ d }) => {
  const feb28 = await claimsOf(d, '?from=2026-02-28&to=2026-02-28');
  // C8 only (reported 23:59:59.999 on the 28th): paid 999.99 after 10 h
  assert.equal([feb28.totals.reported, feb28.totals.paid, feb28.totals.paidAmount, feb28.totals.averageHoursToPayment, feb28.totals.automaticShare], [1, 1, 999.99, 10, 1]);
  const apr1 = await claimsOf(d, '?from=2026-04-01&to=2026-04-01');
  // C9 only (reported 00:00:00.000 on April 1st): open, reserve 777.77
  assert.equal([apr1.totals.reported, apr1.totals.open, apr1.totals.openReserves], [1, 1, 777.77]);
  const lastDay = await claimsOf(d, '?from=2026-03-31&to=2026-03-31');
  assert.equal([lastDay.totals.reported, lastDay.byChannel[0].channel], [1, 'email'], 'C7, reported on the last millisecond of March 31st');
  // open ends: from February 28th on: C1..C10 = 10 fixture claims; up to March 31st: C1..C8 = 8
  assert.is((await claimsOf(d, '?from=2026-02-28')).totals.reported, 10);
  assert.is((await claimsOf(d, '?to=2026-03-31&channel=phone')).totals.reported, 4, 'C1, C2, C6, C8');
  // paid from Feb 28th to March 31st: 999.99 + 1234.56 + 0.10 + 0.20 = 2234.85
  assert.is((await claimsOf(d, '?from=2026-02-28&to=2026-03-31')).totals.paidAmount, 2234.85);
});

reports('Given bad query parameters, when the report is asked, then 400 VALIDATION_FAILED naming the field, never 500', async ({ d }) => {
  const cases: [string, RegExp][] = [
    ['?from=2026-02-30', /from/], // no February 30th
    ['?from=2026-13-01', /from/],
    ['?to=yesterday', /to/],
    ['?from=2026-03-01T00:00:00Z', /from/],
    ['?from=2026-03-10&to=2026-03-09', /from .*after/],
    ['?channel=fax', /channel/],
    ['?peril=flood', /peril/],
    ['?from=2026-03-01&limit=5', /limit/],
    ['?from=', /from/],
  ];
  for (const [query, field] of cases) {
    const res = await d.call('supervisor', 'GET', `/api/reports/claims${query}`);
    assert.is(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
    assert.is(res.body.code, 'VALIDATION_FAILED', query);
    assert.match(res.body.message, field, `${query}: ${res.body.message}`);
  }
  for (const query of ['?from=2026-02-29', '?productCode=HOME-1', '?channel=phone']) {
    const res = await d.call('salesmanager', 'GET', `/api/reports/sales${query}`);
    assert.is(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
    assert.is(res.body.code, 'VALIDATION_FAILED', query);
  }
});

reports('Given the roles and grants, when staff read the reports, then supervisors read claims, sales managers read sales, others are refused by the engine', async ({ d }) => {
  assert.is((await d.call('admin', 'GET', '/api/reports/claims')).status, 200);
  assert.is((await d.call('admin', 'GET', '/api/reports/sales')).status, 200);
  assert.is((await d.call('salesmanager', 'GET', '/api/reports/sales')).status, 200);
  const refused = [
    ['supervisor', '/api/reports/sales', 'sales'],
    ['salesmanager', '/api/reports/claims', 'claims'],
    ['cs', '/api/reports/claims', 'claims'],
    ['adjuster', '/api/reports/claims', 'claims'],
  ] as const;
  for (const [who, url, report] of refused) {
    const res = await d.call(who, 'GET', url);
    assert.is(res.status, 403, `${who} ${url}`);
    assert.equal([res.body.code, res.body.details?.resourceType, res.body.details?.resourceId, res.body.details?.permission], ['FORBIDDEN', 'report', report, 'read'], JSON.stringify(res.body));
  }
  // analysts have no role on the reports
  assert.is((await d.call('analyst', 'GET', '/api/reports/claims')).status, 403);
});

reports('Given an admin grant of read on report claims to the adjusters, when an adjuster reads it, then 200; a grant of another permission on a report is refused', async ({ d }) => {
  assert.is((await d.call('adjuster', 'GET', '/api/reports/claims')).status, 403);
  const granted = await d.call('admin', 'POST', '/api/authorizations', { group: 'adjusters', resourceType: 'report', resourceId: 'claims', permissions: ['read'] });
  assert.is(granted.status, 201, JSON.stringify(granted.body));
  assert.is((await d.call('adjuster', 'GET', '/api/reports/claims?from=2026-03-01&to=2026-03-31')).body.totals.reported, 7);
  assert.is((await d.call('adjuster', 'GET', '/api/reports/sales')).status, 403, 'the grant names the claims report only');
  const wrong = await d.call('admin', 'POST', '/api/authorizations', { group: 'adjusters', resourceType: 'report', resourceId: 'sales', permissions: ['start'] });
  assert.is(wrong.status, 400, JSON.stringify(wrong.body));
  assert.match(wrong.body.message, /start is not a permission of report \(its permissions: read\)/);
});

reports('Given the March quotes, when the sales manager reads March, then conversion, losses and premium booked are the hand-computed ones', async ({ d }) => {
  const res = await d.call('salesmanager', 'GET', '/api/reports/sales?from=2026-03-01&to=2026-03-31');
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.totals, {
    quotes: 7, // Q1..Q7 (Q8 is April's)
    offered: 6, // all but Q3
    issued: 3, // Q1, Q2, Q7
    declined: 1, // Q3
    expired: 1, // Q4
    lapsed: 1, // Q5
    inProgress: 1, // Q6: 7 - 3 - 1 - 1 - 1
    conversionRate: 0.4286, // 3 / 7 = 0.428571...
    premiumBooked: 1200.4, // 1200.10 + 0.20 + 0.10
  });
  assert.equal(res.body.byProduct, [
    // Q5, Q6, Q7: 1 / 3 = 0.3333
    { productCode: 'CONDO', quotes: 3, offered: 3, issued: 1, declined: 0, expired: 0, lapsed: 1, inProgress: 1, conversionRate: 0.3333, premiumBooked: 0.1 },
    // Q1..Q4: 2 / 4; 1200.10 + 0.20
    { productCode: 'HOME', quotes: 4, offered: 3, issued: 2, declined: 1, expired: 1, lapsed: 0, inProgress: 0, conversionRate: 0.5, premiumBooked: 1200.3 },
  ]);
  const home = await d.call('salesmanager', 'GET', '/api/reports/sales?from=2026-03-01&productCode=HOME');
  // Q1..Q4 and Q8: issued Q1, Q2, Q8 = 3 of 5; 1200.10 + 0.20 + 999
  assert.equal([home.body.totals.quotes, home.body.totals.issued, home.body.totals.conversionRate, home.body.totals.premiumBooked], [5, 3, 0.6, 2199.3]);
});

reports('the figures of no claims at all: zero counts, zero money, null averages and shares', () => {
  const r = claimsReport([]);
  assert.equal(r, { totals: { reported: 0, open: 0, paid: 0, acceptedWithoutPayout: 0, rejected: 0, closed: 0, paidAmount: 0, averageHoursToPayment: null, slaBreaches: 0, automatic: 0, manual: 0, automaticShare: null, fraudConfirmed: 0, fraudCleared: 0, openReserves: 0 }, byChannel: [], byPeril: [] });
});

reports('Given a real claim reported online and paid automatically by the engine, when the report of its day is read, then it is counted with its payout', async ({ d }) => {
  const day = '?from=2026-01-05&to=2026-01-05';
  const before = await claimsOf(d, day);
  assert.is(before.totals.reported, 0, 'no claim on January 5th yet');
  const res = await d.call('cs', 'POST', '/api/claims', { policyNo: d.demo.policies[0].policyNo, channel: 'online', lossDate: '2026-01-03', peril: 'glass', claimedAmount: 3000, description: 'Broken window pane' });
  assert.is(res.status, 201, JSON.stringify(res.body));
  noIncidents(await d.instance(res.body.processInstanceId));
  const claim = (await d.store.claim(res.body.claimNo))!;
  assert.equal([claim.status, claim.payout], ['closed', 2500], 'glass 3,000 - deductible 500, paid and closed in one go');
  const after = await claimsOf(d, day);
  assert.equal(
    after.totals,
    {
      reported: 1,
      open: 0,
      paid: 1,
      acceptedWithoutPayout: 0,
      rejected: 0,
      closed: 1,
      paidAmount: 2500,
      averageHoursToPayment: 0, // reported and paid at the same instant of the manual clock
      slaBreaches: 0,
      automatic: claim.decisionMode === 'automatic' ? 1 : 0,
      manual: claim.decisionMode === 'manual' ? 1 : 0,
      automaticShare: claim.decisionMode === null ? null : claim.decisionMode === 'automatic' ? 1 : 0,
      fraudConfirmed: 0,
      fraudCleared: 0,
      openReserves: 0,
    },
    JSON.stringify(after.totals),
  );
  assert.equal(after.byChannel.map((g: any) => [g.channel, g.paid, g.paidAmount]), [['online', 1, 2500]]);
  assert.equal(after.byPeril.map((g: any) => [g.peril, g.reported]), [['glass', 1]]);
  // March is unchanged
  assert.is((await claimsOf(d, '?from=2026-03-01&to=2026-03-31')).totals.reported, 7);
});

reports.run();
