/**
 * Candidate groups and users of a user task live in their own rows (issue 10): task lists and visibility match
 * a name with `=` against an index on (kind, name), exact and case-sensitive on both databases, where they were
 * JSON arrays in user_tasks.candidate_groups / candidate_users (matched with LIKE, later json_each). Existing
 * tasks are moved into rows, in their order, and the JSON columns are dropped; down puts them back.
 */
import type { Knex } from 'knex';

const BATCH = 500;

const isSqlite = (knex: Knex) => knex.client.config.client === 'sqlite3' || knex.client.config.client === 'better-sqlite3';

function names(text: unknown, where: string): string[] {
  if (text === null || text === undefined || text === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(String(text));
  } catch (err) {
    throw new Error(`${where} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(v)) throw new Error(`${where} is not a JSON array`);
  return v.map(String);
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('task_candidates', (t) => {
    t.comment('Who a user task is offered to: one row per candidate group or user, in the order the diagram lists them');
    t.string('task_id', 64).notNullable().references('user_tasks.id');
    t.string('kind', 8).notNullable().comment('group | user');
    t.integer('position').notNullable().comment('0-based place in the task\'s list of candidate groups (or users)');
    t.text('name').notNullable().comment('the group or user name, compared with = (exact, case-sensitive)');
    t.primary(['task_id', 'kind', 'position']);
    t.index(['kind', 'name'], 'task_candidates_kind_name_idx');
  });

  // the existing tasks, in batches by id
  let after = '';
  for (;;) {
    const rows: { id: string; candidate_groups: unknown; candidate_users: unknown }[] = await knex('user_tasks')
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .select('id', 'candidate_groups', 'candidate_users');
    if (!rows.length) break;
    const out: { task_id: string; kind: string; position: number; name: string }[] = [];
    for (const r of rows) {
      names(r.candidate_groups, `user_tasks ${r.id} candidate_groups`).forEach((name, position) => out.push({ task_id: r.id, kind: 'group', position, name }));
      names(r.candidate_users, `user_tasks ${r.id} candidate_users`).forEach((name, position) => out.push({ task_id: r.id, kind: 'user', position, name }));
    }
    for (let i = 0; i < out.length; i += 200) await knex('task_candidates').insert(out.slice(i, i + 200));
    after = rows[rows.length - 1].id;
  }

  if (isSqlite(knex)) {
    // knex rebuilds a SQLite table to drop a column, which the foreign keys to user_tasks forbid; SQLite (3.35+)
    // drops a column in place
    await knex.raw('ALTER TABLE user_tasks DROP COLUMN candidate_groups');
    await knex.raw('ALTER TABLE user_tasks DROP COLUMN candidate_users');
  } else {
    await knex.schema.alterTable('user_tasks', (t) => {
      t.dropColumn('candidate_groups');
      t.dropColumn('candidate_users');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('user_tasks', (t) => {
    t.text('candidate_groups').notNullable().defaultTo('[]').comment('JSON array');
    t.text('candidate_users').notNullable().defaultTo('[]').comment('JSON array');
  });
  // back into the JSON columns, in batches of tasks
  let after = '';
  for (;;) {
    const ids: string[] = (await knex('user_tasks').where('id', '>', after).orderBy('id').limit(BATCH).select('id')).map((r: { id: string }) => r.id);
    if (!ids.length) break;
    const rows: { task_id: string; kind: 'group' | 'user'; name: string }[] = await knex('task_candidates').whereIn('task_id', ids).orderBy(['task_id', 'kind', 'position']).select('task_id', 'kind', 'name');
    const byTask = new Map<string, { group: string[]; user: string[] }>();
    for (const r of rows) {
      const e = byTask.get(r.task_id) ?? { group: [], user: [] };
      e[r.kind].push(r.name);
      byTask.set(r.task_id, e);
    }
    for (const [id, e] of byTask) {
      await knex('user_tasks').where({ id }).update({ candidate_groups: JSON.stringify(e.group), candidate_users: JSON.stringify(e.user) });
    }
    after = ids[ids.length - 1];
  }
  await knex.schema.dropTableIfExists('task_candidates');
}
