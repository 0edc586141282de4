/**
 * Timer event sub-processes. bpmn-elements only starts an event sub-process when a message, signal or error
 * is delegated to the process; a timer start event inside one is never run. We run the sub-process activity
 * ourselves while the process has work going on, so its start event publishes activity.timer (a durable job,
 * like any timer) and waits; the saved state then holds the armed sub-process, so it is armed once and comes
 * back on resume. When the timer fires, bpmn-elements runs the sub-process's flow; the rest is done here:
 *  - interrupting: the other activities of the process are discarded first (see actions.ts, the timer action);
 *  - non-interrupting cycle: one run of the sub-process at a time (an activity cannot run twice at once), so
 *    the next cycle is armed when the previous run has finished, due one period after the previous firing;
 *  - a sub-process that only waits for its start timer does not keep the process alive: when nothing else
 *    is going on it is discarded and the process completes.
 * Bookkeeping across transitions lives in ExecMeta.eventSubs (fired count, last firing in ms, used up).
 */
import type { TimerEventSubProcess } from '../definitions.ts';
import { cycleRepeats } from '../iso.ts';
import { stable, type EngineObject, type RunContext } from './context.ts';

export async function driveEventSubProcesses(ctx: RunContext): Promise<void> {
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
      const interrupted = own.some((esp) => esp.interrupting && (meta.eventSubs?.[esp.id]?.fired ?? 0) > 0);
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
