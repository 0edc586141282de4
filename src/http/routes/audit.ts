/**
 * Auditors' API (roles admin and auditor; everything here is read-only): history across instances, the user
 * operation log, streamed exports, verification of one chain or of everything, the digests to publish,
 * point-in-time state and replay against the approved model. Every route asks the engine first (read-history on
 * every process: src/engine/authorization-reads.ts) and removes from what it returns the sensitive variables the
 * caller may not see (events that lost a value say `redacted: true`; verification runs on the stored events).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { parseDateTime } from '../../engine/iso.ts';
import { apiEvent, exportChunks, type ExportFormat } from '../../audit/export.ts';
import { OPERATIONS, operationPage } from '../../audit/operations.ts';
import { reconstructState } from '../../audit/reconstruct.ts';
import { replayInstance } from '../../audit/replay.ts';
import { digests, eventPage, type EventFilter } from '../../audit/store.ts';
import { verifyAll, verifyHistoryChain } from '../../audit/verify.ts';
import { errorResponses, idParams } from '../schemas.ts';
import type { AuditEvent } from '../../audit/store.ts';
import type { Redactor } from '../../engine/authorization.ts';

const AUDIT = { roles: ['admin', 'auditor'] as ('admin' | 'auditor')[] };

const nullableString = { type: ['string', 'null'] };
const eventSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    chainId: { type: 'string' },
    seq: { type: 'integer' },
    at: { type: 'string' },
    type: { type: 'string' },
    processInstanceId: nullableString,
    processKey: nullableString,
    processVersion: { type: ['integer', 'null'] },
    businessKey: nullableString,
    activityId: nullableString,
    activityType: nullableString,
    actor: nullableString,
    data: { type: 'object', additionalProperties: true },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
    redacted: { type: 'boolean', description: 'true when sensitive variables were withheld from data: the hash then verifies only on the stored event' },
  },
};
const operationSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'string' },
    actor: nullableString,
    operation: { type: 'string' },
    eventType: { type: 'string' },
    target: { type: 'object', additionalProperties: true },
    before: {},
    after: {},
    chainId: { type: 'string' },
    seq: { type: 'integer' },
  },
};
const brokenSchema = { type: 'object', properties: { seq: { type: 'integer' }, kind: { type: 'string' }, reason: { type: 'string' }, chainId: { type: 'string' } } };

const filterQuery = {
  from: { type: 'string', maxLength: 40, description: 'ISO 8601 date or date-time, inclusive' },
  to: { type: 'string', maxLength: 40, description: 'ISO 8601 date or date-time, exclusive' },
  actor: { type: 'string', maxLength: 100 },
  processKey: { type: 'string', maxLength: 200 },
  processVersion: { type: 'integer', minimum: 1, maximum: 2147483647 },
  businessKey: { type: 'string', maxLength: 200 },
  processInstanceId: { type: 'string', maxLength: 100 },
  activityId: { type: 'string', maxLength: 200 },
} as const;
const pagingQuery = {
  cursor: { type: 'string', maxLength: 100, description: 'nextCursor of the previous page' },
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  order: { type: 'string', enum: ['asc', 'desc'], default: 'asc', description: 'by the global event id: oldest (asc) or newest (desc) first' },
} as const;

type FilterQuery = { from?: string; to?: string; actor?: string; processKey?: string; processVersion?: number; businessKey?: string; processInstanceId?: string; activityId?: string; chainId?: string; type?: string };
type PagingQuery = { cursor?: string; limit: number; order: 'asc' | 'desc' };

/** An ISO 8601 date or date-time query parameter as epoch ms (no offset = UTC, as everywhere: engine/iso.ts). */
function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = parseDateTime(v);
  if (t === null) throw new InsureflowError('VALIDATION_FAILED', `${name} "${v}" is not an ISO 8601 date or date-time (e.g. 2030-01-31 or 2030-01-31T09:00:00Z; no offset = UTC)`);
  return t;
}

function toFilter(q: FilterQuery): EventFilter {
  const f: EventFilter = {};
  const from = time(q.from, 'from');
  const to = time(q.to, 'to');
  if (from !== undefined) f.from = from;
  if (to !== undefined) f.to = to;
  for (const k of ['actor', 'processKey', 'businessKey', 'processInstanceId', 'activityId', 'chainId'] as const) if (q[k] !== undefined) f[k] = q[k];
  if (q.processVersion !== undefined) f.processVersion = q.processVersion;
  if (q.type) f.types = q.type.split(',').map((s) => s.trim()).filter(Boolean);
  return f;
}

const encodeCursor = (id: number) => Buffer.from(`h:${id}`).toString('base64url');
function decodeCursor(c: string | undefined): number | undefined {
  if (c === undefined) return undefined;
  const m = /^h:([0-9]{1,18})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw new InsureflowError('VALIDATION_FAILED', 'cursor is not one this API returned');
  return Number(m[1]);
}

/** An event as `r`'s reader may see it. */
function redactEvent(r: Redactor, e: AuditEvent): { event: AuditEvent; redacted: boolean } {
  const { value, redacted } = r.data(e.processKey, e.data);
  return { event: redacted ? { ...e, data: value } : e, redacted };
}

export async function auditRoutes(app: FastifyInstance, engine: InsureflowEngine) {
  const db = engine.db;

  app.get(
    '/history/events',
    {
      config: AUDIT,
      schema: {
        tags: ['audit'],
        summary: 'History events across instances, filtered, in stable pages by the global event id',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...filterQuery,
            chainId: { type: 'string', maxLength: 100, description: 'an instance id, "deployments" or "users"' },
            type: { type: 'string', maxLength: 500, description: 'event types, comma-separated; "task.*" matches a prefix' },
            ...pagingQuery,
          },
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: eventSchema }, nextCursor: nullableString } }, ...errorResponses },
      },
    },
    async (req) => {
      const r = await engine.historyRedactor(req.actor);
      const q = req.query as FilterQuery & PagingQuery;
      const page = await eventPage(db, toFilter(q), { after: decodeCursor(q.cursor), order: q.order, limit: q.limit + 1 });
      const more = page.length > q.limit;
      const items = page.slice(0, q.limit);
      const shown = items.map((e) => {
        const { event, redacted } = redactEvent(r, e);
        return redacted ? { ...apiEvent(event), redacted } : apiEvent(event);
      });
      return { items: shown, nextCursor: more ? encodeCursor(items[items.length - 1].id) : null };
    },
  );

  app.get(
    '/history/operations',
    {
      config: AUDIT,
      schema: {
        tags: ['audit'],
        summary: 'The user operation log: who did what, when, on what, with before and after values',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...filterQuery, operation: { type: 'string', maxLength: 500, description: `comma-separated: ${Object.keys(OPERATIONS).join(', ')}` }, ...pagingQuery },
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: operationSchema }, nextCursor: nullableString } }, ...errorResponses },
      },
    },
    async (req) => {
      const r = await engine.historyRedactor(req.actor);
      const q = req.query as FilterQuery & PagingQuery & { operation?: string };
      const operations = q.operation?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = operations?.filter((o) => !OPERATIONS[o]);
      if (unknown?.length) throw new InsureflowError('VALIDATION_FAILED', `unknown operation(s) ${unknown.join(', ')}; known: ${Object.keys(OPERATIONS).join(', ')}`);
      const { items, last } = await operationPage(db, { ...toFilter(q), ...(operations ? { operations } : {}) }, { after: decodeCursor(q.cursor), order: q.order, limit: q.limit });
      const shown = items.map((o) => (r.none ? o : { ...o, before: r.data(o.target.processKey, o.before).value, after: r.data(o.target.processKey, o.after).value }));
      return { items: shown, nextCursor: last !== undefined ? encodeCursor(last) : null };
    },
  );

  app.get(
    '/history/export',
    {
      config: AUDIT,
      schema: {
        tags: ['audit'],
        summary: 'Stream history events as CSV or NDJSON (constant memory, oldest first)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { format: { type: 'string', enum: ['csv', 'ndjson'], default: 'ndjson' }, ...filterQuery, type: { type: 'string', maxLength: 500 } },
        },
      },
    },
    async (req, reply) => {
      const r = await engine.historyRedactor(req.actor);
      const q = req.query as FilterQuery & { format: ExportFormat };
      const filter = toFilter(q);
      const name = `history${q.from ? '-from-' + q.from.slice(0, 10) : ''}${q.to ? '-to-' + q.to.slice(0, 10) : ''}.${q.format}`;
      reply
        .header('content-type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
      return reply.send(Readable.from(exportChunks(db, filter, q.format, undefined, r.none ? undefined : (e) => redactEvent(r, e))));
    },
  );

  app.get(
    '/history/verify',
    {
      config: AUDIT,
      schema: {
        tags: ['audit'],
        summary: 'Verify one chain (?processInstanceId or ?chainId) or all chains and the digests',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            processInstanceId: { type: 'string', maxLength: 100 },
            chainId: { type: 'string', maxLength: 100 },
            anchor: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'a digest published outside the database' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              consistent: { type: 'boolean' },
              checked: { type: 'integer' },
              chains: { type: 'integer' },
              firstBroken: brokenSchema,
              broken: { type: 'array', items: brokenSchema },
              brokenChains: { type: 'integer' },
              head: { type: 'object', properties: { seq: { type: 'integer' }, hash: { type: 'string' } } },
              digest: { type: 'object', properties: { seq: { type: 'integer' }, day: { type: 'string' }, headSeq: { type: 'integer' } } },
              digests: { type: 'object', additionalProperties: true },
              durationMs: { type: 'integer' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      await engine.historyRedactor(req.actor);
      const q = req.query as { processInstanceId?: string; chainId?: string; anchor?: string };
      const chain = q.processInstanceId ?? q.chainId;
      if (chain) {
        const v = await verifyHistoryChain(db, chain);
        if (v.checked === 0 && !v.digest) throw new InsureflowError('NOT_FOUND', `no history for ${chain}`);
        return v;
      }
      return verifyAll(db, { anchor: q.anchor, logger: engine.logger });
    },
  );

  app.get(
    '/history/digests',
    {
      config: AUDIT,
      schema: {
        tags: ['audit'],
        summary: 'The digests of the chain heads, newest first: publish `digest` outside the database',
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 30 } } },
        response: { 200: { type: 'array', items: { type: 'object', additionalProperties: true } }, ...errorResponses },
      },
    },
    async (req) => {
      await engine.historyRedactor(req.actor);
      return (await digests(db, { order: 'desc', limit: (req.query as { limit: number }).limit })).map((d) => ({ ...d, createdAt: new Date(d.createdAt).toISOString() }));
    },
  );

  app.get(
    '/process-instances/:id/state',
    {
      config: AUDIT,
      schema: {
        tags: ['audit'],
        summary: 'The instance as it was at a moment, rebuilt from its history alone',
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { at: { type: 'string', maxLength: 40, description: 'ISO 8601 date-time (default now)' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              at: { type: 'string' },
              processInstanceId: { type: 'string' },
              definitionId: nullableString,
              processKey: nullableString,
              processVersion: { type: ['integer', 'null'] },
              businessKey: nullableString,
              status: { type: 'string' },
              activeActivities: { type: 'array', items: { type: 'string' } },
              openTasks: { type: 'array', items: { type: 'object', additionalProperties: true } },
              openIncidents: { type: 'array', items: { type: 'object', additionalProperties: true } },
              variables: { type: 'object', additionalProperties: true },
              asOf: { type: ['object', 'null'], additionalProperties: true },
              integrity: { type: 'object', additionalProperties: true },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const r = await engine.historyRedactor(req.actor);
      const state = await reconstructState(db, (req.params as { id: string }).id, time((req.query as { at?: string }).at, 'at'));
      return r.none ? state : { ...state, variables: r.variables(state.processKey, state.variables) };
    },
  );

  app.post(
    '/process-instances/:id/replay',
    {
      config: AUDIT,
      schema: {
        tags: ['audit'],
        summary: 'Re-execute the instance in memory on its pinned definition (or a what-if version) and compare with its history; read-only',
        params: idParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { definitionVersion: { type: 'integer', minimum: 1, maximum: 2147483647 } } },
        response: {
          200: {
            type: 'object',
            properties: {
              processInstanceId: { type: 'string' },
              mode: { type: 'string', enum: ['pinned', 'what-if'] },
              whatIf: { type: 'string' },
              pinned: { type: 'object', additionalProperties: true },
              definition: { type: 'object', additionalProperties: true },
              consistent: { type: 'boolean' },
              steps: { type: 'integer' },
              compared: { type: 'integer' },
              events: { type: 'integer' },
              divergence: { type: 'object', properties: { seq: { type: ['integer', 'null'] }, expected: {}, recorded: {}, reason: { type: 'string' } } },
              notes: { type: 'array', items: { type: 'string' } },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const r = await engine.historyRedactor(req.actor);
      const body = (req.body ?? {}) as { definitionVersion?: number };
      const result = await replayInstance(db, (req.params as { id: string }).id, body.definitionVersion !== undefined ? { definitionVersion: body.definitionVersion } : {});
      // a divergence shows the recorded and expected events: without the sensitive values
      return r.none || !result.divergence ? result : { ...result, divergence: r.data(result.pinned.key, result.divergence).value };
    },
  );
}
