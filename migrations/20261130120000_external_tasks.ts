/**
 * External tasks (issue 11, section 3): a service or send task bound to a topic (camunda:topic) or a job type
 * (zeebe:taskDefinition) that no in-process handler serves waits here, durably, for a worker over
 * /engine-rest/external-task (src/engine/external-tasks.ts). The row is written by the transition that reaches
 * the task and closed by the one that completes it (or leaves it: a boundary event, a cancellation).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('external_tasks', (t) => {
    t.comment('External tasks: service/send tasks waiting for a worker that fetches them by topic over HTTP');
    t.string('id', 64).primary();
    t.string('topic', 200).notNullable().comment('camunda:topic or zeebe:taskDefinition type');
    t.string('process_instance_id', 64).notNullable().references('process_instances.id');
    t.string('definition_id', 64).notNullable().comment('process_definitions row of the instance');
    t.string('process_key', 200).notNullable();
    t.string('activity_id', 200).notNullable();
    t.string('execution_id', 200).notNullable().comment('bpmn-engine execution id of the waiting service task, stable across restarts');
    t.string('business_key', 200).nullable();
    t.integer('priority').notNullable().defaultTo(0).comment('higher first when a worker fetches with usePriority');
    t.integer('retries').nullable().comment('as the worker last reported (failure); null until then; 0: an incident is open');
    t.text('error_message').nullable();
    t.text('error_details').nullable();
    t.string('worker_id', 255).nullable().comment('the worker that holds (or last held) the lock');
    t.bigInteger('lock_expires_at').nullable().comment('epoch ms; fetchable again once passed (null: never locked)');
    t.string('status', 20).notNullable().comment('open | completed | cancelled');
    t.string('completed_by', 255).nullable().comment('the worker id that completed it (or threw its BPMN error)');
    t.bigInteger('created_at').notNullable().comment('epoch ms');
    t.bigInteger('ended_at').nullable().comment('epoch ms');
    t.index(['status', 'topic'], 'external_tasks_status_topic_idx');
    t.index(['process_instance_id'], 'external_tasks_instance_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('external_tasks');
}
