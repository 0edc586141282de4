/**
 * Starting a process instance from inside a transition (a sales renewal opened by a handler): the start is a
 * durable job written in the caller's unit of work, so it exists exactly when the caller's transition commits,
 * and runs after that commit (at once, or by the scheduler after a crash). The new instance's id is fixed when
 * the job is written, so the caller can keep it, and running the job twice starts one instance.
 */
import { randomUUID } from 'node:crypto';
import type { EngineContext } from './context.ts';
import type { UnitOfWork } from './unit-of-work.ts';
import type { TransitionTx } from './transition-store.ts';
import type { Variables } from './runtime.ts';
import { transactionOf } from '../persistence/unit-of-work.ts';
import type { JobRow } from '../persistence/store.ts';
import { parseJson } from '../persistence/store.ts';


export const START_JOB = 'start-instance';

interface StartPayload {
  key: string;
  businessKey: string | null;
  variables: Variables;
}

/** Writes the start job in `uow`; returns the id the instance will have. */
export async function startAfterCommit(ctx: EngineContext, uow: UnitOfWork, key: string, input: { businessKey?: string | null; variables?: Variables }, run: (jobId: string) => Promise<void>): Promise<string> {
  const instanceId = randomUUID();
  const jobId = randomUUID();
  const payload: StartPayload = { key, businessKey: input.businessKey ?? null, variables: input.variables ?? {} };
  const now = ctx.clock.now();
  await transactionOf(uow)('jobs').insert({ id: jobId, type: START_JOB, process_instance_id: null, definition_id: null, activity_id: key, execution_id: instanceId, due_at: now, payload: JSON.stringify(payload), attempts: 0, created_at: now });
  uow.afterCommit(() => run(jobId));
  return instanceId;
}

/**
 * Runs a start job: starts the instance with the planned id unless it exists, and removes the job in the
 * start's own transaction. `start` is the engine's startInstance with a fixed id.
 */
export async function runStartJob(
  ctx: EngineContext,
  job: JobRow,
  start: (key: string, input: { id: string; businessKey: string | null; variables: Variables }, inTx: (tx: TransitionTx) => Promise<void>) => Promise<unknown>,
): Promise<void> {
  const payload = parseJson<StartPayload>(job.payload, `jobs ${job.id} payload`, { key: job.activity_id, businessKey: null, variables: {} });
  const exists = await ctx.db('process_instances').where({ id: job.execution_id }).first('id');
  if (exists) {
    await ctx.db('jobs').where({ id: job.id }).delete();
    return;
  }
  await start(payload.key, { id: job.execution_id, businessKey: payload.businessKey, variables: payload.variables }, async (tx) => {
    await tx.consumeJob(job.id, null);
  });
}



/** Takes the lock of one job for this node; null when another node (or the scheduler) has it. */
export async function lockJob(ctx: EngineContext, jobId: string): Promise<JobRow | null> {
  const n = await ctx.db('jobs').where({ id: jobId }).whereNull('lock_owner').update({ lock_owner: ctx.nodeId, lock_expires_at: ctx.clock.now() + ctx.jobLockMs });
  if (n !== 1) return null;
  return (await ctx.db('jobs').where({ id: jobId }).first()) ?? null;
}
