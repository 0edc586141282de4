/**
 * Messages and signals: correlating a message to the instances waiting for it (by name, business key,
 * correlation key or instance), starting instances at message start events, and broadcasting signals.
 */
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { compiled, listDefinitions } from './deployment.ts';
import type { Variables } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { SYSTEM, type Actor } from './model.ts';

export interface MessageInput {
  name: string;
  businessKey?: string;
  processInstanceId?: string;
  correlationKey?: string;
  variables?: Variables;
  all?: boolean;
}

export interface CorrelationResult {
  correlated: { processInstanceId: string; activityId: string; started: boolean }[];
}

/**
 * Delivers a message to the instance waiting for it (narrowed by instance id, business key or correlation key),
 * to every waiting instance with `all`, or starts an instance at a message start event when none waits.
 * @throws InsureflowError MESSAGE_NOT_CORRELATED, MESSAGE_AMBIGUOUS (several instances wait, `all` not set)
 */
export async function correlateMessage(
  ctx: EngineContext,
  m: MessageInput,
  actor: Actor = SYSTEM,
): Promise<CorrelationResult> {
  const subs = await ctx.stores.subscriptions.findMessage({ name: m.name, processInstanceId: m.processInstanceId || undefined, businessKey: m.businessKey || undefined, correlationKey: m.correlationKey });
  const correlated: CorrelationResult['correlated'] = [];
  if (!subs.length) {
    // a message start event starts a new instance
    const starts = await messageStartDefinitions(ctx, m.name);
    if (starts.length && !m.processInstanceId) {
      for (const s of m.all ? starts : starts.slice(0, 1)) {
        const inst = await startByMessage(ctx, s.defId, s.activityId, m, actor);
        correlated.push({ processInstanceId: inst, activityId: s.activityId, started: true });
      }
      return { correlated };
    }
    throw new InsureflowError('MESSAGE_NOT_CORRELATED', `no process instance waits for message "${m.name}"${m.businessKey ? ` with business key "${m.businessKey}"` : ''}${m.correlationKey !== undefined ? ` with correlation key "${m.correlationKey}"` : ''}`);
  }
  const instances = [...new Set(subs.map((s) => s.processInstanceId))];
  if (instances.length > 1 && !m.all) {
    throw new InsureflowError('MESSAGE_AMBIGUOUS', `${instances.length} process instances wait for message "${m.name}"; give a business key, correlation key or instance id, or set all: true`, { processInstanceIds: instances });
  }
  for (const instanceId of instances) {
    const sub = subs.find((s) => s.processInstanceId === instanceId)!;
    const out = await withLock(ctx, instanceId, async () => {
      const o = await transition(ctx, instanceId, { kind: 'signal', executionId: sub.executionId, variables: m.variables ?? {}, event: 'message.received', data: { message: m.name, variables: m.variables ?? {} } }, actor);
      await continueDeferred(ctx, instanceId);
      return o;
    });
    if (!out.actionMissed) correlated.push({ processInstanceId: instanceId, activityId: sub.activityId, started: false });
  }
  if (!correlated.length) throw new InsureflowError('MESSAGE_NOT_CORRELATED', `message "${m.name}" found no waiting catch event`);
  return { correlated };
}

export async function messageStartDefinitions(ctx: EngineContext, name: string): Promise<{ defId: string; activityId: string }[]> {
  const out: { defId: string; activityId: string }[] = [];
  for (const d of await listDefinitions(ctx)) {
    const c = await compiled(ctx, d.id);
    const act = c.messageStarts.get(name);
    if (act) out.push({ defId: d.id, activityId: act });
  }
  return out;
}

export async function startByMessage(ctx: EngineContext, defId: string, activityId: string, m: { name: string; businessKey?: string; variables?: Variables }, actor: Actor): Promise<string> {
  const id = randomUUID();
  await withLock(ctx, id, async () => {
    await transition(ctx, id, { kind: 'start', variables: m.variables ?? {} }, actor, { definitionId: defId, businessKey: m.businessKey ?? null });
    const sub = await ctx.stores.subscriptions.findAt(id, activityId);
    if (sub) await transition(ctx, id, { kind: 'signal', executionId: sub.executionId, variables: m.variables ?? {}, event: 'message.received', data: { message: m.name, variables: m.variables ?? {} } }, actor);
    await continueDeferred(ctx, id);
  });
  return id;
}

/** Delivers a signal to every instance waiting for it (in subscription order); ended instances are skipped. */
export async function broadcastSignal(ctx: EngineContext, s: { name: string; variables?: Variables }, actor: Actor = SYSTEM): Promise<{ delivered: number; processInstanceIds: string[] }> {
  const subs = await ctx.stores.subscriptions.findSignal(s.name);
  const delivered: string[] = [];
  for (const sub of subs) {
    const out = await withLock(ctx, sub.processInstanceId, () =>
      transition(ctx, sub.processInstanceId, { kind: 'signal', executionId: sub.executionId, variables: s.variables ?? {}, event: 'signal.received', data: { signal: s.name, variables: s.variables ?? {} } }, actor).then(async (o) => {
        await continueDeferred(ctx, sub.processInstanceId);
        return o;
      }).catch((err) => {
        if (err instanceof InsureflowError && err.code === 'INSTANCE_NOT_ACTIVE') return null;
        throw err;
      }),
    );
    if (out && !out.actionMissed) delivered.push(sub.processInstanceId);
  }
  return { delivered: delivered.length, processInstanceIds: delivered };
}


