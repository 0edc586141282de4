/** Who performs an engine operation: a user with roles and candidate groups, or the engine itself (SYSTEM). */
export const ROLES = ['admin', 'analyst', 'ops', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  name: string;
  roles: Role[];
  groups: string[];
}

/** the engine acting on its own (timers, retries, jobs) */
export const SYSTEM: Actor = { name: 'system', roles: ['admin'], groups: [] };
