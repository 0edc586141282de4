/**
 * The figures of the operations reports (issue 12, section 5), computed from the per-(channel, peril) and
 * per-product aggregates of src/persistence/reports.ts. Pure: no I/O. Money is summed in decimals
 * (./../money.ts) and returned in CNY major units with two decimals; shares are fractions in [0, 1] with four
 * decimals; durations are hours with two decimals (half up).
 */
import { Money, fromMinor, type Amount } from '../money.ts';
import type { ClaimCell, SalesCell } from '../../persistence/reports.ts';

const HOUR_MS = 3_600_000;

/** The figures of a set of claims (the whole report, one channel or one peril). */
export interface ClaimFigures {
  /** claims reported in the period (under the filters) */
  reported: number;
  /** of those, still open (status open) */
  open: number;
  /** paid (money was paid out, closed since or not) */
  paid: number;
  /** accepted with nothing to pay (the loss did not exceed the deductible): not counted as paid */
  acceptedWithoutPayout: number;
  /** rejected */
  rejected: number;
  /** closed (paid and closed, or rejected and closed) */
  closed: number;
  /** sum of the payouts of the paid claims (CNY, 2 decimals) */
  paidAmount: number;
  /** mean time from the report to the payment of the paid claims, in hours (2 decimals); null when none was paid */
  averageHoursToPayment: number | null;
  /** claims whose 72-hour settlement deadline passed before payment */
  slaBreaches: number;
  /** claims decided (approved or rejected) without a person */
  automatic: number;
  /** claims decided by a person (adjuster, investigator, supervisor) */
  manual: number;
  /** automatic / (automatic + manual), 4 decimals; null when none was decided */
  automaticShare: number | null;
  /** fraud investigations that confirmed the suspicion */
  fraudConfirmed: number;
  /** fraud investigations that cleared the claim */
  fraudCleared: number;
  /** sum of the outstanding reserves of the open claims (CNY, 2 decimals) */
  openReserves: number;
}

export interface ClaimsReport {
  totals: ClaimFigures;
  byChannel: (ClaimFigures & { channel: string })[];
  byPeril: (ClaimFigures & { peril: string })[];
}

interface ClaimSums {
  counts: Omit<ClaimFigures, 'paidAmount' | 'averageHoursToPayment' | 'automaticShare' | 'openReserves'>;
  paidMinor: Amount;
  paidDelayMs: Amount;
  reserveMinor: Amount;
}

const COUNTS = ['reported', 'open', 'paid', 'acceptedWithoutPayout', 'rejected', 'closed', 'slaBreaches', 'automatic', 'manual', 'fraudConfirmed', 'fraudCleared'] as const;

function sumCells(cells: readonly ClaimCell[]): ClaimSums {
  const counts = Object.fromEntries(COUNTS.map((c) => [c, 0])) as ClaimSums['counts'];
  let paidMinor = new Money(0);
  let paidDelayMs = new Money(0);
  let reserveMinor = new Money(0);
  for (const cell of cells) {
    for (const c of COUNTS) counts[c] += cell[c];
    paidMinor = paidMinor.plus(new Money(cell.paidMinor));
    paidDelayMs = paidDelayMs.plus(new Money(cell.paidDelayMs));
    reserveMinor = reserveMinor.plus(new Money(cell.openReserveMinor));
  }
  return { counts, paidMinor, paidDelayMs, reserveMinor };
}

/** A ratio rounded half up to `places` decimals, or null for a zero denominator. */
function ratio(numerator: Amount | number, denominator: number, places: number): number | null {
  if (!denominator) return null;
  return new Money(numerator).dividedBy(denominator).toDecimalPlaces(places, Money.ROUND_HALF_UP).toNumber();
}

function figuresOf(cells: readonly ClaimCell[]): ClaimFigures {
  const s = sumCells(cells);
  const c = s.counts;
  return {
    reported: c.reported,
    open: c.open,
    paid: c.paid,
    acceptedWithoutPayout: c.acceptedWithoutPayout,
    rejected: c.rejected,
    closed: c.closed,
    paidAmount: fromMinor(s.paidMinor.toNumber()),
    averageHoursToPayment: ratio(s.paidDelayMs.dividedBy(HOUR_MS), c.paid, 2),
    slaBreaches: c.slaBreaches,
    automatic: c.automatic,
    manual: c.manual,
    automaticShare: ratio(c.automatic, c.automatic + c.manual, 4),
    fraudConfirmed: c.fraudConfirmed,
    fraudCleared: c.fraudCleared,
    openReserves: fromMinor(s.reserveMinor.toNumber()),
  };
}

function groups<K extends string>(cells: readonly ClaimCell[], key: (c: ClaimCell) => string, name: K): (ClaimFigures & Record<K, string>)[] {
  const by = new Map<string, ClaimCell[]>();
  for (const c of cells) {
    const k = key(c);
    const list = by.get(k);
    if (list) list.push(c);
    else by.set(k, [c]);
  }
  return [...by.keys()].sort().map((k) => ({ [name]: k, ...figuresOf(by.get(k)!) }) as ClaimFigures & Record<K, string>);
}

/** The claims report of the aggregates of its claims: totals, and the same figures per channel and per peril. */
export function claimsReport(cells: readonly ClaimCell[]): ClaimsReport {
  return {
    totals: figuresOf(cells),
    byChannel: groups(cells, (c) => c.channel, 'channel'),
    byPeril: groups(cells, (c) => c.peril, 'peril'),
  };
}

/** The figures of a set of quotes (the whole report or one product). */
export interface SalesFigures {
  /** quotes created in the period */
  quotes: number;
  /** of those, offered to the customer */
  offered: number;
  /** converted: a policy was issued */
  issued: number;
  /** closed as lost by the agent */
  declined: number;
  /** the offer expired unsigned */
  expired: number;
  /** signed, but the premium was not paid in time */
  lapsed: number;
  /** neither issued nor lost yet */
  inProgress: number;
  /** issued / quotes, 4 decimals; null without quotes */
  conversionRate: number | null;
  /** sum of the net premiums of the issued quotes (CNY, 2 decimals) */
  premiumBooked: number;
}

export interface SalesReport {
  totals: SalesFigures;
  byProduct: (SalesFigures & { productCode: string })[];
}

function salesFiguresOf(cells: readonly SalesCell[]): SalesFigures {
  const n = { quotes: 0, offered: 0, issued: 0, declined: 0, expired: 0, lapsed: 0 };
  let premium = new Money(0);
  for (const c of cells) {
    for (const k of Object.keys(n) as (keyof typeof n)[]) n[k] += c[k];
    premium = premium.plus(new Money(c.premiumMinor));
  }
  return {
    ...n,
    inProgress: n.quotes - n.issued - n.declined - n.expired - n.lapsed,
    conversionRate: ratio(n.issued, n.quotes, 4),
    premiumBooked: fromMinor(premium.toNumber()),
  };
}

/** The sales report: conversion of the quotes of the period, in total and per product. */
export function salesReport(cells: readonly SalesCell[]): SalesReport {
  return {
    totals: salesFiguresOf(cells),
    byProduct: [...cells].sort((a, b) => (a.productCode < b.productCode ? -1 : 1)).map((c) => ({ productCode: c.productCode, ...salesFiguresOf([c]) })),
  };
}
