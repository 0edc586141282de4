/**
 * Incidents: handler calls that exhausted their retries. Listing and reading them, retrying the call (with
 * corrected variables if given) and resolving them by hand.
 */
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { Variables } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { appendHistory, type NewEvent } from '../persistence/history.ts';
import { paged, toIncident, type Trx } from '../persistence/store.ts';
import type { Actor } from '../persistence/users.ts';

export interface IncidentQuery {
  status?: string;
  processInstanceId?: string;
  activityId?: string;
  limit?: number;
  offset?: number;
}

export async function listIncidents(ctx: EngineContext, q: IncidentQuery) {
  let query = ctx.db('incidents');
  query = query.where({ status: q.status ?? 'open' });
  if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
  if (q.activityId) query = query.where({ activity_id: q.activityId });
  return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toIncident, [['created_at', 'desc'], ['id', 'asc']]);
}

export async function getIncident(ctx: EngineContext, id: string) {
  const r = await ctx.db('incidents').where({ id }).first();
  if (!r) throw new InsureflowError('INCIDENT_NOT_FOUND', `incident ${id} was not found`);
  return toIncident(r);
}

/** Run the failed handler again, optionally with corrected variables. */
export async function retryIncident(ctx: EngineContext, id: string, variables: Variables | undefined, actor: Actor) {
  const inc = await getIncident(ctx, id);
  if (inc.status !== 'open') throw new InsureflowError('INCIDENT_NOT_OPEN', `incident ${id} is ${inc.status}`);
  // the instance's labels never change: the event is prepared before the transition and written with it
  const retried = await incidentEvent(ctx, inc.processInstanceId, 'incident.retried', inc.activityId, actor, { incidentId: id, variables: variables ?? null });
  await withLock(ctx, inc.processInstanceId, () =>
    transition(ctx, inc.processInstanceId, { kind: 'retry', executionId: inc.executionId, variables }, actor, undefined, async () => [retried]).then(() => continueDeferred(ctx, inc.processInstanceId)),
  );
  return getIncident(ctx, id);
}

/** Mark resolved without running anything (the operator fixed it elsewhere); the activity stays parked. */
export async function resolveIncident(ctx: EngineContext, id: string, actor: Actor, note?: string) {
  const inc = await getIncident(ctx, id);
  if (inc.status !== 'open') throw new InsureflowError('INCIDENT_NOT_OPEN', `incident ${id} is ${inc.status}`);
  const now = ctx.clock.now();
  await withLock(ctx, inc.processInstanceId, async () => {
    await ctx.db.transaction(async (trx) => {
      await trx('incidents').where({ id, status: 'open' }).update({ status: 'resolved', resolved_at: now, resolved_by: actor.name });
      // a resolved incident gives the call one more attempt right away through a retry job
      await trx('jobs').insert({ id: randomUUID(), type: 'retry', process_instance_id: inc.processInstanceId, definition_id: null, activity_id: inc.activityId, execution_id: inc.executionId, due_at: now, payload: JSON.stringify({ handler: inc.handler, afterIncident: id }), attempts: inc.attempts, created_at: now });
      const left = await trx('incidents').where({ process_instance_id: inc.processInstanceId, status: 'open' }).count({ n: '*' }).first();
      if (Number((left as any)?.n ?? 0) === 0) await trx('process_instances').where({ id: inc.processInstanceId, status: 'incident' }).update({ status: 'active' });
      const ev = await incidentEvent(ctx, inc.processInstanceId, 'incident.resolved', inc.activityId, actor, { incidentId: id, note: note ?? null }, trx);
      await appendHistory(trx, inc.processInstanceId, [ev]);
    });
  });
  return getIncident(ctx, id);
}

export async function incidentEvent(ctx: EngineContext, instanceId: string, type: string, activityId: string, actor: Actor, data: Record<string, unknown>, trx: Trx = ctx.db): Promise<NewEvent> {
  const inst = await trx('process_instances').where({ id: instanceId }).first('process_key', 'process_version', 'business_key');
  return { processInstanceId: instanceId, processKey: inst?.process_key ?? null, processVersion: inst ? Number(inst.process_version) : null, businessKey: inst?.business_key ?? null, at: ctx.clock.now(), type, activityId, activityType: null, actor: actor.name, data };
}
