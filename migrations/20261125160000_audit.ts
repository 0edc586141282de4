/**
 * Audit: the global chain head and the indexes of cross-instance history queries.
 *
 * A history chain (one per instance, plus "deployments" and "users") proves that its events were not edited,
 * inserted or reordered, but not that the chain still exists or still has its tail. history_digests rolls the
 * head (last seq and hash) of every chain into a chained digest, taken daily and at shutdown; the heads that
 * changed since the previous digest are kept in history_digest_heads, so verification knows which chains must
 * exist and how long they were.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('history_digests', (t) => {
    t.comment('Chained digests of the history chain heads: digest = sha256(prev_digest + canonical JSON of the row content)');
    t.increments('id').primary();
    t.integer('seq').notNullable().unique().comment('1, 2, ... (one chain of digests)');
    t.string('day', 10).notNullable().comment('UTC day (YYYY-MM-DD) of created_at');
    t.bigInteger('created_at').notNullable().comment('epoch ms');
    t.bigInteger('max_event_id').notNullable().comment('highest history_events.id when the heads were read');
    t.integer('changed_chains').notNullable().comment('chains whose head changed since the previous digest (rows in history_digest_heads)');
    t.integer('total_chains').notNullable().comment('chains known to this digest');
    t.bigInteger('total_events').notNullable().comment('sum of the head seq of every known chain');
    t.string('heads_root', 64).notNullable().comment('sha256 over the sorted [chain_id, seq, hash] of the changed heads');
    t.string('prev_digest', 64).notNullable().comment('digest of the previous row (64 zeros for the first)');
    t.string('digest', 64).notNullable().unique().comment('publish this value outside the database to anchor the history');
  });

  await knex.schema.createTable('history_digest_heads', (t) => {
    t.comment('Head of each chain that changed since the previous digest, as recorded by digest digest_seq');
    t.bigIncrements('id').primary();
    t.integer('digest_seq').notNullable().comment('history_digests.seq');
    t.string('chain_id', 100).notNullable();
    t.integer('seq').notNullable().comment('seq of the chain head');
    t.string('hash', 64).notNullable().comment('hash of the chain head');
    t.unique(['digest_seq', 'chain_id']);
    t.index(['chain_id', 'digest_seq']);
  });

  await knex.schema.alterTable('history_events', (t) => {
    t.index(['type'], 'history_events_type_idx');
    t.index(['actor'], 'history_events_actor_idx');
    t.index(['process_key', 'process_version'], 'history_events_process_idx');
    t.index(['business_key'], 'history_events_business_key_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('history_events', (t) => {
    t.dropIndex(['type'], 'history_events_type_idx');
    t.dropIndex(['actor'], 'history_events_actor_idx');
    t.dropIndex(['process_key', 'process_version'], 'history_events_process_idx');
    t.dropIndex(['business_key'], 'history_events_business_key_idx');
  });
  await knex.schema.dropTableIfExists('history_digest_heads');
  await knex.schema.dropTableIfExists('history_digests');
}
