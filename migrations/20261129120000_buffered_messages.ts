/**
 * Buffered messages (POST /api/messages with timeToLive, Camunda 8 semantics): a message that found no waiting
 * catch event is kept until its time to live ends and correlated when a matching wait state appears; a message
 * with a messageId is remembered for its time to live (also once correlated) so that a second one with the same
 * name and messageId is refused.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('buffered_messages', (t) => {
    t.comment('Published messages kept for their time to live: waiting for a wait state, or remembered for de-duplication');
    t.string('id', 64).primary();
    t.string('name', 200).notNullable();
    t.string('business_key', 200).nullable();
    t.string('correlation_key', 300).nullable();
    t.string('process_instance_id', 64).nullable().comment('the instance the sender named (no foreign key: it may not exist yet)');
    t.text('variables').notNullable().defaultTo('{}').comment('JSON');
    t.string('message_id', 200).nullable().comment("the sender's id: unique per name while remembered");
    t.string('state', 12).notNullable().comment('buffered | correlated');
    t.string('correlated_to', 64).nullable().comment('the instance it was delivered to');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('correlated_at').nullable();
    t.string('created_by', 200).nullable();
    t.unique(['name', 'message_id'], { indexName: 'buffered_messages_message_id_uq' });
    t.index(['state', 'name', 'expires_at'], 'buffered_messages_state_name_idx');
    t.index(['expires_at'], 'buffered_messages_expires_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('buffered_messages');
}
