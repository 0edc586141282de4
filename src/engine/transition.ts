/**
 * The transition core: the per-instance in-process lock, one transition of an instance (recover the saved
 * state, apply one action with runTransition, commit state, tasks, jobs, subscriptions, incidents and history
 * in one transaction guarded by the instance's revision), the re-run of a transition that lost a race, and
 * the handler calls deferred behind camunda:asyncBefore.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { CachedDefinition, ActivityInfo } from './definitions.ts';
import { feelBody, resolveValue } from './expressions.ts';
import { durationMs } from './iso.ts';
import { runTransition, type Action, type RunOutput, type PendingCall, type Variables, type DecisionEvaluator } from './runtime.ts';
import { compiled, latestForm, loadDecisions } from './deployment.ts';
import { appendHistory, type NewEvent } from '../persistence/history.ts';
import { parseJson, updateInstanceGuarded, type InstanceRow, type JobRow, type TaskRow, type Trx } from '../persistence/store.ts';
import { SYSTEM, type Actor } from '../persistence/users.ts';
import { inUnitOfWork } from '../persistence/unit-of-work.ts';

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
    const job: JobRow | undefined = await ctx.db('jobs').where({ process_instance_id: instanceId, type: 'retry', attempts: 0 }).whereNull('lock_owner').orderBy('created_at').first();
    if (!job) return;
    const n = await ctx.db('jobs').where({ id: job.id }).whereNull('lock_owner').update({ lock_owner: ctx.nodeId, lock_expires_at: ctx.clock.now() + ctx.jobLockMs });
    if (n !== 1) return;
    await transition(ctx, instanceId, { kind: 'retry', executionId: job.execution_id }, SYSTEM, undefined, async (trx) => {
      await trx('jobs').where({ id: job.id, lock_owner: ctx.nodeId }).delete();
    });
  }
}

export async function pendingCalls(ctx: EngineContext, trx: Trx, instanceId: string): Promise<Map<string, PendingCall>> {
  const map = new Map<string, PendingCall>();
  for (const j of await trx('jobs').where({ process_instance_id: instanceId, type: 'retry' })) {
    map.set(j.execution_id, { executionId: j.execution_id, attempts: Number(j.attempts), state: 'retry' });
  }
  for (const i of await trx('incidents').where({ process_instance_id: instanceId, status: 'open' })) {
    map.set(i.execution_id, { executionId: i.execution_id, attempts: Number(i.attempts), state: 'incident' });
  }
  return map;
}

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
  create?: { definitionId: string; businessKey: string | null },
  inTx?: (trx: Knex.Transaction, out: RunOutput) => Promise<NewEvent[] | void>,
): Promise<RunOutput> {
  // another node may advance the same instance meanwhile (a timer while a task is completed): the loser
  // re-reads and runs its transition again; handlers see the same idempotency keys the second time
  for (let attempt = 1; ; attempt++) {
    try {
      return await transitionOnce(ctx, instanceId, action, actor, create, inTx);
    } catch (err) {
      if (create || attempt >= 4 || !(err instanceof InsureflowError) || err.code !== 'CONCURRENT_MODIFICATION') throw err;
      ctx.logger.warn({ instanceId, attempt }, 'instance changed by another writer; running the transition again');
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
    }
  }
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
  create?: { definitionId: string; businessKey: string | null },
  inTx?: (trx: Knex.Transaction, out: RunOutput) => Promise<NewEvent[] | void>,
): Promise<RunOutput> {
  // the definition is compiled before the transaction opens: a cache miss reads the database, and on SQLite
  // the transaction holds the only connection
  let def: CachedDefinition;
  if (create) {
    def = await compiled(ctx, create.definitionId);
  } else {
    const head = await ctx.db('process_instances').where({ id: instanceId }).first('definition_id', 'status');
    assertActive(instanceId, head);
    def = await compiled(ctx, head.definition_id);
  }
  if (!ctx.run.decisionsLoaded) await loadDecisions(ctx);
  try {
    return await inUnitOfWork(
      ctx.db,
      async (uow) => {
        const trx = uow.trx;
        // the instance row is locked for the whole transition (PostgreSQL: another node waits, then sees the
        // result); engine state, tasks, jobs, history and the handlers' own writes commit together or not at all
        let row: InstanceRow | undefined;
        if (!create) {
          let q = trx('process_instances').where({ id: instanceId });
          if (ctx.dialect === 'postgres') q = q.forUpdate();
          row = await q.first();
          assertActive(instanceId, row);
        }
        const prevMeta: CommitMeta | undefined = row ? parseJson<CommitMeta | undefined>(row.exec_meta, `process_instances ${instanceId} exec_meta`, undefined) : undefined;
        // handler calls still pending always keep their idempotency key in the meta: no key, no pending call
        const hasPending = !create && (!prevMeta || Object.keys(prevMeta.keys ?? {}).length > 0);
        const pending = hasPending ? await pendingCalls(ctx, trx, instanceId) : new Map<string, PendingCall>();
        let state = row?.state ? parseJson<any>(row.state, `process_instances ${instanceId} state`, null) : null;
        if (action.kind === 'retry' && action.variables && state) state = withVariables(state, action.variables);
        const businessKey = create ? create.businessKey : (row as InstanceRow).business_key;
        let out: RunOutput;
        try {
          out = await runTransition(
            { clock: ctx.clock, handlers: ctx.handlers, decisions: decisionEvaluator(ctx), logger: ctx.logger },
            { instanceId, businessKey, definition: def, state, action, actor: actor.name, pending, meta: prevMeta, unitOfWork: uow },
          );
        } catch (err) {
          const e = err as any;
          ctx.logger.error({ err, instanceId }, 'transition failed');
          throw new InsureflowError('EXPRESSION_FAILED', `the process could not continue${e.activityId ? ` at ${e.activityId}` : ''}: ${e.message}`);
        }
        // a task completion, message or signal the engine did not accept writes nothing (not even handler effects)
        if (out.actionMissed && action.kind === 'signal') throw new ActionMissed(out);
        await commit(ctx, trx, instanceId, row, def, businessKey, out, actor, create ? { definitionId: create.definitionId } : undefined, inTx, { prevMeta, pending, hasPending });
        return out;
      },
      (err) => ctx.logger.error({ err, instanceId }, 'an after-commit effect failed; its outbox record stays pending'),
    );
  } catch (err) {
    if (err instanceof ActionMissed) return err.out;
    throw err;
  }
}

function assertActive(instanceId: string, row: { status: string } | undefined): asserts row is InstanceRow {
  if (!row) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} was not found`);
  if (row.status === 'completed' || row.status === 'cancelled') {
    throw new InsureflowError('INSTANCE_NOT_ACTIVE', `process instance ${instanceId} is ${row.status}`);
  }
}

export async function commit(
  ctx: EngineContext,
  trx: Knex.Transaction,
  instanceId: string,
  row: InstanceRow | undefined,
  def: CachedDefinition,
  businessKey: string | null,
  out: RunOutput,
  actor: Actor,
  create: { definitionId: string } | undefined,
  inTx: ((trx: Knex.Transaction, out: RunOutput) => Promise<NewEvent[] | void>) | undefined,
  known: { prevMeta: CommitMeta | undefined; pending: Map<string, PendingCall>; hasPending: boolean },
): Promise<void> {
  const now = ctx.clock.now();
  // what the instance had before, so that tables it never used are not queried (a new instance has nothing)
  const had = create ? { tasks: false, subs: false, timers: false } : (known.prevMeta?.has ?? { tasks: true, subs: true, timers: true });
  const has = {
    tasks: out.waits.some((w) => w.kind === 'userTask'),
    subs: out.waits.some((w) => w.kind !== 'userTask' && Boolean(w.eventName)),
    timers: out.timers.length > 0,
  };
  const base = { processInstanceId: instanceId, processKey: def.key, processVersion: def.version, businessKey };
  const events: NewEvent[] = out.events.map((e) => ({
    ...base,
    at: e.at,
    type: e.type,
    activityId: e.activityId ?? null,
    activityType: e.activityType ?? null,
    actor: e.actor ?? actor.name,
    data: e.data ?? {},
  }));
  const late: NewEvent[] = [];
  const ev = (type: string, activityId: string | null, data: Record<string, unknown>, who = actor.name, activityType: string | null = null) =>
    late.push({ ...base, at: now, type, activityId, activityType, actor: who, data });

  {
    const extra = inTx ? await inTx(trx, out) : undefined;
    const openIncidents = known.hasPending ? await trx('incidents').where({ process_instance_id: instanceId, status: 'open' }).select('execution_id') : [];
    const incidentExecs = new Set<string>(openIncidents.map((i: any) => i.execution_id));

    // handler failures: retry jobs or incidents
    for (const f of out.failures) {
      await trx('jobs').where({ process_instance_id: instanceId, type: 'retry', execution_id: f.executionId }).delete();
      if (f.deferred) {
        await trx('jobs').insert({ id: randomUUID(), type: 'retry', process_instance_id: instanceId, definition_id: def.id, activity_id: f.activityId, execution_id: f.executionId, due_at: f.retryAt ?? now, payload: JSON.stringify({ handler: f.handler, deferred: true }), attempts: 0, created_at: now });
        continue;
      }
      if (f.retryAt !== null) {
        await trx('jobs').insert({ id: randomUUID(), type: 'retry', process_instance_id: instanceId, definition_id: def.id, activity_id: f.activityId, execution_id: f.executionId, due_at: f.retryAt, payload: JSON.stringify({ handler: f.handler }), attempts: f.attempt, last_error: f.error.slice(0, 4000), created_at: now });
      } else if (!incidentExecs.has(f.executionId)) {
        const incidentId = randomUUID();
        await trx('incidents').insert({ id: incidentId, process_instance_id: instanceId, activity_id: f.activityId, execution_id: f.executionId, handler: f.handler, error_message: f.error.slice(0, 4000), attempts: f.attempt, status: 'open', created_at: now });
        incidentExecs.add(f.executionId);
        ev('incident.opened', f.activityId, { incidentId, handler: f.handler, attempts: f.attempt, error: f.error }, 'system');
      } else {
        await trx('incidents').where({ process_instance_id: instanceId, execution_id: f.executionId, status: 'open' }).update({ attempts: f.attempt, error_message: f.error.slice(0, 4000) });
      }
    }
    for (const execId of out.settled) {
      if (!known.pending.has(execId)) continue;
      await trx('jobs').where({ process_instance_id: instanceId, type: 'retry', execution_id: execId }).delete();
      if (incidentExecs.has(execId)) {
        await trx('incidents').where({ process_instance_id: instanceId, execution_id: execId, status: 'open' }).update({ status: 'resolved', resolved_at: now, resolved_by: actor.name });
        incidentExecs.delete(execId);
        ev('incident.resolved', null, { executionId: execId, by: 'retry' });
      }
    }

    const ended = out.status !== 'active';
    const status = ended ? out.status : incidentExecs.size ? 'incident' : 'active';
    const instancePatch = {
      status,
      state: ended ? null : JSON.stringify(out.state),
      variables: JSON.stringify(out.variables),
      active_activities: JSON.stringify(out.activeActivities),
      exec_meta: JSON.stringify({ ...out.meta, has } satisfies CommitMeta),
      updated_at: now,
      ended_at: ended ? now : null,
    };
    if (create) {
      await trx('process_instances').insert({ id: instanceId, definition_id: create.definitionId, process_key: def.key, process_version: def.version, business_key: businessKey, started_by: actor.name, started_at: now, rev: 1, ...instancePatch });
    } else {
      await updateInstanceGuarded(trx, instanceId, Number((row as InstanceRow).rev), instancePatch);
    }

    // user tasks: create the new ones, cancel the ones the engine left
    const openTasks: TaskRow[] = had.tasks ? await trx('user_tasks').where({ process_instance_id: instanceId, status: 'open' }) : [];
    const live = new Set(out.waits.filter((w) => w.kind === 'userTask').map((w) => w.executionId));
    for (const t of openTasks) {
      if (!live.has(t.execution_id)) {
        await trx('user_tasks').where({ id: t.id }).update({ status: 'cancelled', ended_at: now });
        ev('task.cancelled', t.activity_id, { taskId: t.id, name: t.name }, 'system', 'bpmn:UserTask');
      }
    }
    const knownTasks = new Set(openTasks.map((t) => t.execution_id));
    for (const w of out.waits) {
      if (w.kind !== 'userTask' || knownTasks.has(w.executionId)) continue;
      if (!create && !w.isNew) {
        // a recovered wait whose row is not open: completed meanwhile or created by a crashed run
        const exists = await trx('user_tasks').where({ process_instance_id: instanceId, execution_id: w.executionId }).first('id');
        if (exists) continue;
      }
      const info = def.activities.get(w.activityId) as ActivityInfo;
      const task = await newTaskRow(ctx, trx, instanceId, def, businessKey, info, w.executionId, out.variables, now);
      await trx('user_tasks').insert(task);
      ev('task.created', w.activityId, { taskId: task.id, name: task.name, assignee: task.assignee, candidateGroups: JSON.parse(task.candidate_groups), candidateUsers: JSON.parse(task.candidate_users), formKey: task.form_key, dueAt: task.due_at === null ? null : new Date(task.due_at).toISOString(), priority: task.priority }, 'system', 'bpmn:UserTask');
    }

    // message and signal subscriptions
    if (had.subs) await trx('subscriptions').where({ process_instance_id: instanceId }).delete();
    for (const w of out.waits) {
      if (w.kind === 'userTask' || !w.eventName) continue;
      const info = def.activities.get(w.activityId) as ActivityInfo;
      let correlationKey: string | null = null;
      if (info.correlationKey) {
        const v = resolveValue(info.correlationKey.startsWith('=') || feelBody(info.correlationKey) ? info.correlationKey : `=${info.correlationKey}`, out.variables);
        correlationKey = v === null || v === undefined ? null : String(v);
      }
      await trx('subscriptions').insert({ process_instance_id: instanceId, activity_id: w.activityId, execution_id: w.executionId, kind: w.kind === 'signal' ? 'signal' : 'message', event_name: w.eventName, correlation_key: correlationKey, business_key: businessKey, created_at: now });
    }

    // timers
    const timerJobs: JobRow[] = had.timers ? await trx('jobs').where({ process_instance_id: instanceId, type: 'timer' }) : [];
    const liveTimers = new Map(out.timers.map((t) => [t.executionId, t]));
    for (const j of timerJobs) {
      const t = liveTimers.get(j.execution_id);
      if (!t || t.dueAt !== undefined) await trx('jobs').where({ id: j.id }).delete();
      if (!t && !ended) ev('timer.cancelled', j.activity_id, { jobId: j.id, executionId: j.execution_id }, 'system');
    }
    const keptTimers = new Set(timerJobs.map((j) => j.execution_id));
    for (const t of out.timers) {
      if (t.dueAt === undefined && keptTimers.has(t.executionId)) continue;
      await trx('jobs').insert({ id: randomUUID(), type: 'timer', process_instance_id: instanceId, definition_id: def.id, activity_id: t.activityId, execution_id: t.executionId, due_at: t.dueAt ?? now, payload: JSON.stringify({ timerType: t.timerType, value: t.value, repeat: t.repeat ?? null }), attempts: 0, created_at: now });
    }
    if (ended && !create) {
      await trx('jobs').where({ process_instance_id: instanceId }).delete();
      await trx('subscriptions').where({ process_instance_id: instanceId }).delete();
    }

    await appendHistory(trx, instanceId, [...events, ...(extra ?? []), ...late.sort((a, b) => a.at - b.at)], Boolean(create));
  }
}

export async function newTaskRow(ctx: EngineContext, trx: Trx, instanceId: string, def: CachedDefinition, businessKey: string | null, info: ActivityInfo, executionId: string, variables: Variables, now: number): Promise<TaskRow> {
  const spec = info.userTask ?? {};
  const value = (raw: unknown) => (typeof raw === 'string' ? resolveValue(raw, variables) : raw);
  const assignee = value(spec.assignee);
  const groups = asList(value(Array.isArray(spec.candidateGroups) ? spec.candidateGroups.join(',') : spec.candidateGroups));
  const users = asList(value(Array.isArray(spec.candidateUsers) ? spec.candidateUsers.join(',') : spec.candidateUsers));
  let dueAt: number | null = null;
  const due = value(spec.dueDate);
  if (typeof due === 'string' && due) {
    const ms = durationMs(due);
    if (ms !== null && due.trim().startsWith('P')) dueAt = now + ms;
    else if (!Number.isNaN(Date.parse(due))) dueAt = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(due) || !due.includes('T') ? due : `${due}Z`);
  }
  const prio = Number(value(spec.priority));
  const formKey = spec.formKey ? String(value(spec.formKey)) : null;
  const form = formKey ? await latestForm(ctx, trx, formKey) : null;
  return {
    id: randomUUID(),
    process_instance_id: instanceId,
    activity_id: info.id,
    execution_id: executionId,
    name: info.name,
    process_key: def.key,
    business_key: businessKey,
    status: 'open',
    assignee: assignee === null || assignee === undefined || assignee === '' ? null : String(assignee),
    candidate_groups: JSON.stringify(groups),
    candidate_users: JSON.stringify(users),
    form_key: formKey,
    form_schema_id: form?.id ?? null,
    due_at: dueAt,
    priority: Number.isFinite(prio) ? Math.max(0, Math.min(MAX_TASK_PRIORITY, Math.round(prio))) : 50,
    created_at: now,
    claimed_at: null,
    ended_at: null,
    completed_by: null,
  };
}


/** What an instance row remembers between transitions (exec_meta): idempotency bookkeeping and which tables it uses. */
interface CommitMeta {
counters: Record<string, number>;
keys: Record<string, string>;
has?: { tasks: boolean; subs: boolean; timers: boolean };
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


