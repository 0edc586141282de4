/**
 * A business key is unique among the active top-level instances of a process key (issue 10,
 * src/engine/business-keys.ts): a partial unique index, so that two concurrent starts cannot both win. Active is
 * status active or incident; instances started by a call activity (parent_instance_id set) are not counted.
 * SQLite (3.8+) and PostgreSQL both support the partial index with the same statement.
 *
 * A database that already holds two active instances of one process key with one business key cannot get the
 * index: the migration stops and names them; cancel all but one (with the version before this one), then start.
 */
import type { Knex } from 'knex';

const INDEX = 'process_instances_active_business_key_uq';
const ACTIVE = "status IN ('active', 'incident') AND business_key IS NOT NULL AND parent_instance_id IS NULL";

export async function up(knex: Knex): Promise<void> {
  const duplicates = (await knex('process_instances')
    .whereRaw(ACTIVE)
    .groupBy('process_key', 'business_key')
    .havingRaw('count(*) > 1')
    .select('process_key', 'business_key')
    .limit(20)) as { process_key: string; business_key: string }[];
  if (duplicates.length) {
    const list: string[] = [];
    for (const d of duplicates) {
      const ids = (await knex('process_instances').where({ process_key: d.process_key, business_key: d.business_key }).whereRaw(ACTIVE).orderBy('started_at').select('id')).map((r: { id: string }) => r.id);
      list.push(`${d.process_key} "${d.business_key}": ${ids.join(', ')}`);
    }
    throw new Error(
      `a business key is now unique among the active instances of a process key, but these active instances share one: ${list.join('; ')}. ` +
        'Cancel all but one of each (POST /api/process-instances/<id>/cancel with the previous version of insureflow), then start again.',
    );
  }
  await knex.raw(`CREATE UNIQUE INDEX ${INDEX} ON process_instances (process_key, business_key) WHERE ${ACTIVE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX IF EXISTS ${INDEX}`);
}
