/**
 * Managing grants (admins only; ./authorization.ts says what they mean): list, grant, revoke, and the sensitive
 * variables in force. Every change and its audit record commit together: `authorization.granted` /
 * `authorization.revoked` on the "authorizations" history chain (and so in the user operation log as `grant` /
 * `revoke`), in the transaction of the change.
 */
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { Actor } from './actor.ts';
import type { Page } from './model.ts';
import type { GrantQuery, StoreTx } from './ports.ts';
import { isAdmin, type Grant, type SensitiveVariable } from './authorization.ts';
import { AUTHORIZATIONS_CHAIN, grantAuditView, grantProblems, type GrantInput } from './authorization-defaults.ts';

function requireAdmin(actor: Actor, what: string): void {
  if (!isAdmin(actor)) throw new InsureflowError('FORBIDDEN', `only admins ${what}; ${actor.name} is ${actor.roles.join(', ') || 'no role'}`);
}

/** Grants by principal, resource and source. @throws InsureflowError FORBIDDEN (not an admin) */
export async function listGrants(ctx: EngineContext, q: GrantQuery, actor: Actor): Promise<Page<Grant>> {
  requireAdmin(actor, 'read the authorizations');
  return ctx.stores.authorizations.list(q);
}

/** The sensitive variables in force (from the deployed authorizations.json). @throws InsureflowError FORBIDDEN */
export async function listSensitiveVariables(ctx: EngineContext, actor: Actor): Promise<SensitiveVariable[]> {
  requireAdmin(actor, 'read the sensitive variables');
  return ctx.stores.authorizations.sensitiveVariables();
}

async function record(ctx: EngineContext, tx: StoreTx, actor: Actor, type: string, grant: Grant): Promise<void> {
  await ctx.stores.history.append(tx, AUTHORIZATIONS_CHAIN, [
    { processInstanceId: null, processKey: null, processVersion: null, businessKey: null, at: ctx.clock.now(), type, activityId: null, activityType: null, actor: actor.name, data: { grant: grantAuditView(grant) } },
  ]);
}

/**
 * Grants permissions to a group or a user on a resource (`*`: all of its type).
 * @throws InsureflowError FORBIDDEN (not an admin), VALIDATION_FAILED (bad input; a permission the resource type
 *   does not have), AUTHORIZATION_EXISTS (an admin grant to the same principal on the same resource: revoke it first)
 */
export async function grant(ctx: EngineContext, input: GrantInput, actor: Actor): Promise<Grant> {
  requireAdmin(actor, 'grant permissions');
  const problems = grantProblems(input);
  if (problems.length) throw new InsureflowError('VALIDATION_FAILED', `the grant is invalid: ${problems.join('; ')}`, problems.map((message) => ({ message })));
  const g: Grant = {
    id: randomUUID(),
    group: input.group ?? null,
    user: input.user ?? null,
    resourceType: input.resourceType,
    resourceId: input.resourceId,
    permissions: [...input.permissions],
    description: input.description ?? null,
    source: 'admin',
    deploymentId: null,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    createdBy: actor.name,
  };
  const store = ctx.stores.authorizations;
  await ctx.stores.transactions.run(async (tx) => {
    const existing = await store.find({ group: g.group, user: g.user, resourceType: g.resourceType, resourceId: g.resourceId, source: 'admin' }, tx);
    if (existing) throw exists(existing);
    await store.insert(tx, g);
    await record(ctx, tx, actor, 'authorization.granted', g);
  });
  return g;
}

function exists(g: Grant): InsureflowError {
  return new InsureflowError(
    'AUTHORIZATION_EXISTS',
    `${g.group !== null ? `group "${g.group}"` : `user "${g.user}"`} already has a grant on ${g.resourceType} "${g.resourceId}" (${g.id}: ${g.permissions.join(', ')}); revoke it and grant again to change its permissions`,
    { id: g.id, permissions: g.permissions },
  );
}

/**
 * Revokes a grant (an admin's, or one of the deployed defaults: a later deployment of a changed authorizations.json
 * brings the file's grants back).
 * @throws InsureflowError FORBIDDEN (not an admin), AUTHORIZATION_NOT_FOUND
 */
export async function revoke(ctx: EngineContext, id: string, actor: Actor): Promise<Grant> {
  requireAdmin(actor, 'revoke permissions');
  const store = ctx.stores.authorizations;
  return ctx.stores.transactions.run(async (tx) => {
    const g = await store.get(id, tx);
    if (!g || !(await store.delete(tx, id))) throw new InsureflowError('AUTHORIZATION_NOT_FOUND', `authorization ${id} was not found`);
    await record(ctx, tx, actor, 'authorization.revoked', g);
    return g;
  });
}
