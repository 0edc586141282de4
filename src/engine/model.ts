/**
 * The engine's domain types: who acts (Actor, roles: ./actor.ts), users, and the objects its operations
 * return (definitions, instances, user tasks, jobs, incidents, pages). camelCase, times as ISO 8601 strings in what
 * the API returns; the persistence layer maps its rows to these (src/persistence/store.ts).
 */

import type { Role } from './actor.ts';

export { ROLES, SYSTEM, type Actor, type Role } from './actor.ts';
export type { ProcessDefinition } from './deployment-store.ts';

export interface User {
  id: string;
  name: string;
  roles: Role[];
  groups: string[];
  disabled: boolean;
  createdAt: string;
}

/** What the "users" history chain keeps of a user: never its id or token. */
export function userAuditView(u: unknown): Pick<User, 'name' | 'roles' | 'groups' | 'disabled'> | null {
  if (!u || typeof u !== 'object') return null;
  const { name, roles, groups, disabled } = u as User;
  return { name, roles, groups, disabled };
}

/** One page of a list: `total` counts every match, `items` holds at most `limit` from `offset`. */
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface ProcessInstance {
  id: string;
  definitionId: string;
  processKey: string;
  processVersion: number;
  businessKey: string | null;
  status: string;
  startedBy: string | null;
  startedAt: string;
  endedAt: string | null;
  updatedAt: string;
  /** the instance whose call activity started this one (null: started on its own) */
  parentInstanceId?: string | null;
}

export interface UserTask {
  id: string;
  name: string | null;
  activityId: string;
  processInstanceId: string;
  processKey: string;
  businessKey: string | null;
  status: string;
  assignee: string | null;
  candidateGroups: string[];
  candidateUsers: string[];
  formKey: string | null;
  dueAt: string | null;
  priority: number;
  createdAt: string;
  claimedAt: string | null;
  endedAt: string | null;
  completedBy: string | null;
}

export interface Job {
  id: string;
  type: string;
  processInstanceId: string | null;
  activityId: string;
  executionId: string;
  dueAt: string;
  attempts: number;
  payload: Record<string, unknown>;
  lockOwner: string | null;
  lockExpiresAt: string | null;
  lastError: string | null;
  createdAt: string;
}

export interface Incident {
  id: string;
  processInstanceId: string;
  activityId: string;
  executionId: string;
  handler: string | null;
  errorMessage: string;
  attempts: number;
  status: string;
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
}
