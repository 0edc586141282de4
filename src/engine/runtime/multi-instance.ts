/**
 * Multi-instance activities (parallel and sequential; user, service, send, business rule tasks, embedded
 * sub-processes, call activities) as Camunda 7 and 8 define their data: bpmn-elements runs the iterations, this
 * module gives them their variables.
 * - The body (the activity as a whole) has a local scope with `nrOfInstances`, `nrOfActiveInstances`,
 *   `nrOfCompletedInstances` (Camunda 8 also `numberOfInstances`, `numberOfActiveInstances`,
 *   `numberOfCompletedInstances`, `numberOfTerminatedInstances`) and, with `zeebe:loopCharacteristics
 *   outputCollection`, the output collection (one null per element at first).
 * - Each iteration has a local scope under the body: its element (`camunda:elementVariable` / `inputElement`) and
 *   `loopCounter` (from 0 in Camunda 7, from 1 in Camunda 8), then its input mappings; with an `outputElement`
 *   that only names a variable, that variable is created local to the iteration (as Camunda 8 does), so each
 *   iteration's result stays its own. The element reaches the handler, the task's assignee / candidates / due
 *   date and every expression inside the iteration.
 * - When an iteration completes, its result is written from its scope (see mappings.ts), its `outputElement` is
 *   stored at its index of the output collection (input order, whatever the completion order), and the counters
 *   move before the completion condition is evaluated (the condition sees them and the iteration's locals).
 * - When the body completes, the output collection is written to the enclosing scope; its scopes are dropped.
 */
import { collectionExpression } from '../activity-data.ts';
import type { ActivityInfo } from '../definitions.ts';
import { atElement, feelBody } from '../expressions.ts';
import type { Variables } from '../runtime.ts';
import { clone, type EngineObject, type RunContext } from './context.ts';
import { closeScope, openScope, propagate, scopeChain, scopeOf, visibleVariables, executionPath } from './local-scopes.ts';
import { completeScope, sourceValue, startScope } from './mappings.ts';

type Content = EngineObject;

const IDENTIFIER = /^[A-Za-z_][\w]*$/;

function counters(info: ActivityInfo, total: number, active: number, completed: number, terminated: number): Variables {
  const c: Variables = { nrOfInstances: total, nrOfActiveInstances: active, nrOfCompletedInstances: completed };
  if (info.loop?.dialect === 'zeebe') {
    Object.assign(c, { numberOfInstances: total, numberOfActiveInstances: active, numberOfCompletedInstances: completed, numberOfTerminatedInstances: terminated });
  }
  return c;
}

/** The number of iterations the body will run, as bpmn-elements computes it (cardinality, else the collection size). */
function iterationCount(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: Content): number {
  const loop = info.loop!;
  const context = visibleVariables(ctx, content, activity.environment?.variables);
  if (loop.cardinality) {
    const n = Number(sourceValue(loop.cardinality, context));
    if (Number.isFinite(n) && n >= 0) return Math.floor(n);
  }
  if (loop.collection) {
    const value = sourceValue(collectionExpression(loop.collection), context);
    if (Array.isArray(value)) return value.length;
  }
  return 0;
}

/** The body of a multi-instance activity starts: its scope with the counters and the output collection. */
export function startBody(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: Content): void {
  const loop = info.loop!;
  const bodyId: string = content.executionId;
  if (scopeOf(ctx, bodyId)) return; // already open (a redelivered start)
  const total = atElement(activity.id, () => iterationCount(ctx, activity, info, content));
  const vars = counters(info, total, loop.sequential ? Math.min(1, total) : total, 0, 0);
  if (loop.outputCollection) vars[loop.outputCollection] = Array.from({ length: total }, () => null);
  openScope(ctx, bodyId, activity.id, executionPath(content, ctx).filter((id) => id !== bodyId), vars);
}

/** One iteration starts: its element and loopCounter, then its input mappings. */
export function startIteration(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: Content): void {
  const loop = info.loop!;
  const bodyId: string | undefined = content.parent?.executionId;
  if (scopeOf(ctx, content.executionId)) return;
  const index = Number(content.index ?? 0);
  const locals: Variables = { loopCounter: loop.dialect === 'zeebe' ? index + 1 : index };
  if (loop.elementVariable) locals[loop.elementVariable] = clone(content[loop.elementVariable] ?? null);
  const outputVariable = loop.outputElement ? feelBody(loop.outputElement) : null;
  if (outputVariable && IDENTIFIER.test(outputVariable) && !(outputVariable in locals)) locals[outputVariable] = null;
  startScope(ctx, activity, info, content, locals, bodyId && scopeOf(ctx, bodyId) ? bodyId : undefined);
}

/**
 * One iteration completed (`discarded`: ended without completing, e.g. cut short by the completion condition):
 * its result, its output element, the counters. Runs before bpmn-elements evaluates the completion condition.
 */
export function endIteration(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: Content, result: Variables | null, discarded: boolean): void {
  const loop = info.loop!;
  const iterationId: string = content.executionId;
  const iteration = scopeOf(ctx, iterationId);
  const bodyId = iteration?.body ?? content.parent?.executionId;
  const body = bodyId ? scopeOf(ctx, bodyId) : undefined;
  if (!discarded) completeScope(ctx, activity, info, iterationId, content, result);
  if (!body) return;
  if (!discarded && loop.outputCollection && loop.outputElement) {
    const value = sourceValue(loop.outputElement, visibleVariables(ctx, iteration ? iterationId : content, activity.environment?.variables));
    const list = Array.isArray(body.vars[loop.outputCollection]) ? (body.vars[loop.outputCollection] as unknown[]) : [];
    const index = Number(content.index ?? 0);
    while (list.length <= index) list.push(null);
    list[index] = clone(value ?? null);
    body.vars[loop.outputCollection] = list;
  }
  const total = Number(body.vars.nrOfInstances ?? 0);
  const completed = Number(body.vars.nrOfCompletedInstances ?? 0) + (discarded ? 0 : 1);
  const terminated = Number(body.vars.numberOfTerminatedInstances ?? 0) + (discarded ? 1 : 0);
  const active = loop.sequential ? (completed + terminated < total ? 1 : 0) : Math.max(0, Number(body.vars.nrOfActiveInstances ?? 0) - 1);
  Object.assign(body.vars, counters(info, total, active, completed, terminated));
}

/** The body completed: the output collection goes to the enclosing scope; the body's scopes are dropped. */
export function endBody(ctx: RunContext, activity: EngineObject, info: ActivityInfo, content: Content, completed: boolean): void {
  const loop = info.loop!;
  const bodyId: string = content.executionId;
  const body = scopeOf(ctx, bodyId);
  if (completed && body && loop.outputCollection) {
    const chain = scopeChain(ctx, bodyId).filter((id) => id !== bodyId);
    propagate(ctx, activity, chain, { [loop.outputCollection]: clone(body.vars[loop.outputCollection] ?? []) });
  }
  closeScope(ctx, bodyId);
}
