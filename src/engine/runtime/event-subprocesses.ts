/**
 * Event sub-processes (BPMN 2.0 §10.3.5). bpmn-elements only starts one when a message, signal or error is
 * delegated inside the process, and then does not interrupt the scope; insureflow starts them itself:
 *
 * Timer start (process level). bpmn-elements never runs a timer start event inside one. We run the
 * sub-process activity ourselves while the process has work going on, so its start event publishes
 * activity.timer (a durable job, like any timer) and waits; the saved state then holds the armed sub-process,
 * so it is armed once and comes back on resume. When the timer fires, bpmn-elements runs the sub-process's
 * flow; the rest is done here:
 *  - interrupting: the other activities of the process are discarded first (see actions.ts, the timer action);
 *  - non-interrupting cycle: one run of the sub-process at a time (an activity cannot run twice at once), so
 *    the next cycle is armed when the previous run has finished, due one period after the previous firing;
 *  - a sub-process that only waits for its start timer does not keep the process alive: when nothing else
 *    is going on it is discarded and the process completes.
 * Bookkeeping across transitions lives in ExecMeta.eventSubs (fired count, last firing in ms, used up).
 *
 * Message and signal start (any scope: the process, an embedded sub-process, another event sub-process).
 * Nothing is armed in the engine: while a scope instance runs, each of its message / signal event
 * sub-processes is a subscription (a wait item whose executionId is `esp:<event sub-process id>@<scope
 * executionId>`, see eventSubProcessWaitId). A message or signal delivered to it starts the sub-process.
 *
 * Error and escalation start: started by runtime/bpmn-events.ts when a thrown error / escalation resolves to
 * them (src/engine/event-scopes.ts decides who catches).
 *
 * Starting one (startEventSubProcess): an interrupting one cancels every other activity of its scope instance
 * (the main flow, boundary events, other event sub-process runs) and no other event sub-process of that scope
 * instance starts afterwards; the scope completes when it completes. A non-interrupting one runs beside the
 * main flow, once per occurrence: an occurrence that arrives while the previous run is still going on (an
 * activity cannot run twice at once in bpmn-elements) is queued in ExecMeta.eventScopes and runs when the
 * previous run has ended, in arrival order.
 */
import type { TimerEventSubProcess } from '../definitions.ts';
import type { EventSubProcessInfo } from '../event-scopes.ts';
import { cycleRepeats } from '../iso.ts';
import type { Action, Variables, WaitItem } from '../runtime.ts';
import { clone, stable, type EngineObject, type RunContext } from './context.ts';
import { liveScopes, postponedIn, scopeByExecutionId, type ScopeInstance } from './live-scopes.ts';
import { mergeVariables } from './variables.ts';
import { driveCompensation } from './compensation.ts';

/** What one scope instance remembers about its event sub-processes across transitions (in ExecMeta.eventScopes). */
export interface ScopeEventMeta {
  /** the interrupting event sub-process that cancelled the rest of this scope instance */
  interruptedBy?: string;
  /** occurrences waiting for a run of a non-interrupting event sub-process that was still going on */
  queue?: Occurrence[];
}

/** One occurrence of what starts an event sub-process. */
export interface Occurrence {
  espId: string;
  /** message / signal payload, or the variables a BPMN error carried */
  variables?: Variables;
  /** error / escalation code */
  code?: string | null;
}

/**
 * Runs at the end of a transition, after its action: starts queued occurrences of non-interrupting event
 * sub-processes whose previous run has ended, arms / retires timer event sub-processes, then reports the
 * message and signal event sub-processes of the live scopes as wait items (subscriptions) and forgets the
 * bookkeeping of scope instances that ended.
 */
export async function driveEventSubProcesses(ctx: RunContext): Promise<void> {
  if (ctx.meta.compensation) {
    driveCompensation(ctx);
    await stable(ctx);
  }
  await runQueuedOccurrences(ctx);
  if (!ctx.ended && !ctx.engineError) await driveTimerEventSubProcesses(ctx);
  if (!ctx.ended && !ctx.engineError) reportEventSubProcessWaits(ctx);
}

async function driveTimerEventSubProcesses(ctx: RunContext): Promise<void> {
  const { def, meta, interruptedBy, firedHere, armedOnly } = ctx;
  if (!def.timerEventSubProcesses?.length) return;
  for (let round = 0; round < 10 && !ctx.ended && !ctx.engineError; round++) {
    let changed = false;
    for (const proc of runningProcesses(ctx)) {
      const own = def.timerEventSubProcesses.filter((esp) => proc.getActivityById(esp.id));
      if (!own.length) continue;
      // an interrupting sub-process that fired without our timer action (due at once when armed)
      for (const esp of own) {
        if (esp.interrupting && meta.eventSubs?.[esp.id]?.fired && !interruptedBy.has(esp.id) && firedHere.has(esp.id)) {
          interruptedBy.add(esp.id);
          interruptOthers(ctx, esp.id);
          changed = true;
        }
      }
      const interrupted = own.some((esp) => esp.interrupting && (meta.eventSubs?.[esp.id]?.fired ?? 0) > 0) || Boolean(meta.eventScopes?.[proc.executionId]?.interruptedBy);
      const postponed: EngineObject[] = proc.getPostponed().filter((a: EngineObject) => def.activities.has(a.id));
      const busy = postponed.some((a) => !isArmedOnly(ctx, proc, a.id));
      if (!busy) {
        // only armed start timers left: the process is done
        for (const a of postponed) a.discard();
        if (postponed.length) changed = true;
        continue;
      }
      if (interrupted) continue;
      for (const esp of own) {
        const activity = proc.getActivityById(esp.id);
        if (activity.isRunning || meta.eventSubs?.[esp.id]?.done) continue;
        activity.run();
        changed = true;
      }
    }
    if (!changed) break;
    await stable(ctx);
  }
  armedOnly.clear();
  for (const proc of runningProcesses(ctx)) {
    for (const esp of def.timerEventSubProcesses) if (proc.getActivityById(esp.id) && isArmedOnly(ctx, proc, esp.id)) armedOnly.add(esp.id);
  }
}

/** The running process apis of the run's execution. */
export function runningProcesses(ctx: RunContext): EngineObject[] {
  return (ctx.execution?.definitions ?? []).flatMap((d: EngineObject) => d.getRunningProcesses?.() ?? []);
}

/** The event sub-process is running and only its timer start event is waiting (its flow has not started). */
function isArmedOnly(ctx: RunContext, proc: EngineObject, id: string): boolean {
  const esp = ctx.def.timerEventSubProcesses.find((e) => e.id === id);
  if (!esp) return false;
  const activity = proc.getActivityById(id);
  if (!activity?.isRunning) return false;
  const inner = (activity.execution?.getPostponed?.() ?? []).filter((a: EngineObject) => a.id !== id);
  return inner.length > 0 && inner.every((a: EngineObject) => a.id === esp.startId);
}

/** Discard every other activity of the process the event sub-process is in (boundary events go with theirs). */
export function interruptOthers(ctx: RunContext, espId: string): void {
  for (const proc of runningProcesses(ctx)) {
    if (!proc.getActivityById(espId)) continue;
    const postponed: EngineObject[] = proc.getPostponed().filter((a: EngineObject) => a.id !== espId && ctx.def.activities.has(a.id));
    const ids = new Set(postponed.map((a) => a.id as string));
    for (const a of postponed) {
      const attachedTo = ctx.infoOf(a.id)?.attachedTo;
      if (attachedTo && ids.has(attachedTo)) continue;
      a.discard();
    }
  }
}

/** Records a firing of the event sub-process's start timer (called from the activity.timeout listener). */
export function eventSubFired(ctx: RunContext, esp: TimerEventSubProcess, content: EngineObject): void {
  const subs = (ctx.meta.eventSubs ??= {});
  const rec = (subs[esp.id] ??= { fired: 0, firedAt: 0, done: false });
  rec.fired++;
  rec.firedAt = ctx.deps.clock.now();
  const repeats = !esp.interrupting && content.timerType === 'timeCycle' ? (cycleRepeats(String(content.timeCycle ?? '')) ?? 1) : 1;
  rec.done = repeats !== -1 && rec.fired >= repeats;
  ctx.firedHere.add(esp.id);
}

/* -- message, signal, error and escalation event sub-processes ------------------------------------------------ */

const WAIT_PREFIX = 'esp:';

/** The executionId of the subscription of a message / signal event sub-process in one scope instance. */
export function eventSubProcessWaitId(espId: string, scopeExecutionId: string): string {
  return `${WAIT_PREFIX}${espId}@${scopeExecutionId}`;
}

/** Whether a signal action addresses an event sub-process subscription (see eventSubProcessWaitId). */
export function isEventSubProcessWait(executionId: string): boolean {
  return executionId.startsWith(WAIT_PREFIX) && executionId.includes('@');
}

function scopeMeta(ctx: RunContext, scopeExecutionId: string): ScopeEventMeta {
  const all = (ctx.meta.eventScopes ??= {});
  return (all[scopeExecutionId] ??= {});
}

/**
 * Whether an interrupting event sub-process has cancelled the rest of this scope instance (for the process: also
 * an interrupting timer event sub-process that fired).
 */
export function isInterrupted(ctx: RunContext, scope: ScopeInstance): boolean {
  if (ctx.meta.eventScopes?.[scope.executionId]?.interruptedBy) return true;
  return scope.parent === null && ctx.def.timerEventSubProcesses.some((t) => t.interrupting && (ctx.meta.eventSubs?.[t.id]?.fired ?? 0) > 0);
}

/**
 * Delivers a message or signal (a signal action) to the event sub-process subscription it addresses.
 * @returns true when the subscription is gone (the action missed: nothing is written)
 */
export async function deliverToEventSubProcess(ctx: RunContext, action: Extract<Action, { kind: 'signal' }>): Promise<boolean> {
  const rest = action.executionId.slice(WAIT_PREFIX.length);
  const at = rest.indexOf('@');
  const espId = rest.slice(0, at);
  const scope = scopeByExecutionId(ctx, rest.slice(at + 1));
  const esp = ctx.def.eventScopes.eventSubProcessById.get(espId);
  if (!scope || !esp || esp.scope !== scope.id || isInterrupted(ctx, scope)) return true;
  if (esp.trigger !== 'message' && esp.trigger !== 'signal') return true;
  const activity = scope.exec.getActivityById?.(esp.id);
  if (!activity || (activity.isRunning && esp.interrupting)) return true;
  // recorded first: the history shows what caused the transition before what it caused (replay reads it so)
  ctx.push({ type: action.event, activityId: esp.startId, activityType: 'bpmn:StartEvent', data: { ...(action.data ?? { variables: action.variables ?? {} }), eventSubProcess: esp.id, ...(activity.isRunning && { queued: true }) } });
  startEventSubProcess(ctx, scope, esp, { espId, variables: clone(action.variables ?? {}) });
  await stable(ctx);
  return false;
}

/**
 * Starts event sub-process `esp` in the scope instance `scope` for one occurrence (see the module comment):
 * 'started', 'queued' (non-interrupting, previous run still going on) or 'refused' (the scope was interrupted,
 * or the sub-process cannot be found in it).
 */
export function startEventSubProcess(ctx: RunContext, scope: ScopeInstance, esp: EventSubProcessInfo, occurrence: Occurrence): 'started' | 'queued' | 'refused' {
  const activity = scope.exec.getActivityById?.(esp.id);
  if (!activity || isInterrupted(ctx, scope)) return 'refused';
  if (activity.isRunning) {
    if (esp.interrupting) return 'refused';
    const rec = scopeMeta(ctx, scope.executionId);
    (rec.queue ??= []).push(clone(occurrence));
    return 'queued';
  }
  if (esp.interrupting) scopeMeta(ctx, scope.executionId).interruptedBy = esp.id;
  // the payload first: the sub-process's execution copies the variables when it starts
  if (occurrence.variables && Object.keys(occurrence.variables).length) mergeVariables(ctx, activity, occurrence.variables);
  activity.run();
  if (esp.interrupting) cancelScopeExcept(ctx, scope, esp.id);
  const start = (activity.execution?.source?.execution?.getPostponed?.() ?? []).find((a: EngineObject) => a.id === esp.startId);
  if (!start) return 'started';
  const message = { id: esp.catcher?.refId ?? undefined, code: occurrence.code ?? undefined };
  switch (esp.trigger) {
    case 'message':
    case 'signal':
      start.signal(clone(occurrence.variables ?? {}));
      break;
    case 'error':
      start.sendApiMessage('throw', { message });
      break;
    case 'escalation':
      start.sendApiMessage('escalate', { message });
      break;
  }
  return 'started';
}

/**
 * Cancels every activity of the scope instance but `keepId` (boundary events go with the activity they are
 * attached to): what an interrupting event sub-process does to its scope.
 */
export function cancelScopeExcept(ctx: RunContext, scope: ScopeInstance, keepId: string): void {
  const postponed = postponedIn(scope).filter((a) => a.id !== keepId);
  const ids = new Set(postponed.map((a) => a.id as string));
  for (const a of postponed) {
    const attachedTo = ctx.infoOf(a.id)?.attachedTo;
    if (attachedTo && ids.has(attachedTo)) continue;
    a.discard();
  }
}

/** Starts queued occurrences whose event sub-process has finished its previous run. */
async function runQueuedOccurrences(ctx: RunContext): Promise<void> {
  if (!ctx.meta.eventScopes) return;
  for (let round = 0; round < 100 && !ctx.ended && !ctx.engineError; round++) {
    let started = false;
    for (const scope of liveScopes(ctx)) {
      const rec = ctx.meta.eventScopes[scope.executionId];
      if (!rec?.queue?.length || rec.interruptedBy) continue;
      const index = rec.queue.findIndex((o) => !scope.exec.getActivityById?.(o.espId)?.isRunning);
      if (index < 0) continue;
      const [occurrence] = rec.queue.splice(index, 1);
      const esp = ctx.def.eventScopes.eventSubProcessById.get(occurrence.espId);
      if (esp && startEventSubProcess(ctx, scope, esp, occurrence) === 'started') started = true;
    }
    if (!started) break;
    await stable(ctx);
  }
}

/** Message / signal event sub-processes of the live scope instances become wait items; ended scopes are forgotten. */
function reportEventSubProcessWaits(ctx: RunContext): void {
  // nothing to do for a process without message / signal event sub-processes (most): no walk of the scopes
  if (!ctx.meta.eventScopes && ![...ctx.def.eventScopes.eventSubProcessById.values()].some((e) => e.trigger === 'message' || e.trigger === 'signal')) return;
  const scopes = liveScopes(ctx);
  const live = new Set(scopes.map((s) => s.executionId));
  for (const [execId, rec] of Object.entries(ctx.meta.eventScopes ?? {})) {
    if (!live.has(execId) || (!rec.interruptedBy && !rec.queue?.length)) delete ctx.meta.eventScopes![execId];
  }
  if (ctx.meta.eventScopes && !Object.keys(ctx.meta.eventScopes).length) delete ctx.meta.eventScopes;
  for (const scope of scopes) {
    if (isInterrupted(ctx, scope)) continue;
    for (const esp of ctx.def.eventScopes.eventSubProcesses.get(scope.id) ?? []) {
      if ((esp.trigger !== 'message' && esp.trigger !== 'signal') || !esp.eventName) continue;
      const executionId = eventSubProcessWaitId(esp.id, scope.executionId);
      const wait: WaitItem = { kind: esp.trigger, activityId: esp.startId, executionId, name: ctx.infoOf(esp.startId)?.name ?? null, eventName: esp.eventName, isNew: false };
      ctx.waits.set(executionId, wait);
    }
  }
}

/** Extension hook: bpmn-elements never starts an event sub-process by itself (no native delegation to it). */
export function disableNativeStart(activity: EngineObject): void {
  if (activity?.triggeredByEvent && typeof activity.getStartActivities === 'function') activity.getStartActivities = () => [];
}
