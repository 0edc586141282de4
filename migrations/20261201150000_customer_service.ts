/**
 * Customer service of issue 12 (the seed guide's chapter 9, and the disputes of chapter 5.3): complaints with
 * their classification, regulatory response deadline, breach, response, resolution and satisfaction survey;
 * consultations (questions) with their answer and what they turned into (a sale, a claim); disputes of a claim
 * decision or a policy action with their review outcome. Numbers come from insurance_sequences (complaint,
 * consultation, dispute). Times epoch ms, JSON text; the same DDL on SQLite and PostgreSQL.
 */
import type { Knex } from 'knex';

const SEQUENCES = ['complaint', 'consultation', 'dispute'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('complaints', (t) => {
    t.comment('Complaints from any channel, from registration to the satisfaction survey (process complaint)');
    t.increments('id').primary();
    t.string('complaint_no', 40).notNullable().unique().comment('e.g. CMP-20260105-000001: also the business key of its instance');
    t.string('process_instance_id', 64).notNullable().unique().comment('the complaint instance (one complaint per instance)');
    t.string('channel', 20).notNullable().comment('phone | email | app | branch | regulator (a referral by the regulator)');
    t.string('category', 40).notNullable().comment('what the complaint is about (complaint.start form)');
    t.string('customer_id', 40).nullable();
    t.string('policy_no', 40).nullable();
    t.string('claim_no', 40).nullable();
    t.string('complainant_name', 200).notNullable();
    t.string('contact_email', 320).nullable();
    t.string('contact_phone', 40).nullable();
    t.text('summary').notNullable().comment("the complaint in the customer's words");
    t.text('keyword_flags').notNullable().defaultTo('{}').comment('JSON: legalThreat, mediaThreat, regulatorMentioned, vulnerableCustomer found in the text');
    t.string('severity', 10).nullable().comment('low | medium | high (ComplaintClassification DMN)');
    t.integer('response_days').nullable().comment('calendar days allowed for the response');
    t.bigInteger('response_due_at').nullable().comment('epoch ms: registration + response_days');
    t.string('handling_group', 60).nullable().comment('candidate group of the assignment and investigation');
    t.string('handler', 100).nullable().comment('user the complaint was assigned to');
    t.string('status', 20).notNullable().comment('registered | assigned | responded | resolved | closed');
    t.bigInteger('responded_at').nullable().comment('epoch ms of the response to the customer');
    t.string('response_outcome', 20).nullable().comment('upheld | partially-upheld | not-upheld');
    t.boolean('deadline_breached').notNullable().defaultTo(false).comment('the response deadline passed before the response');
    t.bigInteger('breached_at').nullable();
    t.text('resolution').nullable();
    t.bigInteger('closed_at').nullable();
    t.string('survey_status', 20).notNullable().defaultTo('not-sent').comment('not-sent | sent | answered | no-answer');
    t.integer('satisfaction_score').nullable().comment('1 (very dissatisfied) .. 5 (very satisfied)');
    t.text('satisfaction_comment').nullable();
    t.bigInteger('registered_at').notNullable().comment('epoch ms');
    t.bigInteger('updated_at').notNullable().comment('epoch ms');
    t.index(['registered_at']);
  });
  await knex.schema.createTable('consultations', (t) => {
    t.comment('Questions to customer service and their answers; a consultation may open a sale or a claim (process consultation)');
    t.increments('id').primary();
    t.string('consultation_no', 40).notNullable().unique().comment('e.g. CON-20260105-000001: also the business key of its instance');
    t.string('process_instance_id', 64).notNullable().unique();
    t.string('channel', 20).notNullable().comment('phone | email | app | online | branch');
    t.string('topic', 40).notNullable();
    t.text('question').notNullable();
    t.string('customer_id', 40).nullable();
    t.string('customer_name', 200).notNullable();
    t.string('contact_email', 320).nullable();
    t.string('contact_phone', 40).nullable();
    t.string('policy_no', 40).nullable();
    t.string('status', 20).notNullable().comment('open | answered | converted');
    t.text('answer').nullable();
    t.bigInteger('answered_at').nullable();
    t.string('outcome', 20).nullable().comment('answered | sale | claim');
    t.string('sales_instance_id', 64).nullable().comment('the sales instance the consultation opened');
    t.string('claim_no', 40).nullable().comment('the claim the consultation reported');
    t.string('claim_instance_id', 64).nullable();
    t.bigInteger('registered_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
  await knex.schema.createTable('disputes', (t) => {
    t.comment('Contested claim decisions and policy actions, reviewed by a second handler (process dispute)');
    t.increments('id').primary();
    t.string('dispute_no', 40).notNullable().unique().comment('e.g. DSP-20260105-000001: also the business key of its instance');
    t.string('process_instance_id', 64).notNullable().unique();
    t.string('subject_type', 10).notNullable().comment('claim | policy');
    t.string('subject_ref', 40).notNullable().comment('the claim number or policy number contested');
    t.string('contested_action', 40).notNullable().comment('what is contested, e.g. claim-rejection, payout-amount, cancellation');
    t.text('grounds').notNullable().comment("the customer's reasons");
    t.string('customer_id', 40).nullable();
    t.string('contact_email', 320).nullable();
    t.string('contact_phone', 40).nullable();
    t.string('review_group', 60).notNullable().comment('candidate group of the review');
    t.bigInteger('review_due_at').notNullable().comment('epoch ms: the review deadline');
    t.boolean('escalated').notNullable().defaultTo(false).comment('the deadline passed before the review');
    t.bigInteger('escalated_at').nullable();
    t.string('status', 20).notNullable().comment('under-review | decided');
    t.string('outcome', 20).nullable().comment('upheld (the decision stands) | overturned');
    t.text('outcome_reason').nullable();
    t.bigInteger('decided_at').nullable();
    t.bigInteger('registered_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['subject_ref']);
  });
  const existing = (await knex('insurance_sequences').whereIn('name', SEQUENCES).select('name')).map((r: { name: string }) => r.name);
  const missing = SEQUENCES.filter((n) => !existing.includes(n));
  if (missing.length) await knex('insurance_sequences').insert(missing.map((name) => ({ name, value: 0 })));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('disputes');
  await knex.schema.dropTableIfExists('consultations');
  await knex.schema.dropTableIfExists('complaints');
  await knex('insurance_sequences').whereIn('name', SEQUENCES).delete();
}
