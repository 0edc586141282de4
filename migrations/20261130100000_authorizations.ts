/**
 * Authorizations, Camunda-style (src/engine/authorization.ts): grants of permissions to groups and users on
 * process definitions, messages, signals, decisions and external task topics; the sensitive variables of each
 * process key and the groups that may read them; which authorizations.json file made the current defaults.
 * Also indexes user_tasks by assignee and by completer: task participation lets a user read an instance.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('authorizations', (t) => {
    t.comment('Grants: permissions of a group or user on one resource (or on every resource of its type: resource_id "*")');
    t.string('id', 36).primary();
    t.string('principal_type', 5).notNullable().comment('group | user');
    t.string('principal', 200).notNullable().comment('the group name or user name, exact (case-sensitive)');
    t.string('resource_type', 30).notNullable().comment('process-definition | message | signal | decision | topic');
    t.string('resource_id', 200).notNullable().comment('process key, message name, signal name, decision key, topic; * for all');
    t.text('permissions').notNullable().comment('JSON array of permission names');
    t.string('description', 500).nullable();
    t.string('source', 10).notNullable().comment('admin (API, CLI) | defaults (the deployed authorizations.json)');
    t.string('deployment_id', 64).nullable().comment('the deployment of the authorizations.json a defaults grant came from');
    t.bigInteger('created_at').notNullable();
    t.string('created_by', 200).nullable();
    t.unique(['principal_type', 'principal', 'resource_type', 'resource_id', 'source'], { indexName: 'authorizations_principal_resource_uq' });
    t.index(['resource_type', 'resource_id'], 'authorizations_resource_idx');
  });
  await knex.schema.createTable('sensitive_variables', (t) => {
    t.comment('Variables of a process key readable only by the named groups (and admins); from the deployed authorizations.json');
    t.string('process_key', 200).notNullable();
    t.string('variable', 200).notNullable();
    t.text('groups').notNullable().comment('JSON array of group names');
    t.string('deployment_id', 64).notNullable();
    t.primary(['process_key', 'variable']);
  });
  await knex.schema.createTable('authorization_defaults', (t) => {
    t.comment('Every deployed authorizations.json, newest = in force (its grants have source defaults)');
    t.increments('id').primary();
    t.string('deployment_id', 64).notNullable();
    t.string('resource_name', 300).notNullable();
    t.string('checksum', 64).notNullable().comment('sha256 of the normalized JSON');
    t.bigInteger('deployed_at').notNullable();
    t.string('deployed_by', 200).notNullable();
  });
  await knex.schema.alterTable('user_tasks', (t) => {
    t.index(['assignee', 'process_instance_id'], 'user_tasks_assignee_instance_idx');
    t.index(['completed_by', 'process_instance_id'], 'user_tasks_completed_by_instance_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('user_tasks', (t) => {
    t.dropIndex(['assignee', 'process_instance_id'], 'user_tasks_assignee_instance_idx');
    t.dropIndex(['completed_by', 'process_instance_id'], 'user_tasks_completed_by_instance_idx');
  });
  await knex.schema.dropTableIfExists('authorization_defaults');
  await knex.schema.dropTableIfExists('sensitive_variables');
  await knex.schema.dropTableIfExists('authorizations');
}
