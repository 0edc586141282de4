/**
 * Columns the claims controls of issue 12 share: the outstanding reserve (and its movements), duplicate
 * suspicion, how the claim was decided (automatic or by a person), the outcome of a fraud investigation, the
 * approval chain of the payout; and the policyholder's preferred channel for notices. Money decimal(15,2),
 * times epoch ms, JSON text.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('claims', (t) => {
    t.decimal('reserve_outstanding', 15, 2).notNullable().defaultTo(0).comment('what the insurer expects still to pay on the claim; never negative, 0 once rejected or paid');
    t.string('duplicate_of', 40).nullable().comment('claim number of the claim this one may duplicate (same policy, loss date, peril, amount within tolerance)');
    t.string('decision_mode', 10).nullable().comment('automatic | manual: who approved or rejected the claim');
    t.string('fraud_outcome', 10).nullable().comment('confirmed | cleared, after a fraud investigation; null when none ran');
    t.text('approval_chain').nullable().comment('JSON array: each approval of the payout {level, group, user, limit, decision, at}');
  });
  await knex.schema.createTable('claim_reserve_movements', (t) => {
    t.comment('Every change of a claim reserve: set at registration, adjusted at review, survey and settlement, released at rejection or payment');
    t.increments('id').primary();
    t.string('claim_no', 40).notNullable().references('claims.claim_no');
    t.string('movement_key', 300).notNullable().unique().comment('idempotency key: a retried handler does not move the reserve twice');
    t.string('reason', 20).notNullable().comment('initial | review | survey | settlement | payment | rejection | closure');
    t.decimal('amount_before', 15, 2).notNullable();
    t.decimal('amount_after', 15, 2).notNullable().comment('never negative');
    t.decimal('change', 15, 2).notNullable().comment('after - before');
    t.string('process_instance_id', 64).nullable();
    t.string('activity_id', 200).nullable();
    t.bigInteger('created_at').notNullable().comment('epoch ms');
    t.index(['claim_no', 'id']);
  });
  await knex.schema.alterTable('customers', (t) => {
    t.string('preferred_channel', 10).nullable().comment('email | sms | post: where notices go (null: e-mail when known, else SMS)');
    t.text('postal_address').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('claim_reserve_movements');
  await knex.schema.alterTable('claims', (t) => {
    for (const c of ['reserve_outstanding', 'duplicate_of', 'decision_mode', 'fraud_outcome', 'approval_chain']) t.dropColumn(c);
  });
  // SQLite drops a column by copying the table: policies and quotes refer to customers, so the foreign keys are
  // off while it does (a pragma that only takes effect outside a transaction: see `config` below)
  const sqlite = (knex.client.config as { client?: string }).client === 'sqlite3';
  if (sqlite) await knex.raw('PRAGMA foreign_keys = OFF');
  try {
    await knex.schema.alterTable('customers', (t) => {
      t.dropColumn('preferred_channel');
      t.dropColumn('postal_address');
    });
  } finally {
    if (sqlite) await knex.raw('PRAGMA foreign_keys = ON');
  }
}

/** Without a transaction, so the SQLite foreign-key pragma of `down` applies (each step is one statement or idempotent to retry). */
export const config = { transaction: false };
