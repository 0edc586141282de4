/**
 * The Knex implementation of the transition core's storage (src/engine/transition-store.ts): the instance lock,
 * pending handler calls, and the commit bookkeeping of one transition (instance row, retry jobs, incidents, user
 * tasks, subscriptions, timers, history) inside the transition's own transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { CommitInput, CommitMeta, InstanceRecord, NewHistoryEvent, TransitionStore, TransitionTx } from '../engine/transition-store.ts';
import type { PendingCall } from '../engine/runtime.ts';
import { appendHistory } from './history.ts';
import { updateInstanceGuarded, type InstanceRow, type JobRow, type TaskRow } from './store.ts';
import { inUnitOfWork, type KnexUnitOfWork } from './unit-of-work.ts';
import { planCommit } from '../engine/commit-plan.ts';
import { dialectOfKnex } from './dialect.ts';
import { writeCandidates } from './task-store.ts';
import { isUniqueViolation } from './db.ts';
import { businessKeyInUse } from '../engine/business-keys.ts';
import { writeExternalTasks } from './external-task-store.ts';

/** The name of the partial unique index of migrations/20261130110500_business_keys.ts. */
export const BUSINESS_KEY_INDEX = 'process_instances_active_business_key_uq';

/** True when an insert into process_instances broke the unique business key of the active instances. */
function isBusinessKeyConflict(err: unknown): boolean {
  if (!isUniqueViolation(err)) return false;
  const e = err as { constraint?: unknown; message?: unknown };
  // PostgreSQL names the index; SQLite names the columns
  return e.constraint === BUSINESS_KEY_INDEX || /process_instances\.business_key/.test(String(e.message ?? ''));
}

export class KnexTransitionStore implements TransitionStore {
  constructor(private readonly db: Knex) {}

  async instanceHead(id: string) {
    const r = await this.db('process_instances').where({ id }).first('definition_id', 'status');
    return r ? { definitionId: r.definition_id as string, status: r.status as string } : undefined;
  }

  transaction<T>(fn: (tx: TransitionTx) => Promise<T>, onEffectError: (err: unknown) => void): Promise<T> {
    const postgres = dialectOfKnex(this.db) === 'postgres';
    return inUnitOfWork(this.db, (uow) => fn(new KnexTransitionTx(uow, postgres)), onEffectError);
  }

  async lockNextDeferredCall(instanceId: string, nodeId: string, lockUntil: number) {
    const job: JobRow | undefined = await this.db('jobs').where({ process_instance_id: instanceId, type: 'retry', attempts: 0 }).whereNull('lock_owner').orderBy('created_at').first();
    if (!job) return null;
    const n = await this.db('jobs').where({ id: job.id }).whereNull('lock_owner').update({ lock_owner: nodeId, lock_expires_at: lockUntil });
    return n === 1 ? { jobId: job.id, executionId: job.execution_id } : null;
  }
}

class KnexTransitionTx implements TransitionTx {
  private readonly trx: Knex.Transaction;

  constructor(readonly unitOfWork: KnexUnitOfWork, private readonly postgres: boolean) {
    this.trx = unitOfWork.trx;
  }

  async lockInstance(id: string): Promise<InstanceRecord | undefined> {
    let q = this.trx('process_instances').where({ id });
    if (this.postgres) q = q.forUpdate();
    const r: InstanceRow | undefined = await q.first();
    if (!r) return undefined;
    const parentId: string | null = (r as any).parent_instance_id ?? null;
    const parent = parentId ? { instanceId: parentId, executionId: String((r as any).parent_execution_id ?? ''), activityId: String((r as any).parent_activity_id ?? '') } : null;
    return { id: r.id, definitionId: r.definition_id, businessKey: r.business_key, status: r.status, state: r.state, execMeta: (r as any).exec_meta ?? null, rev: Number(r.rev), parent };
  }

  async pendingCalls(instanceId: string): Promise<Map<string, PendingCall>> {
    const map = new Map<string, PendingCall>();
    for (const j of await this.trx('jobs').where({ process_instance_id: instanceId, type: 'retry' })) {
      map.set(j.execution_id, { executionId: j.execution_id, attempts: Number(j.attempts), state: 'retry' });
    }
    for (const i of await this.trx('incidents').where({ process_instance_id: instanceId, status: 'open' })) {
      map.set(i.execution_id, { executionId: i.execution_id, attempts: Number(i.attempts), state: 'incident' });
    }
    return map;
  }

  async consumeJob(jobId: string, lockOwner: string | null): Promise<boolean> {
    const q = this.trx('jobs').where({ id: jobId });
    return (await (lockOwner === null ? q : q.andWhere({ lock_owner: lockOwner })).delete()) === 1;
  }

  async rescheduleJob(jobId: string, lockOwner: string, dueAt: number, payload: string): Promise<boolean> {
    return (await this.trx('jobs').where({ id: jobId, lock_owner: lockOwner }).update({ due_at: dueAt, lock_owner: null, lock_expires_at: null, payload })) === 1;
  }

  async completeTask(taskId: string, patch: { completedBy: string; assignee: string; endedAt: number }): Promise<boolean> {
    return (await this.trx('user_tasks').where({ id: taskId, status: 'open' }).update({ status: 'completed', ended_at: patch.endedAt, completed_by: patch.completedBy, assignee: patch.assignee })) === 1;
  }

  async commit(input: CommitInput): Promise<void> {
    const trx = this.trx;
    const { instanceId, definition: def, businessKey, out, now, create } = input;
    // what the instance had before, so that tables it never used are not queried (a new instance has nothing)
    const had = create ? { tasks: false, subs: false, timers: false } : (input.prevMeta?.has ?? { tasks: true, subs: true, timers: true });
    const has = {
      tasks: out.waits.some((w) => w.kind === 'userTask'),
      subs: out.waits.some((w) => w.kind !== 'userTask' && Boolean(w.eventName)),
      timers: out.timers.length > 0,
      ext: out.waits.some((w) => w.kind === 'externalTask'),
    };
    const base = { processInstanceId: instanceId, processKey: def.key, processVersion: def.version, businessKey };
    const events: NewHistoryEvent[] = out.events.map((e) => ({ ...base, at: e.at, type: e.type, activityId: e.activityId ?? null, activityType: e.activityType ?? null, actor: e.actor ?? input.actor, data: e.data ?? {} }));
    const late: NewHistoryEvent[] = [];
    const ev = (type: string, activityId: string | null, data: Record<string, unknown>, who = input.actor, activityType: string | null = null) =>
      late.push({ ...base, at: now, type, activityId, activityType, actor: who, data });

    // the books before the transition (tables the instance never used are not read)
    const openIncidents: string[] = input.hasPending ? (await trx('incidents').where({ process_instance_id: instanceId, status: 'open' }).select('execution_id')).map((i: any) => i.execution_id) : [];
    const openTasks: TaskRow[] = had.tasks ? await trx('user_tasks').where({ process_instance_id: instanceId, status: 'open' }) : [];
    const timerJobs: JobRow[] = had.timers ? await trx('jobs').where({ process_instance_id: instanceId, type: 'timer' }) : [];
    const openExternal: { id: string; execution_id: string; activity_id: string; topic: string }[] = !create && input.prevMeta?.has?.ext ? await trx('external_tasks').where({ process_instance_id: instanceId, status: 'open' }).select('id', 'execution_id', 'activity_id', 'topic') : [];
    const plan = planCommit(
      {
        pending: input.pending,
        openIncidents: new Set(openIncidents),
        openTasks: openTasks.map((t) => ({ id: t.id, executionId: t.execution_id, activityId: t.activity_id, name: t.name })),
        timerJobs: timerJobs.map((j) => ({ id: j.id, executionId: j.execution_id, activityId: j.activity_id })),
        openExternalTasks: openExternal.map((t) => ({ id: t.id, executionId: t.execution_id, activityId: t.activity_id, topic: t.topic })),
      },
      out,
      create,
      now,
    );

    const ended = plan.ended;
    const instancePatch = {
      status: plan.status,
      state: ended ? null : JSON.stringify(out.state),
      variables: JSON.stringify(out.variables),
      active_activities: JSON.stringify(out.activeActivities),
      exec_meta: JSON.stringify({ ...out.meta, has } satisfies CommitMeta),
      updated_at: now,
      ended_at: ended ? now : null,
    };
    if (create) {
      const parent = input.parent ? { parent_instance_id: input.parent.instanceId, parent_execution_id: input.parent.executionId, parent_activity_id: input.parent.activityId } : {};
      try {
        await trx('process_instances').insert({ id: instanceId, definition_id: def.id, process_key: def.key, process_version: def.version, business_key: businessKey, started_by: input.actor, started_at: now, rev: 1, ...parent, ...instancePatch });
      } catch (err) {
        // a concurrent start won the business key (src/engine/business-keys.ts names the winner)
        if (businessKey !== null && isBusinessKeyConflict(err)) throw businessKeyInUse(def.key, businessKey, null);
        throw err;
      }
    } else {
      await updateInstanceGuarded(trx, instanceId, Number(input.prevRev), instancePatch);
    }

    // handler calls: retry jobs and incidents (after the instance row: they reference it, and a new instance is
    // only inserted above)
    for (const execId of new Set(plan.clearRetryJobs)) await trx('jobs').where({ process_instance_id: instanceId, type: 'retry', execution_id: execId }).delete();
    for (const j of plan.retryJobs) {
      await trx('jobs').insert({ id: randomUUID(), type: 'retry', process_instance_id: instanceId, definition_id: def.id, activity_id: j.activityId, execution_id: j.executionId, due_at: j.dueAt, payload: JSON.stringify(j.deferred ? { handler: j.handler, deferred: true } : { handler: j.handler }), attempts: j.attempts, ...(j.lastError === null ? {} : { last_error: j.lastError }), created_at: now });
    }
    for (const f of plan.openIncidents) {
      const incidentId = randomUUID();
      await trx('incidents').insert({ id: incidentId, process_instance_id: instanceId, activity_id: f.activityId, execution_id: f.executionId, handler: f.handler, error_message: f.error.slice(0, 4000), attempts: f.attempt, status: 'open', created_at: now });
      ev('incident.opened', f.activityId, { incidentId, handler: f.handler, attempts: f.attempt, error: f.error }, 'system');
    }
    for (const f of plan.updateIncidents) {
      await trx('incidents').where({ process_instance_id: instanceId, execution_id: f.executionId, status: 'open' }).update({ attempts: f.attempt, error_message: f.error.slice(0, 4000) });
    }
    for (const execId of plan.resolveIncidents) {
      await trx('incidents').where({ process_instance_id: instanceId, execution_id: execId, status: 'open' }).update({ status: 'resolved', resolved_at: now, resolved_by: input.actor });
      ev('incident.resolved', null, { executionId: execId, by: 'retry' });
    }

    // user tasks
    for (const t of plan.cancelTasks) {
      await trx('user_tasks').where({ id: t.id }).update({ status: 'cancelled', ended_at: now });
      ev('task.cancelled', t.activityId, { taskId: t.id, name: t.name }, 'system', 'bpmn:UserTask');
    }
    for (const { wait: w, mustCheck } of plan.createTasks) {
      if (mustCheck && (await trx('user_tasks').where({ process_instance_id: instanceId, execution_id: w.executionId }).first('id'))) continue;
      const d = await input.taskFor(w);
      const task: TaskRow = {
        id: randomUUID(),
        process_instance_id: instanceId,
        activity_id: w.activityId,
        execution_id: w.executionId,
        name: d.name,
        process_key: def.key,
        business_key: businessKey,
        status: 'open',
        assignee: d.assignee,
        form_key: d.formKey,
        form_schema_id: d.formSchemaId,
        due_at: d.dueAt,
        priority: d.priority,
        created_at: now,
        claimed_at: null,
        ended_at: null,
        completed_by: null,
      };
      await trx('user_tasks').insert(task);
      await writeCandidates(trx, task.id, d.candidateGroups, d.candidateUsers);
      ev('task.created', w.activityId, { taskId: task.id, name: task.name, assignee: task.assignee, candidateGroups: d.candidateGroups, candidateUsers: d.candidateUsers, formKey: task.form_key, dueAt: task.due_at === null ? null : new Date(task.due_at).toISOString(), priority: task.priority }, 'system', 'bpmn:UserTask');
    }

    // external tasks (src/persistence/external-task-store.ts)
    await writeExternalTasks(trx, plan, { instanceId, definitionId: def.id, processKey: def.key, businessKey, now }, ev);

    // message and signal subscriptions: replaced by the waits of this run
    if (had.subs) await trx('subscriptions').where({ process_instance_id: instanceId }).delete();
    for (const w of plan.subscriptions) {
      await trx('subscriptions').insert({ process_instance_id: instanceId, activity_id: w.activityId, execution_id: w.executionId, kind: w.kind === 'signal' ? 'signal' : 'message', event_name: w.eventName, correlation_key: input.correlationKeyOf(w), business_key: businessKey, created_at: now });
    }

    // timers
    const liveTimers = new Set(out.timers.map((t) => t.executionId));
    for (const j of plan.dropTimers) {
      await trx('jobs').where({ id: j.id }).delete();
      if (!liveTimers.has(j.executionId) && !ended) ev('timer.cancelled', j.activityId, { jobId: j.id, executionId: j.executionId }, 'system');
    }
    for (const t of plan.armTimers) {
      await trx('jobs').insert({ id: randomUUID(), type: 'timer', process_instance_id: instanceId, definition_id: def.id, activity_id: t.activityId, execution_id: t.executionId, due_at: t.dueAt ?? now, payload: JSON.stringify({ timerType: t.timerType, value: t.value, repeat: t.repeat ?? null }), attempts: 0, created_at: now });
    }
    if (ended && !create) {
      await trx('jobs').where({ process_instance_id: instanceId }).delete();
      await trx('subscriptions').where({ process_instance_id: instanceId }).delete();
    }

    await appendHistory(trx, instanceId, [...events, ...input.extraEvents, ...late.sort((a, b) => a.at - b.at)], create);
  }
}
