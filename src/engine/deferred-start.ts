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
import type { StoredJob } from './ports.ts';
import { assertTextValues } from './text-values.ts';

export const START_JOB = 'start-instance';

interface StartPayload {
  key: string;
  businessKey: string | null;
  variables: Variables;
}

/** Writes the start job in `uow`; returns the id the instance will have. */
export async function startAfterCommit(ctx: EngineContext, uow: UnitOfWork, key: string, input: { businessKey?: string | null; variables?: Variables }, run: (jobId: string) => Promise<void>): Promise<string> {
  assertTextValues('start after commit', { key, businessKey: input.businessKey, variables: input.variables });
  const instanceId = randomUUID();
  const jobId = randomUUID();
  const payload: StartPayload = { key, businessKey: input.businessKey ?? null, variables: input.variables ?? {} };
  const now = ctx.clock.now();
  await ctx.stores.jobs.insert(uow, { id: jobId, type: START_JOB, processInstanceId: null, definitionId: null, activityId: key, executionId: instanceId, dueAt: now, payload: { ...payload }, attempts: 0, createdAt: now });
  uow.afterCommit(() => run(jobId));
  return instanceId;
}

/**
 * Runs a start job: starts the instance with the planned id unless it exists, and removes the job in the
 * start's own transaction. `start` is the engine's startInstance with a fixed id.
 */
export async function runStartJob(
  ctx: EngineContext,
  job: StoredJob,
  start: (key: string, input: { id: string; businessKey: string | null; variables: Variables }, inTx: (tx: TransitionTx) => Promise<void>) => Promise<unknown>,
): Promise<void> {
  const payload: StartPayload = { key: job.activityId, businessKey: null, variables: {}, ...(job.payload as Partial<StartPayload>) };
  if ((await ctx.stores.instances.status(job.executionId)) !== null) {
    await ctx.stores.jobs.delete(job.id);
    return;
  }
  await start(payload.key, { id: job.executionId, businessKey: payload.businessKey, variables: payload.variables }, async (tx) => {
    await tx.consumeJob(job.id, null);
  });
}

/** Takes the lock of one job for this node; null when another node (or the scheduler) has it. */
export function lockJob(ctx: EngineContext, jobId: string): Promise<StoredJob | null> {
  return ctx.stores.jobs.lock(jobId, ctx.nodeId, ctx.clock.now() + ctx.jobLockMs);
}
