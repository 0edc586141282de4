/**
 * Process instances: start, list, read (with open tasks and incidents), cancel, and an instance's history
 * and its hash-chain verification.
 */
import type { TransitionTx } from './transition-store.ts';
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { getDefinitionRow, latestForm, validateForm } from './deployment.ts';
import type { Variables } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { appendHistory, rowToEvent } from '../persistence/history.ts';
import { verifyHistoryChain } from '../audit/verify.ts';
import { paged, parseJson, toIncident, toInstance, toTask, updateInstanceGuarded, type InstanceRow, type TaskRow } from '../persistence/store.ts';
import { SYSTEM, type Actor } from '../persistence/users.ts';

export interface InstanceQuery {
  key?: string;
  businessKey?: string;
  status?: string;
  limit?: number;
  offset?: number;
}

/** An instance with its variables, active activities, open tasks and open incidents. */
export type InstanceDetail = Awaited<ReturnType<typeof getInstance>>;

export async function startInstance(
  ctx: EngineContext,
  key: string,
  input: { businessKey?: string | null; variables?: Variables; version?: number; id?: string },
  actor: Actor = SYSTEM,
  inTx?: (tx: TransitionTx) => Promise<void>,
): Promise<InstanceDetail> {
  const row = await getDefinitionRow(ctx, key, input.version);
  const variables = input.variables ?? {};
  const startForm = await latestForm(ctx, ctx.db, `${key}.start`);
  if (startForm) validateForm(ctx, startForm.id, startForm.schema, variables, `start variables of "${key}"`);
  const id = input.id ?? randomUUID();
  await withLock(ctx, id, async () => {
    const out = await transition(ctx, id, { kind: 'start', variables }, actor, { definitionId: row.id, businessKey: input.businessKey ?? null }, inTx && ((trx) => inTx(trx)));
    await continueDeferred(ctx, id, out);
  });
  return getInstance(ctx, id);
}

export async function listInstances(ctx: EngineContext, q: InstanceQuery) {
  let query = ctx.db('process_instances');
  if (q.key) query = query.where({ process_key: q.key });
  if (q.businessKey) query = query.where({ business_key: q.businessKey });
  if (q.status) query = query.where({ status: q.status });
  return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toInstance, [['started_at', 'desc'], ['id', 'asc']]);
}

export async function getInstance(ctx: EngineContext, id: string) {
  const row: InstanceRow | undefined = await ctx.db('process_instances').where({ id }).first();
  if (!row) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${id} was not found`);
  const tasks: TaskRow[] = await ctx.db('user_tasks').where({ process_instance_id: id, status: 'open' }).orderBy('created_at');
  const incidents = await ctx.db('incidents').where({ process_instance_id: id, status: 'open' });
  return {
    ...toInstance(row),
    variables: parseJson<Variables>(row.variables, `process_instances ${id} variables`, {}),
    activeActivities: parseJson<string[]>((row as any).active_activities, `process_instances ${id} active_activities`, []),
    openTasks: tasks.map(toTask),
    incidents: incidents.map(toIncident),
  };
}

export async function cancelInstance(ctx: EngineContext, id: string, actor: Actor, reason?: string) {
  await withLock(ctx, id, async () => {
    const row: InstanceRow | undefined = await ctx.db('process_instances').where({ id }).first();
    if (!row) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${id} was not found`);
    if (row.status === 'completed' || row.status === 'cancelled') throw new InsureflowError('INSTANCE_NOT_ACTIVE', `process instance ${id} is ${row.status}`);
    const now = ctx.clock.now();
    await ctx.db.transaction(async (trx) => {
      await updateInstanceGuarded(trx, id, Number(row.rev), { status: 'cancelled', state: null, ended_at: now, updated_at: now, active_activities: '[]' } as any);
      const tasks = await trx('user_tasks').where({ process_instance_id: id, status: 'open' });
      await trx('user_tasks').where({ process_instance_id: id, status: 'open' }).update({ status: 'cancelled', ended_at: now });
      await trx('jobs').where({ process_instance_id: id }).delete();
      await trx('subscriptions').where({ process_instance_id: id }).delete();
      await trx('incidents').where({ process_instance_id: id, status: 'open' }).update({ status: 'resolved', resolved_at: now, resolved_by: actor.name });
      const base = { processInstanceId: id, processKey: row.process_key, processVersion: Number(row.process_version), businessKey: row.business_key, at: now, activityType: null, actor: actor.name };
      await appendHistory(trx, id, [
        ...tasks.map((t: TaskRow) => ({ ...base, type: 'task.cancelled', activityId: t.activity_id, data: { taskId: t.id, name: t.name } })),
        { ...base, type: 'instance.cancelled', activityId: null, data: { reason: reason ?? null } },
      ]);
    });
  });
  return getInstance(ctx, id);
}

export async function history(ctx: EngineContext, instanceId: string) {
  const exists = await ctx.db('process_instances').where({ id: instanceId }).first('id');
  if (!exists) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} was not found`);
  const rows = await ctx.db('history_events').where({ chain_id: instanceId }).orderBy('seq');
  return rows.map(rowToEvent).map((e) => ({
    seq: e.seq,
    at: new Date(e.at).toISOString(),
    type: e.type,
    activityId: e.activityId,
    activityType: e.activityType,
    actor: e.actor,
    data: e.data,
    prevHash: e.prevHash,
    hash: e.hash,
  }));
}

/** Recompute one instance's hash chain; names the first broken link and what happened to it. */
export async function verifyInstanceHistory(ctx: EngineContext, instanceId: string) {
  const { consistent, checked, firstBroken } = await verifyHistoryChain(ctx.db, instanceId);
  return firstBroken ? { consistent, checked, firstBroken } : { consistent, checked };
}


