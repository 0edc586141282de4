/** Messages, signals, jobs and incidents. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { errorResponses, idParams, pageOf, pageQuery } from '../schemas.ts';
import type { MessageInput } from '../../engine/correlation.ts';

const job = { type: 'object', additionalProperties: true, properties: { id: { type: 'string' }, type: { type: 'string' }, processInstanceId: { type: ['string', 'null'] }, activityId: { type: 'string' }, dueAt: { type: 'string' }, attempts: { type: 'integer' } } };
const messageResult = {
  type: 'object',
  properties: {
    correlated: { type: 'array', items: { type: 'object', properties: { processInstanceId: { type: 'string' }, activityId: { type: 'string' }, started: { type: 'boolean' } } } },
    buffered: { type: 'object', properties: { id: { type: 'string' }, messageId: { type: ['string', 'null'] }, expiresAt: { type: 'string' } } },
  },
};
const incident = { type: 'object', additionalProperties: true, properties: { id: { type: 'string' }, processInstanceId: { type: 'string' }, activityId: { type: 'string' }, status: { type: 'string' }, errorMessage: { type: 'string' }, attempts: { type: 'integer' } } };

export async function operationsRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  app.post(
    '/messages',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['messages'],
        summary: 'Correlate a message to the waiting instance (or start one by a message start event)',
        description:
          'With timeToLive (ISO 8601 duration, Camunda 8 semantics) a message that no catch event waits for yet is buffered ' +
          '(202 with its id) and delivered to the first matching wait state that appears before it expires; without it, 404 ' +
          'MESSAGE_NOT_CORRELATED. A messageId is unique per message name while the message is kept (409 MESSAGE_ALREADY_EXISTS).',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200 },
            businessKey: { type: 'string', minLength: 1, maxLength: 200 },
            processInstanceId: { type: 'string', minLength: 1, maxLength: 100 },
            correlationKey: { type: 'string', maxLength: 300 },
            variables: { $ref: 'Variables#' },
            all: { type: 'boolean' },
            timeToLive: { type: 'string', minLength: 1, maxLength: 60, description: 'ISO 8601 duration: how long the message waits for a catch event (PT10M, P1D)' },
            messageId: { type: 'string', minLength: 1, maxLength: 200, description: 'unique per message name while the message is kept' },
          },
        },
        response: { 200: messageResult, 202: messageResult, ...errorResponses },
      },
    },
    async (req, reply) => {
      const result = await engine.correlateMessage(req.body as MessageInput, req.actor);
      if (result.buffered && !result.correlated.length) reply.status(202);
      return result;
    },
  );

  app.post(
    '/signals',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['messages'],
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, variables: { $ref: 'Variables#' } } },
        response: { 200: { type: 'object', properties: { delivered: { type: 'integer' }, processInstanceIds: { type: 'array', items: { type: 'string' } } } }, ...errorResponses },
      },
    },
    async (req) => engine.broadcastSignal(req.body as any, req.actor),
  );

  app.get(
    '/jobs',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['jobs'],
        querystring: { type: 'object', additionalProperties: false, properties: { type: { type: 'string', enum: ['timer', 'retry', 'timer-start'] }, state: { type: 'string', enum: ['due', 'waiting', 'failed', 'locked'] }, processInstanceId: { type: 'string', maxLength: 100 }, dueBefore: { type: 'string', format: 'date-time' }, ...pageQuery } },
        response: { 200: pageOf(job), ...errorResponses },
      },
    },
    async (req) => engine.listJobs(req.query as any),
  );

  app.put(
    '/jobs/:id/due',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['jobs'], params: idParams, body: { type: 'object', required: ['dueAt'], additionalProperties: false, properties: { dueAt: { type: 'string', format: 'date-time' } } }, response: { 200: job, ...errorResponses } },
    },
    async (req) => engine.setJobDue((req.params as { id: string }).id, (req.body as { dueAt: string }).dueAt, req.actor),
  );

  app.get(
    '/incidents',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['incidents'],
        querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['open', 'resolved'] }, processInstanceId: { type: 'string', maxLength: 100 }, activityId: { type: 'string', maxLength: 200 }, ...pageQuery } },
        response: { 200: pageOf(incident), ...errorResponses },
      },
    },
    // admins see all; others the incidents of the process keys they may read-instances (src/engine/authorization.ts)
    async (req) => engine.listIncidents(req.query as any, req.actor),
  );

  app.post(
    '/incidents/:id/retry',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['incidents'], params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { variables: { $ref: 'Variables#' } } }, response: { 200: incident, ...errorResponses } },
    },
    async (req) => engine.retryIncident((req.params as { id: string }).id, (req.body as { variables?: Record<string, unknown> } | null)?.variables, req.actor),
  );

  app.post(
    '/incidents/:id/resolve',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['incidents'], params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 2000 } } }, response: { 200: incident, ...errorResponses } },
    },
    async (req) => engine.resolveIncident((req.params as { id: string }).id, req.actor, (req.body as { note?: string } | null)?.note),
  );
}
