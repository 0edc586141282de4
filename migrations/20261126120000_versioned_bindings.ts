/**
 * Versioned bindings: each process version records the versions of the decisions, forms and called processes it
 * resolved when it was deployed (`bindings`, JSON); decisions and forms carry their version tag (for the
 * `versionTag` binding); decision rows carry the decision's name. Deployments are found by (source, name) when
 * the start-up deployment compares the processes folder with what it deployed last time.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.transaction((trx) => addAll(trx));
}

async function addAll(knex: Knex.Transaction): Promise<void> {
  await knex.schema.alterTable('process_definitions', (t) => {
    t.text('bindings').notNullable().defaultTo('{}').comment('JSON: per activity, the decision/form/called process version resolved at deploy time and its binding type');
  });
  await knex.schema.alterTable('decision_definitions', (t) => {
    t.string('name', 300).nullable().comment('the DMN decision name');
    t.string('version_tag', 200).nullable().comment('camunda:versionTag / zeebe:versionTag of the decision');
    t.index(['decision_key', 'version_tag'], 'decision_definitions_tag_idx');
  });
  await knex.schema.alterTable('form_schemas', (t) => {
    t.string('version_tag', 200).nullable().comment('"versionTag" at the top of the schema document');
    t.string('resource_name', 300).nullable().comment('file the schema came from');
  });
  await knex.schema.alterTable('deployments', (t) => {
    t.index(['source', 'name'], 'deployments_source_name_idx');
  });
}

/** SQLite drops a column by rebuilding the table, which foreign keys referencing it forbid: off for the rollback. */
export const config = { transaction: false };

export async function down(knex: Knex): Promise<void> {
  const sqlite = knex.client.config?.client === 'sqlite3';
  if (sqlite) await knex.raw('PRAGMA foreign_keys = OFF');
  try {
    await knex.transaction((trx) => dropAll(trx));
  } finally {
    if (sqlite) await knex.raw('PRAGMA foreign_keys = ON');
  }
}

async function dropAll(knex: Knex.Transaction): Promise<void> {
  await knex.schema.alterTable('deployments', (t) => {
    t.dropIndex(['source', 'name'], 'deployments_source_name_idx');
  });
  await knex.schema.alterTable('form_schemas', (t) => {
    t.dropColumn('resource_name');
    t.dropColumn('version_tag');
  });
  await knex.schema.alterTable('decision_definitions', (t) => {
    t.dropIndex(['decision_key', 'version_tag'], 'decision_definitions_tag_idx');
    t.dropColumn('version_tag');
    t.dropColumn('name');
  });
  await knex.schema.alterTable('process_definitions', (t) => {
    t.dropColumn('bindings');
  });
}
