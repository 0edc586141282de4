/**
 * Engine tables. Times are epoch milliseconds (bigint) so that SQLite and PostgreSQL compare them alike;
 * JSON is stored as text so that what is hashed is exactly what is stored.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deployments', (t) => {
    t.comment('A bundle of resources deployed together (BPMN, DMN, form schemas)');
    t.string('id', 64).primary().comment('deployment id (uuid)');
    t.string('name', 200).notNullable().comment('label given by the deployer (file or directory name)');
    t.string('source', 20).notNullable().comment('startup | api | cli | library');
    t.string('deployed_by', 100).nullable().comment('user name of the deployer');
    t.bigInteger('deployed_at').notNullable().comment('epoch ms');
  });

  await knex.schema.createTable('resources', (t) => {
    t.comment('Every resource of every deployment, kept verbatim');
    t.increments('id').primary();
    t.string('deployment_id', 64).notNullable().references('deployments.id').comment('owning deployment');
    t.string('name', 300).notNullable().comment('file name within the deployment');
    t.string('kind', 10).notNullable().comment('bpmn | dmn | form');
    t.text('content').notNullable().comment('the resource as deployed');
    t.string('checksum', 64).notNullable().comment('sha256 of the content');
    t.index(['deployment_id']);
  });

  await knex.schema.createTable('process_definitions', (t) => {
    t.comment('One version of one process key');
    t.string('id', 120).primary().comment('<key>:<version>:<checksum prefix>');
    t.string('key', 200).notNullable().comment('the BPMN process id');
    t.integer('version').notNullable().comment('1, 2, ... per key');
    t.string('name', 300).nullable().comment('the BPMN process name');
    t.string('deployment_id', 64).notNullable().references('deployments.id');
    t.string('resource_name', 300).notNullable().comment('BPMN file it came from');
    t.text('xml').notNullable().comment('the BPMN document (source of truth for this version)');
    t.string('checksum', 64).notNullable().comment('sha256 of the XML: unchanged XML is not redeployed');
    t.bigInteger('created_at').notNullable().comment('epoch ms');
    t.unique(['key', 'version']);
  });

  await knex.schema.createTable('form_schemas', (t) => {
    t.comment('Versions of the JSON Schemas of user-task and start forms');
    t.increments('id').primary();
    t.string('form_key', 200).notNullable().comment('formKey used by diagrams (file name without .schema.json)');
    t.integer('version').notNullable();
    t.text('schema').notNullable().comment('JSON Schema (draft 2020-12 or 07)');
    t.string('checksum', 64).notNullable();
    t.string('deployment_id', 64).notNullable().references('deployments.id');
    t.bigInteger('created_at').notNullable();
    t.unique(['form_key', 'version']);
  });

  await knex.schema.createTable('decision_definitions', (t) => {
    t.comment('Versions of DMN decision tables');
    t.increments('id').primary();
    t.string('decision_key', 200).notNullable().comment('DMN decision id');
    t.integer('version').notNullable();
    t.string('resource_name', 300).notNullable();
    t.text('xml').notNullable();
    t.string('checksum', 64).notNullable();
    t.string('deployment_id', 64).notNullable().references('deployments.id');
    t.bigInteger('created_at').notNullable();
    t.unique(['decision_key', 'version']);
  });

  await knex.schema.createTable('process_instances', (t) => {
    t.comment('Running and finished process instances; state is the bpmn-engine state without its source');
    t.string('id', 64).primary().comment('instance id (uuid)');
    t.string('definition_id', 120).notNullable().references('process_definitions.id');
    t.string('process_key', 200).notNullable();
    t.integer('process_version').notNullable();
    t.string('business_key', 200).nullable();
    t.string('status', 20).notNullable().comment('active | incident | completed | cancelled');
    t.text('state').nullable().comment('engine state JSON (null once ended)');
    t.text('variables').notNullable().comment('process variables JSON (copy for queries and display)');
    t.text('exec_meta').notNullable().defaultTo('{"counters":{},"keys":{}}').comment('occurrence counters and idempotency keys of pending handler calls');
    t.text('active_activities').notNullable().defaultTo('[]').comment('JSON array of activity ids the instance waits in');
    t.string('started_by', 100).nullable();
    t.bigInteger('started_at').notNullable();
    t.bigInteger('ended_at').nullable();
    t.bigInteger('updated_at').notNullable();
    t.integer('rev').notNullable().defaultTo(1).comment('optimistic lock: incremented by every transition');
    t.index(['process_key', 'status']);
    t.index(['business_key']);
  });

  await knex.schema.createTable('user_tasks', (t) => {
    t.comment('User tasks of instances: one row per task execution');
    t.string('id', 64).primary();
    t.string('process_instance_id', 64).notNullable().references('process_instances.id');
    t.string('activity_id', 200).notNullable();
    t.string('execution_id', 200).notNullable().comment('bpmn-engine execution id, stable across restarts');
    t.string('name', 300).nullable();
    t.string('process_key', 200).notNullable();
    t.string('business_key', 200).nullable();
    t.string('status', 20).notNullable().comment('open | completed | cancelled');
    t.string('assignee', 100).nullable();
    t.text('candidate_groups').notNullable().defaultTo('[]').comment('JSON array');
    t.text('candidate_users').notNullable().defaultTo('[]').comment('JSON array');
    t.string('form_key', 200).nullable();
    t.integer('form_schema_id').nullable().comment('form_schemas row in force when the task was created');
    t.bigInteger('due_at').nullable();
    t.integer('priority').notNullable().defaultTo(50);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('claimed_at').nullable();
    t.bigInteger('ended_at').nullable();
    t.string('completed_by', 100).nullable();
    t.unique(['process_instance_id', 'execution_id']);
    t.index(['status', 'assignee']);
    t.index(['process_instance_id']);
  });

  await knex.schema.createTable('jobs', (t) => {
    t.comment('Durable work: timers and handler retries, acquired by the scheduler');
    t.string('id', 64).primary();
    t.string('type', 20).notNullable().comment('timer | retry | timer-start');
    t.string('process_instance_id', 64).nullable().comment('null for timer start events');
    t.string('definition_id', 120).nullable();
    t.string('activity_id', 200).notNullable();
    t.string('execution_id', 200).notNullable();
    t.bigInteger('due_at').notNullable();
    t.text('payload').notNullable().defaultTo('{}').comment('timer type and value, repeat, handler name');
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('lock_owner', 100).nullable();
    t.bigInteger('lock_expires_at').nullable();
    t.text('last_error').nullable();
    t.bigInteger('created_at').notNullable();
    t.unique(['type', 'execution_id', 'process_instance_id']);
    t.index(['due_at']);
    t.index(['process_instance_id']);
  });

  await knex.schema.createTable('incidents', (t) => {
    t.comment('Handler calls that exhausted their retries; the instance waits at that activity');
    t.string('id', 64).primary();
    t.string('process_instance_id', 64).notNullable().references('process_instances.id');
    t.string('activity_id', 200).notNullable();
    t.string('execution_id', 200).notNullable();
    t.string('handler', 200).nullable();
    t.text('error_message').notNullable();
    t.integer('attempts').notNullable();
    t.string('status', 20).notNullable().comment('open | resolved');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('resolved_at').nullable();
    t.string('resolved_by', 100).nullable();
    t.index(['status']);
    t.index(['process_instance_id']);
  });

  await knex.schema.createTable('subscriptions', (t) => {
    t.comment('Message and signal catch points of waiting instances, for correlation without loading engines');
    t.increments('id').primary();
    t.string('process_instance_id', 64).notNullable().references('process_instances.id');
    t.string('activity_id', 200).notNullable();
    t.string('execution_id', 200).notNullable();
    t.string('kind', 10).notNullable().comment('message | signal');
    t.string('event_name', 200).notNullable();
    t.string('correlation_key', 300).nullable().comment('evaluated correlation key');
    t.string('business_key', 200).nullable();
    t.bigInteger('created_at').notNullable();
    t.unique(['process_instance_id', 'execution_id']);
    t.index(['kind', 'event_name']);
  });

  await knex.schema.createTable('history_events', (t) => {
    t.comment('Append-only, hash-chained history: hash = sha256(prev_hash + canonical JSON of the event)');
    t.bigIncrements('id').primary();
    t.string('chain_id', 100).notNullable().comment('process instance id, or "deployments"');
    t.string('process_instance_id', 64).nullable();
    t.string('process_key', 200).nullable();
    t.integer('process_version').nullable();
    t.string('business_key', 200).nullable();
    t.integer('seq').notNullable().comment('1, 2, ... within the chain');
    t.bigInteger('at').notNullable().comment('epoch ms');
    t.string('type', 50).notNullable();
    t.string('activity_id', 200).nullable();
    t.string('activity_type', 100).nullable();
    t.string('actor', 100).nullable();
    t.text('data').notNullable().defaultTo('{}');
    t.string('prev_hash', 64).notNullable();
    t.string('hash', 64).notNullable();
    t.unique(['chain_id', 'seq']);
    t.index(['process_instance_id']);
    t.index(['at']);
  });

  await knex.schema.createTable('users', (t) => {
    t.comment('People and systems that call the API');
    t.string('id', 64).primary();
    t.string('name', 100).notNullable().unique();
    t.text('roles').notNullable().comment('JSON array: admin, analyst, ops, auditor');
    t.text('groups').notNullable().comment('JSON array of candidate groups');
    t.boolean('disabled').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('api_tokens', (t) => {
    t.comment('Bearer tokens, stored as sha256 hashes only');
    t.string('id', 64).primary();
    t.string('user_id', 64).notNullable().references('users.id');
    t.string('token_hash', 64).notNullable().unique();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('revoked_at').nullable();
  });

  await knex.schema.createTable('engine_nodes', (t) => {
    t.comment('Engine processes sharing this database (heartbeat), used to refuse a second SQLite writer');
    t.string('id', 100).primary();
    t.string('host', 200).notNullable();
    t.integer('pid').notNullable();
    t.bigInteger('started_at').notNullable();
    t.bigInteger('heartbeat_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'engine_nodes',
    'api_tokens',
    'users',
    'history_events',
    'subscriptions',
    'incidents',
    'jobs',
    'user_tasks',
    'process_instances',
    'decision_definitions',
    'form_schemas',
    'process_definitions',
    'resources',
    'deployments',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
