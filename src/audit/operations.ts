/**
 * The user operation log: every action a person (or an admin tool) took, derived from the history events —
 * deployments, starts, claims, completions, cancellations, incident retries and resolutions, timer due
 * changes, user and role changes, grants and revocations of permissions (and the default grants a deployed
 * authorizations.json put in force), messages and signals sent — with who, when, on what, before and after.
 * The engine's own work (actor "system") is left out.
 */
import type { Knex } from 'knex';
import { chainEventsAfter, eventPage, type AuditEvent, type EventFilter } from './store.ts';

/** operation name -> the event type it is recorded as */
export const OPERATIONS: Record<string, string> = {
  deploy: 'deployment.made',
  start: 'instance.started',
  cancel: 'instance.cancelled',
  claim: 'task.claimed',
  unclaim: 'task.unclaimed',
  complete: 'task.completed',
  'incident.retry': 'incident.retried',
  'incident.resolve': 'incident.resolved',
  'timer.reschedule': 'timer.rescheduled',
  'user.create': 'user.created',
  'user.update': 'user.updated',
  'user.remove': 'user.removed',
  grant: 'authorization.granted',
  revoke: 'authorization.revoked',
  'authorizations.deploy': 'authorizations.deployed',
  'message.correlate': 'message.received',
  'signal.broadcast': 'signal.received',
};
const OPERATION_OF = new Map(Object.entries(OPERATIONS).map(([op, type]) => [type, op]));

export interface Operation {
  id: number;
  at: string;
  actor: string | null;
  operation: string;
  eventType: string;
  target: {
    kind: 'deployment' | 'instance' | 'task' | 'incident' | 'job' | 'user' | 'activity' | 'authorization';
    id: string | null;
    processInstanceId: string | null;
    processKey: string | null;
    processVersion: number | null;
    businessKey: string | null;
    activityId: string | null;
  };
  before: unknown;
  after: unknown;
  /** where the operation is recorded: verify it there */
  chainId: string;
  seq: number;
}

export interface OperationFilter extends Omit<EventFilter, 'types' | 'excludeActors' | 'chainId'> {
  operations?: string[];
}

function toOperation(e: AuditEvent): Operation {
  const d = e.data as Record<string, any>;
  const base = { processInstanceId: e.processInstanceId, processKey: e.processKey, processVersion: e.processVersion, businessKey: e.businessKey, activityId: e.activityId };
  const op = (kind: Operation['target']['kind'], id: string | null, before: unknown, after: unknown): Operation => ({
    id: e.id,
    at: new Date(e.at).toISOString(),
    actor: e.actor,
    operation: OPERATION_OF.get(e.type) as string,
    eventType: e.type,
    target: { kind, id, ...base },
    before,
    after,
    chainId: e.chainId,
    seq: e.seq,
  });
  switch (e.type) {
    case 'deployment.made':
      return op('deployment', d.deploymentId ?? null, null, { source: d.source, resources: d.resources, definitions: d.definitions, forms: d.forms, decisions: d.decisions });
    case 'instance.started':
      return op('instance', e.processInstanceId, null, { status: 'active', definitionId: d.definitionId ?? null, version: d.version ?? null, businessKey: e.businessKey, variables: d.variables ?? null });
    case 'instance.cancelled':
      return op('instance', e.processInstanceId, { status: 'active' }, { status: 'cancelled', reason: d.reason ?? null });
    case 'task.claimed':
      return op('task', d.taskId ?? null, { assignee: null }, { assignee: d.assignee ?? e.actor });
    case 'task.unclaimed':
      return op('task', d.taskId ?? null, { assignee: d.previousAssignee ?? null }, { assignee: null });
    case 'task.completed':
      return op('task', d.taskId ?? null, null, { status: 'completed', form: d.form ?? {} });
    case 'incident.retried':
      return op('incident', d.incidentId ?? null, { status: 'open' }, { retried: true, variables: d.variables ?? null });
    case 'incident.resolved':
      return op('incident', d.incidentId ?? null, { status: 'open' }, { status: 'resolved', note: d.note ?? null });
    case 'timer.rescheduled':
      return op('job', d.jobId ?? null, { dueAt: d.before ?? null }, { dueAt: d.after ?? null });
    case 'user.created':
    case 'user.updated':
    case 'user.removed':
      return op('user', d.target ?? null, d.before ?? null, d.after ?? null);
    case 'authorization.granted':
      return op('authorization', d.grant?.id ?? null, null, d.grant ?? null);
    case 'authorization.revoked':
      return op('authorization', d.grant?.id ?? null, d.grant ?? null, null);
    case 'authorizations.deployed':
      return op('deployment', d.deploymentId ?? null, { grants: d.before ?? [] }, { resource: d.resource ?? null, grants: d.after ?? [], sensitiveVariables: d.sensitiveVariables ?? [] });
    case 'message.received':
      return op('activity', e.activityId, null, { message: d.message ?? null, variables: d.variables ?? {} });
    case 'signal.received':
      return op('activity', e.activityId, null, { signal: d.signal ?? null, variables: d.variables ?? {} });
    default:
      return op('activity', e.activityId, null, d);
  }
}

/** An incident resolved by a successful retry is the consequence of the retry, not an operation of its own. */
const isOperation = (e: AuditEvent) => OPERATION_OF.has(e.type) && !(e.type === 'incident.resolved' && (e.data as Record<string, unknown>).by === 'retry');

/** The values a task completion overwrote: the old side of the variable changes of that same run. */
async function withBeforeValues(db: Knex, op: Operation): Promise<Operation> {
  const form = ((op.after as Record<string, any>)?.form ?? {}) as Record<string, unknown>;
  const next = await chainEventsAfter(db, op.chainId, op.seq, 100);
  let changes: Record<string, { old: unknown }> = {};
  for (const e of next) {
    if (e.type === 'variables.changed') {
      changes = ((e.data as Record<string, any>).changes ?? {}) as Record<string, { old: unknown }>;
      break;
    }
    if (['task.completed', 'message.received', 'signal.received', 'timer.fired', 'task.created', 'task.claimed', 'instance.cancelled'].includes(e.type)) break;
  }
  const before: Record<string, unknown> = {};
  for (const k of Object.keys(form)) Object.defineProperty(before, k, { value: Object.hasOwn(changes, k) ? changes[k].old : form[k], enumerable: true, writable: true, configurable: true });
  return { ...op, before: { status: 'open', form: before } };
}

export async function operationPage(
  db: Knex,
  f: OperationFilter,
  p: { after?: number; order: 'asc' | 'desc'; limit: number },
): Promise<{ items: Operation[]; last?: number }> {
  const types = f.operations?.length ? f.operations.map((o) => OPERATIONS[o]).filter(Boolean) : [...OPERATION_OF.keys()];
  const filter: EventFilter = { ...f, types, excludeActors: ['system'] };
  delete (filter as OperationFilter).operations;
  const items: Operation[] = [];
  let after = p.after;
  let last: number | undefined;
  for (;;) {
    const page = await eventPage(db, filter, { after, order: p.order, limit: p.limit + 1 });
    for (const e of page) {
      if (items.length === p.limit) return { items: await enrich(db, items), last };
      last = e.id;
      if (e.actor !== null && isOperation(e)) items.push(toOperation(e));
    }
    if (page.length <= p.limit) return { items: await enrich(db, items) };
    after = page[page.length - 1].id;
  }
}

async function enrich(db: Knex, items: Operation[]): Promise<Operation[]> {
  return Promise.all(items.map((o) => (o.eventType === 'task.completed' ? withBeforeValues(db, o) : o)));
}
