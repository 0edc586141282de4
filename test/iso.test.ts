/**
 * ISO 8601 time values (src/engine/iso.ts): one reading for deploy-time validation, timers, task due dates and
 * the audit API. A value without an offset is UTC whatever the host's time zone; durations agree with the
 * parser bpmn-elements uses; deployment accepts exactly the timer values the runtime can schedule.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDuration as pisoDuration, getDate as pisoDate } from '@0dep/piso';
import {
  cycleRepeats,
  durationMs,
  durationOrDateAt,
  isDuration,
  nextCycleAt,
  parseCycle,
  parseDateTime,
  readDateTime,
  timerDueAt,
} from '../src/engine/iso.ts';
import { parseBpmn } from '../src/definitions/parse.ts';
import { validateBpmn } from '../src/definitions/validate.ts';

const utc = (...a: [number, number, number, number?, number?, number?, number?]) => Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0, a[6] ?? 0);

/** Runs fn with the process in another time zone (Node re-reads TZ when it changes). */
function inTimeZone<T>(tz: string, fn: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

test('Given a date-time without an offset, when the host is in New York, then it is still read as UTC', () => {
  inTimeZone('America/New_York', () => {
    assert.is.not(Date.parse('2030-01-31T09:00:00'), utc(2030, 1, 31, 9), 'the host really is not on UTC (Date.parse reads local time)');
    assert.is(parseDateTime('2030-01-31T09:00:00'), utc(2030, 1, 31, 9));
    assert.is(parseDateTime('2030-01-31T09:00'), utc(2030, 1, 31, 9));
    assert.is(parseDateTime('2030-01-31'), utc(2030, 1, 31), 'a date alone is 00:00 UTC');
    assert.is(timerDueAt('timeDate', '2030-01-31T09:00', 0), utc(2030, 1, 31, 9));
    assert.is(durationOrDateAt('2030-01-31T09:00', 0), utc(2030, 1, 31, 9));
  });
});

test('Date-times: offsets, fractions, what is spelled out', () => {
  assert.is(parseDateTime('2030-01-31T09:00:00Z'), utc(2030, 1, 31, 9));
  assert.is(parseDateTime('2030-01-31T09:00:00+01:00'), utc(2030, 1, 31, 8));
  assert.is(parseDateTime('2030-01-31T09:00:00+0100'), utc(2030, 1, 31, 8));
  assert.is(parseDateTime('2030-01-31T09:00:00+01'), utc(2030, 1, 31, 8));
  assert.is(parseDateTime('2030-01-31T09:00:00-05:30'), utc(2030, 1, 31, 14, 30));
  assert.is(parseDateTime('2030-01-31T09:00:00.123Z'), utc(2030, 1, 31, 9, 0, 0, 123));
  assert.is(parseDateTime('2030-01-31T09:00:00,5Z'), utc(2030, 1, 31, 9, 0, 0, 500));
  assert.is(parseDateTime('2030-01-31T09:00:00.1239Z'), utc(2030, 1, 31, 9, 0, 0, 123), 'sub-millisecond digits are dropped');
  assert.is(parseDateTime(' 2030-01-31T09:00:00Z\n'), utc(2030, 1, 31, 9), 'surrounding white space is ignored');
  assert.is(parseDateTime('2028-02-29T00:00:00Z'), utc(2028, 2, 29), 'a leap day');
  assert.is(parseDateTime('0050-06-01T00:00:00Z'), Date.parse('0050-06-01T00:00:00Z'), 'years below 100 are not 19xx');
  assert.equal(readDateTime('2030-01-31'), { at: utc(2030, 1, 31), hasTime: false, hasOffset: false });
  assert.equal(readDateTime('2030-01-31T09:00'), { at: utc(2030, 1, 31, 9), hasTime: true, hasOffset: false });
  assert.equal(readDateTime('2030-01-31T09:00Z'), { at: utc(2030, 1, 31, 9), hasTime: true, hasOffset: true });
});

test('Date-times that are refused, never guessed', () => {
  for (const bad of [
    '', 'tomorrow', 'Jan 31 2030', '2030-02-30T09:00:00Z', '2029-02-29', '2030-13-01T00:00:00Z', '2030-00-10',
    '2030-01-31T24:00:00Z', '2030-01-31T09:60Z', '2030-01-31T09:00:60Z', '2030-01-31T09Z', '2030-01-31 09:00:00Z',
    '2030-01-31t09:00:00z', '20300131T090000Z', '2030-W05-1', '2030-031', '2030-01-31T09:00:00+15:00',
    '2030-01-31T09:00:00+01:60', '2030-1-31', '2030-01-31T09:00:00ZZ',
  ]) {
    assert.is(parseDateTime(bad), null, bad);
    assert.is(timerDueAt('timeDate', bad, 0), null, bad);
  }
});

test('Durations: the grammar, and the same milliseconds as @0dep/piso (what bpmn-elements uses)', () => {
  const from = utc(2026, 1, 31);
  const good = ['PT5M', 'P1D', 'P1W', 'P1W2D', 'PT1,5M', 'PT1.5M', 'P1Y2M3DT4H5M6S', 'PT0S', 'P1.5D', 'PT36H', 'P1M', 'PT5.123456S', 'PT1H30M'];
  for (const d of good) {
    assert.ok(isDuration(d), d);
    assert.is(durationMs(d, from), pisoDuration(d).toMilliseconds(new Date(from)), d);
  }
  assert.is(durationMs('PT5M'), 300_000);
  assert.is(durationMs('P1M', utc(2026, 2, 1)), 28 * 86_400_000, 'a month from 1 February 2026 is 28 days');
  assert.is(durationMs('P1M', new Date(utc(2026, 3, 1))), 31 * 86_400_000, 'from 1 March 31 days (a Date works as the start too)');
  assert.is(durationMs('P1Y', utc(2028, 1, 1)), 366 * 86_400_000, '2028 is a leap year');
  assert.is(durationMs(' PT5M '), 300_000, 'surrounding white space is ignored');
  for (const bad of ['', 'P', 'PT', 'P1DT', 'PT1.5H30M', 'P1.5DT2H', '-PT5M', 'pt5m', 'PT5m', '5M', 'PT5M,PT1M', 'R3/PT5M', '1 hour', 'P1H']) {
    assert.not.ok(isDuration(bad), bad);
    assert.is(durationMs(bad), null, bad);
  }
});

test('durationOrDateAt: a duration from now, or a date', () => {
  const now = utc(2026, 1, 5, 9);
  assert.is(durationOrDateAt('P3D', now), now + 3 * 86_400_000);
  assert.is(durationOrDateAt('PT4H', now), now + 4 * 3_600_000);
  assert.is(durationOrDateAt('2026-02-01', now), utc(2026, 2, 1));
  assert.is(durationOrDateAt('2026-02-01T12:00:00+02:00', now), utc(2026, 2, 1, 10));
  for (const bad of ['P', 'soon', '2026-02-30', 'R3/PT1H', '']) assert.is(durationOrDateAt(bad, now), null, bad);
});

test('Cycles: repeat count, start, next firing', () => {
  assert.equal(parseCycle('R3/PT1H'), { repeat: 3, start: null, duration: 'PT1H' });
  assert.equal(parseCycle('R/P1D'), { repeat: -1, start: null, duration: 'P1D' });
  assert.equal(parseCycle('R/2030-01-01T08:00:00/P1D'), { repeat: -1, start: utc(2030, 1, 1, 8), duration: 'P1D' }, 'the start without an offset is UTC');
  assert.is(cycleRepeats('R5/PT10M'), 5);
  assert.is(cycleRepeats('R/PT10M'), -1);
  for (const bad of ['R3/PT', 'R3/P', 'PT1H', 'R3/PT1H/2030-01-01T08:00:00Z', 'R3/2030-02-30T08:00:00Z/P1D', 'R-1/PT1H', '0 0 9 * * ?', 'RR/PT1H']) {
    assert.is(parseCycle(bad), null, bad);
    assert.is(cycleRepeats(bad), null, bad);
    assert.is(timerDueAt('timeCycle', bad, 0), null, bad);
  }
  assert.is(nextCycleAt('R/2030-01-01T08:00:00Z/P1D', utc(2030, 1, 1, 8)), utc(2030, 1, 2, 8));
  assert.is(nextCycleAt('R3/P1M', utc(2030, 2, 1)), utc(2030, 3, 1));
  assert.is(nextCycleAt('soon', 0), null);
});

test('timerDueAt: durations from now, dates as given, a cycle from its start or from now', () => {
  const now = utc(2026, 1, 5, 9);
  assert.is(timerDueAt('timeDuration', 'PT15M', now), now + 900_000);
  assert.is(timerDueAt('timeDate', '2026-01-06T00:00:00Z', now), utc(2026, 1, 6));
  assert.is(timerDueAt('timeCycle', 'R3/PT1H', now), now + 3_600_000);
  assert.is(timerDueAt('timeCycle', 'R/2026-01-10T08:00:00Z/P1D', now), utc(2026, 1, 10, 8), 'a start still ahead');
  assert.is(timerDueAt('timeCycle', 'R/2026-01-01T08:00:00Z/P1D', now), now + 86_400_000, 'a start in the past');
  assert.is(timerDueAt('timeSomething', 'PT1M', now), null);
});

/** A process with one intermediate timer of each given value. */
function timersXml(values: { type: 'timeDuration' | 'timeDate' | 'timeCycle'; value: string }[]): string {
  const events = values
    .map(
      (v, i) =>
        `<bpmn:intermediateCatchEvent id="T${i}"><bpmn:timerEventDefinition><bpmn:${v.type} xsi:type="bpmn:tFormalExpression">` +
        `${v.value.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</bpmn:${v.type}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://insureflow.test">
  <bpmn:process id="P" isExecutable="true">${events}</bpmn:process>
</bpmn:definitions>`;
}

test('Deployment accepts exactly the literal timer values the runtime can schedule', async () => {
  const values: { type: 'timeDuration' | 'timeDate' | 'timeCycle'; value: string }[] = [];
  const durations = ['PT15M', 'P1DT12H', 'PT1.5H', 'PT1.5H30M', 'P1DT', 'P', 'PT', '1 hour', 'P1W2D', 'PT0S', 'p1d'];
  const dates = ['2030-01-31T09:00:00Z', '2030-01-31T09:00:00', '2030-01-31', '2030-02-30T09:00:00Z', '2030-01-31T24:00:00Z', '2030-01-31T09:00:00+01', '2030-W05-1', '20300131T090000Z', '2030-01-31 09:00:00Z'];
  const cycles = ['R3/PT10M', 'R/P1D', 'R/2030-01-01T08:00:00Z/P1D', 'R/2030-01-01T08:00:00/P1D', 'R3/PT', 'R3/PT1H/2030-01-01T08:00:00Z', 'R3/2030-02-30T08:00:00Z/P1D', 'R3/PT1.5H30M', 'PT1H'];
  for (const value of durations) values.push({ type: 'timeDuration', value });
  for (const value of dates) values.push({ type: 'timeDate', value });
  for (const value of cycles) values.push({ type: 'timeCycle', value });
  const problems = validateBpmn(await parseBpmn(timersXml(values)), { handlers: new Set(), forms: new Set(), decisions: new Set() });
  const refused = new Set(problems.map((p) => p.element));
  values.forEach((v, i) => {
    const runs = timerDueAt(v.type, v.value, utc(2026, 1, 5)) !== null;
    assert.is(!refused.has(`T${i}`), runs, `${v.type} ${v.value}: deploy ${refused.has(`T${i}`) ? 'refuses' : 'accepts'}, the runtime ${runs ? 'schedules it' : 'cannot'}`);
  });
  // every date the runtime accepts is one bpmn-elements' own parser reads the same way (it parses timers too)
  for (const d of dates.filter((x) => parseDateTime(x) !== null)) assert.is(pisoDate(d, true).getTime(), parseDateTime(d), d);
});

test('A literal user task due date that the runtime could not read is refused at deploy, naming the task', async () => {
  const xml = (due: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://insureflow.test">
  <bpmn:process id="P" isExecutable="true"><bpmn:userTask id="Task_Review" camunda:dueDate="${due.replace(/"/g, '&quot;')}" /></bpmn:process>
</bpmn:definitions>`;
  const check = async (due: string) => validateBpmn(await parseBpmn(xml(due)), { handlers: new Set(), forms: new Set(), decisions: new Set() });
  for (const ok of ['P3D', 'PT4H', '2030-01-31', '2030-01-31T09:00:00', '=now() + duration("P1D")', '${due}']) {
    assert.equal(await check(ok), [], ok);
  }
  for (const bad of ['3 days', '2030-02-30', 'PT1.5H30M', 'Jan 31 2030']) {
    const problems = await check(bad);
    assert.equal(problems.map((p) => p.element), ['Task_Review'], bad);
    assert.match(problems[0].message, /neither an ISO 8601 duration .* nor an ISO 8601 date/);
    assert.is(durationOrDateAt(bad, 0), null, `${bad}: the runtime cannot read it either`);
  }
});

test.run();
