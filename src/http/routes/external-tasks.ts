/**
 * The Camunda 7-compatible external task REST API (issue 11, section 3), registered under /engine-rest so that
 * Camunda's worker clients (camunda-external-task-client-js, the Java, Python and .NET clients) work unchanged with
 * `baseUrl: http://host:port/engine-rest`. Shapes follow Camunda's ExternalTaskRestService: LockedExternalTaskDto
 * from fetchAndLock, typed variables `{ name: { type, value, valueInfo } }` both ways, 204 No Content for the
 * answers. Semantics and authorization are the engine's (src/engine/external-tasks.ts). Errors carry our
 * `{ statusCode, code, message }` plus Camunda's `type`; a wrong worker is a 409 with a stable code (Camunda: 500).
 *
 * Typed variables accepted: String, Boolean, Integer, Short, Long, Double, Null, Json (value: the JSON text, or a
 * JSON value), Object with serializationDataFormat application/json (value: the JSON text), Date (kept as the ISO
 * 8601 string); a value without a type is taken as it is. Bytes, File and Java-serialized objects are refused
 * (400). Variables handed out: String, Boolean, Integer (32-bit) / Long, Double, Null, and Json for objects and
 * arrays (value: the JSON text, as Camunda's Spin JSON).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import type { StoredExternalTask } from '../../engine/ports.ts';
import type { LockedExternalTask } from '../../engine/external-tasks.ts';
import { InsureflowError } from '../../errors.ts';
import type { Variables } from '../../engine/runtime.ts';

const roles = ['admin', 'worker'] as const;

const error = {
  type: 'object',
  properties: { type: { type: 'string' }, statusCode: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' }, details: {} },
};
const errors = { 400: error, 401: error, 403: error, 404: error, 409: error };
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } };
const workerId = { type: 'string', minLength: 1, maxLength: 255 };
const typedValue = {
  type: 'object',
  properties: { type: { type: 'string', maxLength: 50 }, value: {}, valueInfo: { type: 'object', additionalProperties: true } },
  additionalProperties: false,
};
const typedVariables = { type: ['object', 'null'], additionalProperties: typedValue, maxProperties: 1000 };
const ms = (max: number) => ({ type: 'integer', minimum: 0, maximum: max });

/** Camunda's exception type names by HTTP status (its error body's `type`). */
const CAMUNDA_TYPE: Record<number, string> = { 400: 'InvalidRequestException', 401: 'AuthenticationException', 403: 'AuthorizationException', 404: 'NotFoundException', 409: 'RestException', 413: 'InvalidRequestException', 415: 'InvalidRequestException' };

// ------------------------------------------------------------------------------------------ typed variables

const bad = (field: string, message: string) => new InsureflowError('VALIDATION_FAILED', `${field}: ${message}`, [{ in: 'body', field, message }]);

function parseJsonText(field: string, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    throw bad(field, 'the value of a Json / Object variable must be JSON text');
  }
}

/** A date-time text with a valid calendar date and time: yyyy-MM-ddTHH:mm:ss[.SSS][Z|±hh:mm|±hhmm]. */
function isDateTime(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return at.getUTCFullYear() === y && at.getUTCMonth() === mo - 1 && at.getUTCDate() === d && h < 24 && mi < 60 && se < 60;
}

/** Camunda's typed variables as plain values. @throws InsureflowError VALIDATION_FAILED naming the variable */
export function fromTyped(vars: Record<string, { type?: string; value?: unknown; valueInfo?: Record<string, unknown> }> | null | undefined, where: string): Variables {
  const out: Variables = {};
  for (const [name, tv] of Object.entries(vars ?? {})) {
    const field = `${where}.${name}`;
    const v = tv.value === undefined ? null : tv.value;
    const type = (tv.type ?? '').toLowerCase();
    const need = (ok: boolean, what: string) => {
      if (!ok && v !== null) throw bad(field, `a ${tv.type} variable needs ${what}`);
    };
    switch (type) {
      case '':
        out[name] = v;
        break;
      case 'string':
        need(typeof v === 'string', 'a string value');
        out[name] = v;
        break;
      case 'date':
        // Camunda's date format is yyyy-MM-dd'T'HH:mm:ss.SSSZ (e.g. 2026-01-05T09:00:00.000+0100); ISO 8601 with Z or ±hh:mm too
        need(typeof v === 'string' && isDateTime(v), 'an ISO 8601 date-time such as 2026-01-05T09:00:00.000+0100');
        out[name] = v;
        break;
      case 'boolean':
        need(typeof v === 'boolean', 'true or false');
        out[name] = v;
        break;
      case 'integer':
      case 'short':
      case 'long': {
        // Java's ranges: Short 16 bits, Integer 32 bits, Long as far as a JSON number keeps integers exact
        const range = type === 'short' ? 2 ** 15 : type === 'integer' ? 2 ** 31 : 2 ** 53;
        need(typeof v === 'number' && Number.isSafeInteger(v) && v >= -range && v < range, `an integer value from ${-range} to ${range - 1}`);
        out[name] = v;
        break;
      }
      case 'double':
        need(typeof v === 'number' && Number.isFinite(v), 'a number value');
        out[name] = v;
        break;
      case 'null':
        out[name] = null;
        break;
      case 'json':
        out[name] = parseJsonText(field, v);
        break;
      case 'object': {
        const format = String(tv.valueInfo?.serializationDataFormat ?? 'application/json');
        if (format !== 'application/json') throw bad(field, `Object variables are accepted as JSON only (serializationDataFormat application/json), not ${format}`);
        out[name] = parseJsonText(field, v);
        break;
      }
      default:
        throw bad(field, `variables of type ${tv.type} are not supported here: send String, Boolean, Integer, Long, Double, Null, Json or Date`);
    }
  }
  return out;
}

/** Plain values as Camunda's typed variables. */
export function toTyped(vars: Variables): Record<string, { type: string; value: unknown; valueInfo: Record<string, unknown> }> {
  const out: Record<string, { type: string; value: unknown; valueInfo: Record<string, unknown> }> = {};
  for (const [name, v] of Object.entries(vars)) {
    if (v === null || v === undefined) out[name] = { type: 'Null', value: null, valueInfo: {} };
    else if (typeof v === 'boolean') out[name] = { type: 'Boolean', value: v, valueInfo: {} };
    else if (typeof v === 'number') out[name] = { type: Number.isInteger(v) ? (Math.abs(v) <= 2 ** 31 - 1 ? 'Integer' : 'Long') : 'Double', value: v, valueInfo: {} };
    else if (typeof v === 'string') out[name] = { type: 'String', value: v, valueInfo: {} };
    else out[name] = { type: 'Json', value: JSON.stringify(v), valueInfo: {} };
  }
  return out;
}

// ------------------------------------------------------------------------------------------ DTOs

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Camunda's ExternalTaskDto. */
function taskDto(t: StoredExternalTask) {
  return {
    id: t.id,
    topicName: t.topic,
    workerId: t.workerId,
    lockExpirationTime: iso(t.lockExpiresAt),
    processInstanceId: t.processInstanceId,
    executionId: t.executionId,
    activityId: t.activityId,
    activityInstanceId: `${t.activityId}:${t.executionId}`,
    processDefinitionId: t.definitionId,
    processDefinitionKey: t.processKey,
    processDefinitionVersionTag: null,
    businessKey: t.businessKey,
    retries: t.retries,
    errorMessage: t.errorMessage,
    suspended: false,
    priority: t.priority,
    tenantId: null,
    createTime: iso(t.createdAt),
  };
}

/** Camunda's LockedExternalTaskDto. */
function lockedDto(t: LockedExternalTask) {
  const { suspended: _s, createTime: _c, ...base } = taskDto(t);
  return { ...base, errorDetails: t.errorDetails, variables: toTyped(t.variables), extensionProperties: {} };
}

const nullable = (t: string) => ({ type: [t, 'null'] });
const taskProps = {
  id: { type: 'string' }, topicName: { type: 'string' }, workerId: nullable('string'), lockExpirationTime: nullable('string'),
  processInstanceId: { type: 'string' }, executionId: { type: 'string' }, activityId: { type: 'string' }, activityInstanceId: { type: 'string' },
  processDefinitionId: { type: 'string' }, processDefinitionKey: { type: 'string' }, processDefinitionVersionTag: nullable('string'),
  businessKey: nullable('string'), retries: nullable('integer'), errorMessage: nullable('string'), priority: { type: 'integer' }, tenantId: nullable('string'),
};
const taskSchema = { type: 'object', properties: { ...taskProps, suspended: { type: 'boolean' }, createTime: nullable('string') } };
const lockedSchema = { type: 'object', properties: { ...taskProps, errorDetails: nullable('string'), variables: { type: 'object', additionalProperties: true }, extensionProperties: { type: 'object', additionalProperties: true } } };

// ------------------------------------------------------------------------------------------ routes

const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

export async function externalTaskRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  // long polls in progress: a graceful shutdown must not wait for their asyncResponseTimeout
  const held = new Set<AbortController>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const poll of held) poll.abort();
  });
  // Camunda's error body has a `type`; ours keeps statusCode, code and message beside it
  app.addHook('preSerialization', async (_req, reply, payload: any) => {
    if (reply.statusCode >= 400 && payload && typeof payload === 'object' && typeof payload.code === 'string' && !payload.type) {
      return { type: CAMUNDA_TYPE[reply.statusCode] ?? 'RestException', ...payload };
    }
    return payload;
  });
  // Camunda clients read the body as JSON only when the content type is exactly application/json
  app.addHook('onSend', async (_req, reply, payload) => {
    if (/^application\/json;\s*charset=utf-8$/i.test(String(reply.getHeader('content-type') ?? ''))) reply.header('content-type', 'application/json');
    return payload;
  });

  app.post(
    '/external-task/fetchAndLock',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['external tasks'],
        summary: 'Lock up to maxTasks external tasks of the topics for the worker (long polling with asyncResponseTimeout ms)',
        body: {
          type: 'object',
          required: ['workerId', 'maxTasks', 'topics'],
          additionalProperties: false,
          properties: {
            workerId,
            maxTasks: { type: 'integer', minimum: 0, maximum: 1000 },
            usePriority: { type: 'boolean' },
            asyncResponseTimeout: ms(1_800_000),
            sorting: { type: 'array', maxItems: 10, items: { type: 'object', additionalProperties: true }, description: 'accepted; tasks come oldest first (after priority with usePriority)' },
            topics: {
              type: 'array',
              minItems: 1,
              maxItems: 100,
              items: {
                type: 'object',
                required: ['topicName', 'lockDuration'],
                additionalProperties: false,
                properties: {
                  topicName: { type: 'string', minLength: 1, maxLength: 200 },
                  lockDuration: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
                  variables: { type: ['array', 'null'], maxItems: 1000, items: { type: 'string', maxLength: 200 } },
                  localVariables: { type: 'boolean' },
                  businessKey: { type: 'string', maxLength: 200 },
                  processDefinitionKey: { type: 'string', maxLength: 200 },
                  deserializeValues: { type: 'boolean' },
                  includeExtensionProperties: { type: 'boolean' },
                  withoutTenantId: { type: 'boolean' },
                },
              },
            },
          },
        },
        response: { 200: { type: 'array', items: lockedSchema }, ...errors },
      },
    },
    async (req, reply) => {
      const body = req.body as { workerId: string; maxTasks: number; usePriority?: boolean; asyncResponseTimeout?: number; topics: { topicName: string; lockDuration: number; variables?: string[] | null; localVariables?: boolean; businessKey?: string; processDefinitionKey?: string }[] };
      // a client that goes away ends its long poll
      const gone = new AbortController();
      req.raw.once('close', () => gone.abort());
      reply.raw.once('close', () => gone.abort());
      // shutting down (app.close) answers held polls at once with what they have (Camunda answers [] at the timeout)
      held.add(gone);
      try {
        const tasks = await engine.externalTasks.fetchAndLock(req.actor, body, gone.signal);
        // answered because the server stops: the connection must not stay open (keep-alive) and hold the close
        if (closing) void reply.header('connection', 'close');
        return tasks.map(lockedDto);
      } finally {
        held.delete(gone);
      }
    },
  );

  app.get(
    '/external-task',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['external tasks'],
        summary: 'Open external tasks (a worker must name a topic it may fetch)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            topicName: { type: 'string', minLength: 1, maxLength: 200 },
            processInstanceId: { type: 'string', maxLength: 64 },
            firstResult: { type: 'integer', minimum: 0, maximum: 1_000_000 },
            maxResults: { type: 'integer', minimum: 1, maximum: 500 },
          },
        },
        response: { 200: { type: 'array', items: taskSchema }, ...errors },
      },
    },
    async (req, reply) => {
      const q = req.query as { topicName?: string; processInstanceId?: string; firstResult?: number; maxResults?: number };
      const page = await engine.externalTasks.list(req.actor, { topicName: q.topicName, processInstanceId: q.processInstanceId, limit: q.maxResults ?? 100, offset: q.firstResult ?? 0 });
      return page.items.map(taskDto);
    },
  );

  app.get(
    '/external-task/:id',
    { config: { roles: [...roles] }, schema: { tags: ['external tasks'], params: idParams, response: { 200: taskSchema, ...errors } } },
    async (req) => taskDto(await engine.externalTasks.get(req.actor, idOf(req))),
  );

  app.post(
    '/external-task/:id/complete',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['external tasks'],
        summary: 'Complete the task: variables become process variables; 204. Repeated by the same worker: 204, nothing changes',
        params: idParams,
        body: { type: 'object', required: ['workerId'], additionalProperties: false, properties: { workerId, variables: typedVariables, localVariables: typedVariables } },
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (req, reply) => {
      const b = req.body as { workerId: string; variables?: Record<string, any> | null; localVariables?: Record<string, any> | null };
      const localVariables = b.localVariables ? fromTyped(b.localVariables, 'localVariables') : undefined;
      await engine.externalTasks.complete(req.actor, idOf(req), { workerId: b.workerId, variables: fromTyped(b.variables, 'variables'), ...(localVariables && { localVariables }) });
      return reply.status(204).send();
    },
  );

  app.post(
    '/external-task/:id/failure',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['external tasks'],
        summary: 'Report a failure: retries > 0 -> fetchable again after retryTimeout ms; retries 0 (default) -> an incident; 204',
        params: idParams,
        body: {
          type: 'object',
          required: ['workerId'],
          additionalProperties: false,
          properties: {
            workerId,
            errorMessage: { type: ['string', 'null'], maxLength: 4000 },
            errorDetails: { type: ['string', 'null'], maxLength: 100_000 },
            retries: { type: 'integer', minimum: 0, maximum: 1_000_000 },
            retryTimeout: ms(31_536_000_000),
            variables: typedVariables,
            localVariables: typedVariables,
          },
        },
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (req, reply) => {
      const b = req.body as { workerId: string; errorMessage?: string | null; errorDetails?: string | null; retries?: number; retryTimeout?: number; variables?: unknown; localVariables?: unknown };
      if ((b.variables && Object.keys(b.variables).length) || (b.localVariables && Object.keys(b.localVariables).length)) {
        throw bad('variables', 'variables with a failure are not stored here: send them with complete, or with bpmnError');
      }
      await engine.externalTasks.failure(req.actor, idOf(req), { workerId: b.workerId, errorMessage: b.errorMessage ?? null, errorDetails: b.errorDetails ?? null, retries: b.retries ?? 0, retryTimeout: b.retryTimeout ?? 0 });
      return reply.status(204).send();
    },
  );

  app.post(
    '/external-task/:id/bpmnError',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['external tasks'],
        summary: 'Throw a BPMN error: routed to the boundary event or event sub-process catching errorCode (uncaught: an incident); 204',
        params: idParams,
        body: { type: 'object', required: ['workerId', 'errorCode'], additionalProperties: false, properties: { workerId, errorCode: { type: 'string', minLength: 1, maxLength: 200 }, errorMessage: { type: ['string', 'null'], maxLength: 4000 }, variables: typedVariables } },
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (req, reply) => {
      const b = req.body as { workerId: string; errorCode: string; errorMessage?: string | null; variables?: Record<string, any> | null };
      await engine.externalTasks.bpmnError(req.actor, idOf(req), { workerId: b.workerId, errorCode: b.errorCode, errorMessage: b.errorMessage ?? null, variables: fromTyped(b.variables, 'variables') });
      return reply.status(204).send();
    },
  );

  app.post(
    '/external-task/:id/extendLock',
    {
      config: { roles: [...roles] },
      schema: {
        tags: ['external tasks'],
        summary: 'Set the lock of a task the worker holds (unexpired) to now + newDuration ms; 204',
        params: idParams,
        body: { type: 'object', required: ['workerId', 'newDuration'], additionalProperties: false, properties: { workerId, newDuration: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } } },
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (req, reply) => {
      const b = req.body as { workerId: string; newDuration: number };
      await engine.externalTasks.extendLock(req.actor, idOf(req), b);
      return reply.status(204).send();
    },
  );

  app.post(
    '/external-task/:id/unlock',
    { config: { roles: [...roles] }, schema: { tags: ['external tasks'], summary: 'Free the task for any worker; 204', params: idParams, response: { 204: { type: 'null' }, ...errors } } },
    async (req, reply) => {
      await engine.externalTasks.unlock(req.actor, idOf(req));
      return reply.status(204).send();
    },
  );
}
