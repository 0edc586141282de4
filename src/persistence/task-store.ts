/**
 * The Knex TaskStore and FormStore (src/engine/ports.ts): the task list with its filters, and the writes to
 * user_tasks outside a transition (claim, unclaim, cancel with the instance).
 *
 * Candidate groups and users are rows of task_candidates (task_id, kind 'group' | 'user', position, name),
 * written with the task (writeCandidates, called by the transition store). A filter on them is an equality on
 * (kind, name) through its index: exact and case-sensitive on both databases, no LIKE, no JSON functions; a name
 * such as `adjuster_`, `%`, `ADJUSTERS` or `adjusters ` never matches `adjusters`. A task read from the store
 * gets its candidates, in the diagram's order, from one extra query per page of tasks.
 */
import type { Knex } from 'knex';
import type { FormStore, StoreTx, StoredTask, TaskAudience, TaskQuery, TaskStore } from '../engine/ports.ts';
import type { Page, UserTask } from '../engine/model.ts';
import { knexOf, knexTx } from './knex-tx.ts';
import { paged, toTask, type TaskCandidates, type TaskRow, type Trx } from './store.ts';

type Kind = 'group' | 'user';

/** The ids of the tasks offered to one of `names` as a candidate of `kind` (a subquery). */
function offeredTo(db: Knex, kind: Kind, names: string[]): Knex.QueryBuilder {
  return db('task_candidates').select('task_id').where('kind', kind).whereIn('name', names);
}

/** Writes the candidate rows of a new task (in the transaction that inserts the task row). */
export async function writeCandidates(trx: Trx, taskId: string, groups: string[], users: string[]): Promise<void> {
  const rows = [
    ...groups.map((name, position) => ({ task_id: taskId, kind: 'group', position, name })),
    ...users.map((name, position) => ({ task_id: taskId, kind: 'user', position, name })),
  ];
  for (let i = 0; i < rows.length; i += 200) await trx('task_candidates').insert(rows.slice(i, i + 200));
}

/** The candidates of tasks by task id, in their order (a task without any is absent from the map). */
export async function readCandidates(db: Trx, taskIds: string[]): Promise<Map<string, TaskCandidates>> {
  const out = new Map<string, TaskCandidates>();
  for (let i = 0; i < taskIds.length; i += 500) {
    const rows: { task_id: string; kind: Kind; name: string }[] = await db('task_candidates')
      .whereIn('task_id', taskIds.slice(i, i + 500))
      .orderBy([{ column: 'task_id' }, { column: 'kind' }, { column: 'position' }])
      .select('task_id', 'kind', 'name');
    for (const r of rows) {
      let c = out.get(r.task_id);
      if (!c) out.set(r.task_id, (c = { groups: [], users: [] }));
      (r.kind === 'group' ? c.groups : c.users).push(r.name);
    }
  }
  return out;
}

async function withCandidates(db: Trx, rows: TaskRow[]): Promise<UserTask[]> {
  const candidates = rows.length ? await readCandidates(db, rows.map((r) => r.id)) : new Map<string, TaskCandidates>();
  return rows.map((r) => toTask(r, candidates.get(r.id)));
}

export class KnexTaskStore implements TaskStore {
  constructor(private readonly db: Knex) {}

  async list(q: TaskQuery, audience: TaskAudience | null): Promise<Page<UserTask>> {
    let query = this.db('user_tasks').where({ status: q.status ?? 'open' });
    if (q.assignee) query = query.where({ assignee: q.assignee });
    if (q.processKey) query = query.where({ process_key: q.processKey });
    if (q.businessKey) query = query.where({ business_key: q.businessKey });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.dueBefore) query = query.where('due_at', '<', Date.parse(q.dueBefore));
    if (q.dueAfter) query = query.where('due_at', '>', Date.parse(q.dueAfter));
    if (q.candidateGroup !== undefined) query = query.whereIn('id', offeredTo(this.db, 'group', [q.candidateGroup]));
    if (q.candidateUser !== undefined) query = query.whereIn('id', offeredTo(this.db, 'user', [q.candidateUser]));
    if (audience) {
      // assigned to the user, offered to the user, or offered to one of the user's groups
      query = query.where((w) => {
        w.where('assignee', audience.user).orWhereIn('id', offeredTo(this.db, 'user', [audience.user]));
        if (audience.groups.length) w.orWhereIn('id', offeredTo(this.db, 'group', audience.groups));
      });
    }
    const col = q.sort === 'due' ? 'due_at' : q.sort === 'priority' ? 'priority' : 'created_at';
    const dir = q.order ?? (q.sort === 'priority' ? 'desc' : 'asc');
    const page = await paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, (r: TaskRow) => r, [[col, dir], ['id', 'asc']]);
    return { ...page, items: await withCandidates(this.db, page.items) };
  }

  async get(id: string, tx?: StoreTx): Promise<StoredTask | null> {
    const db = knexOf(this.db, tx);
    const r: TaskRow | undefined = await db('user_tasks').where({ id }).first();
    if (!r) return null;
    const [task] = await withCandidates(db, [r]);
    return { ...task, executionId: r.execution_id, formSchemaId: r.form_schema_id === null ? null : Number(r.form_schema_id) };
  }

  async listOpen(instanceId: string, tx?: StoreTx): Promise<UserTask[]> {
    const db = knexOf(this.db, tx);
    const rows: TaskRow[] = await db('user_tasks').where({ process_instance_id: instanceId, status: 'open' }).orderBy('created_at').orderBy('id');
    return withCandidates(db, rows);
  }

  async claim(tx: StoreTx, id: string, assignee: string, at: number): Promise<boolean> {
    const n = await knexTx(tx)('user_tasks').where({ id, status: 'open' }).whereNull('assignee').update({ assignee, claimed_at: at });
    return n === 1;
  }

  async unclaim(tx: StoreTx, id: string, assignee: string): Promise<boolean> {
    const n = await knexTx(tx)('user_tasks').where({ id, status: 'open', assignee }).update({ assignee: null, claimed_at: null });
    return n === 1;
  }

  async cancelOpen(tx: StoreTx, instanceId: string, at: number): Promise<UserTask[]> {
    const trx = knexTx(tx);
    const rows: TaskRow[] = await trx('user_tasks').where({ process_instance_id: instanceId, status: 'open' }).orderBy('created_at').orderBy('id');
    if (rows.length) await trx('user_tasks').where({ process_instance_id: instanceId, status: 'open' }).update({ status: 'cancelled', ended_at: at });
    return withCandidates(trx, rows);
  }
}

export class KnexFormStore implements FormStore {
  constructor(private readonly db: Knex) {}

  async schemaText(id: number): Promise<string | null> {
    const r = await this.db('form_schemas').where({ id }).first('schema');
    return r ? String(r.schema) : null;
  }
}
