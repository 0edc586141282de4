/**
 * User tasks: who may work a task, the task list with its filters, reading a task with its form schema and
 * the instance variables, claim, unclaim, and completion (form validated, then one transition).
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { checkForm, formValidator } from './deployment.ts';
import type { Variables } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { appendHistory } from '../persistence/history.ts';
import { paged, parseJson, toTask, type Page, type TaskRow, type Trx, type UserTask } from '../persistence/store.ts';
import type { Actor } from '../persistence/users.ts';

export interface TaskQuery {
  candidateGroup?: string;
  candidateUser?: string;
  assignee?: string;
  processKey?: string;
  businessKey?: string;
  processInstanceId?: string;
  status?: 'open' | 'completed' | 'cancelled';
  dueBefore?: string;
  dueAfter?: string;
  sort?: 'created' | 'due' | 'priority';
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

export function isAdmin(actor: Actor) {
  return actor.roles.includes('admin');
}

/** Can this actor see/act on this task? Admins always; ops when assigned or candidate. */
export function canWork(actor: Actor, t: { assignee: string | null; candidateGroups: string[]; candidateUsers: string[] }): boolean {
  if (isAdmin(actor)) return true;
  if (!actor.roles.includes('ops')) return false;
  if (t.assignee === actor.name) return true;
  if (t.candidateUsers.includes(actor.name)) return true;
  return t.candidateGroups.some((g) => actor.groups.includes(g));
}

export async function listTasks(ctx: EngineContext, q: TaskQuery, actor: Actor): Promise<Page<UserTask>> {
  let query = ctx.db('user_tasks');
  query = query.where({ status: q.status ?? 'open' });
  if (q.assignee) query = query.where({ assignee: q.assignee });
  if (q.processKey) query = query.where({ process_key: q.processKey });
  if (q.businessKey) query = query.where({ business_key: q.businessKey });
  if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
  if (q.dueBefore) query = query.where('due_at', '<', Date.parse(q.dueBefore));
  if (q.dueAfter) query = query.where('due_at', '>', Date.parse(q.dueAfter));
  if (q.candidateGroup) query = query.where('candidate_groups', 'like', `%${JSON.stringify(q.candidateGroup)}%`);
  if (q.candidateUser) query = query.where('candidate_users', 'like', `%${JSON.stringify(q.candidateUser)}%`);
  if (!isAdmin(actor)) {
    // ops see tasks assigned to them, or offered to them or to one of their groups
    query = query.where((w) => {
      w.where('assignee', actor.name).orWhere('candidate_users', 'like', `%${JSON.stringify(actor.name)}%`);
      for (const g of actor.groups) w.orWhere('candidate_groups', 'like', `%${JSON.stringify(g)}%`);
    });
    if (!actor.roles.includes('ops')) query = query.whereRaw('1 = 0');
  }
  const col = q.sort === 'due' ? 'due_at' : q.sort === 'priority' ? 'priority' : 'created_at';
  const dir = q.order ?? (q.sort === 'priority' ? 'desc' : 'asc');
  return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toTask, [[col, dir], ['id', 'asc']]);
}

export async function taskRow(ctx: EngineContext, id: string): Promise<TaskRow> {
  const r: TaskRow | undefined = await ctx.db('user_tasks').where({ id }).first();
  if (!r) throw new InsureflowError('TASK_NOT_FOUND', `task ${id} was not found`);
  return r;
}

export async function visibleTask(ctx: EngineContext, id: string, actor: Actor): Promise<TaskRow> {
  const r = await taskRow(ctx, id);
  if (!canWork(actor, toTask(r))) throw new InsureflowError('FORBIDDEN', `task ${id} is not assigned or offered to ${actor.name}`);
  return r;
}

export async function getTask(ctx: EngineContext, id: string, actor: Actor) {
  const r = await visibleTask(ctx, id, actor);
  const schemaRow = r.form_schema_id ? await ctx.db('form_schemas').where({ id: r.form_schema_id }).first('schema') : null;
  const inst = await ctx.db('process_instances').where({ id: r.process_instance_id }).first('variables');
  return {
    ...toTask(r),
    formSchema: schemaRow ? JSON.parse(schemaRow.schema) : null,
    variables: inst ? parseJson<Variables>(inst.variables, `process_instances ${r.process_instance_id} variables`, {}) : {},
  };
}

export async function claimTask(ctx: EngineContext, id: string, actor: Actor) {
  const r = await visibleTask(ctx, id, actor);
  if (r.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${r.status}`);
  if (r.assignee && r.assignee !== actor.name) throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} is already claimed by ${r.assignee}`);
  if (r.assignee === actor.name) return toTask(r);
  const now = ctx.clock.now();
  await ctx.db.transaction(async (trx) => {
    const n = await trx('user_tasks').where({ id, status: 'open' }).whereNull('assignee').update({ assignee: actor.name, claimed_at: now });
    if (n !== 1) throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} was claimed by someone else`);
    await appendTaskEvent(ctx, trx, r, 'task.claimed', actor, now, { taskId: id, assignee: actor.name });
  });
  return toTask(await taskRow(ctx, id));
}

export async function unclaimTask(ctx: EngineContext, id: string, actor: Actor) {
  const r = await visibleTask(ctx, id, actor);
  if (r.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${r.status}`);
  if (!r.assignee) throw new InsureflowError('TASK_NOT_CLAIMED', `task ${id} is not claimed`);
  if (r.assignee !== actor.name && !isAdmin(actor)) throw new InsureflowError('FORBIDDEN', `task ${id} is claimed by ${r.assignee}`);
  const now = ctx.clock.now();
  await ctx.db.transaction(async (trx) => {
    const n = await trx('user_tasks').where({ id, status: 'open', assignee: r.assignee }).update({ assignee: null, claimed_at: null });
    if (n !== 1) throw new InsureflowError('CONCURRENT_MODIFICATION', `task ${id} changed meanwhile`);
    await appendTaskEvent(ctx, trx, r, 'task.unclaimed', actor, now, { taskId: id, previousAssignee: r.assignee });
  });
  return toTask(await taskRow(ctx, id));
}

export async function appendTaskEvent(ctx: EngineContext, trx: Trx, r: TaskRow, type: string, actor: Actor, now: number, data: Record<string, unknown>) {
  const inst = await trx('process_instances').where({ id: r.process_instance_id }).first('process_version');
  await appendHistory(trx, r.process_instance_id, [
    { processInstanceId: r.process_instance_id, processKey: r.process_key, processVersion: inst ? Number(inst.process_version) : null, businessKey: r.business_key, at: now, type, activityId: r.activity_id, activityType: 'bpmn:UserTask', actor: actor.name, data },
  ]);
}

export async function completeTask(ctx: EngineContext, id: string, variables: Variables, actor: Actor) {
  const r = await taskRow(ctx, id);
  return withLock(ctx, r.process_instance_id, async () => {
    // read again under the instance lock: the task may have been completed while we waited
    const fresh = await taskRow(ctx, id);
    if (!canWork(actor, toTask(fresh))) throw new InsureflowError('FORBIDDEN', `task ${id} is not assigned or offered to ${actor.name}`);
    if (fresh.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${fresh.status}`);
    if (fresh.assignee && fresh.assignee !== actor.name && !isAdmin(actor)) {
      throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} is claimed by ${fresh.assignee}`);
    }
    if (fresh.form_schema_id) {
      const validate = await formValidator(ctx, Number(fresh.form_schema_id));
      checkForm(ctx, validate, variables, `the form of task "${fresh.name ?? fresh.activity_id}"`);
    }
    const now = ctx.clock.now();
    const completed = { status: 'completed', ended_at: now, completed_by: actor.name, assignee: fresh.assignee ?? actor.name };
    const out = await transition(ctx, 
      fresh.process_instance_id,
      { kind: 'signal', executionId: fresh.execution_id, variables, event: 'task.completed', data: { taskId: id, form: variables } },
      actor,
      undefined,
      async (tx) => {
        if (!(await tx.completeTask(id, { completedBy: completed.completed_by, assignee: completed.assignee, endedAt: now }))) throw new InsureflowError('TASK_NOT_OPEN', `task ${id} was completed meanwhile`);
      },
    );
    if (out.actionMissed) throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is no longer waiting in its process`);
    await continueDeferred(ctx, fresh.process_instance_id, out);
    return toTask({ ...fresh, ...completed });
  });
}


