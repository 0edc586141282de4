/**
 * Deployments and process definitions. A deployment is atomic (all its resources or nothing) and idempotent
 * (an unchanged resource is not a new version); see src/engine/deployment.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { InsureflowEngine, Resource } from '../../persistence/knex-engine.ts';
import { resourceKind } from '../../engine/deployment.ts';
import { InsureflowError } from '../../errors.ts';
import { decodeResource } from '../../definitions/encoding.ts';
import { errorResponses } from '../schemas.ts';
import { checkPartText } from '../input-safety.ts';

const definitionSummary = {
  type: 'object',
  properties: { id: { type: 'string' }, key: { type: 'string' }, version: { type: 'integer' }, name: { type: ['string', 'null'] }, created: { type: 'boolean' } },
};
const deployResult = {
  type: 'object',
  properties: {
    deploymentId: { type: ['string', 'null'] },
    created: { type: 'boolean' },
    definitions: { type: 'array', items: definitionSummary },
    decisions: { type: 'array', items: { type: 'object', properties: { decisionKey: { type: 'string' }, version: { type: 'integer' }, created: { type: 'boolean' } } } },
    forms: { type: 'array', items: { type: 'object', properties: { formKey: { type: 'string' }, version: { type: 'integer' }, created: { type: 'boolean' } } } },
    authorizations: {
      type: 'object',
      description: 'the authorizations.json of the deployment (admins only): created when it replaced the default grants and sensitive variables',
      properties: { resource: { type: 'string' }, created: { type: 'boolean' }, grants: { type: 'integer' }, sensitiveVariables: { type: 'integer' } },
    },
    warnings: {
      type: 'array',
      description:
        'findings that do not block the deployment: `source` says who found them (`parser`: the XML reader; `bpmnlint`: a rule of bpmnlint:recommended or ' +
        'bpmnlint-plugin-camunda-compat for the Camunda version the diagram was drawn for, named in `rule`); `element` is the id of the element at fault',
      items: {
        type: 'object',
        required: ['resource', 'message', 'source'],
        properties: { resource: { type: 'string' }, element: { type: 'string' }, message: { type: 'string' }, source: { type: 'string' }, rule: { type: 'string' } },
      },
    },
  },
};
const resolvedBinding = {
  type: 'object',
  properties: { key: { type: 'string' }, binding: { type: 'string' }, version: { type: 'integer' }, versionTag: { type: 'string' }, definitionId: { type: 'string' } },
};
const definitionDetail = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    key: { type: 'string' },
    version: { type: 'integer' },
    name: { type: ['string', 'null'] },
    deploymentId: { type: 'string' },
    resourceName: { type: 'string' },
    createdAt: { type: 'string' },
    versions: { type: 'array', items: { type: 'integer' } },
    bindings: {
      type: 'object',
      description: 'per activity id: the decision, form or called process version resolved when this version was deployed, and its binding type (latest | deployment | version | versionTag)',
      properties: {
        decisions: { type: 'object', additionalProperties: resolvedBinding },
        forms: { type: 'object', additionalProperties: resolvedBinding },
        calledProcesses: { type: 'object', additionalProperties: resolvedBinding },
      },
    },
  },
};

/** A multipart file name as a relative resource name: forward slashes, no drive, no leading or parent folders. */
function resourceName(filename: string): string {
  const parts = filename.replace(/\\/g, '/').replace(/^[A-Za-z]:/, '').split('/').filter((p) => p && p !== '.' && p !== '..');
  return parts.join('/') || 'resource';
}

/** A name for a resource sent as the raw body: from its root element's id and its kind (told by the content). */
function rawResourceName(content: string): string {
  const kind = resourceKind('', content);
  const id = /<([\w.-]+:)?definitions\b[^>]*?\sid\s*=\s*["']([^"']+)["']/.exec(content)?.[2]?.replace(/[^\w.-]/g, '_');
  if (kind === 'bpmn' || kind === 'dmn') return `${id || 'deployment'}.${kind}`;
  return 'deployment.xml';
}

/**
 * The files of a multipart deployment. File names keep their folders (forms/intake/triage.schema.json is form key
 * intake/triage); they are only names here, never paths on this machine. Every text of a part (names, field
 * values, file contents as UTF-8) must be valid Unicode without NUL, as in JSON bodies.
 * @throws InsureflowError VALIDATION_FAILED (bad text, naming the part), BAD_REQUEST (malformed multipart: no
 *   boundary, a truncated body, a malformed part header); the plugin's limit errors (413) pass through
 */
async function multipartResources(req: FastifyRequest): Promise<Resource[]> {
  const resources: Resource[] = [];
  try {
    for await (const part of req.parts({ preservePath: true })) {
      checkPartText('part name', part.fieldname);
      if (part.type !== 'file') {
        if (typeof part.value === 'string') checkPartText(`field ${JSON.stringify(part.fieldname)}`, part.value);
        continue;
      }
      checkPartText('file name', part.filename);
      const content = decodeResource(await part.toBuffer(), part.filename || part.fieldname);
      checkPartText(`file ${JSON.stringify(part.filename)}`, content);
      resources.push({ name: resourceName(part.filename || part.fieldname), content });
    }
  } catch (err) {
    const e = err as { code?: unknown; message?: string };
    if (err instanceof InsureflowError || (typeof e.code === 'string' && e.code.startsWith('FST_'))) throw err;
    throw new InsureflowError('BAD_REQUEST', `malformed multipart body: ${e.message ?? String(err)}`);
  }
  return resources;
}

export async function deploymentRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  app.post(
    '/deployments',
    {
      config: { roles: ['admin', 'analyst'] },
      bodyLimit: 10 * 1024 * 1024,
      schema: {
        tags: ['deployments'],
        summary: 'Deploy a BPMN or DMN document (application/xml) or a bundle (multipart: BPMN, DMN, form schemas), atomically',
        description:
          'All resources are validated first; then every new version is stored in one transaction, or nothing (422 with every problem). ' +
          'A resource whose content did not change is not a new version. `name` names the deployment; the kind of each resource comes ' +
          'from its file name (.bpmn, .dmn, .schema.json), else from its content. A form schema file forms/<key>.schema.json (also in ' +
          'sub-folders: forms/intake/triage.schema.json is form key intake/triage). An authorizations.json (admins only: 403 for others) ' +
          'replaces the default grants and sensitive variables of the previous one (src/engine/authorization-defaults.ts).',
        querystring: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^/\\\\]+$' } }, additionalProperties: false },
        response: {
          200: deployResult,
          201: deployResult,
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
        resources.push(...(await multipartResources(req)));
      } else if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) {
        const content = typeof req.body === 'string' ? req.body : decodeResource(req.body, 'the request body');
        // the body came as bytes, so the input hook saw no text: the decoded document is checked here
        checkPartText('(root)', content);
        resources.push({ name: rawResourceName(content), content });
      } else {
        throw new InsureflowError('UNSUPPORTED_MEDIA_TYPE', 'send a BPMN or DMN document as application/xml, or files as multipart/form-data');
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
  const versionQuery = { type: 'object', properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647 } }, additionalProperties: false };

  app.get(
    '/process-definitions/:key',
    {
      config: { roles: ['admin', 'analyst', 'ops', 'auditor'] },
      schema: { tags: ['definitions'], summary: 'A version (default the latest), its versions and its resolved bindings', params: keyParams, querystring: versionQuery, response: { 200: definitionDetail, ...errorResponses } },
    },
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
