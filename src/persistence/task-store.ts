/**
 * The Knex TaskStore and FormStore (src/engine/ports.ts): the task list with its filters, and the writes to
 * user_tasks outside a transition (claim, unclaim, cancel with the instance).
 *
 * Candidate groups and users are JSON arrays of names in text columns. A filter on them matches one array
 * element exactly (case-sensitive, no wildcards): SQLite reads the elements with json_each, PostgreSQL with
 * jsonb_array_elements_text; a name such as `adjuster_`, `%` or `ADJUSTERS` never matches `adjusters`.
 */
import type { Knex } from 'knex';
import type { FormStore, StoreTx, StoredTask, TaskAudience, TaskQuery, TaskStore } from '../engine/ports.ts';
import type { Page, UserTask } from '../engine/model.ts';
import type { Dialect } from './dialect.ts';
import { knexOf, knexTx } from './knex-tx.ts';
import { paged, toTask, type TaskRow } from './store.ts';

type Column = 'candidate_groups' | 'candidate_users';

/** SQL (with its bindings) true when the JSON array in `column` has an element equal to one of `names`. */
function hasElement(dialect: Dialect, column: Column, names: string[]): [string, string[]] {
  const marks = names.map(() => '?').join(', ');
  const sql =
    dialect === 'postgres'
      ? `exists (select 1 from jsonb_array_elements_text(user_tasks.${column}::jsonb) as e(name) where e.name in (${marks}))`
      : `exists (select 1 from json_each(user_tasks.${column}) as e where e.value in (${marks}))`;
  return [sql, names];
}

function toStoredTask(r: TaskRow): StoredTask {
  return { ...toTask(r), executionId: r.execution_id, formSchemaId: r.form_schema_id === null ? null : Number(r.form_schema_id) };
}

export class KnexTaskStore implements TaskStore {
  constructor(private readonly db: Knex, private readonly dialect: Dialect) {}

  list(q: TaskQuery, audience: TaskAudience | null): Promise<Page<UserTask>> {
    let query = this.db('user_tasks').where({ status: q.status ?? 'open' });
    if (q.assignee) query = query.where({ assignee: q.assignee });
    if (q.processKey) query = query.where({ process_key: q.processKey });
    if (q.businessKey) query = query.where({ business_key: q.businessKey });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.dueBefore) query = query.where('due_at', '<', Date.parse(q.dueBefore));
    if (q.dueAfter) query = query.where('due_at', '>', Date.parse(q.dueAfter));
    if (q.candidateGroup !== undefined) query = query.whereRaw(...hasElement(this.dialect, 'candidate_groups', [q.candidateGroup]));
    if (q.candidateUser !== undefined) query = query.whereRaw(...hasElement(this.dialect, 'candidate_users', [q.candidateUser]));
    if (audience) {
      // assigned to the user, offered to the user, or offered to one of the user's groups
      query = query.where((w) => {
        w.where('assignee', audience.user).orWhereRaw(...hasElement(this.dialect, 'candidate_users', [audience.user]));
        if (audience.groups.length) w.orWhereRaw(...hasElement(this.dialect, 'candidate_groups', audience.groups));
      });
    }
    const col = q.sort === 'due' ? 'due_at' : q.sort === 'priority' ? 'priority' : 'created_at';
    const dir = q.order ?? (q.sort === 'priority' ? 'desc' : 'asc');
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toTask, [[col, dir], ['id', 'asc']]);
  }

  async get(id: string, tx?: StoreTx): Promise<StoredTask | null> {
    const r: TaskRow | undefined = await knexOf(this.db, tx)('user_tasks').where({ id }).first();
    return r ? toStoredTask(r) : null;
  }

  async listOpen(instanceId: string, tx?: StoreTx): Promise<UserTask[]> {
    const rows: TaskRow[] = await knexOf(this.db, tx)('user_tasks').where({ process_instance_id: instanceId, status: 'open' }).orderBy('created_at').orderBy('id');
    return rows.map(toTask);
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
    return rows.map(toTask);
  }
}

export class KnexFormStore implements FormStore {
  constructor(private readonly db: Knex) {}

  async schemaText(id: number): Promise<string | null> {
    const r = await this.db('form_schemas').where({ id }).first('schema');
    return r ? String(r.schema) : null;
  }
}
