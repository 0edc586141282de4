/**
 * Read routes of the deployed rules and forms, for analysts, auditors and admins (ops: the decisions they hold
 * the permission read on, the decisions of instances they may read the history of; forms: 403): the decisions
 * with their versions and XML, the form schemas with their versions, and the decisions an instance evaluated (key,
 * version, inputs, matched rules, outputs, result: the decision.evaluated history events, sensitive inputs
 * redacted: src/engine/authorization.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { KnexDeploymentStore } from '../../persistence/deployments.ts';
import { InsureflowError } from '../../errors.ts';
import { errorResponses, idParams } from '../schemas.ts';

const READERS = ['admin', 'analyst', 'auditor'] as const;
/** decisions: also ops with the permission read on the decision key (src/engine/authorization.ts) */
const DECISION_READERS = [...READERS, 'ops'] as const;
const iso = (ms: number) => new Date(ms).toISOString();

const decisionSummary = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    name: { type: ['string', 'null'] },
    latestVersion: { type: 'integer' },
    versions: { type: 'integer', description: 'number of versions' },
    resourceName: { type: 'string' },
    updatedAt: { type: 'string', description: 'when the latest version was deployed (ISO 8601)' },
  },
};
const decisionVersion = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    name: { type: ['string', 'null'] },
    versionTag: { type: ['string', 'null'] },
    resourceName: { type: 'string' },
    deploymentId: { type: 'string' },
    createdAt: { type: 'string' },
    checksum: { type: 'string' },
    xml: { type: 'string', description: 'the DMN document the version came from' },
  },
};
const formVersion = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    versionTag: { type: ['string', 'null'] },
    resourceName: { type: ['string', 'null'] },
    deploymentId: { type: 'string' },
    createdAt: { type: 'string' },
    checksum: { type: 'string' },
    schema: { type: 'object', additionalProperties: true, description: 'the JSON Schema' },
  },
};
const evaluation = {
  type: 'object',
  properties: {
    seq: { type: 'integer', description: 'position in the instance history' },
    at: { type: 'string' },
    activityId: { type: ['string', 'null'] },
    decisionKey: { type: 'string' },
    decisionVersion: { type: ['integer', 'null'], description: 'null for evaluations recorded before versions were' },
    binding: { type: ['string', 'null'] },
    inputs: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, label: { type: 'string' }, value: {} } } },
    matchedRules: { type: 'array', items: { type: 'string' } },
    outputs: { type: 'array', items: { type: 'object', properties: { ruleId: { type: 'string' }, values: { type: 'object', additionalProperties: true } } } },
    result: {},
  },
};

export async function artefactRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  const store = new KnexDeploymentStore(engine.db);

  app.get(
    '/decisions',
    { config: { roles: [...DECISION_READERS] }, schema: { tags: ['definitions'], summary: 'Every deployed decision the caller may read, with its latest version', response: { 200: { type: 'array', items: decisionSummary }, ...errorResponses } } },
    async (req) => {
      const may = await engine.permissions(req.actor);
      return (await store.decisionSummaries()).filter((d) => may.allows('read', 'decision', d.key)).map((d) => ({ ...d, updatedAt: iso(d.updatedAt) }));
    },
  );

  app.get(
    '/decisions/:key',
    {
      config: { roles: [...DECISION_READERS] },
      schema: {
        tags: ['definitions'],
        summary: 'A decision: every version, oldest first, with its DMN XML',
        params: { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 200: { type: 'object', properties: { key: { type: 'string' }, latestVersion: { type: 'integer' }, versions: { type: 'array', items: decisionVersion } } }, ...errorResponses },
      },
    },
    async (req) => {
      const { key } = req.params as { key: string };
      await engine.authorize(req.actor, 'read', 'decision', key);
      const versions = await store.decisionVersions(key);
      if (!versions.length) throw new InsureflowError('NOT_FOUND', `decision "${key}" is not deployed`);
      return {
        key,
        latestVersion: versions[versions.length - 1].version,
        versions: versions.map((v) => ({ version: v.version, name: v.name, versionTag: v.versionTag, resourceName: v.resourceName, deploymentId: v.deploymentId, createdAt: iso(v.createdAt), checksum: v.checksum, xml: v.xml })),
      };
    },
  );

  // form keys may have folders (forms/intake/triage.schema.json is intake/triage): the rest of the path is the key
  app.get(
    '/forms/*',
    {
      config: { roles: [...READERS] },
      schema: {
        tags: ['definitions'],
        summary: 'A form: every version of its JSON Schema, oldest first (GET /api/forms/<form key>)',
        params: { type: 'object', properties: { '*': { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 200: { type: 'object', properties: { key: { type: 'string' }, latestVersion: { type: 'integer' }, versions: { type: 'array', items: formVersion } } }, ...errorResponses },
      },
    },
    async (req) => {
      // Fastify has decoded the path once already: decoding again would misread a key with a % (and throw on "%")
      const key = (req.params as { '*': string })['*'] ?? '';
      const versions = key ? await store.formVersions(key) : [];
      if (!versions.length) throw new InsureflowError('NOT_FOUND', `form "${key}" is not deployed`);
      return {
        key,
        latestVersion: versions[versions.length - 1].version,
        versions: versions.map((v) => ({ version: v.version, versionTag: v.versionTag, resourceName: v.resourceName, deploymentId: v.deploymentId, createdAt: iso(v.createdAt), checksum: v.checksum, schema: JSON.parse(v.schema) })),
      };
    },
  );

  app.get(
    '/process-instances/:id/decisions',
    {
      // ops: with read-history on the instance's process, or a task of it (src/engine/authorization-reads.ts)
      config: { roles: [...DECISION_READERS] },
      schema: { tags: ['history'], summary: 'The decisions an instance evaluated, in order: key, version, inputs, matched rules, outputs, result', params: idParams, response: { 200: { type: 'array', items: evaluation }, ...errorResponses } },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      // what the caller may see of them, sensitive inputs redacted
      return (await engine.instanceDecisions(id, req.actor)).map((e) => {
        const d = e.data as Record<string, any>;
        return {
          seq: e.seq,
          at: iso(e.at),
          activityId: e.activityId,
          decisionKey: String(d.decisionKey ?? d.decisionId),
          decisionVersion: typeof d.decisionVersion === 'number' ? d.decisionVersion : null,
          binding: d.binding ?? null,
          inputs: d.inputs ?? [],
          matchedRules: d.matchedRules ?? [],
          outputs: d.outputs ?? [],
          result: d.result ?? null,
        };
      });
    },
  );
}
