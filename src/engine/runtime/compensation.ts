/**
 * Compensation (BPMN 2.0 §10.5.5; the saga pattern: a reserved payout is released when a claim is withdrawn).
 * An activity with a compensation boundary event, once completed, is remembered in its scope instance (in
 * completion order, in ExecMeta.compensation.done). A compensation throw event (intermediate or end) compensates
 * the completed activities of its scope (for one inside an event sub-process: the scope that sub-process is in),
 * or only the activity its activityRef names: their handlers (the isForCompensation activities associated with
 * the boundary events) run one at a time in reverse order of completion, each activity once; the throw event
 * completes when the last handler has (a handler may wait for a user or be retried across transitions: the
 * progress is in ExecMeta.compensation.running). Nothing to compensate: the throw event completes at once.
 *
 * bpmn-elements' own compensation is not used: it runs the handlers in completion order, does not wait for them,
 * and its compensation boundary events wait for ever, so an instance that never compensates never completes.
 * Here those boundary events end as soon as they start. What deploys is decided by
 * src/definitions/event-rules.ts (compensation inside a sub-process from outside it, for instance, is refused).
 */
import { type EngineObject, type RunContext } from './context.ts';
import { liveScopes, scopeByExecutionId, scopeOfActivity } from './live-scopes.ts';

/** What an instance remembers about compensation across transitions (ExecMeta.compensation). */
export interface CompensationMeta {
  /** completed compensable activities per scope instance (by its executionId), in completion order */
  done?: Record<string, { activityId: string; handlerId: string }[]>;
  /** compensations in progress, by the executionId of their throw event */
  running?: Record<string, { scope: string; queue: string[]; current: string | null; throwId: string }>;
}

/** The live throw events of this run (bpmn-elements objects are not in the meta): how to complete each. */
const throwers = new WeakMap<RunContext, Map<string, () => void>>();

function meta(ctx: RunContext): CompensationMeta {
  return (ctx.meta.compensation ??= {});
}

/** Runs `fn` when the run is quiescent (the same order with handler results in every run, see RunContext.whenQuiet). */
function defer(ctx: RunContext, fn: () => void): void {
  ctx.whenQuiet.push(fn);
}

/** Extension hook (per activity): compensation boundary events end at once; compensation throw events compensate. */
export function interceptCompensation(ctx: RunContext, activity: EngineObject): void {
  const scopes = ctx.def.eventScopes;
  const isBoundary = scopes.compensationBoundaries.has(activity.id);
  const throwInfo = scopes.compensationThrows.get(activity.id);
  if (!isBoundary && !throwInfo) return;
  for (const ed of activity.eventDefinitions ?? []) {
    if (ed?.type !== 'bpmn:CompensateEventDefinition') continue;
    if (isBoundary) {
      ed.execute = (executeMessage: EngineObject) => ed.broker.publish('execution', 'execute.discard', { ...executeMessage.content });
      continue;
    }
    ed.execute = (executeMessage: EngineObject) => {
      const content = executeMessage.content ?? {};
      const executionId: string = content.parent?.id === activity.id && content.parent?.executionId ? content.parent.executionId : content.executionId;
      const complete = () => ed.broker.publish('execution', 'execute.completed', { ...content, state: 'compensated' });
      let live = throwers.get(ctx);
      if (!live) throwers.set(ctx, (live = new Map()));
      live.set(executionId, complete);
      if (meta(ctx).running?.[executionId]) return; // resumed while its handlers run: driveCompensation goes on
      defer(ctx, () => startCompensation(ctx, activity, executionId, throwInfo!.activityRef));
    };
  }
}

/** Starts compensating for the throw event `thrower` (see the module comment). */
function startCompensation(ctx: RunContext, thrower: EngineObject, executionId: string, activityRef: string | null): void {
  let scope = scopeOfActivity(ctx, thrower.id, executionId);
  if (scope && ctx.def.eventScopes.eventSubProcessById.has(scope.id) && scope.parent) scope = scope.parent;
  const m = meta(ctx);
  const done = scope ? (m.done?.[scope.executionId] ?? []) : [];
  const picked = activityRef ? done.filter((d) => d.activityId === activityRef).slice(-1) : [...done];
  // each activity is compensated once
  if (scope && m.done) m.done[scope.executionId] = done.filter((d) => !picked.includes(d));
  const queue = picked.reverse().map((d) => d.handlerId);
  ctx.push({ type: 'compensation.started', activityId: thrower.id, activityType: thrower.type, actor: 'system', data: { executionId, compensating: picked.map((d) => d.activityId), handlers: queue } });
  if (!scope || !queue.length) {
    finish(ctx, executionId, thrower.id);
    return;
  }
  (m.running ??= {})[executionId] = { scope: scope.executionId, queue, current: null, throwId: thrower.id };
  advance(ctx, executionId);
}

/** Runs the next handler of a compensation whose current handler has ended, or completes its throw event. */
function advance(ctx: RunContext, executionId: string): void {
  const rec = meta(ctx).running?.[executionId];
  if (!rec) return;
  const scope = scopeByExecutionId(ctx, rec.scope);
  if (!scope) {
    // the scope was cancelled meanwhile (an interrupting event): nothing is left to complete
    delete meta(ctx).running![executionId];
    return;
  }
  if (rec.current && scope.exec.getActivityById?.(rec.current)?.isRunning) return;
  const next = rec.queue.shift();
  if (next === undefined) {
    delete meta(ctx).running![executionId];
    finish(ctx, executionId, rec.throwId);
    return;
  }
  rec.current = next;
  const handler = scope.exec.getActivityById?.(next);
  if (!handler) {
    advance(ctx, executionId);
    return;
  }
  handler.run();
}

function finish(ctx: RunContext, executionId: string, throwId: string): void {
  ctx.push({ type: 'compensation.completed', activityId: throwId, actor: 'system', data: { executionId } });
  throwers.get(ctx)?.get(executionId)?.();
}

/**
 * Listener hook: remembers completed compensable activities in their scope instance, and goes on with a
 * compensation when one of its handlers ends.
 */
export function trackCompensation(ctx: RunContext, listener: { on(event: string, fn: (api: EngineObject) => void): unknown }): void {
  const scopes = ctx.def.eventScopes;
  if (!scopes.compensable.size) return;
  listener.on('activity.end', (api: EngineObject) => {
    const handlerId = scopes.compensable.get(api.id);
    const scopeExec: string | undefined = api.content?.parent?.executionId;
    if (!handlerId || !scopeExec) return;
    const done = (meta(ctx).done ??= {});
    (done[scopeExec] ??= []).push({ activityId: api.id, handlerId });
  });
  listener.on('activity.leave', (api: EngineObject) => {
    if (!scopes.compensationHandlers.has(api.id)) return;
    for (const [execId, rec] of Object.entries(meta(ctx).running ?? {})) if (rec.current === api.id) defer(ctx, () => advance(ctx, execId));
  });
}

/**
 * End of a transition: compensations whose current handler is no longer running go on (their handler ended in
 * this run after a recovery); the records of scope instances that ended are forgotten.
 */
export function driveCompensation(ctx: RunContext): void {
  const m = ctx.meta.compensation;
  if (!m) return;
  for (const execId of Object.keys(m.running ?? {})) advance(ctx, execId);
  const live = new Set(liveScopes(ctx).map((s) => s.executionId));
  for (const execId of Object.keys(m.done ?? {})) if (!live.has(execId) || !m.done![execId].length) delete m.done![execId];
  for (const execId of Object.keys(m.running ?? {})) if (!live.has(m.running![execId].scope)) delete m.running![execId];
  if (m.done && !Object.keys(m.done).length) delete m.done;
  if (m.running && !Object.keys(m.running).length) delete m.running;
  if (!Object.keys(m).length) delete ctx.meta.compensation;
}
