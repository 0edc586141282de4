/**
 * The engine listener of a run: turns bpmn-engine events into history drafts (instance started, activities
 * started / completed / cancelled, flows taken, timers scheduled / fired), collects the wait states (user
 * tasks, message / signal / receive subscriptions) and the armed timers with their due times (ms since the
 * epoch, from the injected clock), and notes the end of the process.
 */
import { EventEmitter } from 'node:events';
import { cycleRepeats, timerDueAt } from '../iso.ts';
import type { TimerItem, WaitItem } from '../runtime.ts';
import { clone, type EngineObject, type RunContext } from './context.ts';
import { eventSubFired } from './event-subprocesses.ts';
import { visibleLocals } from './local-scopes.ts';

const isReplay = (api: EngineObject) => Boolean(api?.fields?.redelivered || api?.content?.isRecovered || api?.content?.isResumed);

export function createListener(ctx: RunContext): EventEmitter {
  const { input, def, waits, timers, meta, espByStart, push } = ctx;
  const clock = ctx.deps.clock;
  const listener = new EventEmitter();
  const entered = new Set<string>();

  listener.on('process.start', (api: EngineObject) => {
    if (input.state) return;
    const startVariables = input.action.kind === 'start' ? clone(input.action.variables) : {};
    push({ type: 'instance.started', activityId: api.id, activityType: 'bpmn:Process', data: { definitionId: def.id, version: def.version, variables: startVariables } });
  });
  listener.on('activity.enter', (api: EngineObject) => {
    entered.add(api.executionId);
  });
  listener.on('activity.start', (api: EngineObject) => {
    entered.add(api.executionId);
    if (isReplay(api)) return;
    push({ type: 'activity.started', activityId: api.id, activityType: api.type, data: { name: api.name ?? null, executionId: api.executionId } });
  });
  listener.on('activity.end', (api: EngineObject) => {
    ctx.waitApis.delete(api.executionId);
    push({ type: 'activity.completed', activityId: api.id, activityType: api.type, data: { name: api.name ?? null, executionId: api.executionId } });
    waits.delete(api.executionId);
  });
  listener.on('activity.leave', (api: EngineObject) => {
    ctx.waitApis.delete(api.executionId);
    // the execution that left, and a multi-instance body's iterations (`<body>_<n>`); never another execution of the
    // same activity (one per iteration of an enclosing multi-instance sub-process)
    for (const [execId, w] of waits) if (w.activityId === api.id && (execId === api.executionId || execId.startsWith(`${api.executionId}_`))) waits.delete(execId);
    // a timer event that left (fired, or discarded with the activity it was attached to) has no job any more
    for (const [execId, t] of timers) if (t.activityId === api.id) timers.delete(execId);
  });
  listener.on('activity.discard', (api: EngineObject) => {
    ctx.waitApis.delete(api.executionId);
    if (!entered.has(api.executionId) && !waits.has(api.executionId)) return; // a path not taken
    push({ type: 'activity.cancelled', activityId: api.id, activityType: api.type, data: { name: api.name ?? null, executionId: api.executionId } });
    waits.delete(api.executionId);
  });
  listener.on('flow.take', (api: EngineObject) => {
    push({ type: 'flow.taken', activityId: api.id, activityType: api.type, data: { sourceId: api.content?.sourceId ?? null, targetId: api.content?.targetId ?? null } });
  });
  listener.on('activity.timer', (api: EngineObject) => {
    const c = api.content;
    const execId: string = c.executionId;
    const timerType: string = c.timerType ?? 'timeDuration';
    const value = String(c[timerType] ?? '');
    const resumed = Boolean(c.isResumed || api.fields?.redelivered);
    const item: TimerItem = { activityId: api.id, executionId: execId, timerType, value };
    if (!resumed) {
      const nowEngine = Date.now();
      const expireAt = c.expireAt ? new Date(c.expireAt).getTime() : nowEngine;
      item.dueAt = timerDueAt(timerType, value, clock.now()) ?? (timerType === 'timeDate' ? expireAt : clock.now() + Math.max(0, expireAt - nowEngine));
      // the next cycle of a timer event sub-process counts from the previous firing, not from the re-arming
      const previous = espByStart.has(api.id) ? meta.eventSubs?.[espByStart.get(api.id)!.id] : undefined;
      if (previous && timerType === 'timeCycle') item.dueAt = Math.max(clock.now(), timerDueAt(timerType, value, previous.firedAt) ?? item.dueAt);
      if (timerType === 'timeCycle') item.repeat = cycleRepeats(value) ?? undefined;
      push({ type: 'timer.scheduled', activityId: api.id, activityType: api.type, actor: 'system', data: { timerType, value, dueAt: new Date(item.dueAt).toISOString(), executionId: execId } });
    }
    timers.set(execId, item);
  });
  listener.on('activity.timeout', (api: EngineObject) => {
    const execId = api.content?.executionId;
    timers.delete(execId);
    if (api.content?.state === 'timeout') push({ type: 'timer.fired', activityId: api.id, activityType: api.type, actor: 'system', data: { executionId: execId } });
    const esp = espByStart.get(api.id);
    if (esp && api.content?.state === 'timeout' && !api.fields?.redelivered) eventSubFired(ctx, esp, api.content);
  });
  listener.on('activity.wait', (api: EngineObject) => {
    // every wait can be signalled by its executionId, however deep it is (bpmn-engine's getPostponed() only
    // lists the top level); recovered waits publish activity.wait again on resume
    ctx.waitApis.set(api.executionId, api);
    const info = ctx.infoOf(api.id);
    if (!info) return;
    const c = api.content ?? {};
    let kind: WaitItem['kind'] | null = null;
    let eventName: string | null = null;
    if (info.kind === 'userTask') kind = 'userTask';
    else if (info.kind === 'receiveTask') { kind = 'receive'; eventName = info.messageName ?? null; }
    else if (info.message) { kind = 'message'; eventName = info.messageName ?? null; }
    else if (info.signal) { kind = 'signal'; eventName = info.signalName ?? null; }
    if (!kind) return;
    if (info.kind === 'userTask' && c.executionId !== api.executionId) return;
    const executionId: string = api.executionId;
    const scope = visibleLocals(ctx, c);
    waits.set(executionId, { kind, activityId: api.id, executionId, name: info.name, eventName, isNew: !c.isRecovered && !api.fields?.redelivered, ...(Object.keys(scope).length > 0 && { scope }) });
  });
  listener.on('process.end', () => {
    ctx.ended = 'completed';
  });
  return listener;
}
