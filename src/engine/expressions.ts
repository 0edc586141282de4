/**
 * Evaluates the expressions a diagram carries (conditions, timers, assignees...). What counts as an expression,
 * and which forms run, is decided by expression-syntax.ts, the same classifier deploy-time validation uses: FEEL
 * (`=x`) by feelin, JUEL (`${x}`, `#{x}`, Camunda 7) by our interpreter juel.ts, whose parser deployment uses as
 * well; bpmn-engine's own `${environment.services.x}` references (and, in a version deployed before validation
 * refused them, any other form) go to bpmn-engine's default resolver; nothing here runs JavaScript.
 *
 * A JUEL expression that fails at run time (a variable that is not set: Camunda 7's "Cannot resolve identifier";
 * a value that cannot be coerced) throws, as in Camunda 7: the transition that evaluates it fails and changes
 * nothing (EXPRESSION_FAILED, 422, naming the element), or a job that evaluates it fails and is retried / opens an
 * incident. FEEL gives null for a missing variable, as before.
 */
import { evaluate } from 'feelin';
import { Environment } from 'bpmn-elements';
import { evaluableOf, feelBodyOf, type ExpressionOptions } from './expression-syntax.ts';
import { evaluateJuel, JuelError } from './juel.ts';
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

/** A JUEL expression of a diagram failed at run time; the message quotes the expression and says why. */
export class ExpressionError extends Error {
  /** the element whose expression it is, when the caller knows it (see `atElement`) */
  activityId?: string;
  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`the expression \${${expression}} cannot be evaluated: ${reason}`);
    this.name = 'ExpressionError';
  }
}

/** Runs `fn`, naming `activityId` in an ExpressionError it throws (the transition's 422 then says where). */
export function atElement<T>(activityId: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ExpressionError && !err.activityId) err.activityId = activityId;
    throw err;
  }
}

/** Evaluates a JUEL body over `variables`. @throws ExpressionError (see the module comment) */
export function evaluateJuelBody(body: string, variables: Record<string, unknown>): unknown {
  try {
    return evaluateJuel(body, variables);
  } catch (err) {
    if (err instanceof JuelError) throw new ExpressionError(body, err.message);
    throw err;
  }
}

/** True when the raw value is an expression this module evaluates (FEEL or JUEL), false for a literal. */
export function isEvaluable(raw: unknown, options: ExpressionOptions = {}): boolean {
  return evaluableOf(raw, options) !== null;
}

/**
 * Evaluate a raw attribute value: FEEL or JUEL when it is an expression, the literal otherwise.
 * @throws ExpressionError when a JUEL expression fails (see the module comment)
 */
export function resolveValue(raw: unknown, variables: Record<string, unknown>, options: ExpressionOptions = {}): unknown {
  const e = evaluableOf(raw, options);
  if (e === null) return raw;
  if (e.kind === 'juel') return evaluateJuelBody(e.body, variables);
  return evaluateFeel(e.body, variables).value;
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
        const e = evaluableOf(expression);
        if (e !== null) {
          const variables = scopeOf ? scopeOf(from) : (from?.environment?.variables ?? {});
          if (e.kind === 'juel') return evaluateJuelBody(e.body, { ...variables });
          const { value, warnings } = evaluateFeel(e.body, { ...variables });
          if (warnings.length && onWarning) onWarning(e.body, warnings);
          return value;
        }
        // a date-time without an offset (a timeDate) is UTC (documented), not the host's local time: say so
        const date = readDateTime(expression);
        if (date?.hasTime && !date.hasOffset) return `${expression.trim()}Z`;
      }
      return defaultExpressions.resolveExpression(expression, from, fnCtx);
    },
    isExpression(text: unknown) {
      return isEvaluable(text) || defaultExpressions.isExpression(text);
    },
    hasExpression(text: unknown) {
      return isEvaluable(text) || defaultExpressions.hasExpression(text);
    },
  };
}
