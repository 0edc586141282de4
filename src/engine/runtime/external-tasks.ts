/**
 * External tasks in a run (issue 11, section 3): a service or send task bound to a topic (camunda:type="external"
 * camunda:topic) or a job type (zeebe:taskDefinition) that no in-process handler serves does not call anything:
 * its call stays open in the engine state (bpmn-elements makes it again on every resume) and the run reports an
 * `externalTask` wait, which the commit turns into an external_tasks row (../commit-plan.ts). A worker's answer
 * comes back as an `external` action aimed at the execution: complete (the variables are the task's result, as a
 * handler's output), bpmnError (routed exactly as a handler's BpmnError), failure (retries left: only history, the
 * worker fetches it again later; none left: an incident, exactly as a handler whose attempts are exhausted). An
 * operator's retry of that incident (a `retry` action) resolves it and makes the task fetchable again.
 */
import { BpmnError } from '../../errors.ts';
import { handlerBindingOf } from '../../definitions/bindings.ts';
import type { ActivityInfo } from '../definitions.ts';
import type { RegisteredHandler, Variables } from '../runtime.ts';
import { clone, trackContinuation, type EngineObject, type RunContext } from './context.ts';
import { openScope, scopeOf } from './local-scopes.ts';

type Callback = (err: unknown, out?: unknown) => void;

/**
 * The topic of an activity that is an external task in this engine: bound to a topic or job type, with no
 * in-process handler registered under that name (a registered handler wins); null otherwise.
 */
export function externalTopicOf(activity: EngineObject, info: ActivityInfo, handlers: Map<string, RegisteredHandler>): string | null {
  if (!info.handler || info.decision || handlers.has(info.handler)) return null;
  const binding = handlerBindingOf(activity.behaviour ? { behaviour: activity.behaviour } : activity);
  return binding && (binding.kind === 'external-topic' || binding.kind === 'zeebe-job') ? info.handler : null;
}

/** camunda:taskPriority as a literal integer (expressions are not evaluated: 0). */
function priorityOf(activity: EngineObject): number {
  const raw = activity.behaviour?.taskPriority ?? activity.behaviour?.$attrs?.['camunda:taskPriority'];
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d{1,9}$/.test(raw.trim()) ? Number(raw) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}

/**
 * The external task's part of a service call. `routeBpmnError` is the handler path's BPMN error routing (boundary
 * event, event sub-process, else incident), so both behave the same.
 */
export function executeExternal(
  ctx: RunContext,
  activity: EngineObject,
  info: ActivityInfo,
  msg: EngineObject,
  topic: string,
  callback: Callback,
  routeBpmnError: (err: BpmnError) => void,
): void {
  const executionId: string = msg.content.executionId;
  const action = ctx.input.action;
  const wait = (reset: boolean) =>
    ctx.waits.set(executionId, {
      kind: 'externalTask',
      activityId: activity.id,
      executionId,
      name: info.name,
      eventName: null,
      isNew: !msg.content.isRecovered && !msg.fields?.redelivered,
      topic,
      priority: priorityOf(activity),
      ...(reset && { reset: true }),
    });

  if (action.kind === 'retry' && action.executionId === executionId) {
    // an operator retried the incident: resolved, and the task is fetchable again with one retry
    ctx.settled.push(executionId);
    wait(true);
    return;
  }
  if (action.kind !== 'external' || action.executionId !== executionId) {
    wait(false);
    return;
  }
  const base = { taskId: action.taskId, topic, workerId: action.workerId };
  // an incident needs the call's key in the books, as a handler's (transition.ts reads pending calls by it)
  if (!ctx.meta.keys[executionId]) {
    const n = (ctx.meta.counters[activity.id] ?? 0) + 1;
    ctx.meta.counters[activity.id] = n;
    ctx.meta.keys[executionId] = `${ctx.input.instanceId}:${activity.id}:${n}`;
  }
  if (action.outcome === 'complete') {
    const variables = clone(action.variables ?? {});
    if (action.localVariables && Object.keys(action.localVariables).length) {
      // local to the task's execution: its output mappings see them, the process does not
      const scope = scopeOf(ctx, executionId);
      if (scope) Object.assign(scope.vars, clone(action.localVariables));
      else openScope(ctx, executionId, activity.id, msg.content, action.localVariables);
    }
    ctx.push({ type: 'externalTask.completed', activityId: activity.id, activityType: activity.type, data: { ...base, variables, ...(action.localVariables && { localVariables: clone(action.localVariables) }) } });
    ctx.settled.push(executionId);
    // answered after the resume has settled, as a handler's result is (a callback made during the resume itself
    // leaves a multi-instance body waiting for iterations that are done)
    trackContinuation(ctx, Promise.resolve().then(() => callback(null, variables)));
    return;
  }
  if (action.outcome === 'bpmnError') {
    const variables: Variables = clone(action.variables ?? {});
    ctx.push({ type: 'externalTask.bpmnError', activityId: activity.id, activityType: activity.type, data: { ...base, errorCode: action.errorCode ?? null, errorMessage: action.errorMessage ?? null, variables } });
    // Camunda sets the variables on the process before the error is thrown
    if (Object.keys(variables).length) Object.assign(activity.environment.variables, variables);
    // still waiting after the routing (nothing caught it: an incident): the task stays, with no retries left
    wait(false);
    // routed once the resumed run is quiescent (its scopes and boundary events are known then), as a throw event's
    ctx.whenQuiet.push(() => routeBpmnError(new BpmnError(String(action.errorCode), action.errorMessage ?? String(action.errorCode))));
    return;
  }
  // failure: retries left -> fetchable again after the retry timeout; none -> an incident
  const retries = Math.max(0, action.retries ?? 0);
  const incident = retries === 0;
  const error = action.errorMessage ?? 'the worker reported a failure';
  ctx.push({
    type: 'externalTask.failed',
    activityId: activity.id,
    activityType: activity.type,
    data: { ...base, error, errorDetails: action.errorDetails ?? null, retries, retryAt: incident || action.retryAt == null ? null : new Date(action.retryAt).toISOString(), incident },
  });
  wait(false);
  if (incident) {
    const attempt = (ctx.input.pending.get(executionId)?.attempts ?? 0) + 1;
    ctx.failures.push({ executionId, activityId: activity.id, handler: topic, attempt, error, retryAt: null });
  }
}
