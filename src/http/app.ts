/**
 * The HTTP surface: Fastify with a JSON Schema on every route, OpenAPI at /docs, bearer-token auth, and one
 * error handler that maps every error to `{ statusCode, code, message, details? }` without leaking internals.
 */
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions, type RouteOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import multipart from '@fastify/multipart';
import addFormats from 'ajv-formats';
import { InsureflowError, ErrorCodes, type ErrorCode } from '../errors.ts';
import type { InsureflowEngine } from '../persistence/knex-engine.ts';
import type { Actor, Role } from '../persistence/users.ts';
import { sharedSchemas } from './schemas.ts';
import { deploymentRoutes } from './routes/deployments.ts';
import { instanceRoutes } from './routes/instances.ts';
import { taskRoutes } from './routes/tasks.ts';
import { operationsRoutes } from './routes/operations.ts';
import { userRoutes } from './routes/users.ts';
import { auditRoutes } from './routes/audit.ts';
import { artefactRoutes } from './routes/artefacts.ts';
import { registerInputSafety } from './input-safety.ts';
import { isStorageFull } from '../persistence/db.ts';
import { authorizationRoutes } from './routes/authorizations.ts';
import { probeDatabase } from '../persistence/probe.ts';
import { externalTaskRoutes } from './routes/external-tasks.ts';
import { metricsRoutes } from './metrics.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
  interface FastifyContextConfig {
    /** roles allowed on the route; absent means the route is open */
    roles?: Role[];
  }
}

export interface AppOptions {
  engine: InsureflowEngine;
  logger?: FastifyServerOptions['logger'] | false;
  /** max JSON body (bytes) */
  bodyLimit?: number;
  /** extra route plugins (domain APIs such as claim status) */
  plugins?: ((app: FastifyInstance, engine: InsureflowEngine) => Promise<void> | void)[];
  /** called with every route as it is registered (method, url, config.roles): the route table of the authorization matrix test */
  onRoute?: (route: RouteOptions) => void;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEPLOYMENT_BODY_LIMIT = 10 * 1024 * 1024;

function errorBody(statusCode: number, code: string, message: string, details?: unknown) {
  return details === undefined ? { statusCode, code, message } : { statusCode, code, message, details };
}

function mapFastifyCode(err: any): { code: ErrorCode; status: number } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return { code: 'PAYLOAD_TOO_LARGE', status: 413 };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return { code: 'BAD_REQUEST', status: 400 };
  }
  if (err instanceof SyntaxError || err.statusCode === 400) return { code: 'BAD_REQUEST', status: 400 };
  // any other client error a plugin raises with its status (e.g. @fastify/static's 403 on a path outside its root)
  if (typeof err.code === 'string' && err.code.startsWith('FST_') && err.statusCode >= 400 && err.statusCode < 500) {
    const byStatus: Record<number, ErrorCode> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };
    return byStatus[err.statusCode] ? { code: byStatus[err.statusCode], status: err.statusCode } : { code: 'BAD_REQUEST', status: 400 };
  }
  return null;
}

/** `Authorization: Basic base64(user:password)`, or null when the header is not that. */
function basicCredentials(header: string): { username: string; password: string } | null {
  const b = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!b) return null;
  const text = Buffer.from(b[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon > 0 ? { username: text.slice(0, colon), password: text.slice(colon + 1) } : null;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { engine } = opts;
  const givenLogger = opts.logger as any;
  const app = Fastify({
    ...(givenLogger && typeof givenLogger.info === 'function' ? { loggerInstance: givenLogger } : { logger: givenLogger ?? false }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // a URL the router cannot decode (FST_ERR_BAD_URL) gets the API's error shape, not Fastify's
    frameworkErrors: (err: Error, _req: unknown, reply: any) => {
      void reply.status(400).send(errorBody(400, 'BAD_REQUEST', `the request URL cannot be decoded (${String(err.message).replace(/^FST_\w+:\s*/, '')}): percent-encoded bytes must be UTF-8`));
    },
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true }, plugins: [addFormats as any] },
  });

  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  app.addContentTypeParser(['application/xml', 'text/xml', 'application/bpmn+xml'], { parseAs: 'buffer', bodyLimit: DEPLOYMENT_BODY_LIMIT }, (_req, body, done) => done(null, body));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'insureflow API', version: '0.1.0', description: 'BPMN workflow engine for insurance operations' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(multipart, { limits: { fileSize: DEPLOYMENT_BODY_LIMIT, files: 200, parts: 400 } });
  for (const s of sharedSchemas) app.addSchema(s);

  app.setErrorHandler((err: any, req, reply) => {
    if (err instanceof InsureflowError) {
      if (err.statusCode >= 500) req.log.error({ err }, 'request failed');
      return reply.status(err.statusCode).send(errorBody(err.statusCode, err.code, err.message, err.details));
    }
    if (err.validation) {
      const details = err.validation.map((v: any) => {
        let field = v.instancePath ? v.instancePath.slice(1).replace(/\//g, '.') : '';
        if (v.keyword === 'required') field = [field, v.params?.missingProperty].filter(Boolean).join('.');
        if (v.keyword === 'additionalProperties') field = [field, v.params?.additionalProperty].filter(Boolean).join('.');
        return { in: err.validationContext ?? 'body', field: field || '(root)', message: v.message, keyword: v.keyword };
      });
      return reply.status(400).send(errorBody(400, 'VALIDATION_FAILED', `request ${err.validationContext ?? 'body'} is invalid: ${details.map((d: any) => `${d.field} ${d.message}`).join('; ')}`, details));
    }
    if (isStorageFull(err)) {
      req.log.error({ err }, 'the database is out of space');
      return reply.status(507).send(errorBody(507, 'STORAGE_FULL', 'the database is out of space: nothing of this request was stored; free disk space (or raise the database size limit) and retry'));
    }
    const mapped = mapFastifyCode(err);
    if (mapped) return reply.status(mapped.status).send(errorBody(mapped.status, mapped.code, String(err.message ?? mapped.code).replace(/^FST_\w+:\s*/, '')));
    req.log.error({ err }, 'unexpected error');
    return reply.status(500).send(errorBody(500, 'INTERNAL', 'internal error; the incident was logged'));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  app.decorateRequest('actor', null as unknown as Actor);
  // every string in (body, keys, query, params, token) valid Unicode without NUL: before authentication and schemas
  registerInputSafety(app);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const roles = req.routeOptions.config?.roles;
    if (!roles) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    // HTTP Basic (Camunda clients' default): the user name, and the user's API token as the password
    const basic = m ? null : basicCredentials(header);
    if (!m && !basic) throw new InsureflowError('UNAUTHENTICATED', 'send Authorization: Bearer <token> (or Basic with the user name and its token as the password)');
    const user = await engine.users.authenticate(m ? m[1] : basic!.password);
    if (!user || (basic && user.name !== basic.username)) throw new InsureflowError('UNAUTHENTICATED', 'the token is unknown, revoked, or its user is disabled (or is not that user\'s)');
    req.actor = { name: user.name, roles: user.roles, groups: user.groups };
    if (!user.roles.some((r) => roles.includes(r))) {
      throw new InsureflowError('FORBIDDEN', `this operation needs one of the roles: ${roles.join(', ')}`);
    }
  });

  // the latency hook before every route; GET /metrics (./metrics.ts)
  await metricsRoutes(app, engine);

  app.get('/health', { schema: { tags: ['system'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' }, database: { type: 'string' } } } } } }, async () => {
    // its own connection on SQLite: a long transition holds the pool's only one (src/persistence/probe.ts)
    await probeDatabase(engine.db);
    return { status: 'ok', database: engine.dialect };
  });

  await app.register(
    async (api) => {
      await deploymentRoutes(api, engine);
      await instanceRoutes(api, engine);
      await taskRoutes(api, engine);
      await operationsRoutes(api, engine);
      await userRoutes(api, engine);
      await auditRoutes(api, engine);
      await artefactRoutes(api, engine);
      await authorizationRoutes(api, engine);
      for (const p of opts.plugins ?? []) await p(api, engine);
    },
    { prefix: '/api' },
  );
  // Camunda 7-compatible worker API (Camunda clients take baseUrl http://host:port/engine-rest)
  await app.register(async (camunda) => externalTaskRoutes(camunda, engine), { prefix: '/engine-rest' });

  return app;
}

export { ErrorCodes };
