/**
 * Pure sales rules: premium, policy numbering and the dates a quote or policy lives by. No I/O; invalid inputs
 * throw RangeError. Dates are shifted by whole UTC days (24 h each).
 */

import { DAY_MS, assertNumber } from '../rule-checks.ts';
import { parseDateTime } from '../../engine/iso.ts';
import { Money, amount, sum, toCents, toNumber } from '../money.ts';

function assertDate(name: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new RangeError(`${name} must be a valid Date, got ${String(value)}`);
  return value;
}

export interface PremiumInput {
  /** premium per unit of sum insured, e.g. 0.0025 */
  baseRate: number;
  /** CNY major units */
  sumInsured: number;
  /** from the RiskFactor decision */
  riskFactor: number;
  /** from the CreditGradeFactor decision */
  creditFactor: number;
  /** 0..100; default 0 */
  discountPercent?: number;
}

/** Amounts in CNY major units with at most 2 decimals. */
export interface Premium {
  grossPremium: number;
  discount: number;
  netPremium: number;
}

/**
 * grossPremium = sumInsured * baseRate * riskFactor * creditFactor; discount = gross * discountPercent / 100;
 * each amount rounded to cents (half up) in decimal arithmetic (../money.ts: every input is read by its shortest
 * decimal text, so 0.0025 is exactly 0.0025) and netPremium = grossPremium - discount (the three always add up).
 * A missing factor (null: the decision matched no rule) is refused rather than priced as 0.
 */
export function computePremium({ baseRate, sumInsured, riskFactor, creditFactor, discountPercent = 0 }: PremiumInput): Premium {
  assertNumber('baseRate', baseRate);
  assertNumber('sumInsured', sumInsured);
  assertNumber('riskFactor', riskFactor);
  assertNumber('creditFactor', creditFactor);
  if (riskFactor === 0) throw new RangeError('riskFactor must be greater than 0');
  if (creditFactor === 0) throw new RangeError('creditFactor must be greater than 0');
  assertNumber('discountPercent', discountPercent);
  if (discountPercent > 100) throw new RangeError(`discountPercent must be <= 100, got ${discountPercent}`);

  const dec = (n: number) => new Money(String(n));
  const gross = toCents(dec(sumInsured).times(dec(baseRate)).times(dec(riskFactor)).times(dec(creditFactor)));
  const discount = toCents(gross.times(dec(discountPercent)).dividedBy(100));
  return { grossPremium: toNumber(gross), discount: toNumber(discount), netPremium: toNumber(gross.minus(discount)) };
}

/** Where the premium payments of a quote stand against its net premium (amounts in CNY major units, 2 decimals). */
export interface PremiumBalance {
  /** sum of the payments received */
  received: number;
  /** still to pay (0 once the premium is covered) */
  outstanding: number;
  /** received above the premium: due back to the customer (0 unless overpaid) */
  overpaid: number;
  /** unpaid: nothing received; partial: less than the premium; paid: exactly the premium; overpaid: more */
  status: 'unpaid' | 'partial' | 'paid' | 'overpaid';
}

/**
 * Compares the payments received with the net premium, exactly (decimal arithmetic): only `paid` and `overpaid`
 * cover the premium. Every amount must be a valid amount of money (>= 0, at most 2 decimals), else RangeError.
 */
export function premiumBalance(netPremium: number | string, payments: readonly (number | string)[]): PremiumBalance {
  const net = amount(netPremium);
  const received = sum(payments.map((p) => amount(p)));
  const diff = received.minus(net);
  const status = received.isZero() && !net.isZero() ? 'unpaid' : diff.isNegative() && !diff.isZero() ? 'partial' : diff.isZero() ? 'paid' : 'overpaid';
  return {
    received: toNumber(received),
    outstanding: status === 'unpaid' || status === 'partial' ? toNumber(diff.negated()) : 0,
    overpaid: status === 'overpaid' ? toNumber(diff) : 0,
    status,
  };
}

/** 'POL-HOME-2026-000042': upper-cased product code, the UTC year and the sequence padded to 6 digits. */
export function policyNumber(productCode: string, seq: number, date: Date): string {
  if (typeof productCode !== 'string' || !/^[A-Za-z0-9]+$/.test(productCode)) {
    throw new RangeError(`productCode must be letters and digits only, got ${JSON.stringify(productCode)}`);
  }
  assertNumber('seq', seq, { integer: true });
  const d = assertDate('date', date);
  return `POL-${productCode.toUpperCase()}-${d.getUTCFullYear()}-${String(seq).padStart(6, '0')}`;
}

/** When to remind the customer of the renewal: `daysBefore` days (default 30) before the policy ends. */
export function renewalReminderDate(policyEnd: Date, daysBefore = 30): Date {
  assertDate('policyEnd', policyEnd);
  assertNumber('daysBefore', daysBefore, { integer: true });
  return new Date(policyEnd.getTime() - daysBefore * DAY_MS);
}

/** When a quote lapses: `days` days (default 30) after it was issued. */
export function offerExpiry(quotedAt: Date, days = 30): Date {
  assertDate('quotedAt', quotedAt);
  assertNumber('days', days, { integer: true });
  return new Date(quotedAt.getTime() + days * DAY_MS);
}

/** Days a signed contract waits for its first premium before it lapses. */
export const PAYMENT_GRACE_DAYS = 15;

/** 'QUO-2026-000042': the UTC year and the sequence padded to 6 digits. */
export function quoteNumber(seq: number, date: Date): string {
  assertNumber('seq', seq, { integer: true });
  const d = assertDate('date', date);
  return `QUO-${d.getUTCFullYear()}-${String(seq).padStart(6, '0')}`;
}

/** 'CUST-000042'. */
export function customerNumber(seq: number): string {
  assertNumber('seq', seq, { integer: true });
  return `CUST-${String(seq).padStart(6, '0')}`;
}

/**
 * The period of cover: from the requested start (never before `today`) for `months` months, the last day
 * included (2026-03-01 for 12 months -> 2027-02-28). Dates are YYYY-MM-DD (UTC).
 */
export function policyPeriod(requestedStart: string | null | undefined, today: Date, months = 12): { startDate: string; endDate: string } {
  assertDate('today', today);
  assertNumber('months', months, { integer: true, min: 1 });
  const todayText = today.toISOString().slice(0, 10);
  let start = todayText;
  if (requestedStart !== null && requestedStart !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(requestedStart) || parseDateTime(requestedStart) === null) {
      throw new RangeError(`requestedStart must be a date YYYY-MM-DD, got ${JSON.stringify(requestedStart)}`);
    }
    if (requestedStart > todayText) start = requestedStart;
  }
  const s = new Date(`${start}T00:00:00Z`);
  const target = new Date(Date.UTC(s.getUTCFullYear(), s.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  const anniversary = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(s.getUTCDate(), lastDay)));
  const end = new Date(anniversary.getTime() - DAY_MS);
  return { startDate: start, endDate: end.toISOString().slice(0, 10) };
}
