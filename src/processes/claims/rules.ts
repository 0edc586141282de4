/**
 * Pure claim-handling rules: payout, fraud scoring, coverage, deadlines and numbering. No I/O; every function
 * validates its inputs and throws RangeError on nonsense (negative money, invalid dates...).
 * Dates are compared by UTC calendar day.
 */

export type DateInput = Date | string;

import { DAY_MS, assertNumber } from '../rule-checks.ts';
import { parseDateTime } from '../../engine/iso.ts';
import { Money, toNumber } from '../money.ts';

function toDate(name: string, value: DateInput): Date {
  const d = value instanceof Date ? new Date(value.getTime()) : typeof value === 'string' && value.trim() ? new Date(parseDateTime(value.trim()) ?? NaN) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${name} must be a valid date (ISO 8601), got ${String(value)}`);
  return d;
}

/** Whole days from `from` to `to`, counted on UTC calendar days (negative when `to` is earlier). */
function daysBetween(from: Date, to: Date): number {
  const day = (d: Date) => Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return Math.round((day(to) - day(from)) / DAY_MS);
}

/** Rounds half away from zero to `decimals`, immune to binary artefacts such as 1.005 * 100 = 100.4999... */
function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals;
  const rounded = Math.round(Number((Math.abs(value) * f).toPrecision(15))) / f;
  return value < 0 ? -rounded : rounded + 0; // + 0 turns -0 into 0
}

// ---------------------------------------------------------------------------------------------------------
// Payout

export interface PayoutInput {
  lossAmount: number;
  deductible: number;
  sumInsured: number;
  /** share of the loss the insurer pays, in (0, 1]; default 1 */
  coinsurance?: number;
}

export interface PayoutResult {
  payout: number;
  /** the loss net of the deductible exceeded the sum insured */
  cappedAtSumInsured: boolean;
}

/**
 * payout = min(max(loss - deductible, 0), sumInsured) * coinsurance, rounded to cents (half up). Computed in
 * decimals (src/processes/money.ts), never in binary floating point: 5.00 x 0.7 is exactly 3.50.
 */
export function computePayout({ lossAmount, deductible, sumInsured, coinsurance = 1 }: PayoutInput): PayoutResult {
  assertNumber('lossAmount', lossAmount);
  assertNumber('deductible', deductible);
  assertNumber('sumInsured', sumInsured);
  if (typeof coinsurance !== 'number' || !Number.isFinite(coinsurance) || coinsurance <= 0 || coinsurance > 1) {
    throw new RangeError(`coinsurance must be in (0, 1], got ${String(coinsurance)}`);
  }
  const net = Money.max(new Money(lossAmount).minus(deductible), 0);
  const cappedAtSumInsured = net.greaterThan(sumInsured);
  return { payout: toNumber(Money.min(net, sumInsured).times(coinsurance)), cappedAtSumInsured };
}

/** True when the payout exceeds what the handler (or the automatic path) may approve alone. */
export function requiresSupervisorApproval(payout: number, authorityLimit: number): boolean {
  assertNumber('payout', payout);
  assertNumber('authorityLimit', authorityLimit);
  return new Money(payout).greaterThan(authorityLimit);
}

// ---------------------------------------------------------------------------------------------------------
// Fraud

export interface FraudIndicator {
  indicator: string;
  weight: number;
}

export type FraudLevel = 'low' | 'medium' | 'high';

export interface FraudScore {
  /** sum of the indicators' weights, capped at 100 */
  score: number;
  /** high >= 50, medium >= 25, low otherwise */
  level: FraudLevel;
  indicators: string[];
}

export const FRAUD_MEDIUM_THRESHOLD = 25;
export const FRAUD_HIGH_THRESHOLD = 50;

/**
 * Combines the FraudIndicators decision's output (COLLECT list) into a score. An indicator listed twice counts
 * once (its highest weight); null/undefined input (no rule matched) counts as no indicator.
 */
export function aggregateFraudScore(indicators: FraudIndicator[] | null | undefined): FraudScore {
  const list = indicators ?? [];
  if (!Array.isArray(list)) throw new RangeError('indicators must be a list of { indicator, weight }');
  const weights = new Map<string, number>();
  for (const item of list) {
    if (!item || typeof item.indicator !== 'string' || item.indicator === '') {
      throw new RangeError(`each indicator needs a name, got ${JSON.stringify(item)}`);
    }
    const weight = assertNumber(`weight of ${item.indicator}`, item.weight);
    weights.set(item.indicator, Math.max(weights.get(item.indicator) ?? 0, weight));
  }
  const score = Math.min(100, roundTo([...weights.values()].reduce((a, b) => a + b, 0), 2));
  const level: FraudLevel = score >= FRAUD_HIGH_THRESHOLD ? 'high' : score >= FRAUD_MEDIUM_THRESHOLD ? 'medium' : 'low';
  return { score, level, indicators: [...weights.keys()] };
}

export interface FraudFacts {
  lossDate: DateInput;
  reportDate: DateInput;
  policyStart: DateInput;
  claimsLast12Months: number;
  claimedAmount: number;
  sumInsured: number;
  /** when the cover (sum insured) was last raised, if ever */
  coverChangedAt?: DateInput | null;
}

/** The inputs of the FraudIndicators decision. */
export interface FraudIndicatorInputs {
  /** days from policy start to loss (negative when the loss predates the policy) */
  daysSinceInception: number;
  claimsLast12Months: number;
  amountToSumInsuredRatio: number;
  /** days from loss to report */
  reportDelayDays: number;
  /** cover raised within `coverChangeWindowDays` before (or on the day of) the loss */
  policyChangedRecently: boolean;
}

export const COVER_CHANGE_WINDOW_DAYS = 60;

export function fraudInputs(facts: FraudFacts, coverChangeWindowDays = COVER_CHANGE_WINDOW_DAYS): FraudIndicatorInputs {
  const lossDate = toDate('lossDate', facts.lossDate);
  const reportDate = toDate('reportDate', facts.reportDate);
  const policyStart = toDate('policyStart', facts.policyStart);
  assertNumber('claimsLast12Months', facts.claimsLast12Months, { integer: true });
  assertNumber('claimedAmount', facts.claimedAmount);
  assertNumber('sumInsured', facts.sumInsured);
  if (facts.sumInsured === 0) throw new RangeError('sumInsured must be greater than 0');
  assertNumber('coverChangeWindowDays', coverChangeWindowDays);

  const reportDelayDays = daysBetween(lossDate, reportDate);
  if (reportDelayDays < 0) throw new RangeError(`reportDate (${facts.reportDate}) is before lossDate (${facts.lossDate})`);

  let policyChangedRecently = false;
  if (facts.coverChangedAt !== undefined && facts.coverChangedAt !== null) {
    const daysBeforeLoss = daysBetween(toDate('coverChangedAt', facts.coverChangedAt), lossDate);
    policyChangedRecently = daysBeforeLoss >= 0 && daysBeforeLoss <= coverChangeWindowDays;
  }

  return {
    daysSinceInception: daysBetween(policyStart, lossDate),
    claimsLast12Months: facts.claimsLast12Months,
    amountToSumInsuredRatio: facts.claimedAmount / facts.sumInsured,
    reportDelayDays,
    policyChangedRecently,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Coverage

/**
 * The terms in force on the loss date: the policy version that covers that day (src/persistence/insurance.ts
 * PolicyVersion, from InsuranceStore.policyVersionOn), whatever the policy's status is today.
 */
export interface CoverForLoss {
  /** first and last day of these terms, inclusive */
  effectiveFrom: DateInput;
  effectiveTo: DateInput;
  perils: string[];
  sumInsured: number;
}

export type CoverageReason = 'POLICY_NOT_ACTIVE' | 'LOSS_OUTSIDE_PERIOD' | 'PERIL_NOT_COVERED' | 'NO_SUM_INSURED';

export interface CoverageResult {
  covered: boolean;
  reason?: CoverageReason;
}

/**
 * Whether the policy covered a loss, judged on the version in force on the loss date (`cover`; null when no
 * version covers that day). Without cover: POLICY_NOT_ACTIVE when a cancellation had taken effect by the loss
 * date (`cancelledFrom`, its first day without cover), else LOSS_OUTSIDE_PERIOD (before the cover began or after
 * it ended). With cover, in order: the day within its span (by UTC calendar day, both ends inclusive), the peril
 * (case-insensitive), a sum insured above 0.
 */
export function policyCoversLoss({ cover, lossDate, peril, cancelledFrom = null }: { cover: CoverForLoss | null; lossDate: DateInput; peril: string; cancelledFrom?: DateInput | null }): CoverageResult {
  const loss = toDate('lossDate', lossDate);
  if (typeof peril !== 'string' || peril.trim() === '') throw new RangeError('peril is required');
  if (cover === null || cover === undefined) {
    const cancelled = cancelledFrom === null || cancelledFrom === undefined ? null : toDate('cancelledFrom', cancelledFrom);
    return { covered: false, reason: cancelled && daysBetween(cancelled, loss) >= 0 ? 'POLICY_NOT_ACTIVE' : 'LOSS_OUTSIDE_PERIOD' };
  }
  if (typeof cover !== 'object') throw new RangeError('cover must be the policy version in force or null');
  const start = toDate('cover.effectiveFrom', cover.effectiveFrom);
  const end = toDate('cover.effectiveTo', cover.effectiveTo);
  if (daysBetween(start, end) < 0) throw new RangeError('cover.effectiveTo is before cover.effectiveFrom');
  if (!Array.isArray(cover.perils)) throw new RangeError('cover.perils must be a list');

  if (daysBetween(start, loss) < 0 || daysBetween(loss, end) < 0) return { covered: false, reason: 'LOSS_OUTSIDE_PERIOD' };
  const wanted = peril.trim().toLowerCase();
  if (!cover.perils.some((p) => typeof p === 'string' && p.trim().toLowerCase() === wanted)) {
    return { covered: false, reason: 'PERIL_NOT_COVERED' };
  }
  if (!(typeof cover.sumInsured === 'number' && cover.sumInsured > 0)) return { covered: false, reason: 'NO_SUM_INSURED' };
  return { covered: true };
}

// ---------------------------------------------------------------------------------------------------------
// Deadlines and numbering

/** The settlement SLA: `hours` calendar hours after the survey was completed (default 72). */
export function settlementDeadline(surveyCompletedAt: Date, hours = 72): Date {
  const at = toDate('surveyCompletedAt', surveyCompletedAt);
  assertNumber('hours', hours);
  return new Date(at.getTime() + hours * 3_600_000);
}

/** 'CLM-20261125-000042': the UTC date and the sequence padded to 6 digits (longer sequences keep all digits). */
export function claimNumber(seq: number, date: Date): string {
  assertNumber('seq', seq, { integer: true });
  const d = toDate('date', date);
  const ymd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return `CLM-${ymd}-${String(seq).padStart(6, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Assessment, rejection reasons, SLA and closure figures (used by the claims handlers)

// Payment authority limits (who may approve which payout) are in processes/decisions/payment-authority.dmn.
/** Missing documents: the customer is reminded after 7 days, the request lapses after 14. */
export const DOCUMENTS_REMINDER_AFTER = 'P7D';
export const DOCUMENTS_DEADLINE_AFTER = 'P14D';

/**
 * The loss retained for the payout: the lowest of what the customer claimed, what the adjuster approved
 * (partial approval) and what the surveyor estimated on site. Missing values are ignored.
 */
export function assessedLoss({ claimedAmount, approvedAmount, surveyedLoss }: { claimedAmount: number; approvedAmount?: number | null; surveyedLoss?: number | null }): number {
  assertNumber('claimedAmount', claimedAmount);
  const values = [claimedAmount];
  if (approvedAmount !== undefined && approvedAmount !== null) values.push(assertNumber('approvedAmount', approvedAmount));
  if (surveyedLoss !== undefined && surveyedLoss !== null) values.push(assertNumber('surveyedLoss', surveyedLoss));
  return toNumber(Money.min(...values));
}

export type RejectionCode =
  | CoverageReason
  | 'POLICY_NOT_FOUND'
  | 'INVALID_LOSS_DATE'
  | 'FRAUD_CONFIRMED'
  | 'REJECTED_ON_REVIEW'
  | 'REJECTED_BY_SUPERVISOR';

export interface Rejection {
  code: RejectionCode;
  /** the sentence sent to the customer */
  reason: string;
}

const COVERAGE_TEXT: Record<string, string> = {
  POLICY_NOT_FOUND: 'we could not find the policy number you gave us',
  INVALID_LOSS_DATE: 'the date of loss is after the date the claim was reported',
  POLICY_NOT_ACTIVE: 'the policy was not in force on the date of the loss',
  LOSS_OUTSIDE_PERIOD: 'the loss happened outside the period of cover',
  PERIL_NOT_COVERED: 'the policy does not cover this kind of loss',
  NO_SUM_INSURED: 'the policy has no sum insured for this cover',
};

/** The customer-facing wording of a coverage refusal. */
export function coverageRejection(code: CoverageReason | 'POLICY_NOT_FOUND' | 'INVALID_LOSS_DATE'): Rejection {
  return { code, reason: `Your claim cannot be accepted because ${COVERAGE_TEXT[code] ?? 'the policy does not cover it'}.` };
}

/**
 * Why a claim was rejected, from the process variables of whichever step rejected it: a coverage refusal (set
 * by the policy check), a fraud finding, a supervisor's refusal, or the adjuster's rejection. Null when nothing
 * in the variables says the claim was rejected.
 */
export function rejectionOf(v: Record<string, unknown>): Rejection | null {
  const text = (x: unknown) => (typeof x === 'string' && x.trim() ? x.trim() : null);
  if (typeof v.rejectionCode === 'string' && v.rejectionCode && text(v.rejectionReason)) {
    return { code: v.rejectionCode as RejectionCode, reason: text(v.rejectionReason)! };
  }
  if (v.investigationOutcome === 'fraud-confirmed') {
    return { code: 'FRAUD_CONFIRMED', reason: text(v.rejectionReason) ?? 'Our investigation found that the claim does not reflect a genuine insured loss.' };
  }
  if (v.supervisorDecision === 'reject') {
    return { code: 'REJECTED_BY_SUPERVISOR', reason: text(v.rejectionReason) ?? 'The claim was not approved at the final approval stage.' };
  }
  if (v.reviewDecision === 'reject') {
    return { code: 'REJECTED_ON_REVIEW', reason: text(v.rejectionReason) ?? 'The claims adjuster could not accept the claim.' };
  }
  return null;
}

/** An ISO 8601 duration (whole seconds, at least 0) from `from` to `to`, for timers computed by a handler. */
export function durationUntil(from: number, to: number): string {
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new RangeError('from and to must be epoch milliseconds');
  return `PT${Math.max(0, Math.ceil((to - from) / 1000))}S`;
}

export interface ClosureFigures {
  /** report to closure, in hours (2 decimals) */
  cycleTimeHours: number;
  /** paid before the settlement deadline and never escalated; null for claims that were not paid */
  slaMet: boolean | null;
  /** loss-ratio inputs: incurred (payout) over earned premium */
  incurred: number;
  earnedPremium: number;
  /** incurred / earned premium (4 decimals); null without premium */
  lossRatio: number | null;
}

/** What the claim contributes to the loss-ratio, cycle-time and SLA analyses when it is closed. */
export function closureFigures(c: { reportedAt: number; closedAt: number; payout: number | null; paidAt: number | null; slaDeadline: number | null; slaBreached: boolean; premium: number | null }): ClosureFigures {
  if (c.closedAt < c.reportedAt) throw new RangeError('closedAt is before reportedAt');
  const incurred = c.payout ?? 0;
  assertNumber('payout', incurred);
  const earnedPremium = c.premium ?? 0;
  const slaMet = c.paidAt === null ? null : !c.slaBreached && (c.slaDeadline === null || c.paidAt <= c.slaDeadline);
  return {
    cycleTimeHours: roundTo((c.closedAt - c.reportedAt) / 3_600_000, 2),
    slaMet,
    incurred,
    earnedPremium,
    lossRatio: earnedPremium > 0 ? new Money(incurred).dividedBy(earnedPremium).toDecimalPlaces(4).toNumber() : null,
  };
}

/** Claim numbers as claimNumber() makes them. */
export function isClaimNumber(text: unknown): text is string {
  return typeof text === 'string' && /^CLM-\d{8}-\d{6,}$/.test(text);
}
