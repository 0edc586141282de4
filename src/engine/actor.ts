/** Who performs an engine operation: a user with roles and candidate groups, or the engine itself (SYSTEM). */
/** worker: an external task worker: the /engine-rest/external-task routes, for the topics granted to it (fetch) */
export const ROLES = ['admin', 'analyst', 'ops', 'auditor', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  name: string;
  roles: Role[];
  groups: string[];
}

/** the engine acting on its own (timers, retries, jobs) */
export const SYSTEM: Actor = { name: 'system', roles: ['admin'], groups: [] };
