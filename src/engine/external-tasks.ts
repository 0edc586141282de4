/**
 * External tasks (issue 11, section 3): the worker-facing operations on the service/send tasks that wait for a
 * worker (runtime/external-tasks.ts creates them; the Knex store is src/persistence/external-task-store.ts). The
 * semantics are Camunda 7's (docs.camunda.org, "External Tasks" and the external-task REST API):
 * - fetchAndLock locks up to maxTasks fetchable tasks of the requested topics for the worker, each until now +
 *   the topic's lockDuration; a task is fetchable while open, with retries left (null or > 0), unlocked or with
 *   its lock expired. With asyncResponseTimeout the call waits (long polling) until a task appears on this node,
 *   the next database poll finds one (other nodes), or the timeout passes; it then returns what it has (maybe []).
 * - complete / failure / bpmnError are allowed to the worker that holds the task (the worker id of the last
 *   fetch); Camunda does not check the lock's expiry there, neither do we: a stale worker is refused only once
 *   another worker has fetched the task (EXTERNAL_TASK_LOCKED_BY_OTHER). Each runs one transition of the
 *   instance (all or nothing, history by the authenticated user, the worker id in the event data).
 * - complete is idempotent for the worker that completed the task: the same worker completing it again gets
 *   the same success and nothing changes (its first answer may have been lost); another worker gets 409.
 * - failure with retries > 0 records the error and makes the task fetchable again after retryTimeout ms;
 *   retries 0 opens an incident exactly as an in-process handler's last failed attempt (an operator's retry of
 *   the incident makes the task fetchable again with one retry).
 * - bpmnError is routed like a handler's BpmnError (boundary event or event sub-process catching the code, at
 *   any enclosing scope); uncaught, an incident (the task stays, with no retries).
 * - extendLock needs an unexpired lock of the same worker; unlock frees the task for any worker.
 * Authorization: admins may do everything; anyone else needs the `fetch` permission on the task's topic
 * (resource type `topic`), for every operation here (FORBIDDEN naming the topic).
 * Variables handed to a worker leave out the sensitive variables the caller may not read.
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { Actor } from './actor.ts';
import type { StoredExternalTask } from './ports.ts';
import type { Action, ExecMeta, RunOutput, Variables } from './runtime.ts';
import { authorize, isAdmin, redactorFor } from './authorization.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { assertTextValues } from './text-values.ts';
import { parseJson } from './json.ts';
import { visibleLocals } from './runtime/local-scopes.ts';
import type { RunContext } from './runtime/context.ts';

/** the longest a fetch may wait for tasks (Camunda's default maximum is 30 min; a held HTTP request is cheap) */
export const MAX_ASYNC_RESPONSE_TIMEOUT_MS = 1_800_000;
/** how often a waiting fetch looks at the database (tasks created on other nodes) */
export const LONG_POLL_INTERVAL_MS = 1_000;

export interface FetchTopic {
  topicName: string;
  /** ms */
  lockDuration: number;
  /** the variables to hand over (absent or null: all) */
  variables?: string[] | null;
  /** accepted for Camunda compatibility: the task's local variables are not stored apart, none are added */
  localVariables?: boolean;
  businessKey?: string;
  processDefinitionKey?: string;
}

export interface FetchRequest {
  workerId: string;
  maxTasks: number;
  usePriority?: boolean;
  /** ms to wait for a task when none is fetchable at once (0 or absent: answer at once) */
  asyncResponseTimeout?: number;
  topics: FetchTopic[];
}

/** A locked task as a worker gets it (times epoch ms). */
export interface LockedExternalTask extends StoredExternalTask {
  variables: Variables;
}

/** Wakes the fetches waiting on this node when a transition creates external tasks. */
const waiters = new WeakMap<EngineContext, Set<() => void>>();

export function notifyExternalTasks(ctx: EngineContext): void {
  const set = waiters.get(ctx);
  if (!set) return;
  for (const wake of [...set]) wake();
}

/** After a transition: wake waiting fetches if it left an external task waiting. */
export function afterExternalTransition(ctx: EngineContext, out: RunOutput): void {
  if (out.waits.some((w) => w.kind === 'externalTask')) notifyExternalTasks(ctx);
}

/**
 * Locks and returns up to maxTasks tasks of the topics (see the module comment), waiting up to
 * asyncResponseTimeout ms when none is there; `signal` ends the wait early (the HTTP client went away).
 * @throws InsureflowError BAD_REQUEST (no topic, a non-positive lockDuration, a duplicate topic), FORBIDDEN
 */
export async function fetchAndLock(ctx: EngineContext, actor: Actor, req: FetchRequest, signal?: AbortSignal): Promise<LockedExternalTask[]> {
  assertTextValues('fetchAndLock', { req });
  if (!req.topics.length) throw new InsureflowError('BAD_REQUEST', 'name at least one topic to fetch');
  const names = new Set<string>();
  for (const t of req.topics) {
    if (names.has(t.topicName)) throw new InsureflowError('BAD_REQUEST', `topic "${t.topicName}" is named twice`);
    names.add(t.topicName);
    if (!(t.lockDuration > 0)) throw new InsureflowError('BAD_REQUEST', `the lockDuration of topic "${t.topicName}" must be a positive number of ms`);
  }
  for (const t of req.topics) await authorize(ctx, actor, 'fetch', 'topic', t.topicName);
  const maxTasks = Math.max(0, Math.floor(req.maxTasks));
  if (maxTasks === 0) return [];
  const timeout = Math.min(Math.max(0, req.asyncResponseTimeout ?? 0), MAX_ASYNC_RESPONSE_TIMEOUT_MS);
  const deadline = Date.now() + timeout;
  for (;;) {
    const now = ctx.clock.now();
    const locked = await ctx.stores.externalTasks.lockFetchable({
      topics: req.topics.map((t) => ({ topicName: t.topicName, lockUntil: now + t.lockDuration, ...(t.businessKey !== undefined && { businessKey: t.businessKey }), ...(t.processDefinitionKey !== undefined && { processDefinitionKey: t.processDefinitionKey }) })),
      workerId: req.workerId,
      maxTasks,
      usePriority: Boolean(req.usePriority),
      now,
    });
    const left = deadline - Date.now();
    if (locked.length || left <= 0 || signal?.aborted || ctx.run.closing) return withVariables(ctx, actor, req, locked);
    await waitForTasks(ctx, Math.min(left, LONG_POLL_INTERVAL_MS), signal);
  }
}

/** Resolves when a transition on this node creates an external task, after `ms`, or on abort. */
function waitForTasks(ctx: EngineContext, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let set = waiters.get(ctx);
    if (!set) waiters.set(ctx, (set = new Set()));
    const done = () => {
      clearTimeout(timer);
      set!.delete(done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    set.add(done);
    signal?.addEventListener('abort', done);
  });
}

async function withVariables(ctx: EngineContext, actor: Actor, req: FetchRequest, locked: StoredExternalTask[]): Promise<LockedExternalTask[]> {
  const redactor = await redactorFor(ctx, actor);
  const out: LockedExternalTask[] = [];
  for (const t of locked) {
    const topic = req.topics.find((x) => x.topicName === t.topic);
    // what the task's execution sees: the process variables overlaid by its local scopes (input mappings, a
    // multi-instance element), as a handler would get them
    const all = { ...((await ctx.stores.instances.variables(t.processInstanceId)) ?? {}), ...(await localsOf(ctx, t)) };
    const hidden = redactor.hidden(t.processKey);
    const wanted = topic?.variables ?? null;
    const variables: Variables = {};
    for (const [k, v] of Object.entries(all)) if (!hidden.has(k) && (wanted === null || wanted.includes(k))) variables[k] = v;
    out.push({ ...t, variables });
  }
  return out;
}

/** The local variables the task's execution sees, from the instance's committed scopes (runtime/local-scopes.ts). */
async function localsOf(ctx: EngineContext, t: StoredExternalTask): Promise<Variables> {
  const text = await ctx.stores.externalTasks.execMeta(t.processInstanceId);
  const meta = text ? parseJson<ExecMeta | null>(text, `process_instances ${t.processInstanceId} exec_meta`, null) : null;
  if (!meta?.scopes) return {};
  // the scope walk needs only the committed scopes: a run context reduced to them
  return visibleLocals({ meta: { counters: {}, keys: {}, scopes: meta.scopes } } as unknown as RunContext, t.executionId);
}

/** The task, if the caller may act on it. @throws InsureflowError EXTERNAL_TASK_NOT_FOUND, FORBIDDEN */
export async function getExternalTask(ctx: EngineContext, actor: Actor, id: string): Promise<StoredExternalTask> {
  const t = await ctx.stores.externalTasks.get(id);
  if (!t || t.status !== 'open') throw new InsureflowError('EXTERNAL_TASK_NOT_FOUND', `external task ${id} was not found (it does not exist or is no longer open)`);
  if (!isAdmin(actor)) await authorize(ctx, actor, 'fetch', 'topic', t.topic);
  return t;
}

/** Open tasks, by topic and instance; a non-admin must name a topic it may fetch. @throws FORBIDDEN */
export async function listExternalTasks(ctx: EngineContext, actor: Actor, q: { topicName?: string; processInstanceId?: string; limit?: number; offset?: number }) {
  if (!isAdmin(actor)) {
    if (q.topicName === undefined) throw new InsureflowError('FORBIDDEN', `${actor.name} may list external tasks only by a topic it may fetch: add topicName`, { permission: 'fetch', resourceType: 'topic' });
    await authorize(ctx, actor, 'fetch', 'topic', q.topicName);
  }
  return ctx.stores.externalTasks.list({ ...q, limit: q.limit ?? 50, offset: q.offset ?? 0 });
}

/** The open task held by `workerId` (the last fetch's worker). */
async function heldTask(ctx: EngineContext, actor: Actor, id: string, workerId: string): Promise<StoredExternalTask> {
  const t = await getExternalTask(ctx, actor, id);
  if (t.workerId === null) throw new InsureflowError('EXTERNAL_TASK_NOT_LOCKED', `external task ${id} is not locked by any worker: fetch it first`);
  if (t.workerId !== workerId) throw new InsureflowError('EXTERNAL_TASK_LOCKED_BY_OTHER', `external task ${id} is locked by worker "${t.workerId}", not by "${workerId}" (fetch it first; a worker whose lock expired loses the task once another worker fetches it)`, { workerId });
  return t;
}

/** One transition with the worker's answer; `inTx` writes the task row and throws when the worker lost it meanwhile. */
async function answer(ctx: EngineContext, actor: Actor, t: StoredExternalTask, action: Extract<Action, { kind: 'external' }>, inTx: (tx: object, out: RunOutput, now: number) => Promise<boolean>): Promise<RunOutput> {
  const out = await transition(ctx, t.processInstanceId, action, actor, undefined, async (tx, o) => {
    if (!o.events.some((e) => e.type.startsWith('externalTask.') && (e.data as { taskId?: unknown } | undefined)?.taskId === t.id)) {
      throw new InsureflowError('EXTERNAL_TASK_NOT_FOUND', `external task ${t.id} is no longer waiting in its process`);
    }
    if (!(await inTx(tx.unitOfWork, o, ctx.clock.now()))) throw lostLock(t.id, action.workerId);
  });
  await continueDeferred(ctx, t.processInstanceId, out);
  return out;
}

const lostLock = (id: string, workerId: string) =>
  new InsureflowError('EXTERNAL_TASK_LOCKED_BY_OTHER', `external task ${id} was fetched by another worker meanwhile; the answer of worker "${workerId}" was not applied`, { workerId });

/**
 * Completes a task: its variables become process variables (as a handler's result), its local variables are
 * visible to the task's output mappings only. Idempotent for the worker that completed it.
 * @throws InsureflowError EXTERNAL_TASK_NOT_FOUND, FORBIDDEN, EXTERNAL_TASK_NOT_LOCKED, EXTERNAL_TASK_LOCKED_BY_OTHER
 */
export async function completeExternalTask(ctx: EngineContext, actor: Actor, id: string, body: { workerId: string; variables?: Variables; localVariables?: Variables }): Promise<void> {
  assertTextValues('complete', { id, body });
  const first = await ctx.stores.externalTasks.get(id);
  if (first && first.status === 'completed' && first.completedBy === body.workerId) {
    if (!isAdmin(actor)) await authorize(ctx, actor, 'fetch', 'topic', first.topic);
    return; // the same worker again: done already
  }
  const instanceId = first?.processInstanceId ?? '';
  await withLock(ctx, instanceId, async () => {
    const t = await heldTask(ctx, actor, id, body.workerId);
    await answer(ctx, actor, t, { kind: 'external', executionId: t.executionId, taskId: t.id, workerId: body.workerId, outcome: 'complete', variables: body.variables ?? {}, ...(body.localVariables && { localVariables: body.localVariables }) }, (tx, _o, now) =>
      ctx.stores.externalTasks.close(tx, id, body.workerId, now, { status: 'completed', completedBy: body.workerId, endedAt: now }),
    );
  });
}

/**
 * Reports a failure: retries > 0 -> fetchable again after retryTimeout ms; 0 -> an incident.
 * @throws InsureflowError EXTERNAL_TASK_NOT_FOUND, FORBIDDEN, EXTERNAL_TASK_NOT_LOCKED, EXTERNAL_TASK_LOCKED_BY_OTHER
 */
export async function failExternalTask(ctx: EngineContext, actor: Actor, id: string, body: { workerId: string; errorMessage?: string | null; errorDetails?: string | null; retries?: number; retryTimeout?: number }): Promise<void> {
  assertTextValues('failure', { id, body });
  const first = await getExternalTask(ctx, actor, id);
  await withLock(ctx, first.processInstanceId, async () => {
    const t = await heldTask(ctx, actor, id, body.workerId);
    const retries = Math.max(0, Math.floor(body.retries ?? 0));
    const retryAt = retries > 0 ? ctx.clock.now() + Math.max(0, body.retryTimeout ?? 0) : null;
    await answer(
      ctx,
      actor,
      t,
      { kind: 'external', executionId: t.executionId, taskId: t.id, workerId: body.workerId, outcome: 'failure', errorMessage: body.errorMessage ?? null, errorDetails: body.errorDetails ?? null, retries, retryAt },
      (tx, _o, now) => ctx.stores.externalTasks.recordFailure(tx, id, body.workerId, now, { retries, errorMessage: body.errorMessage ?? null, errorDetails: body.errorDetails ?? null, lockExpiresAt: retryAt }),
    );
  });
}

/**
 * Throws a BPMN error from the task: routed to the boundary event or event sub-process that catches its code;
 * uncaught, an incident (the task stays open without retries).
 * @throws InsureflowError EXTERNAL_TASK_NOT_FOUND, FORBIDDEN, EXTERNAL_TASK_NOT_LOCKED, EXTERNAL_TASK_LOCKED_BY_OTHER
 */
export async function bpmnErrorExternalTask(ctx: EngineContext, actor: Actor, id: string, body: { workerId: string; errorCode: string; errorMessage?: string | null; variables?: Variables }): Promise<void> {
  assertTextValues('bpmnError', { id, body });
  const first = await getExternalTask(ctx, actor, id);
  await withLock(ctx, first.processInstanceId, async () => {
    const t = await heldTask(ctx, actor, id, body.workerId);
    await answer(
      ctx,
      actor,
      t,
      { kind: 'external', executionId: t.executionId, taskId: t.id, workerId: body.workerId, outcome: 'bpmnError', errorCode: body.errorCode, errorMessage: body.errorMessage ?? null, variables: body.variables ?? {} },
      (tx, out, now) =>
        out.waits.some((w) => w.kind === 'externalTask' && w.executionId === t.executionId)
          ? ctx.stores.externalTasks.recordFailure(tx, id, body.workerId, now, { retries: 0, errorMessage: `BPMN error ${body.errorCode} was not caught${body.errorMessage ? `: ${body.errorMessage}` : ''}`, errorDetails: null, lockExpiresAt: null })
          : ctx.stores.externalTasks.close(tx, id, body.workerId, now, { status: 'completed', completedBy: body.workerId, endedAt: now }),
    );
  });
}

/**
 * Sets the lock of a task the worker holds to now + newDuration ms.
 * @throws InsureflowError BAD_REQUEST, EXTERNAL_TASK_NOT_FOUND, FORBIDDEN, EXTERNAL_TASK_NOT_LOCKED, EXTERNAL_TASK_LOCKED_BY_OTHER, EXTERNAL_TASK_LOCK_EXPIRED
 */
export async function extendExternalTaskLock(ctx: EngineContext, actor: Actor, id: string, body: { workerId: string; newDuration: number }): Promise<void> {
  assertTextValues('extendLock', { id, body });
  if (!(body.newDuration > 0)) throw new InsureflowError('BAD_REQUEST', 'newDuration must be a positive number of ms');
  const t = await heldTask(ctx, actor, id, body.workerId);
  const now = ctx.clock.now();
  if (t.lockExpiresAt !== null && t.lockExpiresAt < now) throw new InsureflowError('EXTERNAL_TASK_LOCK_EXPIRED', `the lock of worker "${body.workerId}" on external task ${id} has expired: fetch the task again`);
  if (!(await ctx.stores.externalTasks.extendLock(id, body.workerId, now, now + body.newDuration))) throw lostLock(id, body.workerId);
}

/** Frees the task for any worker. @throws InsureflowError EXTERNAL_TASK_NOT_FOUND, FORBIDDEN */
export async function unlockExternalTask(ctx: EngineContext, actor: Actor, id: string): Promise<void> {
  assertTextValues('unlock', { id });
  await getExternalTask(ctx, actor, id);
  if (!(await ctx.stores.externalTasks.unlock(id))) throw new InsureflowError('EXTERNAL_TASK_NOT_FOUND', `external task ${id} is no longer open`);
  notifyExternalTasks(ctx);
}
