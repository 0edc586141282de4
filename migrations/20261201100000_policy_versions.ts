/**
 * Versioned policies (issue 12): every change of cover (issue, endorsement, renewal, cancellation) is a policy
 * version effective over a span of calendar days, so a claim is judged on the version in force on its loss date,
 * whatever the policy's status is today. `policies` keeps the latest terms (what sales and servicing show);
 * `policy_versions` keeps them all. Calendar dates are ISO `YYYY-MM-DD`, both ends inclusive; money decimal(15,2).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('policy_versions', (t) => {
    t.comment('Terms of a policy over a span of days: one row per issue, endorsement, renewal or cancellation');
    t.increments('id').primary();
    t.string('policy_no', 40).notNullable().references('policies.policy_no');
    t.integer('version').notNullable().comment('1 at issue, then 2, 3, ...');
    t.string('effective_from', 10).notNullable().comment('YYYY-MM-DD, first day these terms apply');
    t.string('effective_to', 10).notNullable().comment('YYYY-MM-DD, last day these terms apply (inclusive)');
    t.decimal('sum_insured', 15, 2).notNullable();
    t.decimal('deductible', 15, 2).notNullable().defaultTo(0);
    t.decimal('coinsurance', 5, 4).notNullable().defaultTo(1);
    t.text('perils').notNullable().defaultTo('[]').comment('JSON array of covered perils');
    t.decimal('premium', 15, 2).notNullable().defaultTo(0).comment('annual premium of these terms');
    t.string('reason', 20).notNullable().comment('issue | endorsement | renewal | cancellation');
    t.string('process_instance_id', 64).nullable().comment('the instance that made the change');
    t.bigInteger('created_at').notNullable().comment('epoch ms');
    t.unique(['policy_no', 'version']);
    t.index(['policy_no', 'effective_from']);
  });
  // policies issued before versions existed get their first version from their own row
  const rows = await knex('policies').select();
  for (const p of rows) {
    await knex('policy_versions').insert({
      policy_no: p.policy_no,
      version: 1,
      effective_from: p.start_date,
      effective_to: p.end_date,
      sum_insured: p.sum_insured ?? 0,
      deductible: p.deductible ?? 0,
      coinsurance: p.coinsurance,
      perils: p.perils,
      premium: p.premium ?? 0,
      reason: 'issue',
      process_instance_id: p.process_instance_id,
      created_at: p.created_at,
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('policy_versions');
}
