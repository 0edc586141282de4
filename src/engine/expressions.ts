/**
 * FEEL for every expression a diagram carries (conditions, timers, assignees...). bpmn-engine's own
 * `${environment.services.x}` references still go through its default resolver; nothing here runs JavaScript.
 */
import { evaluate } from 'feelin';
import { Environment } from 'bpmn-elements';

const defaultExpressions = (new Environment() as any).expressions;
const enginePath = /^(environment|content|properties|fields)\./;
const localDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** The FEEL body of a raw expression, or null when the text is a literal (or an engine path). */
export function feelBody(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const text = raw.trim();
  if (text.startsWith('=')) return text.slice(1).trim();
  const m = /^[$#]\{([\s\S]*)\}$/.exec(text);
  if (m && !enginePath.test(m[1].trim())) return m[1].trim();
  return null;
}

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

/** The `expressions` option handed to bpmn-engine. */
export function createEngineExpressions(onWarning?: WarningSink) {
  return {
    resolveExpression(expression: unknown, from: any, fnCtx?: unknown) {
      if (typeof expression === 'string') {
        const body = feelBody(expression);
        if (body !== null) {
          const variables = from?.environment?.variables ?? {};
          const { value, warnings } = evaluateFeel(body, { ...variables });
          if (warnings.length && onWarning) onWarning(body, warnings);
          return value;
        }
        // timeDate without an offset is read as UTC (documented), not as the host's local time.
        if (localDateTime.test(expression.trim())) return `${expression.trim()}Z`;
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
