/**
 * The transition core: the per-instance in-process lock, one transition of an instance (recover the saved
 * state, apply one action with runTransition, commit state, tasks, jobs, subscriptions, incidents and history
 * in one transaction guarded by the instance's revision), the re-run of a transition that lost a race, and
 * the handler calls deferred behind camunda:asyncBefore.
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { CachedDefinition, ActivityInfo } from './definitions.ts';
import { ExpressionError, isEvaluable, resolveValue } from './expressions.ts';
import { durationOrDateAt } from './iso.ts';
import { runTransition, type Action, type RunOutput, type PendingCall, type Variables, type DecisionEvaluator, type WaitItem } from './runtime.ts';
import { compiled, formForTask, loadDecisions } from './deployment.ts';
import type { CommitMeta, InstanceRecord, NewHistoryEvent, TaskDraft, TransitionTx } from './transition-store.ts';
import { SYSTEM, type Actor } from './actor.ts';
import { parseJson } from './json.ts';
import { recordCalls, type CallParent } from './call-activities.ts';
import { afterTransition } from './correlation.ts';
import { recordMessageFlows } from './message-flows.ts';
import { assertBusinessKeyFree, namingTheHolder } from './business-keys.ts';
import { afterExternalTransition } from './external-tasks.ts';

const MAX_TASK_PRIORITY = 100;

function asList(v: unknown): string[] {
  if (v === null || v === undefined || v === '') return [];
  if (Array.isArray(v)) return v.map(String).map((s) => s.trim()).filter(Boolean);
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function decisionEvaluator(ctx: EngineContext): DecisionEvaluator {
  return { evaluate: (id, input) => ctx.decisions.evaluate(id, input) };
}

export async function withLock<T>(ctx: EngineContext, id: string, fn: () => Promise<T>): Promise<T> {
  const prev = ctx.locks.get(id) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chain = prev.then(() => mine);
  ctx.locks.set(id, chain);
  await prev.catch(() => undefined);
  ctx.run.inflight++;
  try {
    return await fn();
  } finally {
    ctx.run.inflight--;
    release();
    if (ctx.locks.get(id) === chain) ctx.locks.delete(id);
    if (ctx.run.inflight === 0 && ctx.run.idle) ctx.run.idle();
  }
}

/** Resolves when no transition is running (used by graceful shutdown). */
export async function drain(ctx: EngineContext, timeoutMs = 10_000): Promise<void> {
  ctx.run.closing = true;
  if (ctx.run.inflight === 0) return;
  await Promise.race([new Promise<void>((r) => (ctx.run.idle = r)), new Promise((r) => setTimeout(r, timeoutMs))]);
}

/**
 * Run, right away and under the caller's lock, the handler calls parked behind jobs by camunda:asyncBefore
 * (committed before any effect). If this process dies first, the scheduler runs them.
 */
export async function continueDeferred(ctx: EngineContext, instanceId: string, after?: RunOutput): Promise<void> {
  if (after && !after.failures.some((f) => f.deferred)) return;
  for (let guard = 0; guard < 1000; guard++) {
    const call = await ctx.transitions.lockNextDeferredCall(instanceId, ctx.nodeId, ctx.clock.now() + ctx.jobLockMs);
    if (!call) return;
    await transition(ctx, instanceId, { kind: 'retry', executionId: call.executionId }, SYSTEM, undefined, async (tx) => {
      await tx.consumeJob(call.jobId, ctx.nodeId);
    });
  }
}

/** Runs in the transition's transaction after the run (e.g. marking the completed task); may throw to abort. */
export type InTransition = (tx: TransitionTx, out: RunOutput) => Promise<NewHistoryEvent[] | void>;

/**
 * One transition. For a new instance `create` carries the definition; otherwise the instance row is read,
 * the engine recovered, the action applied, and everything committed with the revision check.
 * `inTx` runs inside the commit transaction (e.g. marking the completed task) and may throw to abort.
 */
export async function transition(
  ctx: EngineContext,
  instanceId: string,
  action: Action,
  actor: Actor,
  create?: { definitionId: string; businessKey: string | null; parent?: CallParent },
  inTx?: InTransition,
): Promise<RunOutput> {
  // another node may advance the same instance meanwhile (a timer while a task is completed): the loser
  // re-reads and runs its transition again; handlers see the same idempotency keys the second time
  let out: RunOutput | undefined;
  for (let attempt = 1; !out; attempt++) {
    try {
      out = await transitionOnce(ctx, instanceId, action, actor, create, inTx);
    } catch (err) {
      if (create || attempt >= 4 || !(err instanceof InsureflowError) || err.code !== 'CONCURRENT_MODIFICATION') throw err;
      ctx.logger.warn({ instanceId, attempt }, 'instance changed by another writer; running the transition again');
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
    }
  }
  // message wait states that appeared take the buffered messages that were waiting for them (own transitions)
  await afterTransition(ctx, instanceId, out);
  // external tasks that appeared wake the worker fetches waiting on this node (./external-tasks.ts)
  afterExternalTransition(ctx, out);
  return out;
}

/** The action targeted an execution the engine no longer has: nothing of the transition is written. */
class ActionMissed extends Error {
  constructor(readonly out: RunOutput) {
    super('action missed');
  }
}

export async function transitionOnce(
  ctx: EngineContext,
  instanceId: string,
  action: Action,
  actor: Actor,
  create?: { definitionId: string; businessKey: string | null; parent?: CallParent },
  inTx?: InTransition,
): Promise<RunOutput> {
  // the definition is compiled before the transaction opens: a cache miss reads the database, and on SQLite
  // the transaction holds the only connection
  let def: CachedDefinition;
  if (create) {
    def = await compiled(ctx, create.definitionId);
    await assertBusinessKeyFree(ctx, def.key, create.businessKey, create.parent);
  } else {
    const head = await ctx.transitions.instanceHead(instanceId);
    assertActive(instanceId, head);
    def = await compiled(ctx, head.definitionId);
  }
  if (!ctx.run.decisionsLoaded) await loadDecisions(ctx);
  try {
    return await ctx.transitions.transaction(
      async (tx) => {
        // the instance row is locked for the whole transition (PostgreSQL: another node waits, then sees the
        // result); engine state, tasks, jobs, history and the handlers' own writes commit together or not at all
        let row: InstanceRecord | undefined;
        if (!create) {
          row = await tx.lockInstance(instanceId);
          assertActive(instanceId, row);
        }
        const prevMeta: CommitMeta | undefined = row?.execMeta ? parseJson<CommitMeta | undefined>(row.execMeta, `process_instances ${instanceId} exec_meta`, undefined) : undefined;
        // handler calls still pending always keep their idempotency key in the meta: no key, no pending call
        const hasPending = !create && (!prevMeta || Object.keys(prevMeta.keys ?? {}).length > 0);
        const pending = hasPending ? await tx.pendingCalls(instanceId) : new Map<string, PendingCall>();
        let state = row?.state ? parseJson<any>(row.state, `process_instances ${instanceId} state`, null) : null;
        if (action.kind === 'retry' && action.variables && state) state = withVariables(state, action.variables);
        const businessKey = create ? create.businessKey : (row as InstanceRecord).businessKey;
        let out: RunOutput;
        try {
          out = await runTransition(
            { clock: ctx.clock, handlers: ctx.handlers, decisions: decisionEvaluator(ctx), logger: ctx.logger, limits: ctx.limits },
            { instanceId, businessKey, definition: def, state, action, actor: actor.name, pending, meta: prevMeta, unitOfWork: tx.unitOfWork },
          );
        } catch (err) {
          const e = err as any;
          ctx.logger.error({ err, instanceId }, 'transition failed');
          throw new InsureflowError('EXPRESSION_FAILED', `the process could not continue${e.activityId ? ` at ${e.activityId}` : ''}: ${e.message}`);
        }
        // a task completion, message or signal the engine did not accept writes nothing (not even handler effects)
        if (out.actionMissed && action.kind === 'signal') throw new ActionMissed(out);
        const extra = inTx ? await inTx(tx, out) : undefined;
        const now = ctx.clock.now();
        await tx.commit({
          instanceId,
          definition: { id: def.id, key: def.key, version: def.version },
          businessKey,
          actor: actor.name,
          now,
          create: Boolean(create),
          parent: create?.parent ?? null,
          prevRev: row ? row.rev : null,
          prevMeta,
          pending,
          hasPending,
          out,
          extraEvents: extra ?? [],
          taskFor: (w) => taskDraft(ctx, tx, def, w, w.scope ? { ...out.variables, ...w.scope } : out.variables, now),
          correlationKeyOf: (w) => correlationKey(def, w, w.scope ? { ...out.variables, ...w.scope } : out.variables),
        });
        // called processes: children to start or cancel, the caller of a completed child to resume (durable jobs)
        await recordCalls(ctx, tx, def, instanceId, create?.parent ?? row?.parent ?? null, out);
        // message flows to other executable pools: their messages, correlated after the commit (durable jobs)
        await recordMessageFlows(ctx, tx, def.messageFlows, instanceId, businessKey, out);
        return out;
      },
      (err) => ctx.logger.error({ err, instanceId }, 'an after-commit effect failed; its outbox record stays pending'),
    );
  } catch (err) {
    if (err instanceof ActionMissed) return err.out;
    throw create ? await namingTheHolder(ctx, err) : err;
  }
}

function assertActive<R extends { status: string }>(instanceId: string, row: R | undefined): asserts row is R {
  if (!row) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} was not found`);
  if (row.status === 'completed' || row.status === 'cancelled') {
    throw new InsureflowError('INSTANCE_NOT_ACTIVE', `process instance ${instanceId} is ${row.status}`);
  }
}

/** The fields of the task row of a user-task wait: assignment, due date and priority from the variables, form version by binding. */
async function taskDraft(ctx: EngineContext, tx: TransitionTx, def: CachedDefinition, w: WaitItem, variables: Variables, now: number): Promise<TaskDraft> {
  const info = def.activities.get(w.activityId) as ActivityInfo;
  const spec = info.userTask ?? {};
  const value = (raw: unknown) => {
    try {
      return typeof raw === 'string' ? resolveValue(raw, variables) : raw;
    } catch (err) {
      // a JUEL expression that cannot be evaluated (a variable that is not set): the transition fails, as in Camunda 7
      if (err instanceof ExpressionError) throw new InsureflowError('EXPRESSION_FAILED', `the process could not continue at ${w.activityId}: ${err.message}`);
      throw err;
    }
  };
  const assignee = value(spec.assignee);
  const groups = asList(value(Array.isArray(spec.candidateGroups) ? spec.candidateGroups.join(',') : spec.candidateGroups));
  const users = asList(value(Array.isArray(spec.candidateUsers) ? spec.candidateUsers.join(',') : spec.candidateUsers));
  // a duration counts from now; a date-time without an offset is UTC
  const due = value(spec.dueDate);
  const dueAt = typeof due === 'string' && due ? durationOrDateAt(due, now) : null;
  const prio = Number(value(spec.priority));
  const formKey = spec.formKey ? String(value(spec.formKey)) : null;
  // the form version the task's binding names (latest, or the one fixed when the process version was deployed)
  const form = formKey ? await formForTask(ctx, tx.unitOfWork, def, info, formKey) : null;
  return {
    name: info.name,
    assignee: assignee === null || assignee === undefined || assignee === '' ? null : String(assignee),
    candidateGroups: groups,
    candidateUsers: users,
    formKey,
    formSchemaId: form?.id ?? null,
    dueAt,
    priority: Number.isFinite(prio) ? Math.max(0, Math.min(MAX_TASK_PRIORITY, Math.round(prio))) : 50,
  };
}

/** The correlation key of a message wait, evaluated over the variables at the time the wait began. */
function correlationKey(def: CachedDefinition, w: WaitItem, variables: Variables): string | null {
  const info = def.activities.get(w.activityId) as ActivityInfo;
  if (!info.correlationKey) return null;
  let v: unknown;
  try {
    v = resolveValue(isEvaluable(info.correlationKey) ? info.correlationKey : `=${info.correlationKey}`, variables);
  } catch (err) {
    if (err instanceof ExpressionError) throw new InsureflowError('EXPRESSION_FAILED', `the process could not continue at ${w.activityId}: the correlation key: ${err.message}`);
    throw err;
  }
  return v === null || v === undefined ? null : String(v);
}

/** Put corrected variables into a saved state before it is recovered. */
function withVariables(state: any, vars: Variables): any {
const s = JSON.parse(JSON.stringify(state));
s.environment = s.environment ?? {};
s.environment.variables = { ...(s.environment.variables ?? {}), ...vars };
for (const d of s.definitions ?? []) {
  if (d.environment) d.environment.variables = { ...(d.environment.variables ?? {}), ...vars };
  for (const p of d.execution?.processes ?? []) {
    if (p.environment) p.environment.variables = { ...(p.environment.variables ?? {}), ...vars };
  }
}
return s;
}


