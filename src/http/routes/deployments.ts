/** Deployments and process definitions. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine, Resource } from '../../engine/service.ts';
import { InsureflowError } from '../../errors.ts';
import { errorResponses } from '../schemas.ts';

const definitionSummary = {
  type: 'object',
  properties: { id: { type: 'string' }, key: { type: 'string' }, version: { type: 'integer' }, name: { type: ['string', 'null'] }, created: { type: 'boolean' } },
};

export async function deploymentRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  app.post(
    '/deployments',
    {
      config: { roles: ['admin', 'analyst'] },
      bodyLimit: 10 * 1024 * 1024,
      schema: {
        tags: ['deployments'],
        summary: 'Deploy a BPMN document (application/xml) or a bundle (multipart: BPMN, DMN, form schemas)',
        querystring: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^/\\\\]+$' } }, additionalProperties: false },
        response: {
          200: { type: 'object', properties: { deploymentId: { type: ['string', 'null'] }, created: { type: 'boolean' }, definitions: { type: 'array', items: definitionSummary } } },
          201: { type: 'object', properties: { deploymentId: { type: ['string', 'null'] }, created: { type: 'boolean' }, definitions: { type: 'array', items: definitionSummary } } },
          413: { $ref: 'Error#' },
          415: { $ref: 'Error#' },
          422: { $ref: 'Error#' },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const resources: Resource[] = [];
      const name = (req.query as { name?: string }).name;
      if (req.isMultipart()) {
        for await (const part of req.parts()) {
          if (part.type !== 'file') continue;
          const buf = await part.toBuffer();
          resources.push({ name: part.filename || part.fieldname, content: buf.toString('utf8') });
        }
      } else if (typeof req.body === 'string') {
        resources.push({ name: name ?? 'deployment.bpmn', content: req.body });
      } else {
        throw new InsureflowError('UNSUPPORTED_MEDIA_TYPE', 'send a BPMN document as application/xml, or files as multipart/form-data');
      }
      if (!resources.length) throw new InsureflowError('VALIDATION_FAILED', 'the deployment contains no file');
      const result = await engine.deploy(resources, { actor: req.actor, source: 'api', name });
      reply.status(result.created ? 201 : 200);
      return result;
    },
  );

  app.get(
    '/process-definitions',
    { config: { roles: ['admin', 'analyst', 'ops', 'auditor'] }, schema: { tags: ['definitions'], summary: 'Latest version of each process', response: { 200: { type: 'array', items: { $ref: 'Definition#' } }, ...errorResponses } } },
    async () => engine.listDefinitions(),
  );

  const keyParams = { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 200 } } };
  const versionQuery = { type: 'object', properties: { version: { type: 'integer', minimum: 1 } }, additionalProperties: false };

  app.get(
    '/process-definitions/:key',
    { config: { roles: ['admin', 'analyst', 'ops', 'auditor'] }, schema: { tags: ['definitions'], params: keyParams, querystring: versionQuery, response: { 200: { $ref: 'Definition#' }, ...errorResponses } } },
    async (req) => {
      const { key } = req.params as { key: string };
      return engine.getDefinition(key, (req.query as { version?: number }).version);
    },
  );

  app.get(
    '/process-definitions/:key/xml',
    { config: { roles: ['admin', 'analyst', 'ops', 'auditor'] }, schema: { tags: ['definitions'], params: keyParams, querystring: versionQuery, response: { 200: { type: 'string' }, ...errorResponses } } },
    async (req, reply) => {
      const { key } = req.params as { key: string };
      const row = await engine.getDefinitionRow(key, (req.query as { version?: number }).version);
      reply.type('application/xml');
      return row.xml;
    },
  );
}
