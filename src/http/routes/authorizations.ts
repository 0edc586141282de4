/**
 * Authorizations (admins only): list, grant and revoke Camunda-style grants, and read the sensitive variables in
 * force (src/engine/authorization.ts says what each permission allows; the engine checks them in its operations).
 *
 * ROUTE_ACCESS is the permission model of the whole API in one table: for every route, what the engine checks
 * beyond the route's roles (config.roles) — the permission and where its resource id comes from, whether task
 * participation also allows it, whether a list is narrowed instead of refused. The authorization matrix test is
 * generated from it and from the routes' roles; test/authorizations-http.test.ts checks that every route has a row.
 */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { PERMISSION_MEANING, RESOURCE_TYPES, type Permission, type ResourceType } from '../../engine/authorization.ts';
import { GRANT_INPUT_SCHEMA, GROUP_NAME, RESOURCE_ID, USER_NAME, type GrantInput } from '../../engine/authorization-defaults.ts';
import type { GrantQuery } from '../../engine/ports.ts';
import { errorResponses, pageOf, pageQuery } from '../schemas.ts';

/** What the engine checks for one route, beyond the route's roles. */
export interface RouteAccess {
  /**
   * The permission needed, on which resource type, and where the resource id comes from (`:key` a path
   * parameter, `body.name` a body field, `instance` the process key of the instance the path names, `topic` the
   * external task topic(s) the request names or acts on, a literal).
   * Absent: the roles alone decide.
   */
  permission?: { resourceType: ResourceType; permission: Permission; resourceId: string };
  /** holding or having held a task of the instance allows it too */
  participation?: boolean;
  /** a list: shows what the caller may see (by the permission) instead of a 403 */
  filtered?: boolean;
  /** sensitive variables the caller may not read are redacted from what it returns */
  redacts?: boolean;
  /**
   * a task route: an ops caller acts only on a task assigned or offered to it or one of its groups (`offered`), or
   * only as its assignee (`assignee`); admins on every task
   */
  task?: 'offered' | 'assignee';
  /** without `permission`: shows what this permission allows instead (filtered), and 403 when it allows nothing */
  otherwise?: { resourceType: ResourceType; permission: Permission; resourceId: string };
  note?: string;
}

const instanceRead = (permission: 'read-instances' | 'read-history'): RouteAccess => ({ permission: { resourceType: 'process-definition', permission, resourceId: 'instance' }, participation: true, redacts: true });
const externalTask: RouteAccess = { permission: { resourceType: 'topic', permission: 'fetch', resourceId: 'topic' } };
const audit: RouteAccess = { permission: { resourceType: 'process-definition', permission: 'read-history', resourceId: '*' }, redacts: true, note: 'auditors and admins by role' };

/** Every route of the API ("METHOD /api/path" as Fastify registers it) and what the engine checks for it. */
export const ROUTE_ACCESS: Record<string, RouteAccess> = {
  'POST /api/deployments': { note: 'an authorizations.json in it: admins only (403)' },
  'GET /api/process-definitions': {},
  'GET /api/process-definitions/:key': {},
  'GET /api/process-definitions/:key/xml': {},
  'POST /api/process-definitions/:key/start': { permission: { resourceType: 'process-definition', permission: 'start', resourceId: ':key' }, redacts: true },
  'GET /api/process-instances': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'instance' }, participation: true, filtered: true },
  'GET /api/process-instances/:id': { ...instanceRead('read-instances'), note: 'variables only with read-variables (or participation), else variablesWithheld' },
  'POST /api/process-instances/:id/cancel': { permission: { resourceType: 'process-definition', permission: 'cancel', resourceId: 'instance' }, redacts: true },
  'GET /api/process-instances/:id/history': instanceRead('read-history'),
  'GET /api/process-instances/:id/history/verify': { note: 'admins and auditors by role; runs on the stored events' },
  'GET /api/process-instances/:id/state': audit,
  'POST /api/process-instances/:id/replay': audit,
  'GET /api/process-instances/:id/decisions': { ...instanceRead('read-history'), otherwise: { resourceType: 'decision', permission: 'read', resourceId: 'each' }, note: 'without read-history: the evaluations of decisions the caller may read (analysts: all)' },
  'GET /api/decisions': { permission: { resourceType: 'decision', permission: 'read', resourceId: 'each' }, filtered: true },
  'GET /api/decisions/:key': { permission: { resourceType: 'decision', permission: 'read', resourceId: ':key' } },
  'GET /api/forms/*': {},
  'GET /api/tasks': { filtered: true, task: 'offered', note: 'tasks assigned or offered to the caller or its groups' },
  'GET /api/tasks/:id': { redacts: true, task: 'offered', note: 'assigned or offered to the caller or its groups' },
  'POST /api/tasks/:id/claim': { task: 'offered', note: 'assigned or offered to the caller or its groups' },
  'POST /api/tasks/:id/unclaim': { task: 'assignee', note: 'the assignee (or an admin)' },
  'POST /api/tasks/:id/complete': { task: 'offered', note: 'assigned or offered to the caller or its groups' },
  'POST /api/messages': { permission: { resourceType: 'message', permission: 'correlate', resourceId: 'body.name' }, note: 'a message start event also needs start on its process' },
  'POST /api/signals': { permission: { resourceType: 'signal', permission: 'broadcast', resourceId: 'body.name' } },
  'GET /api/jobs': {},
  'PUT /api/jobs/:id/due': {},
  'GET /api/incidents': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'instance' }, filtered: true },
  'POST /api/incidents/:id/retry': {},
  'POST /api/incidents/:id/resolve': {},
  'GET /api/users': {},
  'POST /api/users': {},
  'PATCH /api/users/:name': {},
  'DELETE /api/users/:name': {},
  'GET /api/authorizations': {},
  'POST /api/authorizations': {},
  'DELETE /api/authorizations/:id': {},
  'GET /api/authorizations/sensitive-variables': {},
  'GET /api/history/events': audit,
  'GET /api/history/export': audit,
  'GET /api/history/operations': audit,
  'GET /api/history/verify': { permission: audit.permission },
  'GET /api/history/digests': { permission: audit.permission },
  'POST /api/claims': { permission: { resourceType: 'process-definition', permission: 'start', resourceId: 'claims' } },
  'GET /api/claims/:claimNo/status': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'claims' }, participation: true },
  'GET /api/claims/:claimNo/notifications': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'claims' } },
  'POST /api/claims/:claimNo/documents': { permission: { resourceType: 'message', permission: 'correlate', resourceId: 'claim-documents-received' } },
  'POST /api/policies/:policyNo/changes': { permission: { resourceType: 'process-definition', permission: 'start', resourceId: 'policy-change' } },
  'POST /api/policies/:policyNo/cancellations': { permission: { resourceType: 'process-definition', permission: 'start', resourceId: 'policy-cancellation' }, note: "also start on the side, 'policy-cancellation:' + body.cancelledBy (customer or insurer): the start form's x-start-grant, checked by the engine at every start" },
  'GET /api/policies/:policyNo': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'policy-change' }, note: 'who may see policy changes sees the policy, its versions and ledger' },
  'GET /api/reports/claims': { permission: { resourceType: 'report', permission: 'read', resourceId: 'claims' }, note: 'auditors by role; claims-supervisors by the shipped grant' },
  'GET /api/reports/sales': { permission: { resourceType: 'report', permission: 'read', resourceId: 'sales' }, note: 'auditors by role; sales-managers by the shipped grant' },
  'GET /metrics': { permission: { resourceType: 'report', permission: 'read', resourceId: 'metrics' }, note: 'Prometheus: auditors by role; the group monitoring by the shipped grant' },
  'POST /api/complaints': { permission: { resourceType: 'process-definition', permission: 'start', resourceId: 'complaint' } },
  'GET /api/complaints/:complaintNo': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'complaint' } },
  'POST /api/consultations': { permission: { resourceType: 'process-definition', permission: 'start', resourceId: 'consultation' } },
  'GET /api/consultations/:consultationNo': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'consultation' } },
  'POST /api/disputes': { permission: { resourceType: 'process-definition', permission: 'start', resourceId: 'dispute' } },
  'GET /api/disputes/:disputeNo': { permission: { resourceType: 'process-definition', permission: 'read-instances', resourceId: 'dispute' } },
  'GET /api/reports/complaints': { permission: { resourceType: 'report', permission: 'read', resourceId: 'complaints' }, note: 'auditors by role; complaints-supervisors by the shipped grant' },
  // the Camunda-compatible worker API (src/http/routes/external-tasks.ts): `topic` is every topic the request names,
  // or the topic of the external task the path names
  'POST /engine-rest/external-task/fetchAndLock': { ...externalTask, note: 'every topic of the request' },
  'GET /engine-rest/external-task': { ...externalTask, note: 'admins list every open task; others must name a topic they may fetch (topicName)' },
  'GET /engine-rest/external-task/:id': externalTask,
  'POST /engine-rest/external-task/:id/complete': externalTask,
  'POST /engine-rest/external-task/:id/failure': externalTask,
  'POST /engine-rest/external-task/:id/bpmnError': externalTask,
  'POST /engine-rest/external-task/:id/extendLock': externalTask,
  'POST /engine-rest/external-task/:id/unlock': externalTask,
};

const grantSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    group: { type: ['string', 'null'] },
    user: { type: ['string', 'null'] },
    resourceType: { type: 'string' },
    resourceId: { type: 'string' },
    permissions: { type: 'array', items: { type: 'string' } },
    description: { type: ['string', 'null'] },
    source: { type: 'string', enum: ['admin', 'defaults'], description: 'admin: API or CLI; defaults: the deployed authorizations.json' },
    deploymentId: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    createdBy: { type: ['string', 'null'] },
  },
};

const permissionsDoc = RESOURCE_TYPES.map((t) => `${t}: ${Object.entries(PERMISSION_MEANING[t]).map(([p, m]) => `${p} (${m})`).join('; ')}`).join('. ');

export async function authorizationRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  const ADMIN = { roles: ['admin' as const] };

  app.get(
    '/authorizations',
    {
      config: ADMIN,
      schema: {
        tags: ['authorizations'],
        summary: 'Grants, by principal, resource and source',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { group: GROUP_NAME, user: USER_NAME, resourceType: { type: 'string', enum: RESOURCE_TYPES }, resourceId: RESOURCE_ID, source: { type: 'string', enum: ['admin', 'defaults'] }, ...pageQuery },
        },
        response: { 200: pageOf(grantSchema), ...errorResponses },
      },
    },
    async (req) => engine.listAuthorizations(req.query as GrantQuery, req.actor),
  );

  app.post(
    '/authorizations',
    {
      config: ADMIN,
      schema: {
        tags: ['authorizations'],
        summary: 'Grant permissions to a group or a user on a resource ("*": every resource of the type)',
        description: `Permissions by resource type. ${permissionsDoc}. Recorded as authorization.granted on the "authorizations" history chain and in the operation log (grant). 409 AUTHORIZATION_EXISTS when an admin grant to the principal on the resource exists: revoke it first.`,
        body: GRANT_INPUT_SCHEMA,
        response: { 201: grantSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const g = await engine.grant(req.body as GrantInput, req.actor);
      reply.status(201);
      return g;
    },
  );

  app.delete(
    '/authorizations/:id',
    {
      config: ADMIN,
      schema: {
        tags: ['authorizations'],
        summary: 'Revoke a grant (recorded as authorization.revoked); a revoked default comes back with the next changed authorizations.json',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } },
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      await engine.revoke((req.params as { id: string }).id, req.actor);
      reply.status(204);
    },
  );

  app.get(
    '/authorizations/sensitive-variables',
    {
      config: ADMIN,
      schema: {
        tags: ['authorizations'],
        summary: 'Variables readable only by the named groups (and admins), per process key, from the deployed authorizations.json',
        response: { 200: { type: 'array', items: { type: 'object', properties: { processKey: { type: 'string' }, variable: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } } } } }, ...errorResponses },
      },
    },
    async (req) => engine.sensitiveVariables(req.actor),
  );
}
