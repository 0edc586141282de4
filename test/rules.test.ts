import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  computePayout,
  aggregateFraudScore,
  fraudInputs,
  requiresSupervisorApproval,
  policyCoversLoss,
  settlementDeadline,
  claimNumber,
} from '../src/processes/claims/rules.ts';
import { computePremium, policyNumber, renewalReminderDate, offerExpiry } from '../src/processes/sales/rules.ts';
import { actuarialBaseRate } from '../src/processes/product-development/rules.ts';

// ------------------------------------------------------------------------------------------ computePayout

test('computePayout: loss minus deductible', () => {
  assert.equal(computePayout({ lossAmount: 10_000, deductible: 500, sumInsured: 100_000 }), { payout: 9_500, cappedAtSumInsured: false });
});

test('computePayout: loss below or equal to the deductible pays nothing', () => {
  assert.equal(computePayout({ lossAmount: 300, deductible: 500, sumInsured: 100_000 }), { payout: 0, cappedAtSumInsured: false });
  assert.equal(computePayout({ lossAmount: 500, deductible: 500, sumInsured: 100_000 }).payout, 0);
  assert.equal(computePayout({ lossAmount: 0, deductible: 0, sumInsured: 1 }).payout, 0);
});

test('computePayout: capped at the sum insured (after the deductible)', () => {
  assert.equal(computePayout({ lossAmount: 120_000, deductible: 1_000, sumInsured: 100_000 }), { payout: 100_000, cappedAtSumInsured: true });
  // exactly at the sum insured is not "capped"
  assert.equal(computePayout({ lossAmount: 101_000, deductible: 1_000, sumInsured: 100_000 }), { payout: 100_000, cappedAtSumInsured: false });
});

test('computePayout: coinsurance applies after the cap, rounded to cents', () => {
  assert.equal(computePayout({ lossAmount: 10_000, deductible: 500, sumInsured: 100_000, coinsurance: 0.8 }).payout, 7_600);
  assert.equal(computePayout({ lossAmount: 200_000, deductible: 0, sumInsured: 100_000, coinsurance: 0.5 }), { payout: 50_000, cappedAtSumInsured: true });
  assert.equal(computePayout({ lossAmount: 100, deductible: 0, sumInsured: 1_000, coinsurance: 1 / 3 }).payout, 33.33);
  // 1.005 is 1.00499999... in binary: still rounds to 1.01
  assert.equal(computePayout({ lossAmount: 1.005, deductible: 0, sumInsured: 10 }).payout, 1.01);
  assert.equal(computePayout({ lossAmount: 1234.565, deductible: 0, sumInsured: 1e6 }).payout, 1234.57);
});

test('computePayout: refuses negative, NaN and out-of-range coinsurance', () => {
  const ok = { lossAmount: 1_000, deductible: 100, sumInsured: 10_000 };
  assert.throws(() => computePayout({ ...ok, lossAmount: -1 }), RangeError);
  assert.throws(() => computePayout({ ...ok, deductible: -0.01 }), RangeError);
  assert.throws(() => computePayout({ ...ok, sumInsured: -5 }), RangeError);
  assert.throws(() => computePayout({ ...ok, lossAmount: NaN }), RangeError);
  assert.throws(() => computePayout({ ...ok, sumInsured: Infinity }), RangeError);
  assert.throws(() => computePayout({ ...ok, lossAmount: '1000' as unknown as number }), RangeError);
  assert.throws(() => computePayout({ ...ok, coinsurance: 0 }), RangeError);
  assert.throws(() => computePayout({ ...ok, coinsurance: 1.01 }), RangeError);
  assert.throws(() => computePayout({ ...ok, coinsurance: -0.5 }), RangeError);
  assert.throws(() => computePayout({ ...ok, coinsurance: NaN }), RangeError);
});

// ------------------------------------------------------------------------------------------ fraud

test('aggregateFraudScore: levels at the thresholds', () => {
  assert.equal(aggregateFraudScore([]), { score: 0, level: 'low', indicators: [] });
  assert.equal(aggregateFraudScore([{ indicator: 'LATE_REPORT', weight: 20 }]).level, 'low');
  assert.equal(aggregateFraudScore([{ indicator: 'FREQUENT_CLAIMS', weight: 25 }]).level, 'medium');
  const high = aggregateFraudScore([
    { indicator: 'FREQUENT_CLAIMS', weight: 25 },
    { indicator: 'HIGH_AMOUNT_RATIO', weight: 25 },
  ]);
  assert.equal(high, { score: 50, level: 'high', indicators: ['FREQUENT_CLAIMS', 'HIGH_AMOUNT_RATIO'] });
  assert.equal(aggregateFraudScore([{ indicator: 'X', weight: 49.99 }]).level, 'medium');
});

test('aggregateFraudScore: capped at 100, duplicates counted once, null means none', () => {
  const all = aggregateFraudScore([
    { indicator: 'EARLY_CLAIM', weight: 30 },
    { indicator: 'FREQUENT_CLAIMS', weight: 25 },
    { indicator: 'HIGH_AMOUNT_RATIO', weight: 25 },
    { indicator: 'LATE_REPORT', weight: 20 },
    { indicator: 'RECENT_COVER_INCREASE', weight: 15 },
  ]);
  assert.is(all.score, 100);
  assert.is(all.level, 'high');
  assert.is(all.indicators.length, 5);
  assert.equal(
    aggregateFraudScore([
      { indicator: 'EARLY_CLAIM', weight: 30 },
      { indicator: 'EARLY_CLAIM', weight: 30 },
    ]),
    { score: 30, level: 'medium', indicators: ['EARLY_CLAIM'] },
  );
  assert.equal(aggregateFraudScore(null), { score: 0, level: 'low', indicators: [] });
});

test('aggregateFraudScore: refuses negative or missing weights and nameless indicators', () => {
  assert.throws(() => aggregateFraudScore([{ indicator: 'X', weight: -5 }]), RangeError);
  assert.throws(() => aggregateFraudScore([{ indicator: 'X', weight: NaN }]), RangeError);
  assert.throws(() => aggregateFraudScore([{ indicator: '', weight: 5 }]), RangeError);
  assert.throws(() => aggregateFraudScore([null as unknown as { indicator: string; weight: number }]), RangeError);
});

const facts = {
  policyStart: '2026-01-01',
  lossDate: '2026-03-01',
  reportDate: '2026-03-03',
  claimsLast12Months: 1,
  claimedAmount: 20_000,
  sumInsured: 100_000,
};

test('fraudInputs: day counts, ratio and recent cover change', () => {
  assert.equal(fraudInputs(facts), {
    daysSinceInception: 59,
    claimsLast12Months: 1,
    amountToSumInsuredRatio: 0.2,
    reportDelayDays: 2,
    policyChangedRecently: false,
  });
  assert.is(fraudInputs({ ...facts, coverChangedAt: '2026-02-15' }).policyChangedRecently, true);
  assert.is(fraudInputs({ ...facts, coverChangedAt: '2026-03-01' }).policyChangedRecently, true); // same day
  assert.is(fraudInputs({ ...facts, coverChangedAt: '2025-12-31' }).policyChangedRecently, true); // 60 days before
  assert.is(fraudInputs({ ...facts, coverChangedAt: '2025-12-30' }).policyChangedRecently, false); // 61 days
  assert.is(fraudInputs({ ...facts, coverChangedAt: '2026-03-02' }).policyChangedRecently, false); // after the loss
  assert.is(fraudInputs({ ...facts, coverChangedAt: '2025-12-30' }, 90).policyChangedRecently, true);
  assert.is(fraudInputs({ ...facts, coverChangedAt: null }).policyChangedRecently, false);
  assert.is(fraudInputs({ ...facts, claimedAmount: 90_000 }).amountToSumInsuredRatio, 0.9);
});

test('fraudInputs: days are counted on UTC calendar days', () => {
  // 23:30 at UTC-5 on Feb 28 is already Mar 1 in UTC; 00:30 +02:00 on Mar 3 is still Mar 2 in UTC
  const r = fraudInputs({ ...facts, lossDate: '2026-02-28T23:30:00-05:00', reportDate: '2026-03-03T00:30:00+02:00' });
  assert.is(r.daysSinceInception, 59);
  assert.is(r.reportDelayDays, 1);
  // across the March DST change in Europe/US: still whole days
  assert.is(fraudInputs({ ...facts, lossDate: '2026-03-20', reportDate: '2026-04-05' }).reportDelayDays, 16);
  // Date objects are accepted too; a loss before inception is negative
  assert.is(fraudInputs({ ...facts, policyStart: new Date('2026-03-11T00:00:00Z') }).daysSinceInception, -10);
});

test('fraudInputs: refuses invalid dates, a report before the loss and bad numbers', () => {
  assert.throws(() => fraudInputs({ ...facts, lossDate: 'not a date' }), RangeError);
  assert.throws(() => fraudInputs({ ...facts, reportDate: '' }), RangeError);
  assert.throws(() => fraudInputs({ ...facts, reportDate: '2026-02-27' }), RangeError);
  assert.throws(() => fraudInputs({ ...facts, sumInsured: 0 }), RangeError);
  assert.throws(() => fraudInputs({ ...facts, claimedAmount: -1 }), RangeError);
  assert.throws(() => fraudInputs({ ...facts, claimsLast12Months: 1.5 }), RangeError);
  assert.throws(() => fraudInputs({ ...facts, coverChangedAt: 'yesterday' }), RangeError);
});

// ------------------------------------------------------------------------------------------ approvals & coverage

test('requiresSupervisorApproval: strictly above the limit', () => {
  assert.is(requiresSupervisorApproval(2_500, 2_500), false);
  assert.is(requiresSupervisorApproval(2_500.01, 2_500), true);
  assert.is(requiresSupervisorApproval(0, 0), false);
  assert.is(requiresSupervisorApproval(1, 0), true);
  assert.throws(() => requiresSupervisorApproval(-1, 100), RangeError);
  assert.throws(() => requiresSupervisorApproval(1, NaN), RangeError);
});

const cover = { effectiveFrom: '2026-01-01', effectiveTo: '2026-12-31', perils: ['fire', 'water', 'storm'], sumInsured: 250_000 };

test('policyCoversLoss: covered by the version in force on the loss date', () => {
  assert.equal(policyCoversLoss({ cover, lossDate: '2026-06-15', peril: 'fire' }), { covered: true });
  // first and last day are covered; perils are case-insensitive
  assert.equal(policyCoversLoss({ cover, lossDate: '2026-01-01T00:00:00Z', peril: 'Water' }), { covered: true });
  assert.equal(policyCoversLoss({ cover, lossDate: new Date('2026-12-31T23:59:59Z'), peril: 'storm' }), { covered: true });
  // a cancellation after the loss does not matter when the version covered the loss day
  assert.equal(policyCoversLoss({ cover, lossDate: '2026-06-15', peril: 'fire', cancelledFrom: '2026-07-01' }), { covered: true });
});

test('policyCoversLoss: reasons', () => {
  assert.equal(policyCoversLoss({ cover: null, lossDate: '2026-06-15', peril: 'fire', cancelledFrom: '2026-06-01' }), { covered: false, reason: 'POLICY_NOT_ACTIVE' });
  assert.equal(policyCoversLoss({ cover: null, lossDate: '2026-06-01', peril: 'fire', cancelledFrom: '2026-06-01' }), { covered: false, reason: 'POLICY_NOT_ACTIVE' }, 'the first day without cover');
  assert.equal(policyCoversLoss({ cover: null, lossDate: '2026-05-31', peril: 'fire', cancelledFrom: '2026-06-01' }), { covered: false, reason: 'LOSS_OUTSIDE_PERIOD' });
  assert.equal(policyCoversLoss({ cover: null, lossDate: '2025-12-31', peril: 'fire' }), { covered: false, reason: 'LOSS_OUTSIDE_PERIOD' });
  assert.equal(policyCoversLoss({ cover, lossDate: '2025-12-31', peril: 'fire' }), { covered: false, reason: 'LOSS_OUTSIDE_PERIOD' });
  assert.equal(policyCoversLoss({ cover, lossDate: '2027-01-01', peril: 'fire' }), { covered: false, reason: 'LOSS_OUTSIDE_PERIOD' });
  assert.equal(policyCoversLoss({ cover, lossDate: '2026-06-15', peril: 'theft' }), { covered: false, reason: 'PERIL_NOT_COVERED' });
  assert.equal(policyCoversLoss({ cover: { ...cover, sumInsured: 0 }, lossDate: '2026-06-15', peril: 'fire' }), { covered: false, reason: 'NO_SUM_INSURED' });
});

test('policyCoversLoss: refuses invalid input', () => {
  assert.throws(() => policyCoversLoss({ cover, lossDate: 'soon', peril: 'fire' }), RangeError);
  assert.throws(() => policyCoversLoss({ cover: { ...cover, effectiveTo: '2025-01-01' }, lossDate: '2026-06-15', peril: 'fire' }), RangeError);
  assert.throws(() => policyCoversLoss({ cover, lossDate: '2026-06-15', peril: '' }), RangeError);
  assert.throws(() => policyCoversLoss({ cover: { ...cover, perils: 'fire' as unknown as string[] }, lossDate: '2026-06-15', peril: 'fire' }), RangeError);
  assert.throws(() => policyCoversLoss({ cover: null, lossDate: '2026-06-15', peril: 'fire', cancelledFrom: 'never' }), RangeError);
});

// ------------------------------------------------------------------------------------------ deadlines & numbers

test('settlementDeadline: 72 hours by default', () => {
  const at = new Date('2026-11-25T10:15:00Z');
  assert.is(settlementDeadline(at).toISOString(), '2026-11-28T10:15:00.000Z');
  assert.is(settlementDeadline(at, 24).toISOString(), '2026-11-26T10:15:00.000Z');
  assert.is(settlementDeadline(at, 0).toISOString(), at.toISOString());
  assert.is(at.toISOString(), '2026-11-25T10:15:00.000Z', 'input not mutated');
  assert.throws(() => settlementDeadline(new Date('nope')), RangeError);
  assert.throws(() => settlementDeadline(at, -1), RangeError);
});

test('claimNumber: CLM-YYYYMMDD-000042 in UTC', () => {
  assert.is(claimNumber(42, new Date('2026-11-25T12:00:00Z')), 'CLM-20261125-000042');
  assert.is(claimNumber(1, new Date('2026-01-05T23:30:00-02:00')), 'CLM-20260106-000001');
  assert.is(claimNumber(1_234_567, new Date('2026-11-25T00:00:00Z')), 'CLM-20261125-1234567');
  assert.throws(() => claimNumber(-1, new Date()), RangeError);
  assert.throws(() => claimNumber(1.5, new Date()), RangeError);
  assert.throws(() => claimNumber(1, new Date('x')), RangeError);
});

// ------------------------------------------------------------------------------------------ sales

test('computePremium: gross, discount and net in cents', () => {
  assert.equal(computePremium({ baseRate: 0.002, sumInsured: 300_000, riskFactor: 1.1, creditFactor: 0.95 }), {
    grossPremium: 627,
    discount: 0,
    netPremium: 627,
  });
  assert.equal(computePremium({ baseRate: 0.002, sumInsured: 300_000, riskFactor: 1.1, creditFactor: 0.95, discountPercent: 7.5 }), {
    grossPremium: 627,
    discount: 47.03,
    netPremium: 579.97,
  });
  const p = computePremium({ baseRate: 0.00123, sumInsured: 123_456, riskFactor: 1.35, creditFactor: 1.15, discountPercent: 12.5 });
  assert.is(p.grossPremium, 235.75);
  assert.is(Math.round((p.grossPremium - p.discount) * 100) / 100, p.netPremium, 'the parts add up');
  assert.equal(computePremium({ baseRate: 0.002, sumInsured: 100_000, riskFactor: 1, creditFactor: 1, discountPercent: 100 }), {
    grossPremium: 200,
    discount: 200,
    netPremium: 0,
  });
  assert.equal(computePremium({ baseRate: 0.002, sumInsured: 0, riskFactor: 1, creditFactor: 1 }).netPremium, 0);
});

test('computePremium: refuses missing factors and invalid discounts', () => {
  const ok = { baseRate: 0.002, sumInsured: 100_000, riskFactor: 1, creditFactor: 1 };
  assert.throws(() => computePremium({ ...ok, riskFactor: null as unknown as number }), RangeError);
  assert.throws(() => computePremium({ ...ok, creditFactor: 0 }), RangeError);
  assert.throws(() => computePremium({ ...ok, riskFactor: 0 }), RangeError);
  assert.throws(() => computePremium({ ...ok, baseRate: -0.001 }), RangeError);
  assert.throws(() => computePremium({ ...ok, sumInsured: NaN }), RangeError);
  assert.throws(() => computePremium({ ...ok, discountPercent: -1 }), RangeError);
  assert.throws(() => computePremium({ ...ok, discountPercent: 100.5 }), RangeError);
});

test('policyNumber: POL-HOME-2026-000042', () => {
  assert.is(policyNumber('HOME', 42, new Date('2026-11-25T00:00:00Z')), 'POL-HOME-2026-000042');
  assert.is(policyNumber('motor2', 7, new Date('2027-06-01T00:00:00Z')), 'POL-MOTOR2-2027-000007');
  assert.is(policyNumber('HOME', 1, new Date('2026-12-31T23:30:00-01:00')), 'POL-HOME-2027-000001', 'UTC year');
  assert.throws(() => policyNumber('HO-ME', 1, new Date()), RangeError);
  assert.throws(() => policyNumber('', 1, new Date()), RangeError);
  assert.throws(() => policyNumber('HOME', -1, new Date()), RangeError);
  assert.throws(() => policyNumber('HOME', 1, new Date('x')), RangeError);
});

test('renewalReminderDate and offerExpiry', () => {
  const end = new Date('2027-01-01T00:00:00Z');
  assert.is(renewalReminderDate(end).toISOString(), '2026-12-02T00:00:00.000Z');
  assert.is(renewalReminderDate(end, 60).toISOString(), '2026-11-02T00:00:00.000Z');
  assert.is(renewalReminderDate(end, 0).toISOString(), end.toISOString());
  const quoted = new Date('2026-11-25T09:00:00Z');
  assert.is(offerExpiry(quoted).toISOString(), '2026-12-25T09:00:00.000Z');
  assert.is(offerExpiry(quoted, 7).toISOString(), '2026-12-02T09:00:00.000Z');
  assert.throws(() => renewalReminderDate(end, -1), RangeError);
  assert.throws(() => offerExpiry(quoted, 1.5), RangeError);
  assert.throws(() => offerExpiry('2026-11-25' as unknown as Date), RangeError);
});

// ------------------------------------------------------------------------------------------ product development

test('actuarialBaseRate: loss cost loaded for expenses and profit', () => {
  assert.is(actuarialBaseRate({ expectedLossCost: 0.002, expenseLoading: 0.25, profitLoading: 0.05 }), 0.002857);
  assert.is(actuarialBaseRate({ expectedLossCost: 0.003, expenseLoading: 0.2, profitLoading: 0.05 }), 0.004);
  assert.is(actuarialBaseRate({ expectedLossCost: 0.002, expenseLoading: 0, profitLoading: 0 }), 0.002);
  assert.is(actuarialBaseRate({ expectedLossCost: 0, expenseLoading: 0.3, profitLoading: 0.1 }), 0);
  assert.is(actuarialBaseRate({ expectedLossCost: 0.01, expenseLoading: 0.5, profitLoading: 0.49 }), 1);
});

test('actuarialBaseRate: refuses loadings of 100% or more and negative values', () => {
  assert.throws(() => actuarialBaseRate({ expectedLossCost: 0.002, expenseLoading: 0.7, profitLoading: 0.3 }), RangeError);
  assert.throws(() => actuarialBaseRate({ expectedLossCost: 0.002, expenseLoading: 1.2, profitLoading: 0 }), RangeError);
  assert.throws(() => actuarialBaseRate({ expectedLossCost: 0.002, expenseLoading: -0.1, profitLoading: 0.1 }), RangeError);
  assert.throws(() => actuarialBaseRate({ expectedLossCost: -0.002, expenseLoading: 0.2, profitLoading: 0.1 }), RangeError);
  assert.throws(() => actuarialBaseRate({ expectedLossCost: NaN, expenseLoading: 0.2, profitLoading: 0.1 }), RangeError);
});

test.run();
