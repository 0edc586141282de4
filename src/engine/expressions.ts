/**
 * Evaluates the expressions a diagram carries (conditions, timers, assignees...). What counts as an expression,
 * and which forms run, is decided by expression-syntax.ts, the same parser deploy-time validation uses: FEEL
 * (`=x`, `${x}`, `#{x}`) is evaluated here; bpmn-engine's own `${environment.services.x}` references (and, in a
 * version deployed before validation refused them, any other form) go to bpmn-engine's default resolver;
 * nothing here runs JavaScript.
 */
import { evaluate } from 'feelin';
import { Environment } from 'bpmn-elements';
import { feelBodyOf } from './expression-syntax.ts';
import { readDateTime } from './iso.ts';

const defaultExpressions = (new Environment() as any).expressions;

/** The FEEL body of a raw expression, or null when the text is a literal (or not FEEL: see expression-syntax.ts). */
export const feelBody = feelBodyOf;

export interface FeelResult {
  value: unknown;
  warnings: string[];
}

export function evaluateFeel(body: string, context: Record<string, unknown>): FeelResult {
  const { value, warnings } = evaluate(body, context) as { value: unknown; warnings: { message: string }[] };
  return { value: toPlain(value), warnings: (warnings ?? []).map((w) => w.message) };
}

/** FEEL temporal values (durations, dates) become ISO strings so timers and JSON can use them. */
function toPlain(value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as any;
    if (typeof v.toISO === 'function') return v.toISO();
    // feelin 8: FeelDuration / FeelDateTime / FeelDate / FeelTime carry their ISO 8601 text (toString)
    if (typeof v.iso === 'string' && /^Feel/.test(String(v.constructor?.name ?? ''))) return String(value);
    if (value instanceof Date) return value.toISOString();
  }
  return value;
}

/** Evaluate a raw attribute value: FEEL when it is an expression, the literal otherwise. */
export function resolveValue(raw: unknown, variables: Record<string, unknown>): unknown {
  const body = feelBody(raw);
  if (body === null) return raw;
  return evaluateFeel(body, variables).value;
}

export type WarningSink = (expression: string, warnings: string[]) => void;

/**
 * The `expressions` option handed to bpmn-engine. `scopeOf` gives the variables an expression sees from the
 * resolver's `from` (`{ environment, content, ... }`); by default the environment's variables.
 */
export function createEngineExpressions(onWarning?: WarningSink, scopeOf?: (from: any) => Record<string, unknown>) {
  return {
    resolveExpression(expression: unknown, from: any, fnCtx?: unknown) {
      if (typeof expression === 'string') {
        const body = feelBody(expression);
        if (body !== null) {
          const variables = scopeOf ? scopeOf(from) : (from?.environment?.variables ?? {});
          const { value, warnings } = evaluateFeel(body, { ...variables });
          if (warnings.length && onWarning) onWarning(body, warnings);
          return value;
        }
        // a date-time without an offset (a timeDate) is UTC (documented), not the host's local time: say so
        const date = readDateTime(expression);
        if (date?.hasTime && !date.hasOffset) return `${expression.trim()}Z`;
      }
      return defaultExpressions.resolveExpression(expression, from, fnCtx);
    },
    isExpression(text: unknown) {
      return feelBody(text) !== null || defaultExpressions.isExpression(text);
    },
    hasExpression(text: unknown) {
      return feelBody(text) !== null || defaultExpressions.hasExpression(text);
    },
  };
}
