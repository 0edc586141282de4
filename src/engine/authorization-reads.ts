/**
 * Reads whose content depends on who asks (./authorization.ts): the decisions an instance evaluated, and the
 * gate and redactor of the auditors' reads across instances (history events, operation log, exports,
 * point-in-time state, replay).
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { Actor } from './actor.ts';
import type { HistoryRecord } from './ports.ts';
import { ANY_RESOURCE, forbidden, mayReadInstance, permissionsOf, redactorFor, type Redactor } from './authorization.ts';

/**
 * The decision.evaluated events of an instance the actor may see, in order, their inputs, outputs and result
 * redacted of the sensitive variables not the actor's: all of them with read-history on the instance (grant,
 * role or a task of it), else those of decisions the actor may `read` (analysts: every decision).
 * @throws InsureflowError INSTANCE_NOT_FOUND, FORBIDDEN (neither read-history on the instance nor read on any decision)
 */
export async function instanceDecisions(ctx: EngineContext, instanceId: string, actor: Actor): Promise<HistoryRecord[]> {
  const head = await ctx.stores.instances.header(instanceId);
  if (!head) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} was not found`);
  const p = await permissionsOf(ctx, actor);
  const whole = await mayReadInstance(ctx, actor, { id: instanceId, processKey: head.processKey }, 'read-history', p);
  const decisions = p.ids('read', 'decision');
  if (!whole && decisions !== ANY_RESOURCE && !decisions.length) {
    throw forbidden(actor, 'read-history', 'process-definition', head.processKey, ` (instance ${instanceId}: its decisions; nor does ${actor.name} hold or hold earlier a task of it, nor read any decision)`);
  }
  const redactor = await redactorFor(ctx, actor);
  return (await ctx.stores.history.list(instanceId))
    .filter((e) => e.type === 'decision.evaluated')
    .filter((e) => whole || p.allows('read', 'decision', String(e.data.decisionKey ?? e.data.decisionId)))
    .map((e) => ({ ...e, data: redactor.data(head.processKey, e.data).value }));
}

/**
 * The redactor of reads across every instance (the auditors' API): the actor must read the history of every
 * process (auditors and admins by role, or a grant of read-history on `*`).
 * @throws InsureflowError FORBIDDEN
 */
export async function historyRedactor(ctx: EngineContext, actor: Actor): Promise<Redactor> {
  const p = await permissionsOf(ctx, actor);
  if (!p.allows('read-history', 'process-definition', ANY_RESOURCE)) throw forbidden(actor, 'read-history', 'process-definition', ANY_RESOURCE, ' (history across instances)');
  return redactorFor(ctx, actor);
}
