/** User tasks: the work list of ops staff. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { errorResponses, idParams, pageOf, pageQuery } from '../schemas.ts';

export async function taskRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  const roles = ['admin', 'ops'] as const;
  app.get(
    '/tasks',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['tasks'],
        summary: 'Tasks visible to the caller (assigned, or offered to them or their groups)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            candidateGroup: { type: 'string', maxLength: 200 },
            candidateUser: { type: 'string', maxLength: 100 },
            assignee: { type: 'string', maxLength: 100 },
            processKey: { type: 'string', maxLength: 200 },
            businessKey: { type: 'string', maxLength: 200 },
            processInstanceId: { type: 'string', maxLength: 100 },
            status: { type: 'string', enum: ['open', 'completed', 'cancelled'] },
            dueBefore: { type: 'string', format: 'date-time' },
            dueAfter: { type: 'string', format: 'date-time' },
            sort: { type: 'string', enum: ['created', 'due', 'priority'] },
            order: { type: 'string', enum: ['asc', 'desc'] },
            ...pageQuery,
          },
        },
        response: { 200: pageOf({ $ref: 'Task#' }), ...errorResponses },
      },
    },
    async (req) => engine.listTasks(req.query as any, req.actor),
  );

  app.get(
    '/tasks/:id',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['tasks'],
        params: idParams,
        response: {
          200: { allOf: [{ $ref: 'Task#' }, { type: 'object', properties: { formSchema: { type: ['object', 'null'], additionalProperties: true }, variables: { type: 'object', additionalProperties: true } } }] },
          ...errorResponses,
        },
      },
    },
    async (req) => engine.getTask((req.params as { id: string }).id, req.actor),
  );

  app.post(
    '/tasks/:id/claim',
    { config: { roles: [...roles] }, schema: { tags: ['tasks'], params: idParams, response: { 200: { $ref: 'Task#' }, ...errorResponses } } },
    async (req) => engine.claimTask((req.params as { id: string }).id, req.actor),
  );

  app.post(
    '/tasks/:id/unclaim',
    { config: { roles: [...roles] }, schema: { tags: ['tasks'], params: idParams, response: { 200: { $ref: 'Task#' }, ...errorResponses } } },
    async (req) => engine.unclaimTask((req.params as { id: string }).id, req.actor),
  );

  app.post(
    '/tasks/:id/complete',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['tasks'],
        summary: 'Complete a task; variables are validated against the task form schema',
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: { variables: { $ref: 'Variables#' } } },
        response: { 200: { $ref: 'Task#' }, ...errorResponses },
      },
    },
    async (req) => engine.completeTask((req.params as { id: string }).id, ((req.body ?? {}) as { variables?: Record<string, unknown> }).variables ?? {}, req.actor),
  );
}
