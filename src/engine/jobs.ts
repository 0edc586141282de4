/**
 * Jobs: timers, handler retries and timer start events as durable rows. Listing and rescheduling them,
 * acquiring due jobs (the job store shares them between nodes; a dead node's locks are taken over) and
 * running them.
 */
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import { HEARTBEAT_STALE_MS, type EngineContext } from './context.ts';
import { durationMs, parseCycle } from './iso.ts';
import { SYSTEM, type Actor, type Job, type Page } from './model.ts';
import type { JobQuery, StoredJob } from './ports.ts';
import type { Action } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { START_JOB, runStartJob } from './deferred-start.ts';
import { startInstance } from './instances.ts';
import { requireAdmin } from './authorization.ts';
import { isCallJob, runCallJob } from './call-activities.ts';
import { MESSAGE_FLOW_JOB, runMessageFlowJob } from './message-flows.ts';
import { sweepBufferedMessages } from './correlation.ts';

export type { JobQuery };

/** Jobs by type, state, instance and due date; earliest due first. */
export function listJobs(ctx: EngineContext, q: JobQuery): Promise<Page<Job>> {
  return ctx.stores.jobs.list(q, ctx.clock.now());
}

/**
 * Moves a waiting timer to `dueAt` (ISO 8601) and records who did it on the instance's history.
 * @throws InsureflowError FORBIDDEN (not an admin), VALIDATION_FAILED (not a date-time), JOB_NOT_FOUND, JOB_NOT_TIMER
 */
export async function setJobDue(ctx: EngineContext, id: string, dueAt: string, actor: Actor): Promise<Job> {
  requireAdmin(actor, 'reschedule a job');
  const { stores } = ctx;
  const at = Date.parse(dueAt);
  if (Number.isNaN(at)) throw new InsureflowError('VALIDATION_FAILED', `"${dueAt}" is not an ISO 8601 date-time`);
  const job = await stores.jobs.get(id);
  if (!job) throw new InsureflowError('JOB_NOT_FOUND', `job ${id} was not found`);
  if (job.type !== 'timer') throw new InsureflowError('JOB_NOT_TIMER', `job ${id} is a ${job.type} job; only timers can be rescheduled`);
  const now = ctx.clock.now();
  await stores.transactions.run(async (tx) => {
    await stores.jobs.setDue(tx, id, at);
    const instanceId = job.processInstanceId;
    if (instanceId) {
      const inst = await stores.instances.header(instanceId, tx);
      await stores.history.append(tx, instanceId, [
        { processInstanceId: instanceId, processKey: inst?.processKey ?? null, processVersion: inst?.processVersion ?? null, businessKey: inst?.businessKey ?? null, at: now, type: 'timer.rescheduled', activityId: job.activityId, activityType: null, actor: actor.name, data: { jobId: id, before: new Date(job.dueAt).toISOString(), after: new Date(at).toISOString() } },
      ]);
    }
  });
  const moved = await stores.jobs.view(id);
  if (!moved) throw new InsureflowError('JOB_NOT_FOUND', `job ${id} was not found`);
  return moved;
}

/**
 * Acquire and run due jobs once. On PostgreSQL rows are locked with FOR UPDATE SKIP LOCKED so several
 * nodes share the work; an expired lock (crashed node) is taken over. Then forgets expired buffered messages
 * and delivers those whose wait state appeared unseen. Returns the number of jobs run and messages delivered.
 */
export async function runDueJobs(ctx: EngineContext, limit = 50): Promise<number> {
  if (ctx.run.closing) return 0;
  const now = ctx.clock.now();
  const acquired = await ctx.stores.jobs.acquireDue({
    now,
    limit,
    owner: ctx.nodeId,
    lockUntil: now + ctx.jobLockMs,
    // heartbeats are wall-clock (other processes beat), whatever clock the engine runs on
    aliveSince: Date.now() - HEARTBEAT_STALE_MS,
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
        await ctx.stores.jobs.releaseFailed(job.id, ctx.nodeId, String((err as Error).message));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.jobConcurrency, acquired.length) }, worker));
  // buffered messages: expired ones forgotten, those whose wait state appeared unseen delivered (counted as run)
  if (!ctx.run.closing) ran += await sweepBufferedMessages(ctx);
  return ran;
}

/** Runs one job this node acquired: fires the timer or retries the handler call, consuming the job. */
export async function runJob(ctx: EngineContext, job: StoredJob): Promise<void> {
  const { stores } = ctx;
  if (job.type === 'timer-start') return runTimerStart(ctx, job);
  if (job.type === START_JOB) return runStartJob(ctx, job, (key, input, inTx) => startInstance(ctx, key, input, SYSTEM, inTx));
  if (isCallJob(job.type)) return runCallJob(ctx, job);
  if (job.type === MESSAGE_FLOW_JOB) return runMessageFlowJob(ctx, job);
  if (!job.processInstanceId) {
    await stores.jobs.delete(job.id);
    return;
  }
  const instanceId = job.processInstanceId;
  await withLock(ctx, instanceId, async () => {
    if (!(await stores.jobs.isLockedBy(job.id, ctx.nodeId))) return; // removed (cancelled) or taken over meanwhile
    const status = await stores.instances.status(instanceId);
    if (status === null || status === 'completed' || status === 'cancelled') {
      await stores.jobs.delete(job.id);
      return;
    }
    const action: Action = job.type === 'timer' ? { kind: 'timer', executionId: job.executionId } : { kind: 'retry', executionId: job.executionId };
    const out = await transition(ctx, instanceId, action, SYSTEM, undefined, async (tx) => {
      // the job is consumed by this transition; reconciliation re-creates it if the timer cycles
      if (!(await tx.consumeJob(job.id, ctx.nodeId))) throw new InsureflowError('CONCURRENT_MODIFICATION', `job ${job.id} was taken over by another node`);
    });
    if (out.actionMissed) ctx.logger.warn({ jobId: job.id, instanceId }, 'job target no longer waiting; job dropped');
    await continueDeferred(ctx, instanceId);
  });
}

interface TimerStartPayload {
  timerType: string;
  value: string;
  /** repetitions of a cycle: -1 unbounded, null for a single date or duration */
  repeat: number | null;
  /** how many times it fired */
  fired: number;
}

/**
 * The firing of a timer-start cycle that follows the one due at `dueAt`, run at `now` (epoch ms): dueAt + the
 * cycle's duration (calendar arithmetic from dueAt). When that is not after `now` (the engine was down through one
 * or more firings), now + the duration: the firing just made stands for all the missed ones and the cycle goes on
 * from now, as in Camunda (no burst of catch-up instances). A duration shorter than `minMs` counts as `minMs`
 * (src/engine/limits.ts: a cycle stored before the limit existed, such as R/PT0S, fires at most that often).
 * Null when the value is not a cycle.
 */
export function nextCycleFiring(value: string, dueAt: number, now: number, minMs: number): number | null {
  const cycle = parseCycle(value);
  if (!cycle) return null;
  const after = (from: number): number | null => {
    const ms = durationMs(cycle.duration, from);
    return ms === null ? null : from + Math.max(ms, minMs);
  };
  const next = after(dueAt);
  if (next === null) return null;
  return next > now ? next : after(now);
}

/** Fire a timer start event: start an instance and pass its start timer; a cycle schedules its next run. */
export async function runTimerStart(ctx: EngineContext, job: StoredJob): Promise<void> {
  const { stores } = ctx;
  const payload: TimerStartPayload = { timerType: 'timeDate', value: '', repeat: null, fired: 0, ...(job.payload as Partial<TimerStartPayload>) };
  const id = randomUUID();
  await withLock(ctx, id, async () => {
    await transition(ctx, id, { kind: 'start', variables: {} }, SYSTEM, { definitionId: job.definitionId as string, businessKey: null }, async (tx) => {
      const fired = payload.fired + 1;
      const more = payload.timerType === 'timeCycle' && (payload.repeat === -1 || (payload.repeat ?? 1) > fired);
      const next = more ? nextCycleFiring(payload.value, job.dueAt, ctx.clock.now(), ctx.limits.minTimerCycleMs) : null;
      const kept = more && next !== null
        ? await tx.rescheduleJob(job.id, ctx.nodeId, next, JSON.stringify({ ...payload, fired }))
        : await tx.consumeJob(job.id, ctx.nodeId);
      if (!kept) throw new InsureflowError('CONCURRENT_MODIFICATION', `job ${job.id} was taken over by another node`);
    });
    const startTimer = await stores.jobs.findTimer(id, job.activityId);
    if (startTimer) {
      await transition(ctx, id, { kind: 'timer', executionId: startTimer.executionId }, SYSTEM, undefined, async (tx) => {
        await tx.consumeJob(startTimer.id, null);
      });
    }
    await continueDeferred(ctx, id);
  });
}
