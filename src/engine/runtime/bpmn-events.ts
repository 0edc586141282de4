/**
 * BPMN errors and escalations of a run: thrown by a handler (`throw new BpmnError(code)`), by an error end
 * event, or by an escalation end / intermediate throw event, they go to the catcher that
 * src/engine/event-scopes.ts `resolveCatcher` picks along the scope chain (boundary events, then event
 * sub-processes, innermost scope first; a code before a catch-all), and this module triggers it in the live
 * engine:
 *  - a boundary event is told it caught (bpmn-elements then cancels the activity it is attached to when it
 *    interrupts, and takes the boundary's outgoing flow);
 *  - an event sub-process is started in the scope instance (runtime/event-subprocesses.ts), which an
 *    interrupting one cancels.
 * bpmn-elements' own propagation is not used: throw events are intercepted (interceptThrowEvents) and handler
 * errors never reach the engine, so there is one rule for who catches, also for event sub-processes, which
 * bpmn-elements does not start for a task's error nor let interrupt their scope.
 *
 * Uncaught: an error opens an incident naming its code (the throwing activity stays where it is, see
 * FailureItem); an escalation is not critical (BPMN 2.0, Camunda 7 and 8): the throw event completes and the
 * history records `escalation.uncaught`. A caught error or escalation records `error.caught` /
 * `escalation.caught` naming the code, the thrower and the catcher. Error variables (BpmnError.variables,
 * camunda:errorCodeVariable, camunda:errorMessageVariable, camunda:escalationCodeVariable) are set when caught.
 */
import { resolveCatcher, type Catcher, type Resolution, type ThrowKind } from '../event-scopes.ts';
import { resolveValue } from '../expressions.ts';
import type { Variables } from '../runtime.ts';
import { clone, errorText, type EngineObject, type RunContext } from './context.ts';
import { isInterrupted, startEventSubProcess } from './event-subprocesses.ts';
import { postponedById, scopeOfActivity, type ScopeInstance } from './live-scopes.ts';
import { mergeVariables } from './variables.ts';

export interface Thrown {
  kind: ThrowKind;
  /** the code; null for an error / escalation without one (only a catch-all catches it) */
  code: string | null;
  message: string | null;
  /** variables the error carries (BpmnError.variables) */
  variables?: Variables;
}

export type ThrowOutcome = { caught: false } | { caught: true; interrupting: boolean; catcher: Catcher };

/**
 * Throws `thrown` from the running activity `activity` (executionId `executionId`) and triggers its catcher.
 * Called outside bpmn-elements' own propagation; the caller decides what the thrower does next (see the
 * module comment).
 */
export function throwFrom(ctx: RunContext, activity: EngineObject, executionId: string, thrown: Thrown): ThrowOutcome {
  const scopes = ctx.def.eventScopes;
  // the live scope instances around the thrower, by scope id (static nesting: one instance per id on the path)
  const byScope = new Map<string, ScopeInstance>();
  for (let s = scopeOfActivity(ctx, activity.id, executionId); s; s = s.parent) if (!byScope.has(s.id)) byScope.set(s.id, s);
  const holderOf = (activityId: string) => byScope.get(scopes.parentOf.get(activityId) ?? '') ?? null;
  const isLive = (r: Resolution): boolean => {
    if (r.catcher.via === 'boundary') {
      const holder = holderOf(r.scope);
      return Boolean(holder && postponedById(holder, r.catcher.id));
    }
    const scope = byScope.get(r.scope);
    return Boolean(scope && !isInterrupted(ctx, scope));
  };
  const resolution = resolveCatcher(scopes, activity.id, thrown.kind, thrown.code, isLive);
  const data = { code: thrown.code, message: thrown.message, executionId };
  if (!resolution) {
    if (thrown.kind === 'escalation') ctx.push({ type: 'escalation.uncaught', activityId: activity.id, activityType: activity.type, actor: 'system', data });
    return { caught: false };
  }
  const { catcher } = resolution;
  ctx.push({ type: `${thrown.kind}.caught`, activityId: catcher.eventId, activityType: catcher.via === 'boundary' ? 'bpmn:BoundaryEvent' : 'bpmn:StartEvent', actor: 'system', data: { ...data, thrownBy: activity.id, caughtBy: catcher.id, interrupting: catcher.interrupting } });
  const vars: Variables = { ...(thrown.variables ?? {}) };
  if (catcher.codeVariable) vars[catcher.codeVariable] = thrown.code;
  if (catcher.messageVariable) vars[catcher.messageVariable] = thrown.message;
  if (Object.keys(vars).length) mergeVariables(ctx, activity, clone(vars));

  const message = { id: catcher.refId ?? undefined, code: thrown.code ?? undefined, message: thrown.message ?? undefined };
  if (catcher.via === 'boundary') {
    const holder = holderOf(resolution.scope)!;
    const boundary = postponedById(holder, catcher.id);
    boundary.sendApiMessage(thrown.kind === 'error' ? 'throw' : 'escalate', { message });
    if (!catcher.interrupting) rearmBoundary(ctx, holder, catcher.id, resolution.scope);
  } else {
    const esp = scopes.eventSubProcessById.get(catcher.id)!;
    startEventSubProcess(ctx, byScope.get(resolution.scope)!, esp, { espId: esp.id, code: thrown.code });
  }
  return { caught: true, interrupting: catcher.interrupting, catcher };
}

/**
 * A non-interrupting boundary event catches every occurrence while its activity runs; bpmn-elements ends it after
 * the first: it is started again once it has left, if the activity it is attached to still runs.
 */
function rearmBoundary(ctx: RunContext, holder: ScopeInstance, boundaryId: string, attachedToId: string): void {
  ctx.whenQuiet.push(() => {
    if (!postponedById(holder, attachedToId) || postponedById(holder, boundaryId)) return;
    holder.exec.getActivityById?.(boundaryId)?.run();
  });
}

/**
 * Throws `thrown` from the running activity `activityId` as `executionId` (any depth), e.g. from a call activity
 * whose child instance ended with an uncaught BPMN error (FailureItem.bpmnError) or escalation: its boundary
 * events, then the enclosing scopes, catch it as if the call activity had thrown it. Uncaught (or the activity
 * is not running): { caught: false }, and the caller decides (an incident for an error).
 */
export function throwAt(ctx: RunContext, activityId: string, executionId: string, thrown: Thrown): ThrowOutcome {
  const scope = scopeOfActivity(ctx, activityId, executionId);
  const activity = scope?.exec.getActivityById?.(activityId);
  if (!activity) return { caught: false };
  return throwFrom(ctx, activity, executionId, thrown);
}

/**
 * A handler's BpmnError on `activity`: true when something caught it (the activity is then cancelled by its
 * catcher), false when nothing does (the caller opens an incident).
 */
export function handlerErrorCaught(ctx: RunContext, activity: EngineObject, executionId: string, err: { code: unknown; message?: string; variables?: Variables }): boolean {
  const code = err.code === undefined || err.code === null || err.code === '' ? null : String(err.code);
  const outcome = throwFrom(ctx, activity, executionId, { kind: 'error', code, message: err.message ?? null, variables: err.variables });
  return outcome.caught;
}

/** The text of the incident an uncaught BPMN error opens. */
export function uncaughtErrorText(code: string | null, message: string | null): string {
  const what = code === null ? 'a business error without a code' : `business error ${code}`;
  return `${what}${message && message !== code ? ` (${message})` : ''} is not caught by any boundary event or event sub-process`;
}

/**
 * Extension hook (per activity): an error or escalation end / intermediate throw event throws through
 * throwFrom instead of bpmn-elements' delegation.
 *  - error (end event): caught, the event waits until its catcher cancels it; uncaught, an incident at the
 *    event (a retry throws again);
 *  - escalation: an interrupting catcher cancels the event with its scope; otherwise (non-interrupting catcher,
 *    or nothing catches) the event completes: its outgoing flow is taken, or its path ends.
 */
export function interceptThrowEvents(ctx: RunContext, activity: EngineObject): void {
  const info = ctx.def.eventScopes.throws.get(activity.id);
  if (!info || !activity.isThrowing) return;
  for (const ed of activity.eventDefinitions ?? []) {
    const kind: ThrowKind | null = ed?.type === 'bpmn:ErrorEventDefinition' ? 'error' : ed?.type === 'bpmn:EscalationEventDefinition' ? 'escalation' : null;
    if (!kind || kind !== info.kind) continue;
    ed.execute = (executeMessage: EngineObject) => {
      const content = executeMessage.content ?? {};
      const executionId: string = content.parent?.id === activity.id && content.parent?.executionId ? content.parent.executionId : content.executionId;
      const pending = ctx.input.pending.get(executionId);
      const targeted = ctx.input.action.kind === 'retry' && ctx.input.action.executionId === executionId;
      if (pending && !targeted) return; // an uncaught error waiting for an operator: stays where it is
      let code = info.code;
      if (code !== null && /^(=|\$\{|#\{)/.test(code)) {
        try {
          const v = resolveValue(code, clone({ ...(activity.environment?.variables ?? {}) }));
          code = v === null || v === undefined || v === '' ? null : String(v);
        } catch (err) {
          code = null;
          ctx.deps.logger?.warn({ instanceId: ctx.input.instanceId, activityId: activity.id, error: errorText(err) }, 'the code of a throw event could not be evaluated');
        }
      }
      ctx.push({ type: `${kind}.thrown`, activityId: activity.id, activityType: activity.type, actor: 'system', data: { code, name: info.name, executionId } });
      // caught once the run is quiescent (the activities around the thrower, its boundary events, are registered
      // in their scopes only then); the event stays executing until then
      ctx.whenQuiet.push(() => {
        const outcome = throwFrom(ctx, activity, executionId, { kind, code, message: info.name });
        if (kind === 'error') {
          if (!outcome.caught) {
            const attempt = (pending?.attempts ?? 0) + 1;
            // a pending call is known by its key (transition.ts reads pending calls only when some key is kept)
            ctx.meta.keys[executionId] ??= `${ctx.input.instanceId}:${activity.id}:uncaught-error`;
            ctx.failures.push({ executionId, activityId: activity.id, handler: `error:${code ?? ''}`, attempt, error: uncaughtErrorText(code, info.name), retryAt: null, bpmnError: { code, message: info.name } });
          } else ctx.settled.push(executionId);
          return;
        }
        if (outcome.caught && outcome.interrupting) return;
        ed.broker.publish('execution', 'execute.completed', { ...content, state: 'throw' });
      });
    };
  }
}
