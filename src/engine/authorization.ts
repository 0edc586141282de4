/**
 * Authorizations, Camunda-style: who may do what on which resource, checked in the engine's operations (so the
 * HTTP API, the CLI and embedding code obey the same rules).
 *
 * A grant gives a group or a user permissions on one resource of a type, or on every resource of the type
 * (resource id `*`). Resource types and their permissions (RESOURCE_PERMISSIONS):
 * - process-definition (by process key): `start` an instance (also by a message start event); `read-instances`
 *   (list and read instances, their open tasks and incidents, and the incidents list); `read-variables` (the
 *   instance's variables in those reads); `read-history` (the instance's history events and the decisions it
 *   evaluated; a start form property marked `x-start-grant` makes each of its values a variant that also needs
 *   `start` on `<key>:<value>`, ./instances.ts checkStart); `cancel`; `migrate` (moving running instances to another version: no migrate operation exists
 *   yet, the permission is defined so that grants can be written before it ships);
 * - message (by message name): `correlate` (POST /api/messages, also when it starts an instance: then `start`
 *   on that process is needed too);
 * - signal (by signal name): `broadcast`;
 * - decision (by decision key): `read` (the decision's versions and XML);
 * - topic (external task topic): `fetch` (fetch, complete, fail, extend and unlock its external tasks: ./external-tasks.ts);
 * - report (by report name: `claims`, `sales`, `complaints`, `metrics`): `read` (the aggregated operations figures of
 *   GET /api/reports/<name> and the Prometheus metrics at GET /metrics; no personal data, no variables).
 *
 * Roles (ROLE_PERMISSIONS): `admin` (and the engine itself, SYSTEM) may do everything and sees every variable,
 * sensitive ones included (as Camunda's admins); `auditor` reads instances, variables and history of every
 * process and every decision, but not sensitive variables, and every report; `analyst` reads every decision (process definitions
 * are readable by every role but `worker`, no permission needed); `ops` and `worker` only what grants give them.
 * Grants apply to any role (a grant to an auditor's group adds to what the role gives).
 *
 * Task participation: a user who holds or held a task of an instance (its assignee, or who completed it) reads
 * that instance, its variables and its history without a grant (the adjuster reads the claim they review).
 *
 * Sensitive variables (declared per process key in processes/authorizations.json, ./authorization-defaults.ts)
 * are readable only by the groups named for them (and admins): for everyone else their values are replaced by
 * REDACTED in instance, task, history, decision and export reads. Nothing stored changes, so verification of the
 * history chains (server-side, on stored data) still reports them consistent; an export or history read that was
 * redacted marks the events (`redacted: true`): their hashes verify only for callers who see every value.
 *
 * A denial is FORBIDDEN (403) naming the permission, the resource and how an admin grants it. A single
 * instance the caller may not read is also a 403 (not a 404): instance ids are random UUIDs, and an operator is
 * better served by the missing permission than by a "not found" for an instance that exists.
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { Actor, Role } from './actor.ts';
import type { AccessScope } from './ports.ts';
import type { Variables } from './runtime.ts';

/** Every resource type and the permissions a grant on it may give. */
export const RESOURCE_PERMISSIONS = {
  'process-definition': ['start', 'read-instances', 'read-variables', 'read-history', 'cancel', 'migrate'],
  message: ['correlate'],
  signal: ['broadcast'],
  decision: ['read'],
  topic: ['fetch'],
  report: ['read'],
} as const;

export type ResourceType = keyof typeof RESOURCE_PERMISSIONS;
export type Permission = (typeof RESOURCE_PERMISSIONS)[ResourceType][number];
export const RESOURCE_TYPES = Object.keys(RESOURCE_PERMISSIONS) as ResourceType[];
/** the resource id of a grant on every resource of its type */
export const ANY_RESOURCE = '*';

/** What each permission allows, by resource type (for the API's documentation and error messages). */
export const PERMISSION_MEANING: Record<ResourceType, Record<string, string>> = {
  'process-definition': {
    start: 'start an instance (POST /api/process-definitions/:key/start, a message start event, a domain intake route)',
    'read-instances': 'list and read its instances (with open tasks and incidents) and list its incidents',
    'read-variables': 'see the variables of the instances it may read',
    'read-history': "read an instance's history events and the decisions it evaluated",
    cancel: 'cancel an instance',
    migrate: 'migrate running instances to another version (no migrate operation exists yet)',
  },
  message: { correlate: 'send the message (POST /api/messages)' },
  signal: { broadcast: 'broadcast the signal to every instance waiting for it (POST /api/signals)' },
  decision: { read: "read the decision's versions and DMN XML" },
  topic: { fetch: 'fetch, complete, fail, extend and unlock the external tasks of the topic (/engine-rest/external-task)' },
  report: { read: 'read the aggregated figures of the report (GET /api/reports/<name>; "metrics": GET /metrics)' },
};

type PermissionTable = { readonly [T in ResourceType]?: readonly Permission[] };

/** What a role may do without any grant, on every resource of a type. */
export const ROLE_PERMISSIONS: Record<Role, PermissionTable> = {
  admin: RESOURCE_PERMISSIONS,
  auditor: { 'process-definition': ['read-instances', 'read-variables', 'read-history'], decision: ['read'], report: ['read'] },
  analyst: { decision: ['read'] },
  ops: {},
  worker: {},
};

/** A grant as stored and as the API shows it (createdAt ISO 8601). Exactly one of group and user is set. */
export interface Grant {
  id: string;
  group: string | null;
  user: string | null;
  resourceType: ResourceType;
  resourceId: string;
  permissions: Permission[];
  /** why the grant exists (free text) */
  description: string | null;
  /** admin: made over the API or CLI; defaults: from the deployed processes/authorizations.json */
  source: 'admin' | 'defaults';
  /** the deployment of the authorizations.json a defaults grant came from */
  deploymentId: string | null;
  createdAt: string;
  createdBy: string | null;
}

/** A variable of a process key readable only by some groups (and admins). */
export interface SensitiveVariable {
  processKey: string;
  variable: string;
  groups: string[];
}

/** The marker that replaces the value of a variable the caller may not read. */
export const REDACTED: Readonly<{ $redacted: true }> = Object.freeze({ $redacted: true as const });

export const isAdmin = (actor: Actor) => actor.roles.includes('admin');

export function isPermissionOf(type: string, permission: string): boolean {
  return (RESOURCE_PERMISSIONS as Record<string, readonly string[]>)[type]?.includes(permission) ?? false;
}

function roleAllows(actor: Actor, type: ResourceType, permission: Permission): boolean {
  return actor.roles.some((r) => ROLE_PERMISSIONS[r]?.[type]?.includes(permission));
}

/** What one actor may do: its roles plus the grants to it and to its groups, read once per operation. */
export class ActorPermissions {
  constructor(
    readonly actor: Actor,
    readonly grants: readonly Grant[],
  ) {}

  /** May the actor `permission` the resource `id` of `type`? `id` `*`: every resource of the type. */
  allows(permission: Permission, type: ResourceType, id: string): boolean {
    if (roleAllows(this.actor, type, permission)) return true;
    return this.grants.some((g) => g.resourceType === type && (g.resourceId === ANY_RESOURCE || g.resourceId === id) && g.permissions.includes(permission));
  }

  /** The resources of `type` the actor may `permission`: `*` for all of them, else their ids. */
  ids(permission: Permission, type: ResourceType): typeof ANY_RESOURCE | string[] {
    if (this.allows(permission, type, ANY_RESOURCE)) return ANY_RESOURCE;
    return [...new Set(this.grants.filter((g) => g.resourceType === type && g.permissions.includes(permission)).map((g) => g.resourceId))];
  }
}

/** The actor's permissions (one query for a non-admin; none for admins and SYSTEM). */
export async function permissionsOf(ctx: EngineContext, actor: Actor): Promise<ActorPermissions> {
  if (isAdmin(actor)) return new ActorPermissions(actor, []);
  return new ActorPermissions(actor, await ctx.stores.authorizations.forPrincipals(actor.name, actor.groups));
}

/** The FORBIDDEN error of a missing permission: what is missing and how an admin grants it. */
export function forbidden(actor: Actor, permission: Permission, type: ResourceType, id: string, extra = ''): InsureflowError {
  const group = actor.groups.length === 1 ? actor.groups[0] : '<group>';
  const body = JSON.stringify({ group, resourceType: type, resourceId: id, permissions: [permission] });
  return new InsureflowError(
    'FORBIDDEN',
    `${actor.name} may not ${permission} ${type} "${id}"${extra}: it needs the permission "${permission}" on ${type} "${id}" (or "*"), ` +
      `granted to the user or to one of its groups (${actor.groups.length ? actor.groups.join(', ') : 'none'}). ` +
      `An admin grants it with POST /api/authorizations ${body} or \`insureflow grant --group ${group} ${permission} ${type}:${id}\``,
    { permission, resourceType: type, resourceId: id, user: actor.name, groups: actor.groups },
  );
}

/**
 * Throws FORBIDDEN unless the actor may `permission` the resource.
 * @throws InsureflowError FORBIDDEN
 */
export async function authorize(ctx: EngineContext, actor: Actor, permission: Permission, type: ResourceType, id: string): Promise<ActorPermissions> {
  if (!isPermissionOf(type, permission)) throw new Error(`"${permission}" is not a permission of ${type}`);
  const p = await permissionsOf(ctx, actor);
  if (!p.allows(permission, type, id)) throw forbidden(actor, permission, type, id);
  return p;
}

/**
 * Operations of the engine's operators (incident retry and resolve, rescheduling a timer job) are for admins
 * (and SYSTEM) only, whoever calls the engine: the HTTP routes, the CLI or embedding code.
 * @throws InsureflowError FORBIDDEN
 */
export function requireAdmin(actor: Actor, operation: string): void {
  if (!isAdmin(actor)) throw new InsureflowError('FORBIDDEN', `${actor.name} may not ${operation}: only admins may`, { operation, user: actor.name });
}

/** The three reads of an instance a grant or task participation may allow. */
export type InstanceRead = 'read-instances' | 'read-variables' | 'read-history';

/**
 * May the actor `what` this instance: by role or grant on its process key, or because it holds or held one of
 * its tasks (assignee or completed-by)?
 */
export async function mayReadInstance(ctx: EngineContext, actor: Actor, inst: { id: string; processKey: string }, what: InstanceRead, p?: ActorPermissions): Promise<boolean> {
  const perms = p ?? (await permissionsOf(ctx, actor));
  if (perms.allows(what, 'process-definition', inst.processKey)) return true;
  return ctx.stores.authorizations.participated(actor.name, inst.id);
}

/** @throws InsureflowError FORBIDDEN when the actor may not `what` the instance */
export async function requireInstanceRead(ctx: EngineContext, actor: Actor, inst: { id: string; processKey: string }, what: InstanceRead, p?: ActorPermissions): Promise<void> {
  if (!(await mayReadInstance(ctx, actor, inst, what, p))) {
    throw forbidden(actor, what, 'process-definition', inst.processKey, ` (instance ${inst.id}; nor does ${actor.name} hold or hold earlier a task of it)`);
  }
}

/**
 * Which instances a list may show the actor: null for all of them; else those of the process keys it may
 * `permission` and (for instance lists) those it holds or held a task of.
 */
export async function instanceScope(ctx: EngineContext, actor: Actor, permission: InstanceRead, withParticipation: boolean): Promise<AccessScope | null> {
  const ids = (await permissionsOf(ctx, actor)).ids(permission, 'process-definition');
  if (ids === ANY_RESOURCE) return null;
  return withParticipation ? { processKeys: ids, participant: actor.name } : { processKeys: ids };
}

/**
 * The variables of an instance as the actor may see them. `check`: throws FORBIDDEN unless the actor may read the
 * instance (read-instances or participation); without read-variables (or participation) `withheld` is true and
 * no variable is returned; sensitive variables not the actor's are REDACTED. Without `check` (the instance the
 * actor just started or cancelled: allowed by that permission) only the redaction applies.
 * @throws InsureflowError FORBIDDEN
 */
export async function readableVariables(ctx: EngineContext, actor: Actor, inst: { id: string; processKey: string; variables: Variables }, check: boolean): Promise<{ variables: Variables; withheld: boolean }> {
  if (isAdmin(actor)) return { variables: inst.variables, withheld: false };
  if (check) {
    const p = await permissionsOf(ctx, actor);
    if (!p.allows('read-instances', 'process-definition', inst.processKey) || !p.allows('read-variables', 'process-definition', inst.processKey)) {
      // one participation lookup answers both
      const participant = await ctx.stores.authorizations.participated(actor.name, inst.id);
      if (!participant && !p.allows('read-instances', 'process-definition', inst.processKey)) {
        throw forbidden(actor, 'read-instances', 'process-definition', inst.processKey, ` (instance ${inst.id}; nor does ${actor.name} hold or hold earlier a task of it)`);
      }
      if (!participant) return { variables: {}, withheld: true };
    }
  }
  return { variables: (await redactorFor(ctx, actor)).variables(inst.processKey, inst.variables), withheld: false };
}

// ------------------------------------------------------------------------------ sensitive variables

/** Removes what the caller may not read from variables and from history data; `none`: nothing to remove. */
export interface Redactor {
  readonly none: boolean;
  /** The variable names of `processKey` hidden from the caller. */
  hidden(processKey: string | null): ReadonlySet<string>;
  /** Variables with the hidden ones' values replaced by REDACTED. */
  variables(processKey: string | null, vars: Variables): Variables;
  /**
   * Any JSON value (history event data, decision inputs, operation before/after) with every property named like a
   * hidden variable replaced by REDACTED, and every `{ id | label, value }` entry (a decision input) naming one
   * redacted in its value; `redacted` tells whether anything was.
   */
  data<T>(processKey: string | null, value: T): { value: T; redacted: boolean };
}

const NOTHING = new Set<string>();

export const noRedaction: Redactor = {
  none: true,
  hidden: () => NOTHING,
  variables: (_k, v) => v,
  data: (_k, value) => ({ value, redacted: false }),
};

/** The redactor of an actor: admins and SYSTEM see everything; others lose the sensitive variables not theirs. */
export async function redactorFor(ctx: EngineContext, actor: Actor): Promise<Redactor> {
  if (isAdmin(actor)) return noRedaction;
  const hiddenByKey = new Map<string, Set<string>>();
  for (const s of await ctx.stores.authorizations.sensitiveVariables()) {
    if (s.groups.some((g) => actor.groups.includes(g))) continue;
    let set = hiddenByKey.get(s.processKey);
    if (!set) hiddenByKey.set(s.processKey, (set = new Set()));
    set.add(s.variable);
  }
  if (!hiddenByKey.size) return noRedaction;
  const hidden = (key: string | null) => (key === null ? NOTHING : (hiddenByKey.get(key) ?? NOTHING));
  return {
    none: false,
    hidden,
    variables(key, vars) {
      const names = hidden(key);
      if (!names.size) return vars;
      const out: Variables = {};
      for (const [k, v] of Object.entries(vars)) out[k] = names.has(k) ? { ...REDACTED } : v;
      return out;
    },
    data<T>(key: string | null, value: T) {
      const names = hidden(key);
      if (!names.size) return { value, redacted: false };
      const state = { redacted: false };
      return { value: redactDeep(value, names, state) as T, redacted: state.redacted };
    },
  };
}

function redactDeep(v: unknown, names: ReadonlySet<string>, state: { redacted: boolean }): unknown {
  if (Array.isArray(v)) return v.map((x) => redactDeep(x, names, state));
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  // a decision input ({ id, label, value }) reading a hidden variable
  if ('value' in o && ((typeof o.id === 'string' && names.has(o.id)) || (typeof o.label === 'string' && names.has(o.label)))) {
    state.redacted = true;
    return { ...o, value: { ...REDACTED } };
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    if (names.has(k)) {
      state.redacted = true;
      out[k] = { ...REDACTED };
    } else out[k] = redactDeep(x, names, state);
  }
  return out;
}
