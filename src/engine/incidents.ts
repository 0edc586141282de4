/**
 * Incidents: handler calls that exhausted their retries. Listing and reading them, retrying the call (with
 * corrected variables if given) and resolving them by hand.
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { SYSTEM, type Actor, type Incident, type Page } from './model.ts';
import type { IncidentQuery, StoreTx } from './ports.ts';
import type { Variables } from './runtime.ts';
import type { NewHistoryEvent } from './transition-store.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { assertTextValues } from './text-values.ts';
import { instanceScope, requireAdmin } from './authorization.ts';

export type { IncidentQuery };

/**
 * Incidents by status (default open), instance and activity, newest first: all of them for admins, else those of
 * the process keys the actor may read-instances (./authorization.ts).
 */
export async function listIncidents(ctx: EngineContext, q: IncidentQuery, actor: Actor = SYSTEM): Promise<Page<Incident>> {
  const scope = await instanceScope(ctx, actor, 'read-instances', false);
  return ctx.stores.incidents.list(scope ? { ...q, scope } : q);
}

/** @throws InsureflowError INCIDENT_NOT_FOUND */
export async function getIncident(ctx: EngineContext, id: string): Promise<Incident> {
  const inc = await ctx.stores.incidents.get(id);
  if (!inc) throw new InsureflowError('INCIDENT_NOT_FOUND', `incident ${id} was not found`);
  return inc;
}

/**
 * Run the failed handler again, optionally with corrected variables (merged into the instance's variables).
 * @throws InsureflowError FORBIDDEN (not an admin), INCIDENT_NOT_FOUND, INCIDENT_NOT_OPEN
 */
export async function retryIncident(ctx: EngineContext, id: string, variables: Variables | undefined, actor: Actor): Promise<Incident> {
  requireAdmin(actor, 'retry an incident');
  assertTextValues('retry', { id, variables });
  const inc = await getIncident(ctx, id);
  if (inc.status !== 'open') throw new InsureflowError('INCIDENT_NOT_OPEN', `incident ${id} is ${inc.status}`);
  // the instance's labels never change: the event is prepared before the transition and written with it
  const retried = await incidentEvent(ctx, undefined, inc.processInstanceId, 'incident.retried', inc.activityId, actor, { incidentId: id, variables: variables ?? null });
  await withLock(ctx, inc.processInstanceId, () =>
    transition(ctx, inc.processInstanceId, { kind: 'retry', executionId: inc.executionId, variables }, actor, undefined, async () => [retried]).then(() => continueDeferred(ctx, inc.processInstanceId)),
  );
  return getIncident(ctx, id);
}

/**
 * Mark resolved without running anything (the operator fixed it elsewhere): the call gets one more attempt
 * right away through a retry job, and the instance leaves the incident status when no incident is left open.
 * @throws InsureflowError FORBIDDEN (not an admin), INCIDENT_NOT_FOUND, INCIDENT_NOT_OPEN
 */
export async function resolveIncident(ctx: EngineContext, id: string, actor: Actor, note?: string): Promise<Incident> {
  requireAdmin(actor, 'resolve an incident');
  const { stores } = ctx;
  const inc = await getIncident(ctx, id);
  if (inc.status !== 'open') throw new InsureflowError('INCIDENT_NOT_OPEN', `incident ${id} is ${inc.status}`);
  const now = ctx.clock.now();
  await withLock(ctx, inc.processInstanceId, async () => {
    await stores.transactions.run(async (tx) => {
      if (!(await stores.incidents.resolve(tx, id, actor.name, now))) throw new InsureflowError('INCIDENT_NOT_OPEN', `incident ${id} was resolved meanwhile`);
      await stores.jobs.insert(tx, {
        type: 'retry',
        processInstanceId: inc.processInstanceId,
        definitionId: null,
        activityId: inc.activityId,
        executionId: inc.executionId,
        dueAt: now,
        payload: { handler: inc.handler, afterIncident: id },
        attempts: inc.attempts,
        createdAt: now,
      });
      if ((await stores.incidents.countOpen(tx, inc.processInstanceId)) === 0) await stores.instances.clearIncidentStatus(tx, inc.processInstanceId);
      const ev = await incidentEvent(ctx, tx, inc.processInstanceId, 'incident.resolved', inc.activityId, actor, { incidentId: id, note: note ?? null });
      await stores.history.append(tx, inc.processInstanceId, [ev]);
    });
  });
  return getIncident(ctx, id);
}

async function incidentEvent(ctx: EngineContext, tx: StoreTx | undefined, instanceId: string, type: string, activityId: string, actor: Actor, data: Record<string, unknown>): Promise<NewHistoryEvent> {
  const inst = await ctx.stores.instances.header(instanceId, tx);
  return { processInstanceId: instanceId, processKey: inst?.processKey ?? null, processVersion: inst?.processVersion ?? null, businessKey: inst?.businessKey ?? null, at: ctx.clock.now(), type, activityId, activityType: null, actor: actor.name, data };
}
