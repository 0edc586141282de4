/**
 * Input and output mappings of an activity (`camunda:inputOutput`, `zeebe:ioMapping`), as Camunda 7 and 8 run them:
 * - inputs are evaluated when the activity starts, in order (a later input sees the earlier ones), in the scope
 *   the activity is in; they become the activity's local variables, seen by its handler and its expressions
 *   (assignee, due date, conditions...) and by everything inside it (a sub-process), never by the process;
 * - when the activity completes, its result (a handler's return value, a task's form data, a message's payload,
 *   a called process's variables) is, without output mappings, written from the activity's own scope outwards
 *   (propagation, see local-scopes.ts); with output mappings, the result is local to the activity and only the
 *   outputs, each evaluated over the activity's locals and its result, are written to the enclosing scopes.
 * Expressions are FEEL (`=x`) or JUEL (`${x}`); a text without an expression is a string; a Camunda 7 list or map
 * is built from its items; a missing variable evaluates to null in FEEL, and is an error in JUEL (as in Camunda 7:
 * src/engine/expressions.ts).
 */
import type { IoMapping } from '../../definitions/io-mappings.ts';
import type { ActivityInfo } from '../definitions.ts';
import { atElement, resolveValue } from '../expressions.ts';
import type { Variables } from '../runtime.ts';
import { clone, type EngineObject, type RunContext } from './context.ts';
import { closeScope, executionPath, openScope, propagate, scopeChain, scopeOf, visibleVariables } from './local-scopes.ts';

/**
 * The value of one raw source: FEEL (`=x`) or JUEL (`${x}`) when it is an expression, the text as written otherwise.
 * @throws ExpressionError when a JUEL expression fails (src/engine/expressions.ts)
 */
export function sourceValue(raw: string | null | undefined, context: Variables): unknown {
  if (raw === null || raw === undefined) return null;
  return resolveValue(raw, context);
}

/** The value a mapping produces over `context`. */
export function mappingValue(m: IoMapping, context: Variables): unknown {
  switch (m.kind) {
    case 'expression':
    case 'literal':
      return sourceValue(m.source, context);
    case 'list':
      return (m.items ?? []).map((i) => sourceValue(i.source, context));
    case 'map':
      return Object.fromEntries((m.items ?? []).map((i) => [i.key ?? '', sourceValue(i.source, context)]));
    case 'script':
      // never deployed (validation refuses scripts); a version stored before that evaluates nothing
      return null;
    default:
      return null;
  }
}

/**
 * Sets `target` in `out`: a plain name, or (Camunda 8) a nested path `a.b.c`, whose root starts from its value in
 * `out`, else in `context`, copied (the original is never changed).
 */
export function assignTarget(out: Variables, target: string, value: unknown, context: Variables): void {
  const path = target.split('.').map((p) => p.trim());
  if (path.length === 1) {
    out[target] = clone(value);
    return;
  }
  const root = path[0];
  const start = root in out ? out[root] : clone(context[root]);
  const base: Record<string, unknown> = start && typeof start === 'object' && !Array.isArray(start) ? (start as Record<string, unknown>) : {};
  let node = base;
  for (const key of path.slice(1, -1)) {
    const next = node[key];
    node = node[key] = next && typeof next === 'object' && !Array.isArray(next) ? (next as Record<string, unknown>) : {};
  }
  node[path[path.length - 1]] = clone(value);
  out[root] = base;
}

/** Evaluates mappings in order over `context`; each result is visible to the following ones. */
export function evaluateMappings(mappings: IoMapping[], context: Variables): Variables {
  const out: Variables = {};
  const seen: Variables = { ...context };
  for (const m of mappings) {
    if (!m.target) continue;
    assignTarget(out, m.target, mappingValue(m, seen), seen);
    const root = m.target.split('.')[0];
    seen[root] = out[root];
  }
  return out;
}

type Content = EngineObject;

/**
 * An activity execution starts (not a multi-instance body): its input mappings, evaluated in the scope it is in,
 * open its local scope. `extra` are locals set before the inputs (a multi-instance iteration's element) and seen
 * by them; `body` names the multi-instance body of an iteration.
 */
export function startScope(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: Content, extra: Variables = {}, body?: string): void {
  const executionId: string = content.executionId;
  const inputs = info.io?.inputs ?? [];
  if (!inputs.length && !Object.keys(extra).length) return;
  const parents = executionPath(content, ctx).filter((id) => id !== executionId);
  // the iteration (or activity) scope exists first with `extra`, so the inputs see the element
  openScope(ctx, executionId, activity.id, parents, extra, body);
  if (!inputs.length) return;
  const context = visibleVariables(ctx, executionId, activity.environment?.variables);
  const locals = atElement(activity.id, () => evaluateMappings(inputs, context));
  openScope(ctx, executionId, activity.id, parents, { ...extra, ...locals }, body);
}

/**
 * An activity execution completes with `result` (null when it has none): outputs or propagation (see the module
 * comment). The execution's own scope stays open (the caller closes it).
 */
export function completeScope(ctx: RunContext, activity: EngineObject, info: ActivityInfo, executionId: string, content: Content, result: Variables | null): void {
  const outputs = info.io?.outputs ?? [];
  const known = scopeOf(ctx, executionId);
  const chain = known ? scopeChain(ctx, executionId) : scopeChain(ctx, content);
  const own = chain.filter((id) => id !== executionId);
  if (outputs.length) {
    // with output mappings the result is local to the activity (Camunda 8 merges it into the element's scope,
    // where a multi-instance output element still reads it), and only the outputs leave it
    if (known && result) Object.assign(known.vars, clone(result));
    const context = { ...visibleVariables(ctx, known ? executionId : content, activity.environment?.variables), ...(result ? clone(result) : {}) };
    propagate(ctx, activity, own, atElement(activity.id, () => evaluateMappings(outputs, context)));
    return;
  }
  if (result && Object.keys(result).length) propagate(ctx, activity, known ? chain : own, result);
}

/** The result an activity's completion carries, by kind: a handler's output, form data, a message payload. */
export function resultOf(info: ActivityInfo, output: unknown): Variables | null {
  if (!output || typeof output !== 'object' || Array.isArray(output)) return null;
  switch (info.kind) {
    case 'serviceTask':
    case 'userTask':
    case 'receiveTask':
    case 'catchEvent':
      return output as Variables;
    default:
      return null;
  }
}

/** An activity execution (not a multi-instance iteration) ended normally: outputs, then its scope is gone. */
export function endActivity(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: Content, result: Variables | null): void {
  completeScope(ctx, activity, info, content.executionId, content, result);
  closeScope(ctx, content.executionId);
}
