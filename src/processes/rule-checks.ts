/** Input checks shared by the pure insurance rules: bad input is a RangeError naming the field. */

export const DAY_MS = 86_400_000;

export function assertNumber(name: string, value: unknown, { min = 0, integer = false }: { min?: number; integer?: boolean } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${String(value)}`);
  if (value < min) throw new RangeError(`${name} must be >= ${min}, got ${value}`);
  if (integer && !Number.isInteger(value)) throw new RangeError(`${name} must be an integer, got ${value}`);
  return value;
}
