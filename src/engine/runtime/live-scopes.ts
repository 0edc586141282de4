/**
 * The live scopes of a run (event scopes, not variable scopes: see local-scopes.ts for those): the running
 * process and, inside it, every running sub-process execution (embedded, event sub-process, each
 * multi-instance iteration), found by walking bpmn-elements' postponed activities. A scope instance is
 * addressed by the executionId of its process execution, which stays the same across recover / resume. Used by
 * error / escalation propagation (bpmn-events.ts) and by event sub-processes (event-subprocesses.ts).
 */
import { type EngineObject, type RunContext } from './context.ts';

export interface ScopeInstance {
  /** the process id or the sub-process id */
  id: string;
  /** stable id of this scope instance (the process's or sub-process execution's executionId) */
  executionId: string;
  /** the bpmn-elements Process or ProcessExecution: getActivityById(id), getPostponed() */
  exec: EngineObject;
  /** the enclosing scope instance (null for the process) */
  parent: ScopeInstance | null;
}

/** The running processes of the run's execution. */
function processes(ctx: RunContext): EngineObject[] {
  return (ctx.execution?.definitions ?? []).flatMap((d: EngineObject) => d.getRunningProcesses?.() ?? []);
}

/** The postponed (running, waiting) child activities of a scope instance. */
export function postponedIn(scope: ScopeInstance): EngineObject[] {
  return (scope.exec.getPostponed?.() ?? []).filter((a: EngineObject) => a && a.id !== scope.id);
}

/** The running sub-process executions directly inside `scope`. */
export function childScopes(ctx: RunContext, scope: ScopeInstance): ScopeInstance[] {
  const out: ScopeInstance[] = [];
  const subs = ctx.def.eventScopes.subProcesses;
  for (const a of postponedIn(scope)) {
    if (!subs.has(a.id)) continue;
    const activity = scope.exec.getActivityById?.(a.id);
    const behaviour = activity?.execution?.source;
    for (const pe of behaviour?.executions ?? []) {
      if (!pe?.executionId || pe === scope.exec) continue;
      out.push({ id: a.id, executionId: pe.executionId, exec: pe, parent: scope });
    }
  }
  return out;
}

/** Every live scope instance, outermost first (depth-first). */
export function liveScopes(ctx: RunContext): ScopeInstance[] {
  const out: ScopeInstance[] = [];
  const visit = (s: ScopeInstance, depth: number) => {
    out.push(s);
    if (depth < 100) for (const c of childScopes(ctx, s)) visit(c, depth + 1);
  };
  for (const p of processes(ctx)) visit({ id: p.id, executionId: p.executionId, exec: p, parent: null }, 0);
  return out;
}

/** The live scope instance with this executionId, or null. */
export function scopeByExecutionId(ctx: RunContext, executionId: string): ScopeInstance | null {
  return liveScopes(ctx).find((s) => s.executionId === executionId) ?? null;
}

/**
 * The scope instance in which the activity `activityId` runs as `executionId` (the innermost one holding it
 * among its postponed activities), or null when it is not running.
 */
export function scopeOfActivity(ctx: RunContext, activityId: string, executionId: string | null): ScopeInstance | null {
  let fallback: ScopeInstance | null = null;
  for (const s of liveScopes(ctx)) {
    for (const a of postponedIn(s)) {
      if (a.id !== activityId) continue;
      if (executionId && (a.executionId === executionId || executionId.startsWith(`${a.executionId}_`))) return s;
      fallback ??= s;
    }
  }
  return fallback;
}

/** The postponed activity api with this id in the scope instance, or null. */
export function postponedById(scope: ScopeInstance, id: string): EngineObject | null {
  return postponedIn(scope).find((a) => a.id === id) ?? null;
}

/**
 * Keeps the run's waits and timers in step with the scopes that leave. bpmn-elements publishes no event for
 * the activities inside a sub-process that was recovered and is then discarded (an interrupting event
 * sub-process, boundary event, terminate end event): their waits and timers would stay and leave a task row or
 * a job behind. Every wait and timer remembers the executions enclosing it (the event's `parent` chain); when
 * an execution leaves, what it enclosed goes with it.
 */
export function trackScopeExits(ctx: RunContext, listener: { on(event: string, fn: (api: EngineObject) => void): unknown }): void {
  const enclosing = new Map<string, string[]>();
  const remember = (api: EngineObject) => {
    const c = api?.content ?? {};
    const execId: string | undefined = c.executionId ?? api?.executionId;
    if (!execId) return;
    const chain: string[] = [];
    if (c.parent?.executionId) chain.push(c.parent.executionId);
    for (const p of c.parent?.path ?? []) if (p?.executionId) chain.push(p.executionId);
    enclosing.set(execId, chain);
    if (api.executionId && api.executionId !== execId) enclosing.set(api.executionId, chain);
  };
  listener.on('activity.wait', remember);
  listener.on('activity.timer', remember);
  listener.on('activity.leave', (api: EngineObject) => {
    const left: string | undefined = api?.executionId;
    if (!left || !ctx.def.eventScopes.subProcesses.has(api.id)) return;
    const inside = (chain: string[]) => chain.some((id) => id === left || id.startsWith(`${left}_`));
    for (const [execId, chain] of enclosing) {
      if (!inside(chain)) continue;
      ctx.waits.delete(execId);
      ctx.waitApis.delete(execId);
      ctx.timers.delete(execId);
      enclosing.delete(execId);
    }
  });
}
