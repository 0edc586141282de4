/**
 * Money of the insurance domain (issue 12): amounts are decimals with at most two fraction digits (CNY fen, the
 * minor unit), computed with decimal.js and never with binary floating point. At the edges (JSON, the database's
 * decimal(15,2), FEEL results) an amount is a JavaScript number or a decimal string; `parseAmount` accepts it only
 * when it is exactly representable in minor units, and the functions here return numbers rounded to the minor
 * unit (half up, as a cashier rounds), so a stored or displayed amount never carries a float artefact such as
 * 0.30000000000000004.
 */
import { Decimal } from 'decimal.js';

/** Largest amount the domain handles: 1e13 in major units keeps minor units within Number.MAX_SAFE_INTEGER. */
export const MAX_AMOUNT = 10_000_000_000_000;

const D = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP });
export type Amount = InstanceType<typeof D>;

/** Why `parseAmount` refused a value (a stable code a route maps to 400 VALIDATION_FAILED). */
export type AmountProblem = 'not-a-number' | 'negative' | 'too-many-decimals' | 'too-large';

/**
 * The amount in `value` (number or decimal string, major units), or the problem with it. Refuses NaN/Infinity,
 * negatives (unless `allowNegative`), more than two fraction digits and amounts above MAX_AMOUNT.
 */
export function parseAmount(value: unknown, opts: { allowNegative?: boolean } = {}): Amount | AmountProblem {
  if (typeof value !== 'number' && typeof value !== 'string') return 'not-a-number';
  if (typeof value === 'number' && !Number.isFinite(value)) return 'not-a-number';
  if (typeof value === 'string' && !/^-?\d+(\.\d+)?$/.test(value.trim())) return 'not-a-number';
  // a number is read by its shortest round-trip text (0.1 -> "0.1"), the amount the sender wrote
  const d = new D(typeof value === 'number' ? String(value) : value.trim());
  if (d.isNegative() && !d.isZero() && !opts.allowNegative) return 'negative';
  if (d.decimalPlaces() > 2) return 'too-many-decimals';
  if (d.abs().greaterThan(MAX_AMOUNT)) return 'too-large';
  return d;
}

/** The amount as a Decimal; throws RangeError on anything parseAmount refuses (for values already validated). */
export function amount(value: unknown, opts: { allowNegative?: boolean } = {}): Amount {
  const r = parseAmount(value, opts);
  if (typeof r === 'string') throw new RangeError(`not an amount of money (${r}): ${JSON.stringify(value)}`);
  return r;
}

/** Rounds to the minor unit, half up. */
export const toCents = (d: Amount | number | string): Amount => new D(d as Decimal.Value).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);

/** A Decimal (or decimal-valued input) as a number rounded to the minor unit: safe to put in JSON or a decimal(15,2) column. */
export const toNumber = (d: Amount | number | string): number => toCents(d).toNumber();

/** Integer minor units (fen) of an amount, rounded half up. */
export const toMinor = (d: Amount | number | string): number => toCents(d).times(100).toNumber();

/** Major units from integer minor units. */
export const fromMinor = (minor: number): number => new D(minor).dividedBy(100).toNumber();

/** Sum of amounts, exact. */
export const sum = (values: readonly (Amount | number | string)[]): Amount => values.reduce<Amount>((acc, v) => acc.plus(new D(v as Decimal.Value)), new D(0));

/** `a × factor` rounded to the minor unit (e.g. a loss times the coinsurance share, a premium times a rate). */
export const times = (a: Amount | number | string, factor: Amount | number | string): Amount => toCents(new D(a as Decimal.Value).times(new D(factor as Decimal.Value)));

/** The Decimal constructor configured for money (40 significant digits, half-up rounding). */
export const Money = D;
