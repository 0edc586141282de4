/**
 * The Knex JobStore (src/engine/ports.ts): durable jobs (timers, handler retries, timer start events), their
 * listing, and their acquisition by the nodes that share the database. On PostgreSQL acquisition locks the
 * candidate rows FOR UPDATE SKIP LOCKED, so two nodes polling at once never take the same job; a lock that
 * expired, or whose owner's heartbeat (engine_nodes) is stale, is taken over.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { JobAcquisition, JobQuery, JobStore, NewJob, StoreTx, StoredJob } from '../engine/ports.ts';
import type { Job, Page } from '../engine/model.ts';
import type { Dialect } from './dialect.ts';
import { knexOf, knexTx } from './knex-tx.ts';
import { paged, parseJson, toJob, type JobRow } from './store.ts';

const MAX_ERROR_LENGTH = 4000;

function toStoredJob(r: JobRow): StoredJob {
  return {
    id: r.id,
    type: r.type,
    processInstanceId: r.process_instance_id,
    definitionId: r.definition_id,
    activityId: r.activity_id,
    executionId: r.execution_id,
    dueAt: Number(r.due_at),
    payload: parseJson<Record<string, unknown>>(r.payload, `jobs ${r.id} payload`, {}),
    attempts: Number(r.attempts),
    lockOwner: r.lock_owner,
    lockExpiresAt: r.lock_expires_at === null ? null : Number(r.lock_expires_at),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
  };
}

export class KnexJobStore implements JobStore {
  constructor(private readonly db: Knex, private readonly dialect: Dialect) {}

  list(q: JobQuery, now: number): Promise<Page<Job>> {
    let query = this.db('jobs');
    if (q.state === 'due') query = query.where('due_at', '<=', now).whereNull('lock_owner');
    if (q.state === 'waiting') query = query.where('due_at', '>', now);
    if (q.state === 'failed') query = query.whereNotNull('last_error');
    if (q.state === 'locked') query = query.whereNotNull('lock_owner').where('lock_expires_at', '>=', now);
    if (q.type) query = query.where({ type: q.type });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.dueBefore) query = query.where('due_at', '<=', Date.parse(q.dueBefore));
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toJob, [['due_at', 'asc'], ['id', 'asc']]);
  }

  async get(id: string, tx?: StoreTx): Promise<StoredJob | null> {
    const r: JobRow | undefined = await knexOf(this.db, tx)('jobs').where({ id }).first();
    return r ? toStoredJob(r) : null;
  }

  async view(id: string): Promise<Job | null> {
    const r: JobRow | undefined = await this.db('jobs').where({ id }).first();
    return r ? toJob(r) : null;
  }

  acquireDue(a: JobAcquisition): Promise<StoredJob[]> {
    return this.db.transaction(async (trx) => {
      // a lock is free when it expired, or when its node stopped beating (crashed); our own locks are ours
      const liveNodes = trx('engine_nodes').where('heartbeat_at', '>', a.aliveSince).select('id');
      let q = trx('jobs')
        .where('due_at', '<=', a.now)
        .andWhere((w) =>
          w
            .whereNull('lock_owner')
            .orWhere('lock_expires_at', '<', a.now)
            .orWhere((x) => x.whereNot('lock_owner', a.owner).whereNotIn('lock_owner', liveNodes)),
        )
        .orderBy('due_at')
        .limit(a.limit);
      if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const rows: JobRow[] = await q;
      if (!rows.length) return [];
      await trx('jobs').whereIn('id', rows.map((r) => r.id)).update({ lock_owner: a.owner, lock_expires_at: a.lockUntil });
      return rows.map((r) => ({ ...toStoredJob(r), lockOwner: a.owner, lockExpiresAt: a.lockUntil }));
    });
  }

  async lock(id: string, owner: string, lockUntil: number): Promise<StoredJob | null> {
    const n = await this.db('jobs').where({ id }).whereNull('lock_owner').update({ lock_owner: owner, lock_expires_at: lockUntil });
    return n === 1 ? this.get(id) : null;
  }

  async isLockedBy(id: string, owner: string): Promise<boolean> {
    return Boolean(await this.db('jobs').where({ id, lock_owner: owner }).first('id'));
  }

  async releaseFailed(id: string, owner: string, error: string): Promise<void> {
    await this.db('jobs').where({ id, lock_owner: owner }).update({ lock_owner: null, lock_expires_at: null, last_error: error.slice(0, MAX_ERROR_LENGTH) });
  }

  async delete(id: string, tx?: StoreTx): Promise<void> {
    await knexOf(this.db, tx)('jobs').where({ id }).delete();
  }

  async setDue(tx: StoreTx, id: string, dueAt: number): Promise<void> {
    await knexTx(tx)('jobs').where({ id }).update({ due_at: dueAt });
  }

  async findTimer(instanceId: string, activityId: string): Promise<StoredJob | null> {
    const r: JobRow | undefined = await this.db('jobs').where({ process_instance_id: instanceId, type: 'timer', activity_id: activityId }).first();
    return r ? toStoredJob(r) : null;
  }

  async insert(tx: StoreTx, job: NewJob & { id?: string }): Promise<string> {
    const id = job.id ?? randomUUID();
    await knexTx(tx)('jobs').insert({
      id,
      type: job.type,
      process_instance_id: job.processInstanceId,
      definition_id: job.definitionId,
      activity_id: job.activityId,
      execution_id: job.executionId,
      due_at: job.dueAt,
      payload: JSON.stringify(job.payload),
      attempts: job.attempts,
      created_at: job.createdAt,
    });
    return id;
  }

  async deleteForInstance(tx: StoreTx, instanceId: string): Promise<void> {
    await knexTx(tx)('jobs').where({ process_instance_id: instanceId }).delete();
  }
}
