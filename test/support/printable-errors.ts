/**
 * uvu 0.5 formats a failed test's error with `err.details.split(...)`: an error whose `details` is an object (every
 * InsureflowError with details) throws inside its reporter, which ends the suite there WITHOUT a failure (the rest
 * of the suite is skipped and the run exits 0). A suite wrapped here rethrows such errors as plain Errors (code,
 * message and details in the message), so a failing test is reported as one.
 */
import type { Test } from 'uvu';

function printable(err: unknown): unknown {
  if (!err || typeof err !== 'object' || !('details' in err) || typeof (err as { details: unknown }).details === 'string') return err;
  const e = err as Error & { code?: string; details?: unknown };
  const plain = new Error(`${e.code ? e.code + ': ' : ''}${e.message} ${JSON.stringify(e.details)}`);
  plain.stack = `${plain.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`;
  return plain;
}

/** The suite, whose tests rethrow errors uvu cannot print as plain ones (its hooks and run are the suite's). */
export function reporting<T>(s: Test<T>): Test<T> {
  const wrapped = ((name: string, fn: (ctx: T) => unknown) =>
    s(name, async (ctx: T) => {
      try {
        await fn(ctx);
      } catch (err) {
        throw printable(err);
      }
    })) as unknown as Test<T>;
  return Object.assign(wrapped, s);
}
