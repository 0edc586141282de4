/** Who performs an engine operation: a user with roles and candidate groups, or the engine itself (SYSTEM). */
/** worker: an external task worker (the fetch permission on topics); it can authenticate, no route admits it yet */
export const ROLES = ['admin', 'analyst', 'ops', 'auditor', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  name: string;
  roles: Role[];
  groups: string[];
}

/** the engine acting on its own (timers, retries, jobs) */
export const SYSTEM: Actor = { name: 'system', roles: ['admin'], groups: [] };
