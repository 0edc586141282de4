/**
 * Jobs: timers, handler retries and timer start events as durable rows. Listing and rescheduling them,
 * acquiring due jobs (shared between nodes on PostgreSQL, a dead node's locks taken over) and running them.
 */
import { START_JOB, runStartJob } from './deferred-start.ts';
import { startInstance } from './instances.ts';
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { HEARTBEAT_STALE_MS } from './context.ts';
import { timerDueAt } from './iso.ts';
import type { Action } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { appendHistory } from '../persistence/history.ts';
import { paged, parseJson, toJob, type JobRow } from '../persistence/store.ts';
import { SYSTEM, type Actor } from '../persistence/users.ts';

export interface JobQuery {
  type?: string;
  state?: 'due' | 'failed' | 'locked' | 'waiting';
  processInstanceId?: string;
  dueBefore?: string;
  limit?: number;
  offset?: number;
}

export async function listJobs(ctx: EngineContext, q: JobQuery) {
  let query = ctx.db('jobs');
  const now = ctx.clock.now();
  if (q.state === 'due') query = query.where('due_at', '<=', now).whereNull('lock_owner');
  if (q.state === 'waiting') query = query.where('due_at', '>', now);
  if (q.state === 'failed') query = query.whereNotNull('last_error');
  if (q.state === 'locked') query = query.whereNotNull('lock_owner').where('lock_expires_at', '>=', now);
  if (q.type) query = query.where({ type: q.type });
  if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
  if (q.dueBefore) query = query.where('due_at', '<=', Date.parse(q.dueBefore));
  return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toJob, [['due_at', 'asc'], ['id', 'asc']]);
}

export async function setJobDue(ctx: EngineContext, id: string, dueAt: string, actor: Actor) {
  const at = Date.parse(dueAt);
  if (Number.isNaN(at)) throw new InsureflowError('VALIDATION_FAILED', `"${dueAt}" is not an ISO 8601 date-time`);
  const job: JobRow | undefined = await ctx.db('jobs').where({ id }).first();
  if (!job) throw new InsureflowError('JOB_NOT_FOUND', `job ${id} was not found`);
  if (job.type !== 'timer') throw new InsureflowError('JOB_NOT_TIMER', `job ${id} is a ${job.type} job; only timers can be rescheduled`);
  const now = ctx.clock.now();
  await ctx.db.transaction(async (trx) => {
    await trx('jobs').where({ id }).update({ due_at: at });
    if (job.process_instance_id) {
      const inst = await trx('process_instances').where({ id: job.process_instance_id }).first('process_key', 'process_version', 'business_key');
      await appendHistory(trx, job.process_instance_id, [
        { processInstanceId: job.process_instance_id, processKey: inst?.process_key ?? null, processVersion: inst ? Number(inst.process_version) : null, businessKey: inst?.business_key ?? null, at: now, type: 'timer.rescheduled', activityId: job.activity_id, activityType: null, actor: actor.name, data: { jobId: id, before: new Date(Number(job.due_at)).toISOString(), after: new Date(at).toISOString() } },
      ]);
    }
  });
  return toJob((await ctx.db('jobs').where({ id }).first()) as JobRow);
}

/**
 * Acquire and run due jobs once. On PostgreSQL rows are locked with FOR UPDATE SKIP LOCKED so several
 * nodes share the work; an expired lock (crashed node) is taken over. Returns the number of jobs run.
 */
export async function runDueJobs(ctx: EngineContext, limit = 50): Promise<number> {
  if (ctx.run.closing) return 0;
  const now = ctx.clock.now();
  const acquired: JobRow[] = await ctx.db.transaction(async (trx) => {
    // a lock is free when it expired, or when its node stopped beating (crashed); our own locks are ours
    const liveNodes = trx('engine_nodes').where('heartbeat_at', '>', Date.now() - HEARTBEAT_STALE_MS).select('id');
    let q = trx('jobs')
      .where('due_at', '<=', now)
      .andWhere((w) =>
        w
          .whereNull('lock_owner')
          .orWhere('lock_expires_at', '<', now)
          .orWhere((x) => x.whereNot('lock_owner', ctx.nodeId).whereNotIn('lock_owner', liveNodes)),
      )
      .orderBy('due_at')
      .limit(limit);
    if (ctx.dialect === 'postgres') q = q.forUpdate().skipLocked();
    const rows: JobRow[] = await q;
    if (!rows.length) return [];
    await trx('jobs').whereIn('id', rows.map((r) => r.id)).update({ lock_owner: ctx.nodeId, lock_expires_at: now + ctx.jobLockMs });
    return rows;
  });
  // a few jobs at a time: engine work of one instance overlaps the database round trips of another
  // (jobs of one instance still run one after the other, under its lock)
  let ran = 0;
  let next = 0;
  const worker = async () => {
    while (next < acquired.length && !ctx.run.closing) {
      const job = acquired[next++];
      try {
        await runJob(ctx, job);
        ran++;
      } catch (err) {
        ctx.logger.error({ err, jobId: job.id }, 'job failed');
        await ctx.db('jobs').where({ id: job.id, lock_owner: ctx.nodeId }).update({ lock_owner: null, lock_expires_at: null, last_error: String((err as Error).message).slice(0, 4000) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.jobConcurrency, acquired.length) }, worker));
  return ran;
}

export async function runJob(ctx: EngineContext, job: JobRow): Promise<void> {
  if (job.type === 'timer-start') return runTimerStart(ctx, job);
  if (job.type === START_JOB) return runStartJob(ctx, job, (key, input, inTx) => startInstance(ctx, key, input, SYSTEM, inTx));
  if (!job.process_instance_id) {
    await ctx.db('jobs').where({ id: job.id }).delete();
    return;
  }
  const instanceId = job.process_instance_id;
  await withLock(ctx, instanceId, async () => {
    const still = await ctx.db('jobs').where({ id: job.id, lock_owner: ctx.nodeId }).first('id');
    if (!still) return; // removed (cancelled) or taken over meanwhile
    const inst = await ctx.db('process_instances').where({ id: instanceId }).first('status');
    if (!inst || inst.status === 'completed' || inst.status === 'cancelled') {
      await ctx.db('jobs').where({ id: job.id }).delete();
      return;
    }
    const action: Action = job.type === 'timer' ? { kind: 'timer', executionId: job.execution_id } : { kind: 'retry', executionId: job.execution_id };
    const out = await transition(ctx, instanceId, action, SYSTEM, undefined, async (tx) => {
      // the job is consumed by this transition; reconciliation re-creates it if the timer cycles
      if (!(await tx.consumeJob(job.id, ctx.nodeId))) throw new InsureflowError('CONCURRENT_MODIFICATION', `job ${job.id} was taken over by another node`);
    });
    if (out.actionMissed) ctx.logger.warn({ jobId: job.id, instanceId }, 'job target no longer waiting; job dropped');
    await continueDeferred(ctx, instanceId);
  });
}


export async function runTimerStart(ctx: EngineContext, job: JobRow): Promise<void> {
  const payload = parseJson<{ timerType: string; value: string; repeat: number | null; fired: number }>(job.payload, `jobs ${job.id} payload`, { timerType: 'timeDate', value: '', repeat: null, fired: 0 });
  const id = randomUUID();
  await withLock(ctx, id, async () => {
    await transition(ctx, id, { kind: 'start', variables: {} }, SYSTEM, { definitionId: job.definition_id as string, businessKey: null }, async (tx) => {
      const fired = payload.fired + 1;
      const more = payload.timerType === 'timeCycle' && (payload.repeat === -1 || (payload.repeat ?? 1) > fired);
      const next = more ? timerDueAt('timeCycle', payload.value.replace(/^R\d*\/[^P/][^/]*\//, 'R/'), Number(job.due_at)) : null;
      const kept = more && next !== null
        ? await tx.rescheduleJob(job.id, ctx.nodeId, next, JSON.stringify({ ...payload, fired }))
        : await tx.consumeJob(job.id, ctx.nodeId);
      if (!kept) throw new InsureflowError('CONCURRENT_MODIFICATION', `job ${job.id} was taken over by another node`);
    });
    const startTimer = await ctx.db('jobs').where({ process_instance_id: id, type: 'timer', activity_id: job.activity_id }).first();
    if (startTimer) {
      await transition(ctx, id, { kind: 'timer', executionId: startTimer.execution_id }, SYSTEM, undefined, async (tx) => {
        await tx.consumeJob(startTimer.id, null);
      });
    }
    await continueDeferred(ctx, id);
  });
}


