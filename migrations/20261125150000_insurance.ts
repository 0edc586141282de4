/**
 * Insurance domain tables (issue 4): customers, policies, claims, the payments ledger, the notification outbox,
 * the product catalogue and quotes, plus the number sequences of claims, policies and quotes.
 * Times are epoch milliseconds (bigint); calendar dates (policy period, loss date) are ISO `YYYY-MM-DD` text;
 * money is decimal(15,2); JSON is text. The same DDL runs on SQLite and PostgreSQL.
 */
import type { Knex } from 'knex';

const money = (t: Knex.CreateTableBuilder, name: string, comment: string) => t.decimal(name, 15, 2).nullable().comment(comment);

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('insurance_sequences', (t) => {
    t.comment('Counters behind claim, policy and quote numbers (one row per kind)');
    t.string('name', 40).primary().comment('claim | policy | quote | customer');
    t.bigInteger('value').notNullable().defaultTo(0).comment('last number handed out');
  });
  await knex('insurance_sequences').insert([
    { name: 'claim', value: 0 },
    { name: 'policy', value: 0 },
    { name: 'quote', value: 0 },
    { name: 'customer', value: 0 },
  ]);

  await knex.schema.createTable('customers', (t) => {
    t.comment('Policyholders and prospects');
    t.string('id', 40).primary().comment('customer number, e.g. CUST-000001');
    t.string('name', 200).notNullable().comment('full name or company name');
    t.string('email', 320).nullable().comment('where notifications are sent');
    t.string('phone', 40).nullable();
    t.string('credit_grade', 1).nullable().comment('A (best) .. E from the credit assessment; null = not assessed');
    t.bigInteger('created_at').notNullable().comment('epoch ms');
  });

  await knex.schema.createTable('product_catalogue', (t) => {
    t.comment('Products and their pricing parameters; sales quotes only from launched versions');
    t.increments('id').primary();
    t.string('product_code', 40).notNullable().comment('e.g. HOME; letters and digits');
    t.integer('version').notNullable().comment('1, 2, ... per product code');
    t.string('name', 200).notNullable().comment('commercial name');
    t.string('line', 40).nullable().comment('line of business, e.g. property');
    t.decimal('base_rate', 12, 8).nullable().comment('premium per unit of sum insured, from actuarial pricing');
    t.text('parameters').notNullable().defaultTo('{}').comment('JSON: perils, deductible, coinsurance, limits, loadings');
    t.string('status', 20).notNullable().comment('draft | launched | superseded');
    t.bigInteger('launched_at').nullable().comment('epoch ms of publication');
    t.string('process_instance_id', 64).nullable().comment('product-development instance that designed it');
    t.bigInteger('created_at').notNullable().comment('epoch ms');
    t.bigInteger('updated_at').notNullable().comment('epoch ms');
    t.unique(['product_code', 'version']);
    t.index(['product_code', 'status']);
  });

  await knex.schema.createTable('quotes', (t) => {
    t.comment('Offers made by the sales flow, from needs analysis to signature and payment');
    t.increments('id').primary();
    t.string('quote_no', 40).notNullable().unique().comment('e.g. QUO-2026-000001');
    t.string('process_instance_id', 64).notNullable().unique().comment('the sales instance (one quote per instance)');
    t.string('customer_id', 40).nullable().references('customers.id');
    t.string('product_code', 40).notNullable();
    t.integer('product_version').notNullable().comment('catalogue version the price came from');
    money(t, 'sum_insured', 'cover wanted');
    t.decimal('base_rate', 12, 8).notNullable();
    t.decimal('risk_factor', 8, 4).notNullable().comment('from the RiskFactor decision');
    t.decimal('credit_factor', 8, 4).notNullable().comment('from the CreditGradeFactor decision');
    t.decimal('discount_percent', 5, 2).notNullable().defaultTo(0);
    money(t, 'gross_premium', 'before discount');
    money(t, 'net_premium', 'what the customer pays');
    t.text('risk_profile').notNullable().defaultTo('{}').comment('JSON: property type, construction, claims history, address');
    t.string('cover_start', 10).nullable().comment('YYYY-MM-DD');
    t.string('status', 20).notNullable().comment('draft | offered | signed | paid | issued | expired | lapsed');
    t.bigInteger('offered_at').nullable();
    t.bigInteger('expires_at').nullable().comment('epoch ms: the offer lapses unsigned after this');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('policies', (t) => {
    t.comment('Issued policies: what the claims flow verifies cover against');
    t.increments('id').primary();
    t.string('policy_no', 40).notNullable().unique().comment('e.g. POL-HOME-2026-000001');
    t.string('customer_id', 40).notNullable().references('customers.id');
    t.string('product_code', 40).notNullable();
    t.integer('product_version').nullable();
    t.string('status', 20).notNullable().comment('active | expired | lapsed | cancelled');
    t.string('start_date', 10).notNullable().comment('YYYY-MM-DD, first day of cover');
    t.string('end_date', 10).notNullable().comment('YYYY-MM-DD, last day of cover');
    money(t, 'sum_insured', 'maximum payout per claim');
    money(t, 'deductible', 'borne by the policyholder on each claim');
    t.decimal('coinsurance', 5, 4).notNullable().defaultTo(1).comment("insurer's share of the loss, in (0, 1]");
    t.text('perils').notNullable().defaultTo('[]').comment('JSON array of covered perils: fire, water, theft, storm, glass, other');
    money(t, 'premium', 'annual premium (earned premium for loss ratios)');
    t.bigInteger('cover_changed_at').nullable().comment('epoch ms: when the sum insured was last raised (fraud indicator)');
    t.string('quote_no', 40).nullable().comment('the quote it was issued from');
    t.text('schedule').notNullable().defaultTo('{}').comment('JSON policy schedule sent to the customer');
    t.string('process_instance_id', 64).nullable().comment('the sales instance that issued it');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['customer_id']);
  });

  await knex.schema.createTable('claims', (t) => {
    t.comment('Property claims from first notice of loss to closure, with the data loss-ratio and SLA analysis needs');
    t.increments('id').primary();
    t.string('claim_no', 40).notNullable().unique().comment('e.g. CLM-20260105-000001');
    t.string('process_instance_id', 64).notNullable().unique().comment('the claims instance handling it');
    t.string('policy_no', 40).notNullable().comment('as reported (may not exist: then the claim is rejected)');
    t.string('customer_id', 40).nullable().comment('policyholder, once the policy is found');
    t.string('channel', 20).notNullable().comment('online | phone | email | app');
    t.string('loss_date', 10).notNullable().comment('YYYY-MM-DD');
    t.bigInteger('reported_at').notNullable().comment('epoch ms of the first notice of loss');
    t.string('peril', 20).notNullable();
    t.text('description').nullable();
    money(t, 'claimed_amount', 'amount the customer claims');
    money(t, 'approved_amount', 'amount the adjuster approved (partial approval)');
    money(t, 'assessed_loss', 'loss retained for the payout (lowest of claimed, approved, surveyed)');
    money(t, 'payout', 'loss - deductible, capped at the sum insured, times coinsurance');
    t.string('status', 20).notNullable().comment('open | rejected | paid | closed');
    t.string('stage', 40).notNullable().comment('last stage reached: reported, verified, screened, investigation, review, documents, survey, settlement, paid, closed, rejected');
    t.string('classification', 20).nullable().comment('simple | complex (ClaimClassification)');
    t.decimal('fraud_score', 6, 2).nullable().comment('0..100 from the FraudIndicators decision');
    t.string('fraud_level', 10).nullable().comment('low | medium | high');
    t.text('fraud_indicators').nullable().comment('JSON array of indicator codes');
    t.text('survey_report').nullable().comment('JSON: loss estimate, findings, photo references');
    t.bigInteger('survey_completed_at').nullable();
    t.text('documents').nullable().comment('JSON: documents requested and received');
    t.bigInteger('sla_deadline').nullable().comment('epoch ms: pay within 72 hours of the survey (or the approval)');
    t.boolean('sla_breached').notNullable().defaultTo(false).comment('the deadline passed before payment');
    t.bigInteger('sla_breached_at').nullable();
    t.boolean('sla_met').nullable().comment('set at closure for paid claims');
    t.string('rejection_code', 40).nullable();
    t.text('rejection_reason').nullable().comment('the reason sent to the customer');
    t.bigInteger('paid_at').nullable();
    t.bigInteger('closed_at').nullable();
    t.bigInteger('cycle_time_ms').nullable().comment('report to closure');
    t.text('analysis').nullable().comment('JSON loss-ratio inputs at closure: incurred, earned premium, cycle time');
    t.bigInteger('updated_at').notNullable();
    t.index(['policy_no', 'loss_date']);
    t.index(['status']);
  });

  await knex.schema.createTable('payments', (t) => {
    t.comment('Payments ledger: claim payouts and premiums received. A row is written once per idempotency key and a claim has at most one payout');
    t.increments('id').primary();
    t.string('idempotency_key', 300).notNullable().unique().comment('the calling handler\'s idempotency key: a retry finds the same row');
    t.string('direction', 10).notNullable().comment('payout (to a claimant) | premium (from a customer)');
    t.string('claim_no', 40).nullable().unique().comment('payouts only: one payout per claim');
    t.string('policy_no', 40).nullable();
    t.string('quote_no', 40).nullable();
    t.decimal('amount', 15, 2).notNullable();
    t.string('currency', 3).notNullable().defaultTo('CNY');
    t.string('counterparty', 200).nullable().comment('payee or payer');
    t.string('status', 20).notNullable().comment('pending | completed');
    t.string('reference', 100).nullable().comment('bank or gateway reference');
    t.string('process_instance_id', 64).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('completed_at').nullable();
  });

  await knex.schema.createTable('outbox', (t) => {
    t.comment('Notifications to customers and staff, written by handlers and sent by a relay; one row per message key');
    t.increments('id').primary();
    t.string('message_key', 300).notNullable().unique().comment('idempotency key: a retried handler does not notify twice');
    t.string('channel', 20).notNullable().comment('email | sms | internal');
    t.string('recipient', 320).nullable().comment('address, customer id or staff group');
    t.string('topic', 60).notNullable().comment('e.g. claim-paid, claim-rejected, offer, renewal-reminder');
    t.string('subject', 300).notNullable();
    t.text('body').notNullable();
    t.text('payload').notNullable().defaultTo('{}').comment('JSON data for templates');
    t.string('business_ref', 60).nullable().comment('claim, quote, policy or product it is about');
    t.string('status', 20).notNullable().defaultTo('pending').comment('pending | sent');
    t.string('process_instance_id', 64).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('sent_at').nullable();
    t.index(['status', 'created_at']);
    t.index(['business_ref']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['outbox', 'payments', 'claims', 'policies', 'quotes', 'product_catalogue', 'customers', 'insurance_sequences']) {
    await knex.schema.dropTableIfExists(table);
  }
}
