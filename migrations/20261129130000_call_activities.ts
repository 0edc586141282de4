/**
 * Call activities: a called process runs as its own process instance (its own state, tasks, jobs, history chain)
 * linked to the instance that called it, so that the caller can be resumed when it ends, cancelling the caller
 * cancels it, and its incidents show on the caller.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('process_instances', (t) => {
    t.string('parent_instance_id', 64).nullable().comment('the instance whose call activity started this one (null: started on its own)');
    t.string('parent_execution_id', 200).nullable().comment('the executionId of that call activity (one per multi-instance iteration)');
    t.string('parent_activity_id', 200).nullable().comment('the id of that call activity');
    t.index(['parent_instance_id'], 'process_instances_parent_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  const sqlite = knex.client.config.client === 'sqlite3' || knex.client.config.client === 'better-sqlite3';
  if (sqlite) {
    // knex rebuilds a SQLite table to drop a column, which the foreign keys to process_instances forbid; SQLite
    // (3.35+) drops a column in place
    await knex.raw('DROP INDEX IF EXISTS process_instances_parent_idx');
    for (const column of ['parent_activity_id', 'parent_execution_id', 'parent_instance_id']) {
      await knex.raw(`ALTER TABLE process_instances DROP COLUMN ${column}`);
    }
    return;
  }
  await knex.schema.alterTable('process_instances', (t) => {
    t.dropIndex(['parent_instance_id'], 'process_instances_parent_idx');
    t.dropColumn('parent_activity_id');
    t.dropColumn('parent_execution_id');
    t.dropColumn('parent_instance_id');
  });
}
