/**
 * Policy servicing endpoints (registered under /api by domainRoutes): request a change of cover, cancel a policy,
 * and show a policy with its versions and ledger. Each asks the engine first, with the caller as actor: a change
 * needs start on the process policy-change, a cancellation start on policy-cancellation and on its side
 * (policy-cancellation:customer or policy-cancellation:insurer: the engine checks it at every start, as the start
 * form marks cancelledBy x-start-grant; a wrong side is 403 FORBIDDEN), the policy view
 * read-instances on policy-change (processes/authorizations.json grants them to customer-service, sales agents and
 * underwriters). A request that cannot succeed is refused before any instance starts: unknown policy 404
 * NOT_FOUND, a policy that is not active or a date outside its term 400 VALIDATION_FAILED naming the field. The
 * diagrams check the same again (a direct start through /api/process-definitions/:key/start gets the BPMN
 * refusal path and a notice to the customer).
 *
 * Amounts are CNY in major units with two decimals; dates YYYY-MM-DD (UTC); times ISO 8601.
 */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { InsuranceStore, type Policy } from '../../persistence/insurance.ts';
import type { Actor } from '../../engine/actor.ts';
import { dayStart } from './rules.ts';

export const CHANGE_PROCESS = 'policy-change';
export const CANCELLATION_PROCESS = 'policy-cancellation';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

const policyParams = {
  type: 'object',
  required: ['policyNo'],
  properties: { policyNo: { type: 'string', pattern: '^POL-[A-Z0-9]+-[0-9]{4}-[0-9]{6,}$', description: 'policy number, e.g. POL-HOME-2026-000001' } },
};

const errors = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
};

const versionSchema = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    effectiveFrom: { type: 'string', description: 'YYYY-MM-DD, first day of these terms' },
    effectiveTo: { type: 'string', description: 'YYYY-MM-DD, last day (inclusive); a cancellation version ends the day before it starts' },
    sumInsured: { type: 'number' },
    deductible: { type: 'number' },
    coinsurance: { type: 'number' },
    perils: { type: 'array', items: { type: 'string' } },
    premium: { type: 'number', description: 'annual premium, CNY' },
    reason: { type: 'string', description: 'issue | endorsement | renewal | cancellation' },
    processInstanceId: { type: ['string', 'null'] },
    superseded: { type: 'boolean', description: 'true for a change or renewal that never took effect: a later version (e.g. a cancellation) starts on or before its first day; its span is empty (effectiveTo = the day before effectiveFrom)' },
  },
};

const caseSchema = {
  type: 'object',
  properties: {
    policyNo: { type: 'string' },
    processInstanceId: { type: 'string' },
    status: { type: 'string', description: 'the instance: active (waiting: approval, effective date) or completed' },
    waitingIn: { type: 'array', items: { type: 'string' }, description: 'open tasks and waiting activities' },
    outcome: { type: ['string', 'null'], description: 'change: applied | refused; cancellation: notified | cancelled | refused | withdrawn; null while undecided' },
    newPremium: { type: ['number', 'null'] },
    proRataDifference: { type: ['number', 'null'], description: '> 0 owed by the customer for the rest of the term, < 0 refunded' },
    approvalRequired: { type: ['boolean', 'null'] },
    effectiveDate: { type: ['string', 'null'] },
    refundAmount: { type: ['number', 'null'] },
    policyVersion: { type: ['integer', 'null'], description: 'the version the case added, once added' },
    refusalReason: { type: ['string', 'null'] },
  },
};

/** 400 VALIDATION_FAILED naming one field of the request. */
const invalid = (where: 'params' | 'body' | 'querystring', field: string, message: string) => new InsureflowError('VALIDATION_FAILED', `request ${where} is invalid: ${field} ${message}`, [{ in: where, field, message }]);

/** A date input that must be a real calendar day YYYY-MM-DD (2026-02-30 and 2026-13-45 are not): else 400 VALIDATION_FAILED naming it. */
function realDay(where: 'body' | 'querystring', field: string, value: unknown): void {
  if (value === undefined) return;
  try {
    dayStart(field, value);
  } catch {
    throw invalid(where, field, `must be a real calendar day YYYY-MM-DD, got ${JSON.stringify(value)}`);
  }
}

export async function policyRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  const store = new InsuranceStore(engine.db, () => engine.clock.now());
  const today = () => new Date(engine.clock.now()).toISOString().slice(0, 10);

  async function activePolicy(policyNo: string, what: string): Promise<Policy> {
    const policy = await store.policy(policyNo);
    if (!policy) throw new InsureflowError('NOT_FOUND', `policy ${JSON.stringify(policyNo)} was not found`);
    if (policy.status !== 'active') throw invalid('params', 'policyNo', `is ${policy.status}: only an active policy can be ${what}`);
    return policy;
  }

  /** The case's state for the caller of its own start (read as the engine: the caller just acted on it). */
  async function caseView(policyNo: string, id: string) {
    const inst = await engine.getInstance(id);
    const v = (inst.variables ?? {}) as Record<string, any>;
    const num = (x: unknown) => (typeof x === 'number' ? x : null);
    return {
      policyNo,
      processInstanceId: id,
      status: inst.status,
      waitingIn: [...new Set([...inst.openTasks.map((t) => t.activityId), ...inst.activeActivities])],
      outcome: (v.changeStatus ?? v.cancellationStatus ?? null) as string | null,
      newPremium: num(v.newPremium),
      proRataDifference: num(v.proRataDifference),
      approvalRequired: typeof v.endorsementApproval?.approvalRequired === 'boolean' ? v.endorsementApproval.approvalRequired : null,
      effectiveDate: (v.cancellationEffectiveDate ?? v.effectiveDate ?? null) as string | null,
      refundAmount: num(v.refundAmount),
      policyVersion: num(v.policyVersion),
      refusalReason: (v.refusalReason ?? null) as string | null,
    };
  }

  async function start(key: string, policyNo: string, variables: Record<string, unknown>, actor: Actor) {
    const inst = await engine.startInstance(key, { businessKey: policyNo, variables }, actor);
    return caseView(policyNo, inst.id);
  }

  app.post(
    '/policies/:policyNo/changes',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['policies'],
        summary: 'Request a change of cover (endorsement): starts policy-change; the body is its start form without policyNo',
        description: 'Re-rated at once; within the EndorsementApproval limits the new version is added in the same request (outcome applied), beyond them the case waits for underwriting (waitingIn Task_UnderwriterApproval). One change at a time per policy (409 BUSINESS_KEY_IN_USE).',
        params: policyParams,
        body: { type: 'object', additionalProperties: true },
        response: { 201: caseSchema, ...errors },
      },
    },
    async (req, reply) => {
      await engine.authorize(req.actor, 'start', 'process-definition', CHANGE_PROCESS);
      const { policyNo } = req.params as { policyNo: string };
      const body = req.body as Record<string, unknown>;
      realDay('body', 'effectiveDate', body.effectiveDate);
      const policy = await activePolicy(policyNo, 'changed');
      const date = body.effectiveDate;
      if (typeof date === 'string' && DATE.test(date)) {
        if (date < policy.startDate || date > policy.endDate) throw invalid('body', 'effectiveDate', `must lie within the policy's term ${policy.startDate}..${policy.endDate}`);
        if (date < today()) throw invalid('body', 'effectiveDate', `must not be in the past (today is ${today()})`);
      }
      reply.status(201);
      return start(CHANGE_PROCESS, policyNo, { ...body, policyNo }, req.actor);
    },
  );

  app.post(
    '/policies/:policyNo/cancellations',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['policies'],
        summary: 'Cancel a policy (customer request, surrender, or the insurer with notice): starts policy-cancellation; the body is its start form without policyNo',
        description: 'Effective today: cancelled and refunded in the same request (outcome cancelled). Effective later (a requested date or the insurer\'s notice period): a notice goes out and the case waits for the date (outcome notified); policy-cancellation-withdrawn withdraws it.',
        params: policyParams,
        body: { type: 'object', additionalProperties: true },
        response: { 201: caseSchema, ...errors },
      },
    },
    async (req, reply) => {
      await engine.authorize(req.actor, 'start', 'process-definition', CANCELLATION_PROCESS);
      const { policyNo } = req.params as { policyNo: string };
      const body = req.body as Record<string, unknown>;
      realDay('body', 'effectiveDate', body.effectiveDate);
      const policy = await activePolicy(policyNo, 'cancelled');
      const date = body.effectiveDate;
      if (body.reason !== 'surrender' && typeof date === 'string' && DATE.test(date)) {
        if (date > policy.endDate) throw invalid('body', 'effectiveDate', `must not be after the policy's end ${policy.endDate}`);
        if (date < today()) throw invalid('body', 'effectiveDate', `must not be in the past (today is ${today()})`);
      }
      reply.status(201);
      return start(CANCELLATION_PROCESS, policyNo, { ...body, policyNo }, req.actor);
    },
  );

  app.get(
    '/policies/:policyNo',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['policies'],
        summary: 'A policy with every version of its terms, the version in force on a day, and its ledger',
        params: policyParams,
        querystring: { type: 'object', additionalProperties: false, properties: { on: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD: also return the version in force that day (default today)' } } },
        response: {
          200: {
            type: 'object',
            properties: {
              policyNo: { type: 'string' },
              customerId: { type: 'string' },
              productCode: { type: 'string' },
              status: { type: 'string', description: 'active | expired | lapsed | cancelled' },
              startDate: { type: 'string' },
              endDate: { type: 'string' },
              sumInsured: { type: 'number' },
              deductible: { type: 'number' },
              perils: { type: 'array', items: { type: 'string' } },
              premium: { type: 'number' },
              versions: { type: 'array', items: versionSchema },
              inForceOn: { type: 'string' },
              versionInForce: { anyOf: [versionSchema, { type: 'null' }] },
              ledger: {
                type: 'array',
                items: { type: 'object', properties: { id: { type: 'integer' }, direction: { type: 'string', description: 'premium | refund | payout' }, amount: { type: 'number' }, status: { type: 'string' }, reference: { type: ['string', 'null'] }, claimNo: { type: ['string', 'null'] }, createdAt: { type: 'string' } } },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (req) => {
      await engine.authorize(req.actor, 'read-instances', 'process-definition', CHANGE_PROCESS);
      const { policyNo } = req.params as { policyNo: string };
      const on = (req.query as { on?: string }).on ?? today();
      realDay('querystring', 'on', on);
      const policy = await store.policy(policyNo);
      if (!policy) throw new InsureflowError('NOT_FOUND', `policy ${JSON.stringify(policyNo)} was not found`);
      const strip = ({ createdAt: _c, policyNo: _p, ...v }: Awaited<ReturnType<InsuranceStore['policyVersions']>>[number]) => ({ ...v, superseded: v.reason !== 'cancellation' && v.effectiveTo < v.effectiveFrom });
      const ledger = await store.policyLedger(policyNo, policy.quoteNo);
      const inForce = await store.policyVersionOn(policyNo, on);
      return {
        policyNo,
        customerId: policy.customerId,
        productCode: policy.productCode,
        status: policy.status,
        startDate: policy.startDate,
        endDate: policy.endDate,
        sumInsured: policy.sumInsured,
        deductible: policy.deductible,
        perils: policy.perils,
        premium: policy.premium,
        versions: (await store.policyVersions(policyNo)).map(strip),
        inForceOn: on,
        versionInForce: inForce ? strip(inForce) : null,
        ledger: ledger.map((p) => ({ id: p.id, direction: p.direction, amount: p.amount, status: p.status, reference: p.reference, claimNo: p.claimNo, createdAt: new Date(p.createdAt).toISOString() })),
      };
    },
  );
}
