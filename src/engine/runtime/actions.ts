/**
 * Applies the one action of a transition to a recovered (or just started) engine: signal a wait state (task
 * completed, message or signal received) addressed by executionId, fire a durable timer, or let a parked
 * handler call through (retry). Reports whether the action found its target (a missed action makes the
 * transition write nothing, see transition.ts).
 */
import type { Action } from '../runtime.ts';
import { clone, stable, type EngineObject, type RunContext } from './context.ts';
import { deliverToEventSubProcess, interruptOthers, isEventSubProcessWait } from './event-subprocesses.ts';
import { failCall } from './call-activities.ts';

/** Applies the action and runs the engine to a stable point; true when the action's target was not found. */
export async function applyAction(ctx: RunContext, action: Action): Promise<boolean> {
  const { execution, timers, durableTimers } = ctx;
  let actionMissed = false;
  if (action.kind === 'signal' && action.event === 'call.failed') {
    // the child of a call activity ended with an uncaught BPMN error: thrown from the call activity
    actionMissed = failCall(ctx, action.executionId, action.data);
  } else if (action.kind === 'signal' && isEventSubProcessWait(action.executionId)) {
    // a message / signal for an event sub-process subscription starts it (runtime/event-subprocesses.ts)
    actionMissed = await deliverToEventSubProcess(ctx, action);
  } else if (action.kind === 'signal') {
    const target = ctx.waitApis.get(action.executionId)
      ?? execution.getPostponed().find((a: EngineObject) => a.executionId === action.executionId)
      ?? findByExecution(execution, action.executionId);
    if (!target) actionMissed = true;
    else {
      ctx.push({ type: action.event, activityId: target.id, activityType: target.type, data: action.data ?? { variables: action.variables ?? {} } });
      target.signal(clone(action.variables ?? {}));
    }
  } else if (action.kind === 'timer') {
    const fire = durableTimers.callbacks.get(action.executionId);
    const esp = ctx.espByStart.get(timers.get(action.executionId)?.activityId ?? '');
    if (fire && esp?.interrupting) {
      // an interrupting event sub-process ends the rest of the process before its own flow starts
      ctx.interruptedBy.add(esp.id);
      interruptOthers(ctx, esp.id);
      await stable(ctx);
    }
    if (fire) fire();
    else actionMissed = !timers.has(action.executionId);
  } else if (action.kind === 'retry') {
    // the pending call was already re-made by resume (executeService lets the targeted call through)
    if (action.variables) for (const d of execution.definitions) Object.assign(d.environment.variables, clone(action.variables));
  }
  await stable(ctx);
  return actionMissed;
}

/**
 * The postponed activity with this executionId at any depth (a sub-process's own getPostponed() lists the
 * sub-process itself first: skipped, or the walk would never end). Used when no activity.wait named it.
 */
function findByExecution(execution: EngineObject, executionId: string): EngineObject {
  const walk = (list: EngineObject[], owner: EngineObject, depth: number): EngineObject => {
    for (const p of list) {
      if (p === owner || (owner && p.executionId === owner.executionId)) continue;
      if (p.executionId === executionId) return p;
      if (depth < 50) {
        const found = walk(p.getPostponed?.() ?? [], p, depth + 1);
        if (found) return found;
      }
    }
    return null;
  };
  for (const d of execution.definitions ?? []) {
    const found = walk(d.getPostponed?.() ?? [], null, 0);
    if (found) return found;
  }
  return null;
}
