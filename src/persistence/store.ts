/**
 * Repositories: every SQL statement of the engine lives here. Rows are snake_case (Db*Row), domain objects
 * camelCase; JSON columns are parsed in one place with the record id in the error.
 */
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';
import type { Incident, Job, Page, ProcessDefinition, ProcessInstance, UserTask } from '../engine/model.ts';

export type { Incident, Job, Page, ProcessDefinition, ProcessInstance, UserTask };

export type Trx = Knex | Knex.Transaction;

import { parseJson } from '../engine/json.ts';

export { parseJson };

export interface DefinitionRow {
  id: string;
  key: string;
  version: number;
  name: string | null;
  deployment_id: string;
  resource_name: string;
  xml: string;
  checksum: string;
  created_at: number;
}

export function toDefinition(r: DefinitionRow): ProcessDefinition {
  return {
    id: r.id,
    key: r.key,
    version: Number(r.version),
    name: r.name,
    deploymentId: r.deployment_id,
    resourceName: r.resource_name,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  };
}

export interface InstanceRow {
  id: string;
  definition_id: string;
  process_key: string;
  process_version: number;
  business_key: string | null;
  status: string;
  state: string | null;
  variables: string;
  exec_meta: string;
  started_by: string | null;
  started_at: number;
  ended_at: number | null;
  updated_at: number;
  rev: number;
}

const iso = (v: number | null | undefined) => (v === null || v === undefined ? null : new Date(Number(v)).toISOString());

export function toInstance(r: InstanceRow): ProcessInstance {
  return {
    id: r.id,
    definitionId: r.definition_id,
    processKey: r.process_key,
    processVersion: Number(r.process_version),
    businessKey: r.business_key,
    status: r.status,
    startedBy: r.started_by,
    startedAt: iso(r.started_at) as string,
    endedAt: iso(r.ended_at),
    updatedAt: iso(r.updated_at) as string,
    parentInstanceId: (r as { parent_instance_id?: string | null }).parent_instance_id ?? null,
  };
}

export interface TaskRow {
  id: string;
  process_instance_id: string;
  activity_id: string;
  execution_id: string;
  name: string | null;
  process_key: string;
  business_key: string | null;
  status: string;
  assignee: string | null;
  form_key: string | null;
  form_schema_id: number | null;
  due_at: number | null;
  priority: number;
  created_at: number;
  claimed_at: number | null;
  ended_at: number | null;
  completed_by: string | null;
}

/** The candidate groups and users of a task (rows of task_candidates, in order). */
export interface TaskCandidates {
  groups: string[];
  users: string[];
}

export function toTask(r: TaskRow, candidates: TaskCandidates = { groups: [], users: [] }): UserTask {
  return {
    id: r.id,
    name: r.name,
    activityId: r.activity_id,
    processInstanceId: r.process_instance_id,
    processKey: r.process_key,
    businessKey: r.business_key,
    status: r.status,
    assignee: r.assignee,
    candidateGroups: candidates.groups,
    candidateUsers: candidates.users,
    formKey: r.form_key,
    dueAt: iso(r.due_at),
    priority: Number(r.priority),
    createdAt: iso(r.created_at) as string,
    claimedAt: iso(r.claimed_at),
    endedAt: iso(r.ended_at),
    completedBy: r.completed_by,
  };
}

export interface JobRow {
  id: string;
  type: string;
  process_instance_id: string | null;
  definition_id: string | null;
  activity_id: string;
  execution_id: string;
  due_at: number;
  payload: string;
  attempts: number;
  lock_owner: string | null;
  lock_expires_at: number | null;
  last_error: string | null;
  created_at: number;
}

export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    type: r.type,
    processInstanceId: r.process_instance_id,
    activityId: r.activity_id,
    executionId: r.execution_id,
    dueAt: iso(r.due_at) as string,
    attempts: Number(r.attempts),
    payload: parseJson(r.payload, `jobs ${r.id} payload`, {}),
    lockOwner: r.lock_owner,
    lockExpiresAt: iso(r.lock_expires_at),
    lastError: r.last_error,
    createdAt: iso(r.created_at) as string,
  };
}

export interface IncidentRow {
  id: string;
  process_instance_id: string;
  activity_id: string;
  execution_id: string;
  handler: string | null;
  error_message: string;
  attempts: number;
  status: string;
  created_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
}

export function toIncident(r: IncidentRow): Incident {
  return {
    id: r.id,
    processInstanceId: r.process_instance_id,
    activityId: r.activity_id,
    executionId: r.execution_id,
    handler: r.handler,
    errorMessage: r.error_message,
    attempts: Number(r.attempts),
    status: r.status,
    createdAt: iso(r.created_at) as string,
    resolvedAt: iso(r.resolved_at),
    resolvedBy: r.resolved_by,
  };
}

export async function paged<T>(
  query: Knex.QueryBuilder,
  limit: number,
  offset: number,
  map: (r: any) => T,
  order: [string, 'asc' | 'desc'][],
): Promise<Page<T>> {
  const countRow: any = await query.clone().clearSelect().clearOrder().count({ n: '*' }).first();
  let q = query.clone();
  for (const [col, dir] of order) q = q.orderBy(col, dir);
  const rows = await q.limit(limit).offset(offset);
  return { items: rows.map(map), total: Number(countRow?.n ?? 0), limit, offset };
}

/** Update the instance row only if nobody else advanced it since it was read. */
export async function updateInstanceGuarded(trx: Trx, id: string, expectedRev: number, patch: Partial<InstanceRow>): Promise<void> {
  const n = await trx('process_instances').where({ id, rev: expectedRev }).update({ ...patch, rev: expectedRev + 1 });
  if (n !== 1) {
    throw new InsureflowError('CONCURRENT_MODIFICATION', `process instance ${id} was changed by another writer; retry the request`);
  }
}
