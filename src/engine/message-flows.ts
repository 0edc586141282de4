/**
 * Message flows between executable pools of one collaboration: when a send task or a message throw event
 * (intermediate or end) that is the source of a `bpmn:messageFlow` completes, the engine correlates the message
 * the flow's target waits for (its catch event's, receive task's or message start event's message name), with
 * the sender's business key, as SYSTEM. The delivery is a durable job written in the sender's transition: it
 * exists exactly when that transition commits, runs right after the commit, and is run by the scheduler after a
 * crash (at least once).
 */
import type { EngineContext } from './context.ts';
import type { TransitionTx } from './transition-store.ts';
import type { RunOutput } from './runtime.ts';
import type { StoredJob } from './ports.ts';
import { SYSTEM } from './actor.ts';
import { InsureflowError } from '../errors.ts';
import { correlateMessage } from './correlation.ts';

export const MESSAGE_FLOW_JOB = 'message-flow';

interface FlowPayload {
  name: string;
  businessKey: string | null;
}

const processOf = (el: any): any => {
  for (let p = el?.$parent; p; p = p.$parent) if (p.$type === 'bpmn:Process') return p;
  return null;
};
const messageDefOf = (el: any): any => (el?.eventDefinitions ?? []).find((d: any) => d.$type === 'bpmn:MessageEventDefinition');
const SENDERS = new Set(['bpmn:SendTask', 'bpmn:IntermediateThrowEvent', 'bpmn:EndEvent']);

/**
 * The message flows leaving `processId` towards another executable process of the document:
 * source element id -> the message name its target waits for. A flow to a participant targets that
 * process's message start event (the one of the flow's message, else the first).
 */
export function messageFlowsOf(rootElement: any, processId: string, executable: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const collab of (rootElement?.rootElements ?? []) as any[]) {
    if (collab.$type !== 'bpmn:Collaboration') continue;
    for (const f of (collab.messageFlows ?? []) as any[]) {
      const src = f.sourceRef;
      const tgt = f.targetRef;
      if (!src || !tgt || !SENDERS.has(src.$type) || processOf(src)?.id !== processId) continue;
      if (src.$type !== 'bpmn:SendTask' && !messageDefOf(src)) continue;
      let target: any;
      let name: string | null = null;
      if (tgt.$type === 'bpmn:Participant') {
        target = tgt.processRef;
        const starts = ((target?.flowElements ?? []) as any[]).filter((e) => e.$type === 'bpmn:StartEvent' && messageDefOf(e)?.messageRef?.name);
        const named = starts.find((e) => messageDefOf(e).messageRef === f.messageRef) ?? starts[0];
        name = named ? messageDefOf(named).messageRef.name : null;
      } else {
        target = processOf(tgt);
        name = messageDefOf(tgt)?.messageRef?.name ?? (tgt.$type === 'bpmn:ReceiveTask' ? tgt.messageRef?.name : null) ?? null;
      }
      if (!target || target.id === processId || !executable.has(target.id) || !name) continue;
      out.set(src.id, String(name));
    }
  }
  return out;
}

/** Writes, in the transition's transaction, one delivery job per message-flow source that completed in `out`. */
export async function recordMessageFlows(ctx: EngineContext, tx: TransitionTx, flows: ReadonlyMap<string, string> | undefined, instanceId: string, businessKey: string | null, out: RunOutput): Promise<void> {
  if (!flows || flows.size === 0) return;
  const now = ctx.clock.now();
  for (const e of out.events) {
    if (e.type !== 'activity.completed' || !e.activityId) continue;
    const name = flows.get(e.activityId);
    if (!name) continue;
    const payload: FlowPayload = { name, businessKey };
    const id = await ctx.stores.jobs.insert(tx.unitOfWork, { type: MESSAGE_FLOW_JOB, processInstanceId: null, definitionId: null, activityId: e.activityId, executionId: instanceId, dueAt: now, payload: { ...payload }, attempts: 0, createdAt: now });
    tx.unitOfWork.afterCommit(async () => {
      const job = await ctx.stores.jobs.lock(id, ctx.nodeId, ctx.clock.now() + ctx.jobLockMs);
      if (job) await runMessageFlowJob(ctx, job);
    });
  }
}

/**
 * Delivers one message flow's message, then removes the job. A message the engine refuses (nothing waits for it,
 * several instances wait) is logged and dropped, as a refused correlation; other failures leave the job for the
 * scheduler.
 */
export async function runMessageFlowJob(ctx: EngineContext, job: StoredJob): Promise<void> {
  const p = job.payload as Partial<FlowPayload>;
  try {
    if (p.name) await correlateMessage(ctx, { name: p.name, ...(p.businessKey ? { businessKey: p.businessKey } : {}) }, SYSTEM);
  } catch (err) {
    if (!(err instanceof InsureflowError)) throw err;
    ctx.logger.warn({ err, jobId: job.id, message: p.name, from: job.activityId, senderInstanceId: job.executionId }, 'the message of a message flow was not correlated');
  }
  await ctx.stores.jobs.delete(job.id);
}
