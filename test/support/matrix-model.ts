/**
 * The permission model of the API as the authorization matrix test reads it (test/authorization-matrix.test.ts):
 * the route table (method, url and config.roles of every route, collected by buildApp's onRoute), its row in
 * ROUTE_ACCESS, the role permissions (ROLE_PERMISSIONS) and the grants in force (the shipped
 * processes/authorizations.json plus the grants a test makes). `expectation` derives what one caller must get on
 * one route and one resource from these alone, without asking the server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RouteOptions } from 'fastify';
import { ANY_RESOURCE, ROLE_PERMISSIONS, type Permission, type ResourceType } from '../../src/engine/authorization.ts';
import type { Role } from '../../src/engine/actor.ts';
import type { RouteAccess } from '../../src/http/routes/authorizations.ts';
import { here } from '../helpers.ts';

/** One route as Fastify registered it. `roles` undefined: an open route (no token asked). */
export interface RouteRow {
  key: string;
  method: string;
  url: string;
  roles?: readonly Role[];
}

/** Collects the route table: pass `collect` as buildApp's onRoute, read `rows` once the app is built. */
export function routeTable(): { collect: (r: RouteOptions) => void; rows: RouteRow[] } {
  const rows: RouteRow[] = [];
  return {
    rows,
    collect(r) {
      const methods = Array.isArray(r.method) ? r.method : [r.method];
      const roles = (r.config as { roles?: Role[] } | undefined)?.roles;
      // HEAD is the GET route's twin (same hooks)
      for (const m of methods) if (m !== 'HEAD') rows.push({ key: `${m} ${r.url}`, method: m, url: r.url, roles });
    },
  };
}

export interface GrantRow {
  group?: string | null;
  user?: string | null;
  resourceType: ResourceType;
  resourceId: string;
  permissions: Permission[];
}

/** The grants of the shipped processes/authorizations.json. */
export function shippedGrants(): GrantRow[] {
  return (JSON.parse(readFileSync(join(here, '..', 'processes', 'authorizations.json'), 'utf8')) as { grants: GrantRow[] }).grants;
}

/** The sensitive variables of the shipped processes/authorizations.json: process key -> variable -> groups. */
export function shippedSensitive(): Record<string, Record<string, string[]>> {
  return (JSON.parse(readFileSync(join(here, '..', 'processes', 'authorizations.json'), 'utf8')) as { sensitiveVariables?: Record<string, Record<string, string[]>> }).sensitiveVariables ?? {};
}

/** A caller of the matrix; null is a request without a token. */
export interface Principal {
  name: string;
  roles: Role[];
  groups: string[];
  disabled?: boolean;
}

/** What a request is about, as far as the model needs it to decide. */
export interface Target {
  /** the route's path parameters (`:key` resolves against them) */
  params: Record<string, string>;
  /** the JSON body (`body.name` resolves against it) */
  body?: unknown;
  /** the instance the request names or looks for (`instance` resolves to its process key; participation) */
  instance?: { id: string; processKey: string; participants: string[] };
  /** the task the request names or looks for (task routes) */
  task?: { candidateGroups: string[]; candidateUsers: string[]; assignee: string | null };
  /** the resource a filtered list of resources (`each`) is looked at for */
  each?: string;
  /** the external task topic the request names or acts on (`topic` resolves to it) */
  topic?: string;
}

export type Expected =
  | { status: 401 | 403; why: string }
  | { allowed: true; why: string }
  /** a filtered list: 200, and the target shows in it or not */
  | { sees: boolean; why: string };

/** Does the role or a grant (to the user or one of its groups) give `permission` on resource `id` of `type`? */
export function permits(grants: readonly GrantRow[], who: Principal, permission: Permission, type: ResourceType, id: string): boolean {
  if (who.roles.some((r) => ROLE_PERMISSIONS[r]?.[type]?.includes(permission))) return true;
  return grants.some(
    (g) =>
      (g.user === who.name || (!!g.group && who.groups.includes(g.group))) &&
      g.resourceType === type &&
      (g.resourceId === ANY_RESOURCE || g.resourceId === id) &&
      g.permissions.includes(permission),
  );
}

/** May the caller read any resource of `type` by `permission` (a role, or a grant on one or all of them)? */
function permitsSome(grants: readonly GrantRow[], who: Principal, permission: Permission, type: ResourceType): boolean {
  return permits(grants, who, permission, type, ANY_RESOURCE) || grants.some((g) => (g.user === who.name || (!!g.group && who.groups.includes(g.group))) && g.resourceType === type && g.permissions.includes(permission));
}

/**
 * The resource id a ROUTE_ACCESS row names: `:param` a path parameter, `body.<field>` a body field, `instance` the
 * process key of the target instance, `each` the listed resource looked at, `topic` the external task topic;
 * anything else is the id itself.
 */
export function resourceIdOf(spec: string, t: Target, route: string): string {
  const missing = (what: string) => new Error(`${route}: its row names the resource by ${spec}, and the request builder gave no ${what}`);
  if (spec.startsWith(':')) {
    const v = t.params[spec.slice(1)];
    if (v === undefined) throw missing(`path parameter ${spec}`);
    return v;
  }
  if (spec.startsWith('body.')) {
    const v = (t.body as Record<string, unknown> | undefined)?.[spec.slice(5)];
    if (typeof v !== 'string') throw missing(spec);
    return v;
  }
  if (spec === 'instance') {
    if (!t.instance) throw missing('target instance');
    return t.instance.processKey;
  }
  if (spec === 'topic') {
    if (t.topic === undefined) throw missing('external task topic');
    return t.topic;
  }
  if (spec === 'each') {
    if (t.each === undefined) throw missing('listed resource (each)');
    return t.each;
  }
  return spec;
}

/** Is the task assigned or offered to the caller or one of its groups (admins: every task)? */
function offered(who: Principal, task: NonNullable<Target['task']>): boolean {
  if (who.roles.includes('admin')) return true;
  if (!who.roles.includes('ops')) return false;
  return task.assignee === who.name || task.candidateUsers.includes(who.name) || task.candidateGroups.some((g) => who.groups.includes(g));
}

/**
 * What `who` must get on `route` for `target`, from the model alone:
 * 1. an open route: allowed for everyone; else no token or a disabled user: 401;
 * 2. none of the route's roles: 403;
 * 3. a task route: allowed when the task is offered to the caller (or it is its assignee, for `assignee` routes);
 * 4. a route with a permission: allowed by a role or a grant on the resource, or by participation in the instance
 *    where the row says so; else what `otherwise` allows, if anything;
 * 5. no permission: the roles decide (allowed);
 * a `filtered` list is 200 either way: whether it shows the target is what was allowed.
 */
export function expectation(grants: readonly GrantRow[], route: RouteRow, access: RouteAccess, who: Principal | null, target: Target): Expected {
  if (!route.roles) return { allowed: true, why: 'an open route' };
  if (!who) return { status: 401, why: 'no token' };
  if (who.disabled) return { status: 401, why: 'a disabled user' };
  if (!who.roles.some((r) => route.roles!.includes(r))) return { status: 403, why: `roles ${who.roles.join(',')} not in ${route.roles.join(',')}` };
  let may = true;
  let why = 'the roles allow it';
  if (access.task) {
    if (!target.task) throw new Error(`${route.key}: a task route, and the request builder gave no target task`);
    may = access.task === 'assignee' ? who.roles.includes('admin') || target.task.assignee === who.name : offered(who, target.task);
    why = may ? `the task is ${access.task === 'assignee' ? 'its own' : 'offered to it'}` : `the task is not ${access.task === 'assignee' ? 'its own' : 'offered to it'}`;
  } else if (access.permission) {
    const { permission, resourceType } = access.permission;
    const id = resourceIdOf(access.permission.resourceId, target, route.key);
    const participant = !!access.participation && !!target.instance?.participants.includes(who.name);
    may = permits(grants, who, permission, resourceType, id) || participant;
    why = may ? (participant ? 'it held a task of the instance' : `${permission} on ${resourceType}:${id} by role or grant`) : `no ${permission} on ${resourceType}:${id}${access.participation ? ', no task of the instance' : ''}`;
    if (!may && access.otherwise && permitsSome(grants, who, access.otherwise.permission, access.otherwise.resourceType)) {
      return { allowed: true, why: `${why}; shows what ${access.otherwise.permission} on ${access.otherwise.resourceType} allows` };
    }
  }
  if (access.filtered) return { sees: may, why };
  return may ? { allowed: true, why } : { status: 403, why };
}

/** The groups and users a grant row or the role table gives `permission` on the resource (the "granted" principals). */
export function grantees(grants: readonly GrantRow[], permission: Permission, type: ResourceType, id: string): { group?: string; user?: string }[] {
  return grants
    .filter((g) => g.resourceType === type && (g.resourceId === ANY_RESOURCE || g.resourceId === id) && g.permissions.includes(permission))
    .map((g) => (g.group ? { group: g.group } : { user: g.user! }));
}
