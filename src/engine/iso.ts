/** ISO 8601 durations and repeating intervals, through the same parser bpmn-elements uses (@0dep/piso). */
import { parseDuration, parseInterval } from '@0dep/piso';

/** Milliseconds of a duration such as PT5M, or null when it is not a valid ISO 8601 duration. */
export function durationMs(text: string, from: Date = new Date(0)): number | null {
  try {
    return parseDuration(text.trim()).toMilliseconds(from);
  } catch {
    return null;
  }
}

/** The repetition count of a cycle (R3/PT1H -> 3, R/P1D -> -1 for unbounded), or null when not a cycle. */
export function cycleRepeats(text: string): number | null {
  try {
    const parsed: any = parseInterval(text.trim());
    if (parsed.repeat === undefined) return null;
    return parsed.repeat;
  } catch {
    return null;
  }
}

/** `R5/PT5M` -> { retries: 5, backoff: 'PT5M' }; null when the text is not such a cycle. */
export function parseRetryCycle(text: string): { retries: number; backoff: string | null } | null {
  const m = /^R(\d+)\/(P.+)$/.exec(text.trim());
  if (!m) return null;
  if (durationMs(m[2]) === null) return null;
  return { retries: Number(m[1]), backoff: m[2] };
}

/**
 * When a timer armed at `now` falls due, from its own value: a duration from now; a date as given (no offset
 * = UTC); a cycle's next repetition (from its start date when it has one). Null when the value is not valid.
 */
export function timerDueAt(timerType: string, value: string, now: number): number | null {
  const text = value.trim();
  if (timerType === 'timeDuration') {
    const ms = durationMs(text, new Date(now));
    return ms === null ? null : now + ms;
  }
  if (timerType === 'timeDate') {
    const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) || !text.includes('T') ? text : `${text}Z`;
    const at = Date.parse(iso);
    return Number.isNaN(at) ? null : at;
  }
  if (timerType === 'timeCycle') {
    const parts = text.split('/');
    if (parts.length < 2 || !/^R\d*$/.test(parts[0])) return null;
    const duration = parts.find((p) => p.startsWith('P'));
    const start = parts.slice(1).find((p) => !p.startsWith('P'));
    if (start) {
      const at = timerDueAt('timeDate', start, now);
      if (at !== null && at > now) return at;
    }
    if (!duration) return null;
    const ms = durationMs(duration, new Date(now));
    return ms === null ? null : now + ms;
  }
  return null;
}
