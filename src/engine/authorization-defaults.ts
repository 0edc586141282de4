/**
 * The default authorizations shipped with the processes: `authorizations.json` (at the root of a deployment or
 * in any folder of it) is deployed with the BPMN, DMN and form files (resource kind `authz`). It holds
 *
 *   { "grants": [ { "group" | "user": name, "resourceType": ..., "resourceId": key or "*", "permissions": [...],
 *                   "description"?: why } ],
 *     "sensitiveVariables": { "<process key>": { "<variable>": ["<group>", ...] } } }
 *
 * Validated at deploy: a bad file is a 422 naming the entry (`grants[3]`, `sensitiveVariables.claims.x`).
 * Deploying a changed file replaces every grant and sensitive variable the previous file gave (grants made by
 * admins stay); an unchanged file (same JSON) changes nothing; a deployment without the file keeps the current
 * defaults. A start-up whose file did not change since the previous start-up never rolls back a file deployed
 * since over the API (as for processes). Only admins (and the engine itself: start-up, CLI deploy) may deploy it.
 * The change is recorded in the deployment's transaction as `authorizations.deployed` on the "authorizations"
 * history chain, with the grants before and after.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { Actor } from './actor.ts';
import type { StoreTx } from './ports.ts';
import { compileSchema, fieldErrors } from './forms.ts';
import { isAdmin, isPermissionOf, RESOURCE_PERMISSIONS, RESOURCE_TYPES, type Grant, type Permission, type ResourceType, type SensitiveVariable } from './authorization.ts';

/** the history chain of grant changes (admin grants and revocations, deployed defaults) */
export const AUTHORIZATIONS_CHAIN = 'authorizations';

/** Is this resource name an authorizations file (`authorizations.json`, in any folder)? */
export function isAuthorizationsResource(name: string): boolean {
  return /(^|\/)authorizations\.json$/i.test(name.replace(/\\/g, '/'));
}

export const GROUP_NAME = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f]+$' } as const;
export const USER_NAME = { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,100}$' } as const;
export const RESOURCE_ID = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f]+$' } as const;

/** The JSON Schema of one grant (the file's entries, POST /api/authorizations, `insureflow grant`). */
export const GRANT_INPUT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['resourceType', 'resourceId', 'permissions'],
  oneOf: [{ required: ['group'] }, { required: ['user'] }],
  properties: {
    group: GROUP_NAME,
    user: USER_NAME,
    resourceType: { type: 'string', enum: RESOURCE_TYPES },
    resourceId: { ...RESOURCE_ID, description: 'a process key, message name, signal name, decision key, topic or report name; "*" for all of the type' },
    permissions: { type: 'array', minItems: 1, maxItems: 10, uniqueItems: true, items: { type: 'string', enum: [...new Set(Object.values(RESOURCE_PERMISSIONS).flat())] } },
    description: { type: 'string', maxLength: 500 },
  },
} as const;

const FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    $comment: { type: 'string' },
    description: { type: 'string' },
    grants: { type: 'array', maxItems: 5000, items: GRANT_INPUT_SCHEMA },
    sensitiveVariables: {
      type: 'object',
      propertyNames: RESOURCE_ID,
      additionalProperties: { type: 'object', propertyNames: RESOURCE_ID, additionalProperties: { type: 'array', minItems: 1, uniqueItems: true, items: GROUP_NAME } },
    },
  },
};

let validateGrantFn: ValidateFunction | null = null;
let validateFileFn: ValidateFunction | null = null;

/** A grant as an admin or the file asks for it. */
export interface GrantInput {
  group?: string;
  user?: string;
  resourceType: ResourceType;
  resourceId: string;
  permissions: Permission[];
  description?: string;
}

/** Problems of one grant input (schema, then permissions that do not belong to the resource type); [] when valid. */
export function grantProblems(input: unknown): string[] {
  validateGrantFn ??= compileSchema(GRANT_INPUT_SCHEMA);
  if (!validateGrantFn(input)) {
    const x = input && typeof input === 'object' ? (input as Partial<GrantInput>) : null;
    const principal = x !== null && (x.group === undefined) === (x.user === undefined);
    // oneOf (group | user) reports "required" for both: one message instead
    const rest = fieldErrors(validateGrantFn.errors).filter((e) => e.keyword !== 'oneOf' && !(e.keyword === 'required' && (e.field === 'group' || e.field === 'user')));
    return [...rest.map((e) => `${e.field} ${e.message}`), ...(principal ? ['give exactly one of "group" and "user"'] : [])];
  }
  const g = input as GrantInput;
  const wrong = g.permissions.filter((p) => !isPermissionOf(g.resourceType, p));
  return wrong.length ? [`${wrong.join(', ')} ${wrong.length > 1 ? 'are not permissions' : 'is not a permission'} of ${g.resourceType} (its permissions: ${RESOURCE_PERMISSIONS[g.resourceType].join(', ')})`] : [];
}

/** A parsed authorizations.json. */
export interface DefaultsItem {
  name: string;
  /** sha256 of the normalized JSON */
  checksum: string;
  grants: GrantInput[];
  sensitive: SensitiveVariable[];
}

/** Parses and validates an authorizations.json; every problem names its entry. */
export function parseDefaults(name: string, content: string): { item: DefaultsItem | null; problems: { element: string | null; message: string }[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(content.replace(/^\uFEFF/, ''));
  } catch (err) {
    return { item: null, problems: [{ element: null, message: `authorizations file is not JSON: ${(err as Error).message}` }] };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { item: null, problems: [{ element: null, message: 'an authorizations file is a JSON object with "grants" and "sensitiveVariables"' }] };
  const problems: { element: string | null; message: string }[] = [];
  const d = doc as { grants?: unknown; sensitiveVariables?: unknown };
  const grants = Array.isArray(d.grants) ? d.grants : [];
  const seen = new Map<string, number>();
  grants.forEach((g, i) => {
    for (const message of grantProblems(g)) problems.push({ element: `grants[${i}]`, message });
    const x = g as GrantInput;
    const key = JSON.stringify([x?.group ?? null, x?.user ?? null, x?.resourceType, x?.resourceId]);
    if (seen.has(key)) problems.push({ element: `grants[${i}]`, message: `grants[${seen.get(key)}] already grants to the same ${x.group !== undefined ? 'group' : 'user'} on the same resource: merge their permissions` });
    else seen.set(key, i);
  });
  validateFileFn ??= compileSchema(FILE_SCHEMA);
  if (!validateFileFn(doc)) {
    for (const e of fieldErrors(validateFileFn.errors)) {
      if (/^grants\.\d+/.test(e.field)) continue; // reported per entry above
      problems.push({ element: e.field.replace(/^grants\.(\d+)/, 'grants[$1]'), message: e.message });
    }
  }
  if (problems.length) return { item: null, problems };
  const sensitive: SensitiveVariable[] = [];
  for (const [processKey, vars] of Object.entries((d.sensitiveVariables ?? {}) as Record<string, Record<string, string[]>>)) {
    for (const [variable, groups] of Object.entries(vars)) sensitive.push({ processKey, variable, groups });
  }
  return { item: { name, checksum: createHash('sha256').update(JSON.stringify(doc)).digest('hex'), grants: grants as GrantInput[], sensitive }, problems: [] };
}

/** @throws InsureflowError FORBIDDEN when a non-admin deploys an authorizations file (`resource`: its name, null: none) */
export function checkDefaultsDeployer(actor: Actor, resource: string | null): void {
  if (resource !== null && !isAdmin(actor)) {
    throw new InsureflowError('FORBIDDEN', `${resource} changes who may do what: only an admin may deploy it (${actor.name} is ${actor.roles.join(', ') || 'no role'})`, { resource });
  }
}

/**
 * Whether the file changes the current defaults: not when its JSON is the current file's, nor when it is a
 * start-up file unchanged since the previous start-up (`sameAsLastStartup`) that was deployed before.
 */
export async function defaultsChanged(ctx: EngineContext, tx: StoreTx, item: DefaultsItem, sameAsLastStartup: boolean): Promise<boolean> {
  const checksums = await ctx.stores.authorizations.defaultsChecksums(tx);
  if (checksums[0] === item.checksum) return false;
  return !(sameAsLastStartup && checksums.includes(item.checksum));
}

/** What the deploy result says about the file. */
export interface DefaultsOutcome {
  resource: string;
  created: boolean;
  grants: number;
  sensitiveVariables: number;
}

/** Replaces the defaults with the file's, in the deployment's transaction, and records it on the chain. */
export async function writeDefaults(ctx: EngineContext, tx: StoreTx, item: DefaultsItem, deploymentId: string, actor: Actor, at: number): Promise<DefaultsOutcome> {
  const store = ctx.stores.authorizations;
  const before = (await store.list({ source: 'defaults', limit: 100_000 }, tx)).items;
  const createdAt = new Date(at).toISOString();
  const grants: Grant[] = item.grants.map((g) => ({
    id: randomUUID(),
    group: g.group ?? null,
    user: g.user ?? null,
    resourceType: g.resourceType,
    resourceId: g.resourceId,
    permissions: g.permissions,
    description: g.description ?? null,
    source: 'defaults',
    deploymentId,
    createdAt,
    createdBy: actor.name,
  }));
  await store.replaceDefaults(tx, { deploymentId, resourceName: item.name, checksum: item.checksum, deployedAt: at, deployedBy: actor.name, grants, sensitive: item.sensitive });
  await ctx.stores.history.append(tx, AUTHORIZATIONS_CHAIN, [
    {
      processInstanceId: null,
      processKey: null,
      processVersion: null,
      businessKey: null,
      at,
      type: 'authorizations.deployed',
      activityId: null,
      activityType: null,
      actor: actor.name,
      data: { deploymentId, resource: item.name, checksum: item.checksum, before: before.map(grantAuditView), after: grants.map(grantAuditView), sensitiveVariables: item.sensitive },
    },
  ]);
  return { resource: item.name, created: true, grants: grants.length, sensitiveVariables: item.sensitive.length };
}

/** What the history chain keeps of a grant. */
export function grantAuditView(g: Grant): Record<string, unknown> {
  return { id: g.id, group: g.group, user: g.user, resourceType: g.resourceType, resourceId: g.resourceId, permissions: g.permissions, source: g.source };
}
