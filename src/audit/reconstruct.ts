/**
 * Point-in-time reconstruction: the status, active activities, open tasks (with assignees) and variables of
 * an instance at any moment, folded from its history events alone (plus its approved model, to know which
 * boundary events hang on which activity). The fold mirrors what the engine stores: at "now" it equals the
 * live instance.
 */
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';
import type { HistoryEvent } from '../persistence/history.ts';
import { verifyChainEvents, type BrokenLink } from './chain.ts';
import { modelById, type AuditModel } from './models.ts';
import { chainEvents, expectedHead } from './store.ts';

export interface ReconstructedTask {
  id: string;
  activityId: string | null;
  name: string | null;
  assignee: string | null;
  candidateGroups: string[];
  candidateUsers: string[];
  formKey: string | null;
  dueAt: string | null;
  priority: number | null;
  createdAt: string;
  claimedAt: string | null;
}

export interface ReconstructedState {
  at: string;
  processInstanceId: string;
  definitionId: string | null;
  processKey: string | null;
  processVersion: number | null;
  businessKey: string | null;
  status: 'active' | 'incident' | 'completed' | 'cancelled';
  activeActivities: string[];
  openTasks: ReconstructedTask[];
  openIncidents: { id: string; activityId: string | null }[];
  variables: Record<string, unknown>;
  /** the last event taken into account */
  asOf: { seq: number; at: string; type: string } | null;
  /** the history the state was rebuilt from, verified */
  integrity: { consistent: boolean; checked: number; firstBroken?: BrokenLink };
}

type Fold = Omit<ReconstructedState, 'at' | 'processInstanceId' | 'integrity'>;

const iso = (ms: number) => new Date(ms).toISOString();

/** Fold the events of one instance (seq order) up to and including the last one at or before `until`. */
export function foldHistory(events: HistoryEvent[], model: Pick<AuditModel, 'boundaries' | 'attached'> | null, until = Infinity): Fold {
  // what the engine lists as active: executions of activities, in the order they started
  const active = new Map<string, string>();
  const execActivity = new Map<string, string>();
  const tasks = new Map<string, ReconstructedTask>();
  const incidents = new Map<string, { activityId: string | null }>();
  const variables: Record<string, unknown> = {};
  // variable names are data: set as own properties (a variable named __proto__ must not set a prototype)
  const setVariable = (k: string, v: unknown) => Object.defineProperty(variables, k, { value: v, writable: true, enumerable: true, configurable: true });
  let status: Fold['status'] = 'active';
  let ended = false;
  let started: HistoryEvent | null = null;
  let asOf: Fold['asOf'] = null;
  // variables an operator passed with an incident retry are in the state before the run, so the run's own
  // variables.changed (if any) already has the last word on the keys it lists
  const lastCall = new Map<string, number>();
  let lastChange = { index: -1, keys: new Set<string>() };

  const removeExec = (execId: string) => {
    active.delete(`x:${execId}`);
    const activityId = execActivity.get(execId);
    if (activityId) removeBoundariesOf(activityId);
  };
  const removeActivity = (activityId: string) => {
    for (const [k, v] of active) if (v === activityId) active.delete(k);
    removeBoundariesOf(activityId);
  };
  const removeBoundariesOf = (activityId: string) => {
    for (const b of model?.attached.get(activityId) ?? []) {
      for (const [k, v] of active) if (v === b) active.delete(k);
    }
  };

  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.at > until) break;
    asOf = { seq: e.seq, at: iso(e.at), type: e.type };
    const d = (e.data ?? {}) as Record<string, any>;
    switch (e.type) {
      case 'instance.started':
        started ??= e;
        break;
      case 'activity.started': {
        const execId = String(d.executionId ?? `${e.activityId}#${e.seq}`);
        execActivity.set(execId, e.activityId as string);
        active.set(`x:${execId}`, e.activityId as string);
        break;
      }
      case 'activity.completed': {
        if (d.executionId) removeExec(String(d.executionId));
        const boundary = e.activityId ? model?.boundaries.get(e.activityId) : undefined;
        if (boundary?.interrupting) removeActivity(boundary.attachedTo);
        break;
      }
      case 'activity.cancelled':
        if (d.executionId) removeExec(String(d.executionId));
        break;
      case 'handler.called':
      case 'handler.failed':
      case 'decision.evaluated':
        if (e.activityId) lastCall.set(e.activityId, i);
        break;
      case 'variables.changed': {
        const changes = (d.changes ?? {}) as Record<string, { new: unknown }>;
        for (const [k, c] of Object.entries(changes)) setVariable(k, c?.new ?? null);
        lastChange = { index: i, keys: new Set(Object.keys(changes)) };
        break;
      }
      case 'incident.retried': {
        const vars = d.variables as Record<string, unknown> | null | undefined;
        if (vars && typeof vars === 'object') {
          const sameRun = lastChange.index > (lastCall.get(e.activityId as string) ?? Infinity);
          for (const [k, v] of Object.entries(vars)) if (!(sameRun && lastChange.keys.has(k))) setVariable(k, v);
        }
        break;
      }
      case 'task.created':
        tasks.set(String(d.taskId), {
          id: String(d.taskId),
          activityId: e.activityId,
          name: (d.name as string | null) ?? null,
          assignee: (d.assignee as string | null) ?? null,
          candidateGroups: Array.isArray(d.candidateGroups) ? d.candidateGroups : [],
          candidateUsers: Array.isArray(d.candidateUsers) ? d.candidateUsers : [],
          formKey: (d.formKey as string | null) ?? null,
          dueAt: (d.dueAt as string | null) ?? null,
          priority: typeof d.priority === 'number' ? d.priority : null,
          createdAt: iso(e.at),
          claimedAt: null,
        });
        break;
      case 'task.claimed': {
        const t = tasks.get(String(d.taskId));
        if (t) {
          t.assignee = (d.assignee as string) ?? e.actor;
          t.claimedAt = iso(e.at);
        }
        break;
      }
      case 'task.unclaimed': {
        const t = tasks.get(String(d.taskId));
        if (t) {
          t.assignee = null;
          t.claimedAt = null;
        }
        break;
      }
      case 'task.completed':
        tasks.delete(String(d.taskId));
        break;
      case 'task.cancelled': {
        tasks.delete(String(d.taskId));
        // the engine left the task without recording its end (e.g. an interrupting event): drop the activity
        // unless another task of it (multi-instance) is still open
        const activityId = e.activityId;
        if (activityId && ![...tasks.values()].some((t) => t.activityId === activityId)) removeActivity(activityId);
        break;
      }
      case 'incident.opened':
        incidents.set(String(d.incidentId), { activityId: e.activityId });
        break;
      case 'incident.resolved':
        if (d.incidentId) incidents.delete(String(d.incidentId));
        else if (d.executionId) {
          const activityId = execActivity.get(String(d.executionId)) ?? e.activityId;
          for (const [id, inc] of incidents) if (inc.activityId === activityId) incidents.delete(id);
        }
        break;
      case 'instance.completed':
      case 'instance.cancelled':
        status = e.type === 'instance.completed' ? 'completed' : 'cancelled';
        ended = true;
        active.clear();
        tasks.clear();
        incidents.clear();
        break;
    }
  }
  if (!ended) status = incidents.size ? 'incident' : 'active';
  const s = started as HistoryEvent | null;
  const sd = (s?.data ?? {}) as Record<string, unknown>;
  return {
    definitionId: (sd.definitionId as string) ?? null,
    processKey: s?.processKey ?? null,
    processVersion: s?.processVersion ?? null,
    businessKey: s?.businessKey ?? null,
    status,
    activeActivities: ended ? [] : [...new Set(active.values())],
    openTasks: [...tasks.values()],
    openIncidents: [...incidents].map(([id, v]) => ({ id, activityId: v.activityId })),
    variables,
    asOf,
  };
}

/** GET /process-instances/:id/state?at= : the instance as it was at `atMs` (default: now). */
export async function reconstructState(db: Knex, instanceId: string, atMs?: number): Promise<ReconstructedState> {
  const events = await chainEvents(db, instanceId);
  if (!events.length || events[0].type !== 'instance.started') {
    throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} has no history`);
  }
  const until = atMs ?? Infinity;
  if (events[0].at > until) {
    throw new InsureflowError('VALIDATION_FAILED', `process instance ${instanceId} was started at ${iso(events[0].at)}, after ${iso(until)}`);
  }
  const definitionId = (events[0].data as Record<string, unknown>).definitionId;
  const model = typeof definitionId === 'string' ? await modelById(db, definitionId) : null;
  const fold = foldHistory(events, model, until);
  const verdict = verifyChainEvents(events, await expectedHead(db, instanceId));
  return {
    at: iso(atMs ?? Date.now()),
    processInstanceId: instanceId,
    ...fold,
    integrity: { consistent: verdict.consistent, checked: verdict.checked, ...(verdict.firstBroken ? { firstBroken: verdict.firstBroken } : {}) },
  };
}
