/**
 * Pure rules of claim intake and screening (issue 12): the intake checks of the loss date, possible duplicates,
 * what stops automatic payment, which cover applies on the loss date when none is in force, where a notice to
 * the customer goes, and who decided a rejection. No I/O. Calendar days are ISO `YYYY-MM-DD` (UTC); amounts are
 * CNY in major units, compared with decimal.js (src/processes/money.ts), never binary floating point.
 */
import { Money, amount } from '../money.ts';
import type { RejectionCode } from './rules.ts';

// ---------------------------------------------------------------------------------------------------------
// Intake checks (POST /api/claims, before a claim number is allocated)

/** One refused field of a report, shaped like the form validator's details (`400 VALIDATION_FAILED`). */
export interface IntakeProblem {
  field: string;
  message: string;
  keyword: string;
}

/** True for a real calendar day written `YYYY-MM-DD` (2026-02-30 is not one). */
export function isCalendarDay(text: unknown): text is string {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === text;
}

/**
 * What is wrong with the loss date of a report: not a real `YYYY-MM-DD` day; after `today` (the engine clock's
 * day: a loss cannot be in the future); after `reportDate` (the day the loss is reported; at intake that is
 * today, so a report never names a later loss); before `firstCoverFrom` (the first day of the policy's first
 * version: no version of the policy could ever cover it). `firstCoverFrom` null: the policy is not on file (the
 * coverage check of the process refuses the claim and tells the reporter). Empty when the date is acceptable.
 */
export function lossDateProblems({ lossDate, today, reportDate = today, firstCoverFrom = null }: { lossDate: unknown; today: string; reportDate?: string; firstCoverFrom?: string | null }): IntakeProblem[] {
  if (!isCalendarDay(today) || !isCalendarDay(reportDate)) throw new RangeError(`today and reportDate must be calendar days YYYY-MM-DD, got ${String(today)} and ${String(reportDate)}`);
  if (firstCoverFrom !== null && !isCalendarDay(firstCoverFrom)) throw new RangeError(`firstCoverFrom must be a calendar day YYYY-MM-DD, got ${String(firstCoverFrom)}`);
  if (!isCalendarDay(lossDate)) return [{ field: 'lossDate', keyword: 'format', message: `must be a real calendar day written YYYY-MM-DD, got ${JSON.stringify(lossDate)}` }];
  if (lossDate > today) return [{ field: 'lossDate', keyword: 'notInFuture', message: `must not be in the future: ${lossDate} is after today (${today})` }];
  if (lossDate > reportDate) return [{ field: 'lossDate', keyword: 'notAfterReport', message: `must not be after the day the loss is reported (${reportDate}), got ${lossDate}` }];
  if (firstCoverFrom !== null && lossDate < firstCoverFrom) {
    return [{ field: 'lossDate', keyword: 'withinCover', message: `is before the policy's cover began (${firstCoverFrom}): no version of the policy covers ${lossDate}` }];
  }
  return [];
}

/**
 * A report on a policy number that is not on file must bring a contact (contactEmail or contactPhone): the
 * refusal of the claim is sent there, there being no policyholder to write to.
 */
export function contactProblems({ policyOnFile, contactEmail, contactPhone }: { policyOnFile: boolean; contactEmail?: unknown; contactPhone?: unknown }): IntakeProblem[] {
  const given = (v: unknown) => typeof v === 'string' && v.trim() !== '';
  if (policyOnFile || given(contactEmail) || given(contactPhone)) return [];
  return [{ field: 'contactEmail', keyword: 'contactRequired', message: 'the policy number is not on file: give contactEmail or contactPhone so that the decision on the claim reaches the reporter' }];
}

// ---------------------------------------------------------------------------------------------------------
// Possible duplicates

/** Paid claims count as possible originals for this many days after their payment. */
export const DUPLICATE_WINDOW_DAYS = 90;
/** Amounts match when they differ by at most this share of the larger one... */
export const DUPLICATE_TOLERANCE_SHARE = '0.10';
/** ...or by at most this many CNY, whichever is larger. */
export const DUPLICATE_TOLERANCE_MIN = 500;

/** Another claim on the same policy with the same loss date and peril (what the query found). */
export interface SameLossClaim {
  claimNo: string;
  status: string;
  claimedAmount: number;
  /** epoch ms; null when not paid */
  paidAt: number | null;
  /** epoch ms */
  reportedAt: number;
}

/** |a - b| <= max(10% of the larger amount, 500 CNY), in decimals. */
export function amountsMatch(a: number, b: number): boolean {
  const x = amount(a);
  const y = amount(b);
  const larger = Money.max(x, y);
  const tolerance = Money.max(larger.times(DUPLICATE_TOLERANCE_SHARE), DUPLICATE_TOLERANCE_MIN);
  return x.minus(y).abs().lessThanOrEqualTo(tolerance);
}

/**
 * The claim a new claim may duplicate, among `sameLoss` (same policy, loss date and peril): one that is open or
 * was paid within DUPLICATE_WINDOW_DAYS before `now` (epoch ms), with a claimed amount within the tolerance
 * (amountsMatch). Rejected claims and claims paid longer ago do not count. The earliest reported wins; null
 * when none matches.
 */
export function possibleDuplicateOf(claim: { claimNo: string; claimedAmount: number }, sameLoss: readonly SameLossClaim[], now: number): SameLossClaim | null {
  const since = now - DUPLICATE_WINDOW_DAYS * 86_400_000;
  const candidates = sameLoss
    .filter((o) => o.claimNo !== claim.claimNo)
    .filter((o) => o.status === 'open' || (o.paidAt !== null && o.paidAt >= since))
    .filter((o) => amountsMatch(o.claimedAmount, claim.claimedAmount))
    .sort((a, b) => a.reportedAt - b.reportedAt || a.claimNo.localeCompare(b.claimNo));
  return candidates[0] ?? null;
}

// ---------------------------------------------------------------------------------------------------------
// Automatic payment

/**
 * Indicators of the FraudIndicators decision (processes/decisions/fraud-indicators.dmn) after which a claim is
 * never approved automatically: a person decides at review, whatever the score.
 */
export const STOP_AUTO_PAYMENT_INDICATORS: readonly string[] = ['POSSIBLE_DUPLICATE', 'EXCESSIVE_CLAIM_FREQUENCY'];

/**
 * Why a claim may not be approved automatically: the stopping indicators among its fraud indicators, and
 * POSSIBLE_DUPLICATE whenever the claim is marked as a possible duplicate (even if the decision did not say so).
 * Empty: nothing stops it.
 */
export function autoPaymentStoppedBy({ indicators, duplicateOf }: { indicators: readonly string[] | null | undefined; duplicateOf: string | null | undefined }): string[] {
  const found = new Set((indicators ?? []).filter((i) => STOP_AUTO_PAYMENT_INDICATORS.includes(i)));
  if (duplicateOf) found.add('POSSIBLE_DUPLICATE');
  return [...found].sort();
}

// ---------------------------------------------------------------------------------------------------------
// Cover on the loss date

/**
 * The first day without cover of a cancellation that took effect on or before `lossDate`, among a policy's
 * versions (a cancellation version has `effectiveFrom` = its first day without cover); null when none did.
 */
export function cancelledOnOrBefore(versions: readonly { reason: string; effectiveFrom: string }[], lossDate: string): string | null {
  const days = versions.filter((v) => v.reason === 'cancellation' && v.effectiveFrom <= lossDate).map((v) => v.effectiveFrom);
  return days.length ? days.sort()[0] : null;
}

// ---------------------------------------------------------------------------------------------------------
// Notices to the customer

export type NoticeChannel = 'email' | 'sms' | 'post';

export interface NoticeAddress {
  channel: NoticeChannel;
  /** the e-mail address, phone number or postal address */
  recipient: string;
}

const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);

/**
 * Where a notice about a claim goes. The policyholder's preferred channel (customers.preferred_channel: email,
 * sms or post) when they have an address for it; otherwise their e-mail, phone or postal address, in that order;
 * without a policyholder (policy number not on file) the contact given at the report, e-mail before phone. Null
 * when nobody can be reached.
 */
export function noticeAddress(
  customer: { email: string | null; phone: string | null; preferredChannel?: string | null; postalAddress?: string | null } | null,
  contact: { contactEmail?: unknown; contactPhone?: unknown } = {},
): NoticeAddress | null {
  if (customer) {
    const addresses: Record<NoticeChannel, string | null> = { email: text(customer.email), sms: text(customer.phone), post: text(customer.postalAddress) };
    const preferred = customer.preferredChannel as NoticeChannel | null | undefined;
    if (preferred && preferred in addresses && addresses[preferred]) return { channel: preferred, recipient: addresses[preferred]! };
    for (const channel of ['email', 'sms', 'post'] as const) if (addresses[channel]) return { channel, recipient: addresses[channel]! };
  }
  const email = text(contact.contactEmail);
  if (email) return { channel: 'email', recipient: email };
  const phone = text(contact.contactPhone);
  if (phone) return { channel: 'sms', recipient: phone };
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Who decided

/** Rejections the rules make without a person (the coverage check). */
const AUTOMATIC_REJECTIONS: ReadonlySet<string> = new Set(['POLICY_NOT_FOUND', 'INVALID_LOSS_DATE', 'POLICY_NOT_ACTIVE', 'LOSS_OUTSIDE_PERIOD', 'PERIL_NOT_COVERED', 'NO_SUM_INSURED']);

/** claims.decision_mode of a rejection: 'automatic' for a coverage refusal, 'manual' for a person's. */
export function rejectionDecisionMode(code: RejectionCode | string): 'automatic' | 'manual' {
  return AUTOMATIC_REJECTIONS.has(code) ? 'automatic' : 'manual';
}
