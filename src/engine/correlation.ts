/**
 * Messages and signals: correlating a message to the instances waiting for it (by name, business key,
 * correlation key or instance), starting instances at message start events, broadcasting signals, and
 * messages that arrive early: with a time to live (Camunda 8 semantics) a message that finds no waiting catch
 * event is buffered (MessageBufferStore, src/engine/ports.ts) and delivered when a matching wait state appears
 * before it expires; a messageId makes a second message with the same name and id a 409 while the first is
 * remembered.
 */
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { compiled, definitionMeta, listDefinitions } from './deployment.ts';
import { durationMs } from './iso.ts';
import type { BufferedMatch, BufferedMessage } from './ports.ts';
import type { RunOutput, Variables } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { SYSTEM, type Actor } from './model.ts';
import { assertTextValues } from './text-values.ts';
import { checkEventVariables } from './event-variables.ts';
import { authorize } from './authorization.ts';

export interface MessageInput {
  name: string;
  businessKey?: string;
  processInstanceId?: string;
  correlationKey?: string;
  variables?: Variables;
  all?: boolean;
  /**
   * ISO 8601 duration (PT10M, P1D): how long the message is kept when no catch event waits for it yet (Camunda 8
   * semantics). Absent or zero: not kept (MESSAGE_NOT_CORRELATED, as without it).
   */
  timeToLive?: string;
  /** the sender's id of the message: a second message with the same name and id is refused while the first is kept */
  messageId?: string;
}

export interface CorrelationResult {
  correlated: { processInstanceId: string; activityId: string; started: boolean }[];
  /** set when the message found no waiting catch event and was buffered for its time to live */
  buffered?: { id: string; messageId: string | null; expiresAt: string };
}

/**
 * Delivers a message to the instance waiting for it (narrowed by instance id, business key or correlation key),
 * to every waiting instance with `all`, or starts an instance at a message start event when none waits. With a
 * `timeToLive`, a message nothing waits for is buffered (the result's `buffered`) and delivered to the first
 * matching catch event that appears before it expires.
 * @throws InsureflowError MESSAGE_NOT_CORRELATED (nothing waits, no time to live), MESSAGE_AMBIGUOUS (several
 *   instances wait, `all` not set), MESSAGE_ALREADY_EXISTS (a message with this name and messageId is still
 *   kept), VALIDATION_FAILED (a timeToLive that is not an ISO 8601 duration, or with `all`; a variable the
 *   message's schema messages/<name>.schema.json does not declare, or a value it refuses: ./event-variables.ts)
 */
export async function correlateMessage(
  ctx: EngineContext,
  m: MessageInput,
  actor: Actor = SYSTEM,
): Promise<CorrelationResult> {
  await authorize(ctx, actor, 'correlate', 'message', m.name);
  assertTextValues('message', { ...m });
  const now = ctx.clock.now();
  const ttlMs = timeToLiveMs(m);
  await checkEventVariables(ctx, 'message', m.name, m.variables);
  if (m.messageId) {
    const earlier = await ctx.stores.messages.findByMessageId(m.name, m.messageId, now);
    if (earlier) throw alreadyExists(m, earlier);
  }
  let result: CorrelationResult;
  try {
    result = await correlateNow(ctx, m, actor);
  } catch (err) {
    if (!(err instanceof InsureflowError) || err.code !== 'MESSAGE_NOT_CORRELATED' || !ttlMs) throw err;
    return bufferMessage(ctx, m, actor, now, ttlMs);
  }
  if (m.messageId && ttlMs) {
    // remembered for its time to live, so that a repeated send is refused and not buffered for another wait
    const first = result.correlated[0];
    const kept = await ctx.stores.messages.insert(draft(m, actor, now, ttlMs, { state: 'correlated', correlatedTo: first?.processInstanceId ?? null, correlatedAt: now }), now);
    if (!kept) ctx.logger.warn({ message: m.name, messageId: m.messageId }, 'a message with this messageId was sent twice at once; both were correlated');
  }
  return result;
}

/** The time to live in ms (0: none). @throws InsureflowError VALIDATION_FAILED */
function timeToLiveMs(m: MessageInput): number {
  if (m.timeToLive === undefined || m.timeToLive === '') return 0;
  const ms = /^-?P/.test(m.timeToLive) ? durationMs(m.timeToLive) : null;
  if (ms === null || ms < 0) throw new InsureflowError('VALIDATION_FAILED', `timeToLive "${m.timeToLive}" is not an ISO 8601 duration such as PT10M or P1D`);
  if (ms > 0 && m.all) throw new InsureflowError('VALIDATION_FAILED', 'timeToLive cannot be combined with all: a buffered message is delivered to one catch event');
  return ms;
}

function alreadyExists(m: MessageInput, earlier: BufferedMessage): InsureflowError {
  return new InsureflowError(
    'MESSAGE_ALREADY_EXISTS',
    `a message "${m.name}" with messageId "${m.messageId}" was already ${earlier.state === 'buffered' ? 'buffered' : 'correlated'}; it is kept until ${new Date(earlier.expiresAt).toISOString()}`,
    { id: earlier.id, state: earlier.state, expiresAt: new Date(earlier.expiresAt).toISOString(), processInstanceId: earlier.correlatedTo },
  );
}

function draft(m: MessageInput, actor: Actor, now: number, ttlMs: number, state: Pick<BufferedMessage, 'state' | 'correlatedTo' | 'correlatedAt'>): BufferedMessage {
  return {
    id: randomUUID(),
    name: m.name,
    businessKey: m.businessKey || null,
    correlationKey: m.correlationKey ?? null,
    processInstanceId: m.processInstanceId || null,
    variables: m.variables ?? {},
    messageId: m.messageId || null,
    createdAt: now,
    expiresAt: now + ttlMs,
    createdBy: actor.name,
    ...state,
  };
}

async function bufferMessage(ctx: EngineContext, m: MessageInput, actor: Actor, now: number, ttlMs: number): Promise<CorrelationResult> {
  const msg = draft(m, actor, now, ttlMs, { state: 'buffered', correlatedTo: null, correlatedAt: null });
  if (!(await ctx.stores.messages.insert(msg, now))) {
    const earlier = m.messageId ? await ctx.stores.messages.findByMessageId(m.name, m.messageId, now) : null;
    throw alreadyExists(m, earlier ?? msg);
  }
  // a wait state committed between the look-up and the insert would not see the message: look once more
  const delivered = await deliverBufferedMessages(ctx, { ids: [msg.id] });
  const correlated = delivered.map((d) => ({ processInstanceId: d.subscription.processInstanceId, activityId: d.subscription.activityId, started: false }));
  return { correlated, buffered: { id: msg.id, messageId: msg.messageId, expiresAt: new Date(msg.expiresAt).toISOString() } };
}

/** A delivery that found its buffered message taken by another writer: the transition is abandoned. */
class AlreadyDelivered extends Error {}

/**
 * Delivers buffered messages to the wait states they match, each in the transition that consumes it (the
 * message is marked correlated in the same transaction as the catch event continues). `locked`: the caller holds
 * the lock of `processInstanceId` (the post-transition hook); otherwise each instance is locked here.
 * @returns the deliveries made
 */
export async function deliverBufferedMessages(
  ctx: EngineContext,
  q: { processInstanceId?: string; ids?: string[]; executionIds?: Set<string>; locked?: boolean } = {},
): Promise<BufferedMatch[]> {
  const delivered: BufferedMatch[] = [];
  const tried = new Set<string>();
  for (let round = 0; round < 100; round++) {
    const matches = (await ctx.stores.messages.matches(ctx.clock.now(), { processInstanceId: q.processInstanceId, ids: q.ids, limit: 20 }))
      .filter((x) => !tried.has(x.message.id) && (!q.executionIds || q.executionIds.has(x.subscription.executionId)));
    if (!matches.length) break;
    const used = new Set<string>();
    for (const match of matches) {
      const { message: msg, subscription: sub } = match;
      tried.add(msg.id);
      if (used.has(sub.processInstanceId)) continue; // its waits change with the first delivery: next round
      used.add(sub.processInstanceId);
      if (await isStartEvent(ctx, sub.processInstanceId, sub.activityId, msg.name)) continue;
      const deliver = async () => {
        const out = await transition(ctx, sub.processInstanceId, {
          kind: 'signal',
          executionId: sub.executionId,
          variables: msg.variables,
          event: 'message.received',
          data: { message: msg.name, variables: msg.variables, bufferedMessageId: msg.id, messageId: msg.messageId, publishedAt: new Date(msg.createdAt).toISOString(), publishedBy: msg.createdBy },
        }, { ...SYSTEM, name: msg.createdBy ?? SYSTEM.name }, undefined, async (tx) => {
          if (!(await ctx.stores.messages.markCorrelated(tx.unitOfWork, msg.id, sub.processInstanceId, ctx.clock.now()))) throw new AlreadyDelivered();
        });
        if (!out.actionMissed) await continueDeferred(ctx, sub.processInstanceId);
        return !out.actionMissed;
      };
      try {
        const ok = q.locked ? await deliver() : await withLock(ctx, sub.processInstanceId, deliver);
        if (ok) delivered.push(match);
      } catch (err) {
        if (err instanceof AlreadyDelivered) continue;
        if (err instanceof InsureflowError && (err.code === 'INSTANCE_NOT_ACTIVE' || err.code === 'INSTANCE_NOT_FOUND')) continue;
        throw err;
      }
    }
  }
  return delivered;
}

/** A message start event's subscription is served by startByMessage, never by a buffered message. */
async function isStartEvent(ctx: EngineContext, instanceId: string, activityId: string, name: string): Promise<boolean> {
  const head = await ctx.transitions.instanceHead(instanceId);
  if (!head) return true;
  return (await compiled(ctx, head.definitionId)).messageStarts.get(name) === activityId;
}

/**
 * Called by transition() after a transition committed, under the instance's lock: when it created message
 * wait states, the buffered messages they match are delivered now.
 */
export async function afterTransition(ctx: EngineContext, instanceId: string, out: RunOutput): Promise<void> {
  if (out.status !== 'active' || out.actionMissed) return;
  const fresh = new Set(out.waits.filter((w) => w.isNew && (w.kind === 'message' || w.kind === 'receive') && w.eventName).map((w) => w.executionId));
  if (!fresh.size) return;
  await deliverBufferedMessages(ctx, { processInstanceId: instanceId, executionIds: fresh, locked: true });
}

/**
 * The scheduler's sweep: forgets expired messages and delivers buffered ones whose wait state appeared without
 * the hook seeing them (a crash between the two). @returns how many were delivered
 */
export async function sweepBufferedMessages(ctx: EngineContext): Promise<number> {
  await ctx.stores.messages.deleteExpired(ctx.clock.now());
  return (await deliverBufferedMessages(ctx)).length;
}

/** Correlation as without a time to live. */
async function correlateNow(
  ctx: EngineContext,
  m: MessageInput,
  actor: Actor,
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
  await authorize(ctx, actor, 'start', 'process-definition', (await definitionMeta(ctx, defId)).key);
  const id = randomUUID();
  await withLock(ctx, id, async () => {
    await transition(ctx, id, { kind: 'start', variables: m.variables ?? {} }, actor, { definitionId: defId, businessKey: m.businessKey ?? null });
    const sub = await ctx.stores.subscriptions.findAt(id, activityId);
    if (sub) await transition(ctx, id, { kind: 'signal', executionId: sub.executionId, variables: m.variables ?? {}, event: 'message.received', data: { message: m.name, variables: m.variables ?? {} } }, actor);
    await continueDeferred(ctx, id);
  });
  return id;
}

/**
 * Delivers a signal to every instance waiting for it (in subscription order); ended instances are skipped.
 * @throws InsureflowError VALIDATION_FAILED (a variable the signal's schema signals/<name>.schema.json does not
 *   declare, or a value it refuses: ./event-variables.ts)
 */
export async function broadcastSignal(ctx: EngineContext, s: { name: string; variables?: Variables }, actor: Actor = SYSTEM): Promise<{ delivered: number; processInstanceIds: string[] }> {
  await authorize(ctx, actor, 'broadcast', 'signal', s.name);
  assertTextValues('signal', { ...s });
  await checkEventVariables(ctx, 'signal', s.name, s.variables);
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


