/**
 * User tasks: who may work a task, the task list with its filters, reading a task with its form schema and
 * the instance variables, claim, unclaim, and completion (form validated, then one transition).
 */
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { checkForm, compiled, deploymentStore, formValidator } from './deployment.ts';
import { compileFormJs, formReference, isFormJs } from './form-js.ts';
import { validateFormData, type FormDataField } from './form-data.ts';
import type { Actor, Page, UserTask } from './model.ts';
import type { StoreTx, StoredTask, TaskQuery } from './ports.ts';
import type { Variables } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { assertTextValues } from './text-values.ts';
import { redactorFor } from './authorization.ts';

export type { TaskQuery };

/** A task with its form's JSON Schema (null without a form) and its instance's variables. */
export interface TaskDetail extends UserTask {
  /** the JSON Schema object of a JSON Schema form (typed as before the split: callers read into it freely); null otherwise */
  formSchema: any;
  /** the task's form, whatever its kind; null without a form */
  form: TaskForm | null;
  variables: Variables;
}

/**
 * The form of a task as a client renders it:
 * - `form-js`: a Camunda form (`.form`) as deployed, for @bpmn-io/form-js-viewer; `dynamicOptions` when some
 *   options come from variables or expressions (the server then accepts any value of the right type for them);
 * - `json-schema`: a JSON Schema form (also in `formSchema`);
 * - `camunda-form-data`: the fields of a Camunda 7 `camunda:formData` (./form-data.ts);
 * - `external`: a form key outside the deployment (`app:`, `embedded:app:`, `camunda-forms:app:`, a URL), handed
 *   over as written: the server does not validate the completion (`validated: false`).
 */
export type TaskForm =
  | { format: 'form-js'; key: string; validated: true; dynamicOptions: boolean; schema: unknown }
  | { format: 'json-schema'; key: string; validated: true; schema: unknown }
  | { format: 'camunda-form-data'; key: null; validated: true; fields: FormDataField[] }
  | { format: 'external'; key: string; validated: false };

/** The camunda:formData fields of a task's user task, or null (the definition is compiled once and cached). */
async function formDataFields(ctx: EngineContext, t: StoredTask): Promise<FormDataField[] | null> {
  const inst = await ctx.stores.instances.header(t.processInstanceId);
  if (!inst) return null;
  let id: string | null = null;
  for (const m of ctx.metaCache.values()) if (m.key === inst.processKey && m.version === inst.processVersion) id = m.id;
  id ??= (await deploymentStore(ctx).definitionByKey(inst.processKey, inst.processVersion))?.id ?? null;
  if (!id) return null;
  return (await compiled(ctx, id)).activities.get(t.activityId)?.userTask?.formFields ?? null;
}

function taskForm(t: StoredTask, schemaText: string | null, fields: FormDataField[] | null): TaskForm | null {
  if (schemaText !== null) {
    const schema = JSON.parse(schemaText);
    if (isFormJs(schema)) return { format: 'form-js', key: t.formKey ?? '', validated: true, dynamicOptions: compileFormJs(schema).dynamicOptions, schema };
    return { format: 'json-schema', key: t.formKey ?? '', validated: true, schema };
  }
  if (t.formKey && formReference(t.formKey).kind === 'external') return { format: 'external', key: t.formKey, validated: false };
  if (fields) return { format: 'camunda-form-data', key: null, validated: true, fields };
  return null;
}

/**
 * A domain check before a task is claimed or completed (EngineCore.registerTaskGuard): throws an InsureflowError
 * (e.g. SEPARATION_OF_DUTIES, 403) to refuse the actor; admins are checked too. `variables`: what a completion
 * submits (empty for a claim).
 */
export type TaskGuard = (task: UserTask, actor: Actor, action: 'claim' | 'complete', variables: Variables) => Promise<void> | void;

async function guard(ctx: EngineContext, t: StoredTask, actor: Actor, action: 'claim' | 'complete', variables: Variables = {}): Promise<void> {
  const check = ctx.taskGuards.get(`${t.processKey}/${t.activityId}`);
  if (check) await check(publicTask(t), actor, action, variables);
}

export function isAdmin(actor: Actor) {
  return actor.roles.includes('admin');
}

/** Can this actor see/act on this task? Admins always; ops when assigned or candidate (exact names). */
export function canWork(actor: Actor, t: { assignee: string | null; candidateGroups: string[]; candidateUsers: string[] }): boolean {
  if (isAdmin(actor)) return true;
  if (!actor.roles.includes('ops')) return false;
  if (t.assignee === actor.name) return true;
  if (t.candidateUsers.includes(actor.name)) return true;
  return t.candidateGroups.some((g) => actor.groups.includes(g));
}

/** The public view of a stored task. */
function publicTask(t: StoredTask): UserTask {
  const { executionId: _e, formSchemaId: _f, ...task } = t;
  return task;
}

/**
 * Tasks matching q that the actor may see: admins all; ops those assigned or offered to them or to one of
 * their groups (the same rule as canWork); other roles none.
 */
export async function listTasks(ctx: EngineContext, q: TaskQuery, actor: Actor): Promise<Page<UserTask>> {
  if (!isAdmin(actor) && !actor.roles.includes('ops')) return { items: [], total: 0, limit: q.limit ?? 50, offset: q.offset ?? 0 };
  return ctx.stores.tasks.list(q, isAdmin(actor) ? null : { user: actor.name, groups: actor.groups });
}

/** @throws InsureflowError TASK_NOT_FOUND */
async function storedTask(ctx: EngineContext, id: string): Promise<StoredTask> {
  const t = await ctx.stores.tasks.get(id);
  if (!t) throw new InsureflowError('TASK_NOT_FOUND', `task ${id} was not found`);
  return t;
}

/** @throws InsureflowError TASK_NOT_FOUND, FORBIDDEN */
async function visibleTask(ctx: EngineContext, id: string, actor: Actor): Promise<StoredTask> {
  const t = await storedTask(ctx, id);
  if (!canWork(actor, t)) throw new InsureflowError('FORBIDDEN', `task ${id} is not assigned or offered to ${actor.name}`);
  return t;
}

/** @throws InsureflowError TASK_NOT_FOUND, FORBIDDEN */
export async function getTask(ctx: EngineContext, id: string, actor: Actor): Promise<TaskDetail> {
  const t = await visibleTask(ctx, id, actor);
  const [schema, variables, fields] = await Promise.all([
    t.formSchemaId !== null ? ctx.stores.forms.schemaText(t.formSchemaId) : Promise.resolve(null),
    ctx.stores.instances.variables(t.processInstanceId),
    t.formSchemaId === null && !t.formKey ? formDataFields(ctx, t) : Promise.resolve(null),
  ]);
  // sensitive variables not the actor's are redacted (./authorization.ts)
  const visible = (await redactorFor(ctx, actor)).variables(t.processKey, variables ?? {});
  const form = taskForm(t, schema, fields);
  return { ...publicTask(t), formSchema: form?.format === 'json-schema' ? form.schema : null, form, variables: visible };
}

/** @throws InsureflowError TASK_NOT_FOUND, FORBIDDEN, TASK_NOT_OPEN, TASK_ALREADY_CLAIMED */
export async function claimTask(ctx: EngineContext, id: string, actor: Actor): Promise<UserTask> {
  const t = await visibleTask(ctx, id, actor);
  if (t.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${t.status}`);
  if (t.assignee && t.assignee !== actor.name) throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} is already claimed by ${t.assignee}`);
  if (t.assignee === actor.name) return publicTask(t);
  await guard(ctx, t, actor, 'claim');
  const now = ctx.clock.now();
  await ctx.stores.transactions.run(async (tx) => {
    if (!(await ctx.stores.tasks.claim(tx, id, actor.name, now))) throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} was claimed by someone else`);
    await appendTaskEvent(ctx, tx, t, 'task.claimed', actor, now, { taskId: id, assignee: actor.name });
  });
  return publicTask(await storedTask(ctx, id));
}

/** @throws InsureflowError TASK_NOT_FOUND, FORBIDDEN, TASK_NOT_OPEN, TASK_NOT_CLAIMED, CONCURRENT_MODIFICATION */
export async function unclaimTask(ctx: EngineContext, id: string, actor: Actor): Promise<UserTask> {
  const t = await visibleTask(ctx, id, actor);
  if (t.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${t.status}`);
  if (!t.assignee) throw new InsureflowError('TASK_NOT_CLAIMED', `task ${id} is not claimed`);
  if (t.assignee !== actor.name && !isAdmin(actor)) throw new InsureflowError('FORBIDDEN', `task ${id} is claimed by ${t.assignee}`);
  const assignee = t.assignee;
  const now = ctx.clock.now();
  await ctx.stores.transactions.run(async (tx) => {
    if (!(await ctx.stores.tasks.unclaim(tx, id, assignee))) throw new InsureflowError('CONCURRENT_MODIFICATION', `task ${id} changed meanwhile`);
    await appendTaskEvent(ctx, tx, t, 'task.unclaimed', actor, now, { taskId: id, previousAssignee: assignee });
  });
  return publicTask(await storedTask(ctx, id));
}

async function appendTaskEvent(ctx: EngineContext, tx: StoreTx, t: StoredTask, type: string, actor: Actor, now: number, data: Record<string, unknown>): Promise<void> {
  const inst = await ctx.stores.instances.header(t.processInstanceId, tx);
  await ctx.stores.history.append(tx, t.processInstanceId, [
    { processInstanceId: t.processInstanceId, processKey: t.processKey, processVersion: inst ? inst.processVersion : null, businessKey: t.businessKey, at: now, type, activityId: t.activityId, activityType: 'bpmn:UserTask', actor: actor.name, data },
  ]);
}

/**
 * Completes a task with its form data: validated against the task's form schema, then one transition that
 * marks the task completed and moves the instance on, committed together.
 * @throws InsureflowError TASK_NOT_FOUND, FORBIDDEN, TASK_NOT_OPEN, TASK_ALREADY_CLAIMED, VALIDATION_FAILED, a task guard's error
 */
export async function completeTask(ctx: EngineContext, id: string, variables: Variables, actor: Actor): Promise<UserTask> {
  assertTextValues('complete', { id, variables });
  const first = await storedTask(ctx, id);
  return withLock(ctx, first.processInstanceId, async () => {
    // read again under the instance lock: the task may have been completed while we waited
    const fresh = await storedTask(ctx, id);
    if (!canWork(actor, fresh)) throw new InsureflowError('FORBIDDEN', `task ${id} is not assigned or offered to ${actor.name}`);
    if (fresh.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${fresh.status}`);
    if (fresh.assignee && fresh.assignee !== actor.name && !isAdmin(actor)) {
      throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} is claimed by ${fresh.assignee}`);
    }
    await guard(ctx, fresh, actor, 'complete', variables);
    if (fresh.formSchemaId !== null) {
      const validate = await formValidator(ctx, fresh.formSchemaId);
      checkForm(ctx, validate, variables, `the form of task "${fresh.name ?? fresh.activityId}"`);
    } else if (!fresh.formKey) {
      // Camunda 7 camunda:formData: the same per-field 400 (./form-data.ts)
      const fields = await formDataFields(ctx, fresh);
      const details = fields ? validateFormData(fields, variables) : [];
      if (details.length) throw new InsureflowError('VALIDATION_FAILED', `the form of task "${fresh.name ?? fresh.activityId}" is invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
    }
    const now = ctx.clock.now();
    const assignee = fresh.assignee ?? actor.name;
    const out = await transition(
      ctx,
      fresh.processInstanceId,
      { kind: 'signal', executionId: fresh.executionId, variables, event: 'task.completed', data: { taskId: id, form: variables } },
      actor,
      undefined,
      async (tx) => {
        if (!(await tx.completeTask(id, { completedBy: actor.name, assignee, endedAt: now }))) throw new InsureflowError('TASK_NOT_OPEN', `task ${id} was completed meanwhile`);
      },
    );
    if (out.actionMissed) throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is no longer waiting in its process`);
    await continueDeferred(ctx, fresh.processInstanceId, out);
    return { ...publicTask(fresh), status: 'completed', assignee, endedAt: new Date(now).toISOString(), completedBy: actor.name };
  });
}
