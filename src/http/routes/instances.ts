/** Process instances: start, query, cancel, history. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { errorResponses, idParams, pageOf, pageQuery } from '../schemas.ts';

const historyEvent = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string' },
    type: { type: 'string' },
    activityId: { type: ['string', 'null'] },
    activityType: { type: ['string', 'null'] },
    actor: { type: ['string', 'null'] },
    data: { type: 'object', additionalProperties: true },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
    redacted: { type: 'boolean', description: 'true when sensitive variables were withheld from data: the hash then verifies only on the stored event' },
  },
};

export async function instanceRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  app.post(
    '/process-definitions/:key/start',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['instances'],
        summary: 'Start an instance of the latest version (or ?version=); needs the permission start on the process key',
        params: { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 200 } } },
        querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647 } }, additionalProperties: false },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { businessKey: { type: 'string', minLength: 1, maxLength: 200 }, variables: { $ref: 'Variables#' } },
        },
        response: { 201: { $ref: 'Instance#' }, 422: { $ref: 'Error#' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { key } = req.params as { key: string };
      const body = (req.body ?? {}) as { businessKey?: string; variables?: Record<string, unknown> };
      const inst = await engine.startInstance(key, { businessKey: body.businessKey, variables: body.variables, version: (req.query as { version?: number }).version }, req.actor);
      reply.status(201);
      return inst;
    },
  );

  app.get(
    '/process-instances',
    {
      config: { roles: ['admin', 'analyst', 'ops', 'auditor'] },
      schema: {
        tags: ['instances'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { key: { type: 'string', maxLength: 200 }, businessKey: { type: 'string', maxLength: 200 }, status: { type: 'string', enum: ['active', 'incident', 'completed', 'cancelled'] }, ...pageQuery },
        },
        response: { 200: pageOf({ $ref: 'Instance#' }), ...errorResponses },
      },
    },
    // only the instances the caller may read (src/engine/authorization.ts)
    async (req) => engine.listInstances(req.query as any, req.actor),
  );

  app.get(
    '/process-instances/:id',
    { config: { roles: ['admin', 'analyst', 'ops', 'auditor'] }, schema: { tags: ['instances'], params: idParams, response: { 200: { $ref: 'Instance#' }, ...errorResponses } } },
    async (req) => engine.getInstance((req.params as { id: string }).id, req.actor),
  );

  app.post(
    '/process-instances/:id/cancel',
    {
      // ops: with the permission cancel on the process key (checked by the engine)
      config: { roles: ['admin', 'ops'] },
      schema: { tags: ['instances'], params: idParams, body: { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 2000 } } }, response: { 200: { $ref: 'Instance#' }, ...errorResponses } },
    },
    async (req) => engine.cancelInstance((req.params as { id: string }).id, req.actor, (req.body as { reason?: string } | null)?.reason),
  );

  app.get(
    '/process-instances/:id/history',
    { config: { roles: ['admin', 'auditor', 'ops'] }, schema: { tags: ['history'], params: idParams, response: { 200: { type: 'array', items: historyEvent }, ...errorResponses } } },
    async (req) => engine.history((req.params as { id: string }).id, req.actor),
  );

  app.get(
    '/process-instances/:id/history/verify',
    {
      config: { roles: ['admin', 'auditor'] },
      schema: {
        tags: ['history'],
        params: idParams,
        response: { 200: { type: 'object', properties: { consistent: { type: 'boolean' }, checked: { type: 'integer' }, firstBroken: { type: 'object', properties: { seq: { type: 'integer' }, kind: { type: 'string' }, reason: { type: 'string' } } } } }, ...errorResponses },
      },
    },
    async (req) => {
      const id = (req.params as { id: string }).id;
      await engine.getInstance(id);
      return engine.verifyInstanceHistory(id);
    },
  );
}
