/**
 * Camunda's typed variables from workers are checked by type before anything is stored (newcomer findings: a
 * Date "yesterday" and an Integer 99999999999 were accepted): Date needs a real date-time in Camunda's format or
 * ISO 8601; Short, Integer and Long keep Java's ranges. Each refusal is VALIDATION_FAILED naming the variable.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromTyped } from '../src/http/routes/external-tasks.ts';
import { InsureflowError } from '../src/errors.ts';

function refusal(vars: Record<string, { type: string; value: unknown }>): string {
  try {
    fromTyped(vars, 'variables');
  } catch (err) {
    if (err instanceof InsureflowError && err.code === 'VALIDATION_FAILED') return err.message;
    throw err;
  }
  throw new Error(`accepted: ${JSON.stringify(vars)}`);
}

test('dates must be date-times; integers keep their Java range', () => {
  for (const value of ['yesterday', '2026-02-30T09:00:00.000+0100', '2026-01-05', '2026-01-05T25:00:00Z', 5]) {
    assert.match(refusal({ d: { type: 'Date', value } }), /variables\.d/);
  }
  assert.match(refusal({ i: { type: 'Integer', value: 99_999_999_999 } }), /variables\.i.*-2147483648 to 2147483647/);
  assert.match(refusal({ s: { type: 'Short', value: 40_000 } }), /variables\.s/);
  assert.match(refusal({ l: { type: 'Long', value: 2 ** 60 } }), /variables\.l/);
  assert.equal(
    fromTyped(
      {
        d: { type: 'Date', value: '2026-01-05T09:00:00.000+0100' },
        z: { type: 'Date', value: '2026-01-05T09:00:00Z' },
        o: { type: 'Date', value: '2026-01-05T09:00:00.5+01:00' },
        i: { type: 'Integer', value: -2_147_483_648 },
        s: { type: 'Short', value: 32_767 },
        l: { type: 'Long', value: 2 ** 40 },
      },
      'variables',
    ),
    { d: '2026-01-05T09:00:00.000+0100', z: '2026-01-05T09:00:00Z', o: '2026-01-05T09:00:00.5+01:00', i: -2_147_483_648, s: 32_767, l: 2 ** 40 },
  );
});

test.run();
