/**
 * The commit plan: what one transition changes in an instance's books (handler calls waiting for a retry or an
 * operator, incidents, user tasks, message subscriptions, timers, status), computed from what the books held
 * before and what the run reported. Pure: the Knex store writes it (src/persistence/transition-store.ts) and
 * replay (src/audit/replay.ts) applies it to its in-memory books, so the bookkeeping rules exist once.
 */
import type { FailureItem, PendingCall, RunOutput, TimerItem, WaitItem } from './runtime.ts';

/** What the books hold for an instance before a transition (only what the plan needs to decide). */
export interface Books {
  /** handler calls still pending (retry job or incident), by execution id */
  pending: Map<string, PendingCall>;
  /** execution ids with an open incident */
  openIncidents: Set<string>;
  /** open user tasks */
  openTasks: { id: string; executionId: string; activityId: string; name: string | null }[];
  /** armed timer jobs */
  timerJobs: { id: string; executionId: string; activityId: string }[];
  /** open external tasks (absent: none) */
  openExternalTasks?: { id: string; executionId: string; activityId: string; topic: string }[];
}

export interface CommitPlan {
  status: 'active' | 'incident' | 'completed' | 'cancelled';
  ended: boolean;
  /** retry jobs to remove (by execution id) before the new ones are written */
  clearRetryJobs: string[];
  /** retry (or deferred asyncBefore) jobs to write; dueAt epoch ms */
  retryJobs: { executionId: string; activityId: string; handler: string; dueAt: number; attempts: number; lastError: string | null; deferred: boolean }[];
  /** incidents to open; the id is chosen by the store */
  openIncidents: FailureItem[];
  /** incidents still open whose call failed again */
  updateIncidents: FailureItem[];
  /** execution ids whose open incident is resolved by this run */
  resolveIncidents: string[];
  /** open tasks the engine left (cancelled) */
  cancelTasks: Books['openTasks'];
  /** user-task waits that may need a task row; `mustCheck` ones were recovered, create only if no row exists */
  createTasks: { wait: WaitItem; mustCheck: boolean }[];
  /** message and signal waits (the subscriptions are replaced by these) */
  subscriptions: WaitItem[];
  /** timer jobs to remove */
  dropTimers: Books['timerJobs'];
  /** timers to arm (a new job each) */
  armTimers: TimerItem[];
  /** open external tasks the engine left (a boundary event, an interruption): closed as cancelled */
  cancelExternalTasks: NonNullable<Books['openExternalTasks']>;
  /** external-task waits without an open row: a row each */
  createExternalTasks: WaitItem[];
  /** execution ids of open external tasks an operator's retry makes fetchable again */
  resetExternalTasks: string[];
  /** the books after the transition (for replay and the next transition) */
  after: { pending: Map<string, PendingCall>; openIncidents: Set<string> };
}

/** @param create the transition started the instance (nothing existed before) */
export function planCommit(before: Books, out: RunOutput, create: boolean, now: number): CommitPlan {
  const pending = new Map(before.pending);
  const incidents = new Set(before.openIncidents);
  const plan: CommitPlan = {
    status: 'active', ended: false, clearRetryJobs: [], retryJobs: [], openIncidents: [], updateIncidents: [], resolveIncidents: [],
    cancelTasks: [], createTasks: [], subscriptions: [], dropTimers: [], armTimers: [], after: { pending, openIncidents: incidents },
    cancelExternalTasks: [], createExternalTasks: [], resetExternalTasks: [],
  };

  // handler failures: retry jobs or incidents
  for (const f of out.failures) {
    plan.clearRetryJobs.push(f.executionId);
    if (f.deferred) {
      plan.retryJobs.push({ executionId: f.executionId, activityId: f.activityId, handler: f.handler, dueAt: f.retryAt ?? now, attempts: 0, lastError: null, deferred: true });
      pending.set(f.executionId, { executionId: f.executionId, attempts: 0, state: 'retry' });
    } else if (f.retryAt !== null) {
      plan.retryJobs.push({ executionId: f.executionId, activityId: f.activityId, handler: f.handler, dueAt: f.retryAt, attempts: f.attempt, lastError: f.error.slice(0, 4000), deferred: false });
      pending.set(f.executionId, { executionId: f.executionId, attempts: f.attempt, state: 'retry' });
    } else if (!incidents.has(f.executionId)) {
      plan.openIncidents.push(f);
      incidents.add(f.executionId);
      pending.set(f.executionId, { executionId: f.executionId, attempts: f.attempt, state: 'incident' });
    } else {
      plan.updateIncidents.push(f);
      pending.set(f.executionId, { executionId: f.executionId, attempts: f.attempt, state: 'incident' });
    }
  }
  for (const execId of out.settled) {
    if (!before.pending.has(execId)) continue;
    plan.clearRetryJobs.push(execId);
    pending.delete(execId);
    if (incidents.has(execId)) {
      plan.resolveIncidents.push(execId);
      incidents.delete(execId);
    }
  }

  plan.ended = out.status !== 'active';
  plan.status = plan.ended ? out.status : incidents.size ? 'incident' : 'active';

  // user tasks: cancel the ones the engine left, create the new ones
  const live = new Set(out.waits.filter((w) => w.kind === 'userTask').map((w) => w.executionId));
  plan.cancelTasks = before.openTasks.filter((t) => !live.has(t.executionId));
  const known = new Set(before.openTasks.map((t) => t.executionId));
  for (const w of out.waits) {
    if (w.kind !== 'userTask' || known.has(w.executionId)) continue;
    // a recovered wait whose row is not open: completed meanwhile, or created by a run that crashed
    plan.createTasks.push({ wait: w, mustCheck: !create && !w.isNew });
  }

  plan.subscriptions = out.waits.filter((w) => w.kind !== 'userTask' && Boolean(w.eventName));

  // external tasks: a row per waiting execution; the engine left the others
  const externalWaits = out.waits.filter((w) => w.kind === 'externalTask');
  const liveExternal = new Set(externalWaits.map((w) => w.executionId));
  const openExternal = before.openExternalTasks ?? [];
  plan.cancelExternalTasks = openExternal.filter((t) => !liveExternal.has(t.executionId));
  const knownExternal = new Set(openExternal.map((t) => t.executionId));
  plan.createExternalTasks = externalWaits.filter((w) => !knownExternal.has(w.executionId));
  plan.resetExternalTasks = externalWaits.filter((w) => w.reset && knownExternal.has(w.executionId)).map((w) => w.executionId);

  // timers: a timer re-armed in this run replaces its job; one the engine left is cancelled
  const liveTimers = new Map(out.timers.map((t) => [t.executionId, t]));
  for (const j of before.timerJobs) {
    const t = liveTimers.get(j.executionId);
    if (!t || t.dueAt !== undefined) plan.dropTimers.push(j);
  }
  const kept = new Set(before.timerJobs.map((j) => j.executionId));
  plan.armTimers = out.timers.filter((t) => !(t.dueAt === undefined && kept.has(t.executionId)));
  if (plan.ended) pending.clear();
  return plan;
}
