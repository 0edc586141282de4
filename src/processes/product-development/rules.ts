/** Pure product-development rules (pricing of a new product). No I/O; invalid inputs throw RangeError. */

export interface BaseRateInput {
  /** expected claims cost per unit of sum insured, e.g. 0.002 */
  expectedLossCost: number;
  /** share of the premium spent on expenses, 0..1 */
  expenseLoading: number;
  /** share of the premium kept as profit, 0..1 */
  profitLoading: number;
}

/**
 * Loaded base rate: expectedLossCost / (1 - expenseLoading - profitLoading), rounded to 6 decimals.
 * Throws RangeError when a value is negative or not finite, or when the loadings reach 100% of the premium.
 */
export function actuarialBaseRate({ expectedLossCost, expenseLoading, profitLoading }: BaseRateInput): number {
  for (const [name, value] of Object.entries({ expectedLossCost, expenseLoading, profitLoading })) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${String(value)}`);
    if (value < 0) throw new RangeError(`${name} must be >= 0, got ${value}`);
  }
  const loadings = expenseLoading + profitLoading;
  if (loadings >= 1) {
    throw new RangeError(`expenseLoading + profitLoading must be below 1 (100% of the premium), got ${loadings}`);
  }
  const rate = expectedLossCost / (1 - loadings);
  return Math.round(Number((rate * 1e6).toPrecision(15))) / 1e6;
}
