/**
 * The Knex ExternalTaskStore (src/engine/ports.ts) over external_tasks (migrations/20261130120000_external_tasks.ts),
 * and the rows a transition writes for its external-task waits (writeExternalTasks, called by the transition store
 * inside the transition's transaction). Locks are conditional updates (`where lock is free or expired`), so two
 * nodes fetching at once never lock one task twice.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { ExternalTaskStore, ExternalTaskTopicFetch, StoreTx, StoredExternalTask } from '../engine/ports.ts';
import type { Page } from '../engine/model.ts';
import type { CommitPlan } from '../engine/commit-plan.ts';
import { knexOf, knexTx } from './knex-tx.ts';

interface ExternalTaskRow {
  id: string;
  topic: string;
  process_instance_id: string;
  definition_id: string;
  process_key: string;
  activity_id: string;
  execution_id: string;
  business_key: string | null;
  priority: number | string;
  retries: number | string | null;
  error_message: string | null;
  error_details: string | null;
  worker_id: string | null;
  lock_expires_at: number | string | null;
  status: StoredExternalTask['status'];
  completed_by: string | null;
  created_at: number | string;
  ended_at: number | string | null;
}

const num = (v: number | string | null): number | null => (v === null || v === undefined ? null : Number(v));

function toTask(r: ExternalTaskRow): StoredExternalTask {
  return {
    id: r.id,
    topic: r.topic,
    processInstanceId: r.process_instance_id,
    definitionId: r.definition_id,
    processKey: r.process_key,
    activityId: r.activity_id,
    executionId: r.execution_id,
    businessKey: r.business_key,
    priority: Number(r.priority),
    retries: num(r.retries),
    errorMessage: r.error_message,
    errorDetails: r.error_details,
    workerId: r.worker_id,
    lockExpiresAt: num(r.lock_expires_at),
    status: r.status,
    completedBy: r.completed_by,
    createdAt: Number(r.created_at),
  };
}

/** open, of an active instance, with retries left, never locked or lock expired */
function fetchable(q: Knex.QueryBuilder, now: number): Knex.QueryBuilder {
  return q
    .where('external_tasks.status', 'open')
    .where((w) => w.whereNull('external_tasks.retries').orWhere('external_tasks.retries', '>', 0))
    .where((w) => w.whereNull('external_tasks.lock_expires_at').orWhere('external_tasks.lock_expires_at', '<', now));
}

/** held by the worker (the last fetch's); `now` given: with its lock not expired */
const heldBy = (q: Knex.QueryBuilder, id: string, workerId: string, now?: number) => {
  const held = q.where({ id, status: 'open', worker_id: workerId });
  return now === undefined ? held : held.where('lock_expires_at', '>=', now);
};

export class KnexExternalTaskStore implements ExternalTaskStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, tx?: StoreTx): Promise<StoredExternalTask | null> {
    const r: ExternalTaskRow | undefined = await knexOf(this.db, tx)('external_tasks').where({ id }).first();
    return r ? toTask(r) : null;
  }

  async lockFetchable(q: { topics: ExternalTaskTopicFetch[]; workerId: string; maxTasks: number; usePriority: boolean; now: number }): Promise<StoredExternalTask[]> {
    const locked: StoredExternalTask[] = [];
    for (const t of q.topics) {
      if (locked.length >= q.maxTasks) break;
      let sel = fetchable(this.db('external_tasks').join('process_instances', 'process_instances.id', 'external_tasks.process_instance_id'), q.now)
        .whereIn('process_instances.status', ['active', 'incident'])
        .where('external_tasks.topic', t.topicName);
      if (t.businessKey !== undefined) sel = sel.where('external_tasks.business_key', t.businessKey);
      if (t.processDefinitionKey !== undefined) sel = sel.where('external_tasks.process_key', t.processDefinitionKey);
      if (q.usePriority) sel = sel.orderBy('external_tasks.priority', 'desc');
      const candidates: ExternalTaskRow[] = await sel.orderBy([{ column: 'external_tasks.created_at' }, { column: 'external_tasks.id' }]).limit(q.maxTasks - locked.length + 10).select('external_tasks.*');
      for (const c of candidates) {
        if (locked.length >= q.maxTasks) break;
        if (locked.some((x) => x.id === c.id)) continue;
        // another fetch (this node or another) may have taken it since the select
        const n = await fetchable(this.db('external_tasks').where({ id: c.id }), q.now).update({ worker_id: q.workerId, lock_expires_at: t.lockUntil });
        if (n === 1) locked.push(toTask({ ...c, worker_id: q.workerId, lock_expires_at: t.lockUntil }));
      }
    }
    return locked;
  }

  async extendLock(id: string, workerId: string, now: number, lockUntil: number): Promise<boolean> {
    return (await heldBy(this.db('external_tasks'), id, workerId, now).update({ lock_expires_at: lockUntil })) === 1;
  }

  async unlock(id: string): Promise<boolean> {
    return (await this.db('external_tasks').where({ id, status: 'open' }).update({ worker_id: null, lock_expires_at: null })) === 1;
  }

  async close(tx: StoreTx, id: string, workerId: string, _now: number, patch: { status: 'completed'; completedBy: string; endedAt: number }): Promise<boolean> {
    return (await heldBy(knexTx(tx)('external_tasks'), id, workerId).update({ status: patch.status, completed_by: patch.completedBy, ended_at: patch.endedAt })) === 1;
  }

  async recordFailure(tx: StoreTx, id: string, workerId: string, _now: number, patch: { retries: number; errorMessage: string | null; errorDetails: string | null; lockExpiresAt: number | null }): Promise<boolean> {
    return (
      (await heldBy(knexTx(tx)('external_tasks'), id, workerId).update({
        retries: patch.retries,
        error_message: patch.errorMessage === null ? null : patch.errorMessage.slice(0, 4000),
        error_details: patch.errorDetails,
        lock_expires_at: patch.lockExpiresAt,
      })) === 1
    );
  }

  async execMeta(instanceId: string): Promise<string | null> {
    const r = await this.db('process_instances').where({ id: instanceId }).first('exec_meta');
    return (r?.exec_meta as string | null | undefined) ?? null;
  }

  async cancelOpen(tx: StoreTx, instanceId: string, at: number): Promise<StoredExternalTask[]> {
    const trx = knexTx(tx);
    const open: ExternalTaskRow[] = await trx('external_tasks').where({ process_instance_id: instanceId, status: 'open' });
    if (open.length) await trx('external_tasks').where({ process_instance_id: instanceId, status: 'open' }).update({ status: 'cancelled', ended_at: at, lock_expires_at: null });
    return open.map(toTask);
  }

  async list(q: { topicName?: string; processInstanceId?: string; limit: number; offset: number }): Promise<Page<StoredExternalTask>> {
    const where = (b: Knex.QueryBuilder) => {
      b = b.where({ status: 'open' });
      if (q.topicName !== undefined) b = b.where({ topic: q.topicName });
      if (q.processInstanceId !== undefined) b = b.where({ process_instance_id: q.processInstanceId });
      return b;
    };
    const [{ n }] = await where(this.db('external_tasks')).count({ n: '*' });
    const rows: ExternalTaskRow[] = await where(this.db('external_tasks')).orderBy([{ column: 'created_at' }, { column: 'id' }]).limit(q.limit).offset(q.offset);
    return { items: rows.map(toTask), total: Number(n), limit: q.limit, offset: q.offset };
  }
}

/**
 * The external-task rows of one transition's commit plan (inside its transaction): cancels the tasks the engine
 * left, creates a row per new wait, and makes the retried ones fetchable again (one retry, unlocked). `ev` records
 * the history event of each (externalTask.cancelled / externalTask.created / externalTask.retried), by the system.
 */
export async function writeExternalTasks(
  trx: Knex.Transaction,
  plan: Pick<CommitPlan, 'cancelExternalTasks' | 'createExternalTasks' | 'resetExternalTasks'>,
  at: { instanceId: string; definitionId: string; processKey: string; businessKey: string | null; now: number },
  ev: (type: string, activityId: string | null, data: Record<string, unknown>, who?: string, activityType?: string | null) => void,
): Promise<void> {
  for (const t of plan.cancelExternalTasks) {
    await trx('external_tasks').where({ id: t.id, status: 'open' }).update({ status: 'cancelled', ended_at: at.now, lock_expires_at: null });
    ev('externalTask.cancelled', t.activityId, { taskId: t.id, topic: t.topic }, 'system');
  }
  for (const w of plan.createExternalTasks) {
    const id = randomUUID();
    await trx('external_tasks').insert({
      id,
      topic: w.topic as string,
      process_instance_id: at.instanceId,
      definition_id: at.definitionId,
      process_key: at.processKey,
      activity_id: w.activityId,
      execution_id: w.executionId,
      business_key: at.businessKey,
      priority: w.priority ?? 0,
      retries: null,
      status: 'open',
      created_at: at.now,
    });
    ev('externalTask.created', w.activityId, { taskId: id, topic: w.topic, priority: w.priority ?? 0 }, 'system');
  }
  for (const execId of plan.resetExternalTasks) {
    const row = await trx('external_tasks').where({ process_instance_id: at.instanceId, execution_id: execId, status: 'open' }).first('id', 'activity_id');
    if (!row) continue;
    await trx('external_tasks').where({ id: row.id }).update({ retries: 1, worker_id: null, lock_expires_at: null });
    ev('externalTask.retried', row.activity_id, { taskId: row.id, retries: 1 }, 'system');
  }
}
