/**
 * ISO 8601 time values, the one reading used at deploy time (src/definitions/validate.ts), at run time (timers,
 * task due dates, retry back-offs) and by the audit API and CLI:
 *
 * - date-times: extended format only, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm[:ss[.fff]]` with an optional offset
 *   `Z`, `±hh`, `±hh:mm` or `±hhmm` (upper-case T and Z). **A value without an offset is UTC**, never the host's
 *   local time; a date alone is 00:00 UTC. Calendar-checked (no 30 February, no 24:00, no leap seconds).
 * - durations: `PnYnMnWnDTnHnMnS` (at least one component, only the last one may have a fraction, `T` only when
 *   a time component follows), e.g. PT15M, P3D, PT1.5H. Years and months are calendar lengths counted from a date.
 * - cycles (repeating intervals): `R<n>/<duration>` or `R<n>/<start date-time>/<duration>`; `R/...` repeats
 *   forever.
 * - retry cycles (`camunda:failedJobRetryTimeCycle`): `R<n>/<duration>` or a list of durations `PT1M,PT5M,PT30M`.
 *
 * Values are taken as given apart from surrounding white space, which is ignored. Calendar arithmetic of
 * durations goes through @0dep/piso, the parser bpmn-elements itself uses, so both agree on P1M from 31 January.
 * Every function returns null (or an error text) for a value outside this grammar, never a guess.
 */
import { parseDuration as pisoDuration } from '@0dep/piso';

/* ------------------------------------------------------------------------------------------------------------ */
/* date-times                                                                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

export interface DateTimeParts {
  /** the instant, epoch milliseconds */
  at: number;
  /** false for a date alone (`2030-01-31`, 00:00 UTC) */
  hasTime: boolean;
  /** false when no offset is written (the value is then read as UTC) */
  hasOffset: boolean;
}

/** A date or date-time with what it spells out (see the module comment); null when it is not one. */
export function readDateTime(text: string): DateTimeParts | null {
  if (typeof text !== 'string') return null;
  const m = DATE_TIME.exec(text.trim());
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const hasTime = m[4] !== undefined;
  const [hour, minute, second] = hasTime ? [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)] : [0, 0, 0];
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8] && m[8] !== 'Z') {
    const off = /^([+-])(\d{2}):?(\d{2})?$/.exec(m[8]);
    if (!off) return null;
    const [h, min] = [Number(off[2]), Number(off[3] ?? 0)];
    if (h > 14 || min > 59) return null;
    offsetMinutes = (off[1] === '-' ? -1 : 1) * (h * 60 + min);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  d.setUTCHours(hour, minute, second, ms);
  return { at: d.getTime() - offsetMinutes * 60_000, hasTime, hasOffset: Boolean(m[8]) };
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}

/** Epoch milliseconds of an ISO 8601 date or date-time (no offset = UTC), or null when it is not one. */
export function parseDateTime(text: string): number | null {
  return readDateTime(text)?.at ?? null;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* durations                                                                                                      */
/* ------------------------------------------------------------------------------------------------------------ */

const NUM = '\\d+(?:[.,]\\d+)?';
const DURATION = new RegExp(
  `^P(?!$)(?:${NUM}Y)?(?:${NUM}M)?(?:${NUM}W)?(?:${NUM}D)?(?:T(?=\\d)(?:${NUM}H)?(?:${NUM}M)?(?:${NUM}S)?)?$`,
);

/** True when the text is an ISO 8601 duration this engine accepts (see the module comment). */
export function isDuration(text: string): boolean {
  if (typeof text !== 'string') return false;
  const t = text.trim();
  if (!DURATION.test(t)) return false;
  // a fraction only on the last component written (PT1.5H is fine, PT1.5H30M is not)
  const fraction = /[.,]\d+[A-Z]/.exec(t);
  return !fraction || fraction.index + fraction[0].length === t.length;
}

/**
 * Milliseconds of a duration such as PT5M counted from `from` (epoch ms or a Date; years and months are calendar
 * lengths from there, default 1970-01-01), or null when the text is not a duration (see isDuration).
 */
export function durationMs(text: string, from: Date | number = 0): number | null {
  if (!isDuration(text)) return null;
  try {
    const ms = pisoDuration(text.trim()).toMilliseconds(from instanceof Date ? from : new Date(from));
    return Number.isFinite(ms) ? ms : null;
  } catch {
    return null;
  }
}

/**
 * When something given as a duration or a date falls due (a user task's due date, a timer): `now` + a duration,
 * or the date (no offset = UTC). Epoch ms; null when the text is neither.
 */
export function durationOrDateAt(text: string, now: number): number | null {
  if (typeof text !== 'string') return null;
  const t = text.trim();
  if (t.startsWith('P')) {
    const ms = durationMs(t, now);
    return ms === null ? null : now + ms;
  }
  return parseDateTime(t);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* cycles                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

export interface Cycle {
  /** how many times it fires: R3 -> 3; -1 for R/ (forever) */
  repeat: number;
  /** the first firing (epoch ms) when the cycle names a start, else null */
  start: number | null;
  /** the ISO 8601 duration between firings, as written */
  duration: string;
}

/** `R3/PT1H`, `R/P1D`, `R/2030-01-01T08:00:00Z/P1D`; null when the text is not such a cycle. */
export function parseCycle(text: string): Cycle | null {
  if (typeof text !== 'string') return null;
  const m = /^R(\d*)\/(?:([^/]+)\/)?([^/]+)$/.exec(text.trim());
  if (!m || !isDuration(m[3])) return null;
  let start: number | null = null;
  if (m[2] !== undefined) {
    start = parseDateTime(m[2]);
    if (start === null) return null;
  }
  return { repeat: m[1] === '' ? -1 : Number(m[1]), start, duration: m[3] };
}

/** The repetition count of a cycle (R3/PT1H -> 3, R/P1D -> -1 for unbounded), or null when not a cycle. */
export function cycleRepeats(text: string): number | null {
  return parseCycle(text)?.repeat ?? null;
}

/** The firing of a cycle after the one due at `previousAt` (epoch ms): previousAt + its duration; null if not a cycle. */
export function nextCycleAt(text: string, previousAt: number): number | null {
  const cycle = parseCycle(text);
  if (!cycle) return null;
  const ms = durationMs(cycle.duration, previousAt);
  return ms === null ? null : previousAt + ms;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* timers                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

/**
 * When a timer armed at `now` (epoch ms) falls due, from its own value: a duration from now; a date as given
 * (no offset = UTC); a cycle's first firing (its start date when that is still ahead, else now + its duration).
 * Null when the value is not valid for the timer type.
 */
export function timerDueAt(timerType: string, value: string, now: number): number | null {
  if (timerType === 'timeDuration') {
    const ms = durationMs(value, now);
    return ms === null ? null : now + ms;
  }
  if (timerType === 'timeDate') return parseDateTime(value);
  if (timerType === 'timeCycle') {
    const cycle = parseCycle(value);
    if (!cycle) return null;
    if (cycle.start !== null && cycle.start > now) return cycle.start;
    const ms = durationMs(cycle.duration, now);
    return ms === null ? null : now + ms;
  }
  return null;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* retry cycles                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

export interface RetryCycle {
  /** `repeat`: R<n>/<wait>; `list`: waits in order */
  form: 'repeat' | 'list';
  /**
   * How many times the handler runs in all, the first call included (the job's retry counter, as in Camunda 7):
   * `R5/PT5M` -> 5; a list of n waits -> n + 1, so that every wait is used once.
   */
  retries: number;
  /** the waits before the 2nd, 3rd... call, in order (ISO 8601 durations); the last one repeats when more calls follow */
  intervals: string[];
}

/**
 * A `camunda:failedJobRetryTimeCycle`:
 * - `R5/PT5M` -> { form: 'repeat', retries: 5, intervals: ['PT5M'] };
 * - `PT1M,PT5M,PT30M` -> { form: 'list', retries: 4, intervals: ['PT1M', 'PT5M', 'PT30M'] };
 * - anything else (an expression, a cycle without a count, a malformed duration, an empty item) -> `{ error }`, a
 *   sentence fragment saying what is wrong and what to write.
 */
export function parseRetryCycle(text: string): RetryCycle | { error: string } {
  const t = typeof text === 'string' ? text.trim() : '';
  const how = 'write R<attempts>/<wait> (e.g. R5/PT5M) or a comma-separated list of waits (e.g. PT1M,PT5M,PT30M)';
  if (!t) return { error: `it is empty: ${how}` };
  if (t.includes('${') || t.includes('#{') || t.startsWith('=')) return { error: `expressions are not supported here: ${how}` };
  if (t.startsWith('R')) {
    const m = /^R(\d+)\/([^/]+)$/.exec(t);
    if (!m) return { error: `"${t}" is not a retry cycle: ${how}` };
    if (!isDuration(m[2])) return { error: `"${m[2]}" is not an ISO 8601 duration: ${how}` };
    const retries = Number(m[1]);
    if (retries < 1) return { error: `R${m[1]} would mean not even one call (R1/PT1M is one call and no retry): ${how}` };
    return { form: 'repeat', retries, intervals: [m[2]] };
  }
  const items = t.split(',').map((s) => s.trim());
  const bad = items.findIndex((s) => !isDuration(s));
  if (bad >= 0) {
    return { error: items[bad] ? `"${items[bad]}" (item ${bad + 1}) is not an ISO 8601 duration: ${how}` : `item ${bad + 1} is empty: ${how}` };
  }
  return { form: 'list', retries: items.length + 1, intervals: items };
}
