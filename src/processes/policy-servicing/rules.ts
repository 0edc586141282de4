/**
 * Pure rules of policy servicing (endorsement, cancellation, renewal): premiums, pro-rata amounts and the dates a
 * policy lives by. No I/O. Money is decimal (src/processes/money.ts), amounts in CNY major units rounded to the
 * fen half up; calendar dates are `YYYY-MM-DD` (UTC), both ends of a span inclusive. Bad input is a RangeError
 * naming the field.
 */
import { DAY_MS, assertNumber } from '../rule-checks.ts';
import { Money, amount, toNumber, type Amount } from '../money.ts';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Milliseconds of 00:00 UTC of a calendar date; RangeError when it is not a real `YYYY-MM-DD` date. */
export function dayStart(name: string, date: unknown): number {
  if (typeof date !== 'string' || !DATE.test(date)) throw new RangeError(`${name} must be a date YYYY-MM-DD, got ${JSON.stringify(date)}`);
  const ms = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) throw new RangeError(`${name} is not a calendar date: ${date}`);
  return ms;
}

/** The calendar date `days` days after `date` (negative: before). */
export function addDays(date: string, days: number): string {
  assertNumber('days', days, { integer: true, min: -100_000 });
  return new Date(dayStart('date', date) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both included (0 when `to` is before `from`). */
export function daysInclusive(from: string, to: string): number {
  const n = Math.round((dayStart('to', to) - dayStart('from', from)) / DAY_MS) + 1;
  return Math.max(0, n);
}

export interface Rating {
  /** sum insured, CNY */
  sumInsured: number;
  /** premium per unit of sum insured (the product's base rate) */
  baseRate: number;
  /** from the RiskFactor decision */
  riskFactor: number;
  /** from the CreditGradeFactor decision */
  creditFactor: number;
  /** discount granted on the policy, 0..100 (default 0) */
  discountPercent?: number;
}

/**
 * Annual premium: sumInsured x baseRate x riskFactor x creditFactor, less the policy's discount, in decimals and
 * rounded to the fen. A factor of 0 or missing (a decision that matched no rule) is refused, as in sales.
 */
export function annualPremium(r: Rating): number {
  assertNumber('sumInsured', r.sumInsured);
  assertNumber('baseRate', r.baseRate);
  assertNumber('riskFactor', r.riskFactor);
  assertNumber('creditFactor', r.creditFactor);
  const discount = assertNumber('discountPercent', r.discountPercent ?? 0);
  if (r.riskFactor === 0) throw new RangeError('riskFactor must be greater than 0');
  if (r.creditFactor === 0) throw new RangeError('creditFactor must be greater than 0');
  if (discount > 100) throw new RangeError(`discountPercent must be <= 100, got ${discount}`);
  const gross = new Money(String(r.sumInsured)).times(String(r.baseRate)).times(String(r.riskFactor)).times(String(r.creditFactor)).toDecimalPlaces(2);
  const off = gross.times(discount).dividedBy(100).toDecimalPlaces(2);
  return toNumber(gross.minus(off));
}

/**
 * The annual premium after a change of cover: the current premium scaled by the ratio of the rating of the new
 * terms to the rating of the current terms, both on the same tariff (rate, discount), each rating unrounded
 * (sumInsured x baseRate x riskFactor x creditFactor less the discount). A change that leaves the rating inputs
 * as they are leaves the premium exactly as it is, whatever tariff the current premium came from; a sum insured
 * raised by a sixth raises it by a sixth. Decimal, rounded half up to the fen. A current rating of 0 (no sum
 * insured) cannot be scaled: the new rating is the premium then.
 */
export function rescaledPremium(currentPremium: number, current: Rating, next: Rating): number {
  const gross = (r: Rating) => {
    annualPremium(r); // the same checks (factors > 0, discount 0..100)
    const discount = new Money(String(r.discountPercent ?? 0));
    return new Money(String(r.sumInsured)).times(String(r.baseRate)).times(String(r.riskFactor)).times(String(r.creditFactor)).times(new Money(100).minus(discount)).dividedBy(100);
  };
  const was = gross(current);
  if (was.isZero()) return annualPremium(next);
  return toNumber(amount(currentPremium).times(gross(next)).dividedBy(was).toDecimalPlaces(2, Money.ROUND_HALF_UP));
}

/** The share of a term still to run on `from`: days from `from` to the term's end over the term's days (a Decimal). */
function unexpiredShare(from: string, termStart: string, termEnd: string): Amount {
  const term = daysInclusive(termStart, termEnd);
  if (term <= 0) throw new RangeError(`the term ${termStart}..${termEnd} has no days`);
  const start = dayStart('from', from) < dayStart('termStart', termStart) ? termStart : from;
  return new Money(daysInclusive(start, termEnd)).dividedBy(term);
}

export interface PremiumChange {
  oldPremium: number;
  newPremium: number;
  /** newPremium - oldPremium (annual) */
  annualDifference: number;
  /** change of the annual premium in percent of the old one (100 when the old one was 0 and the new one is not) */
  changePercent: number;
  /** days from the effective date to the end of the term, both included */
  remainingDays: number;
  termDays: number;
  /** the annual difference for the rest of the term: > 0 the customer owes it, < 0 the insurer refunds it */
  proRataDifference: number;
}

/** What an endorsement effective on `effectiveFrom` changes in premium, pro rata over the rest of the term. */
export function premiumChange(oldPremium: number, newPremium: number, effectiveFrom: string, termStart: string, termEnd: string): PremiumChange {
  const oldP = amount(oldPremium);
  const newP = amount(newPremium);
  const diff = newP.minus(oldP);
  const share = unexpiredShare(effectiveFrom, termStart, termEnd);
  const changePercent = oldP.isZero() ? (diff.isZero() ? 0 : 100) : diff.dividedBy(oldP).times(100).toDecimalPlaces(2).toNumber();
  return {
    oldPremium: toNumber(oldP),
    newPremium: toNumber(newP),
    annualDifference: toNumber(diff),
    changePercent,
    remainingDays: daysInclusive(dayStart('effectiveFrom', effectiveFrom) < dayStart('termStart', termStart) ? termStart : effectiveFrom, termEnd),
    termDays: daysInclusive(termStart, termEnd),
    proRataDifference: toNumber(diff.times(share)),
  };
}

export interface Refund {
  /** premium received for the term less refunds already made (from the ledger) */
  netPaid: number;
  /** days of the term from the first day without cover to its end, both included */
  unearnedDays: number;
  termDays: number;
  /** netPaid x unearnedDays / termDays x refundShare, rounded to the fen; never negative, never above netPaid */
  refund: number;
}

/**
 * Refund of the unearned premium when cover ends before the term does: `firstDayWithoutCover` is the cancellation's
 * effective date. `refundShare` (0..1, from the CancellationTerms decision) keeps a surrender charge; `basis`
 * 'premium' refunds the whole net premium (cancellation in the cooling-off period).
 */
export function cancellationRefund(input: { netPaid: number; firstDayWithoutCover: string; termStart: string; termEnd: string; refundShare: number; basis?: 'unearned' | 'premium' }): Refund {
  const paid = amount(input.netPaid, { allowNegative: true });
  const share = assertNumber('refundShare', input.refundShare);
  if (share > 1) throw new RangeError(`refundShare must be <= 1, got ${share}`);
  const termDays = daysInclusive(input.termStart, input.termEnd);
  const unearned = input.basis === 'premium' ? new Money(1) : unexpiredShare(input.firstDayWithoutCover, input.termStart, input.termEnd);
  const unearnedDays = input.basis === 'premium' ? termDays : daysInclusive(dayStart('firstDayWithoutCover', input.firstDayWithoutCover) < dayStart('termStart', input.termStart) ? input.termStart : input.firstDayWithoutCover, input.termEnd);
  const positive = paid.isNegative() ? new Money(0) : paid;
  const refund = positive.times(unearned).times(String(share)).toDecimalPlaces(2, Money.ROUND_HALF_UP);
  return { netPaid: toNumber(paid), unearnedDays, termDays, refund: toNumber(Money.min(refund, positive)) };
}

/** The next term after a term ending on `endDate`: from the day after, for `months` months, the last day included. */
export function nextTerm(endDate: string, months = 12): { startDate: string; endDate: string } {
  assertNumber('months', months, { integer: true, min: 1 });
  const start = addDays(endDate, 1);
  const s = new Date(`${start}T00:00:00Z`);
  const target = new Date(Date.UTC(s.getUTCFullYear(), s.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  const anniversary = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(s.getUTCDate(), lastDay)));
  return { startDate: start, endDate: addDays(anniversary.toISOString().slice(0, 10), -1) };
}

/** Days before the end of cover the renewal offer goes out. */
export const RENEWAL_OFFER_DAYS = 30;

/**
 * When a renewal offer goes out (00:00 UTC `daysBefore` days before the end date, never before `now`) and when the
 * unpaid policy lapses (00:00 UTC of the day after its end date): ISO 8601 date-times for the diagram's timers.
 */
export function renewalSchedule(endDate: string, now: number, daysBefore = RENEWAL_OFFER_DAYS): { offerAt: string; lapseAt: string } {
  assertNumber('daysBefore', daysBefore, { integer: true });
  const offer = Math.max(dayStart('endDate', endDate) - daysBefore * DAY_MS, now);
  return { offerAt: new Date(offer).toISOString(), lapseAt: new Date(dayStart('endDate', endDate) + DAY_MS).toISOString() };
}

/** `amount` formatted for a notice: 1234.5 -> "1,234.50". */
export function cny(value: number): string {
  return toNumber(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
