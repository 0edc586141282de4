/**
 * Call activities in a run. A called process is its own process instance (own state, tasks, jobs, history chain)
 * linked to the caller, never a process run inside the caller's engine (the model bpmn-elements runs has no
 * called element, see activity-data.ts): the call activity waits, and this module reports what the transition
 * must do about it (src/engine/call-activities.ts does it, durably, in the transition's unit of work):
 * - a call activity (or multi-instance iteration of one) that starts: a child to start, with the variables it
 *   passes (Camunda 7 `camunda:in`, Camunda 8 `propagateAllParentVariables` and input mappings) and its business
 *   key (Camunda 7 `<camunda:in businessKey>`); its id is fixed here, recorded in ExecMeta.calls and in the
 *   history (`call.started`);
 * - a waiting call activity that is left without completing (an interrupting boundary event, an event
 *   sub-process, a completion condition): its child to cancel.
 * When the child completes, the caller is signalled with the child's variables (`call.completed`); what reaches
 * the caller is decided here (`callResult`: Camunda 7 `camunda:out`, Camunda 8 `propagateAllChildVariables` and
 * output mappings).
 */
import { randomUUID } from 'node:crypto';
import type { ActivityInfo } from '../definitions.ts';
import type { Variables } from '../runtime.ts';
import { clone, type EngineObject, type RunContext } from './context.ts';
import { openScope, propagate, scopeChain, scopeOf, visibleLocals, visibleVariables } from './local-scopes.ts';
import { sourceValue } from './mappings.ts';
import { throwAt } from './bpmn-events.ts';

/** A child instance to start after the caller's transition commits. */
export interface CallStart {
  /** the call activity */
  activityId: string;
  /** its execution (one per multi-instance iteration): the caller is resumed by signalling it */
  executionId: string;
  /** the id the child instance will have */
  childInstanceId: string;
  /** the called process (its key) */
  processKey: string;
  /** the child's start variables */
  variables: Variables;
  businessKey: string | null;
}

/** What a run asks the transition to do about called processes. */
export interface CallEffects {
  start: CallStart[];
  /** ids of child instances to cancel */
  cancel: string[];
}

/** A call in progress, by the executionId of its call activity (ExecMeta.calls). */
export interface CallRecord {
  activityId: string;
  childInstanceId: string;
}

const effects = new WeakMap<RunContext, CallEffects>();

function effectsOf(ctx: RunContext): CallEffects {
  let e = effects.get(ctx);
  if (!e) effects.set(ctx, (e = { start: [], cancel: [] }));
  return e;
}

/** What this run asks for (undefined when it touched no call activity). */
export function callEffects(ctx: RunContext): CallEffects | undefined {
  const e = effects.get(ctx);
  return e && (e.start.length || e.cancel.length) ? e : undefined;
}

const isCall = (info: ActivityInfo | undefined): info is ActivityInfo => info?.type === 'bpmn:CallActivity';

/** The variables a call passes to its child, as the dialect says (see the module comment). */
function childVariables(ctx: RunContext, info: ActivityInfo, executionId: string, content: EngineObject, base: Variables | undefined): { variables: Variables; businessKey: string | null } {
  const spec = info.call;
  const visible = visibleVariables(ctx, scopeOf(ctx, executionId) ? executionId : content, base);
  const own = scopeOf(ctx, executionId)?.vars ?? {};
  if (!spec || spec.dialect === 'plain') return { variables: visible, businessKey: null };
  if (spec.dialect === 'zeebe') return { variables: spec.propagateAllParentVariables ? visible : clone(own), businessKey: null };
  const out: Variables = {};
  for (const m of spec.ins) {
    const from = m.local ? clone(own) : visible;
    if (m.all) Object.assign(out, from);
    else if (m.target && m.sourceExpression) out[m.target] = clone(sourceValue(m.sourceExpression, from) ?? null);
    else if (m.target && m.source) out[m.target] = clone(from[m.source] ?? null);
  }
  const businessKey = spec.businessKey ? sourceValue(spec.businessKey, { ...visible, execution: { processBusinessKey: ctx.input.businessKey } }) : null;
  return { variables: out, businessKey: businessKey === null || businessKey === undefined || businessKey === '' ? null : String(businessKey) };
}

/**
 * Watches the run's call activities (see the module comment): a new call is reported once (a recovered one,
 * already in ExecMeta.calls, is only made signalable again).
 */
export function trackCalls(ctx: RunContext, listener: { on(event: string, fn: (api: EngineObject) => void): unknown }): void {
  listener.on('activity.call', (api: EngineObject) => {
    const info = ctx.infoOf(api.id);
    if (!isCall(info) || !info.calledElement?.processId) return;
    const executionId: string = api.executionId;
    // the completion of the child signals this execution, however deep it is
    ctx.waitApis.set(executionId, api);
    const calls = (ctx.meta.calls ??= {});
    if (calls[executionId]) return;
    const { variables, businessKey } = childVariables(ctx, info, executionId, api.content, api.environment?.variables);
    const childInstanceId = randomUUID();
    calls[executionId] = { activityId: api.id, childInstanceId };
    effectsOf(ctx).start.push({ activityId: api.id, executionId, childInstanceId, processKey: info.calledElement.processId, variables, businessKey });
    ctx.push({ type: 'call.started', activityId: api.id, activityType: api.type, data: { executionId, childInstanceId, processKey: info.calledElement.processId } });
  });
  const leftWithoutCompleting = (api: EngineObject) => {
    const id: string | undefined = api?.executionId;
    if (id) cancelCalls(ctx, id, `${api.id} was left before the called process completed`);
  };
  listener.on('activity.discard', leftWithoutCompleting);
  listener.on('activity.leave', leftWithoutCompleting);
}

/**
 * The calls still running at an execution (or a multi-instance body's iterations `<id>_<n>`) are cancelled:
 * their children are reported for cancellation and forgotten here.
 */
export function cancelCalls(ctx: RunContext, executionId: string, reason: string): void {
  const calls = ctx.meta.calls;
  if (!calls) return;
  for (const [id, rec] of Object.entries(calls)) {
    if (id !== executionId && !id.startsWith(`${executionId}_`)) continue;
    delete calls[id];
    effectsOf(ctx).cancel.push(rec.childInstanceId);
    ctx.push({ type: 'call.cancelled', activityId: rec.activityId, activityType: 'bpmn:CallActivity', actor: 'system', data: { executionId: id, childInstanceId: rec.childInstanceId, reason } });
  }
}

/** The call of an execution completed (its child ended and signalled it): nothing to cancel any more. */
export function forgetCall(ctx: RunContext, executionId: string): void {
  if (ctx.meta.calls) delete ctx.meta.calls[executionId];
}

/**
 * What a completed call passes back (the signal's payload is the child's variables), as the caller's result:
 * Camunda 8 / plain BPMN: every child variable unless propagateAllChildVariables="false" (output mappings then
 * choose among them, see mappings.ts); Camunda 7: `camunda:out` are applied here (set in the caller, or as locals
 * of the call activity with local="true") and nothing else is a result.
 */
export function callResult(ctx: RunContext, activity: EngineObject, info: ActivityInfo, executionId: string, output: unknown): Variables | null {
  if (!isCall(info)) return null;
  forgetCall(ctx, executionId);
  const child = output && typeof output === 'object' && !Array.isArray(output) ? (clone(output) as Variables) : {};
  const spec = info.call;
  if (!spec || spec.dialect !== 'camunda') {
    if (spec && !spec.propagateAllChildVariables && !(info.io?.outputs.length)) return null;
    return child;
  }
  const toCaller: Variables = {};
  const local: Variables = {};
  const visible = { ...visibleVariables(ctx, executionId, activity.environment?.variables), ...visibleLocals(ctx, executionId) };
  for (const m of spec.outs) {
    const target = m.local ? local : toCaller;
    if (m.all) Object.assign(target, child);
    else if (m.target && m.sourceExpression) target[m.target] = clone(sourceValue(m.sourceExpression, { ...visible, ...child }) ?? null);
    else if (m.target && m.source) target[m.target] = clone(child[m.source] ?? null);
  }
  if (Object.keys(local).length) {
    const rec = scopeOf(ctx, executionId);
    if (rec) Object.assign(rec.vars, local);
    else openScope(ctx, executionId, activity.id, scopeChain(ctx, executionId).filter((id) => id !== executionId), local);
  }
  if (Object.keys(toCaller).length) propagate(ctx, activity, scopeChain(ctx, executionId).filter((id) => id !== executionId), toCaller);
  return null;
}

/**
 * The child of a waiting call activity threw a BPMN error or an escalation it did not catch (action `call.failed`,
 * data `{ kind, code, message }`): it is thrown from the call activity, so its boundary events, then the
 * enclosing scopes' catchers, catch it as if the call activity had thrown it (an interrupting catcher then cancels
 * the child; a non-interrupting escalation catcher lets it run on). True when nothing catches it or the call
 * activity no longer waits (the transition then writes nothing; an error's child keeps its incident, which its
 * caller shows).
 */
export function failCall(ctx: RunContext, executionId: string, data: Record<string, unknown> | undefined): boolean {
  const rec = ctx.meta.calls?.[executionId];
  if (!rec) return true;
  const code = data?.code === undefined || data?.code === null || data?.code === '' ? null : String(data.code);
  const message = typeof data?.message === 'string' ? data.message : null;
  const kind = data?.kind === 'escalation' ? 'escalation' : 'error';
  ctx.push({ type: kind === 'error' ? 'call.failed' : 'call.escalated', activityId: rec.activityId, activityType: 'bpmn:CallActivity', actor: 'system', data: { executionId, childInstanceId: rec.childInstanceId, code, message } });
  return !throwAt(ctx, rec.activityId, executionId, { kind, code, message }).caught;
}
