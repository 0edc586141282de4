/**
 * Customer-service endpoints (registered under /api by domainRoutes): register a complaint, log a question,
 * contest a decision, their status, and the complaints report. Each asks the engine first, with the caller as
 * actor: registering needs start on the process (complaint, consultation, dispute), a status read-instances on
 * it, the report read on the report `complaints` (admins and auditors by role; processes/authorizations.json grants
 * the rest); a caller without it gets 403 before anything is looked up (for the report: before its query is
 * validated).
 *
 * Numbers (CMP-, CON-, DSP-YYYYMMDD-NNNNNN) are the business keys of the instances. The body is checked against
 * the process's start form before a number is taken, so a refused request (400) uses no number; a number whose
 * business key another active instance holds is skipped, up to MAX_NUMBER_TRIES (then 503
 * SERVICE_NUMBER_UNAVAILABLE).
 */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { InsuranceStore } from '../../persistence/insurance.ts';
import { CustomerServiceStore, type Complaint, type Consultation, type CustomerServiceSequence, type Dispute } from '../../persistence/customer-service.ts';
import type { Actor } from '../../engine/actor.ts';
import { SYSTEM } from '../../engine/actor.ts';
import { complaintsReport, contestedActionProblem, serviceNumber } from './rules.ts';
import { reachabilityProblems, recipientOf } from './handlers.ts';
import { disputeExclusions, startFormChecker } from './engine-ports.ts';

export const COMPLAINT_PROCESS = 'complaint';
export const CONSULTATION_PROCESS = 'consultation';
export const DISPUTE_PROCESS = 'dispute';
export const SATISFACTION_MESSAGE = 'complaint-satisfaction';
const MAX_NUMBER_TRIES = 50;
const DAY_MS = 86_400_000;

const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' } };
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const params = (name: string, prefix: string) => ({
  type: 'object',
  required: [name],
  properties: { [name]: { type: 'string', pattern: `^${prefix}-[0-9]{8}-[0-9]{6,}$`, description: `e.g. ${prefix}-20260105-000001` } },
});
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);
const nullable = (type: string, description?: string) => ({ type: [type, 'null'], ...(description ? { description } : {}) });

const complaintSchema = {
  type: 'object',
  properties: {
    complaintNo: { type: 'string' },
    status: { type: 'string', description: 'registered | responded | closed' },
    stage: { type: 'string', description: 'assignment | investigation | resolution | survey | closed (where the complaint waits)' },
    channel: { type: 'string' },
    category: { type: 'string' },
    severity: nullable('string', 'low | medium | high (ComplaintClassification)'),
    handlingGroup: nullable('string'),
    handler: nullable('string', 'the user working on it (the open task\'s assignee) or who answered it'),
    registeredAt: { type: 'string', description: 'ISO 8601' },
    responseDueAt: nullable('string', 'ISO 8601: the response deadline'),
    deadlineBreached: { type: 'boolean' },
    respondedAt: nullable('string'),
    responseOutcome: nullable('string', 'upheld | partially-upheld | not-upheld'),
    closedAt: nullable('string'),
    surveyStatus: { type: 'string', description: 'not-sent | sent | answered | no-answer' },
    satisfactionScore: nullable('integer', '1..5'),
  },
};

const consultationSchema = {
  type: 'object',
  properties: {
    consultationNo: { type: 'string' },
    status: { type: 'string', description: 'open | answered | converted' },
    channel: { type: 'string' },
    topic: { type: 'string' },
    customerId: nullable('string'),
    registeredAt: { type: 'string' },
    answeredAt: nullable('string'),
    outcome: nullable('string', 'answered | sale | claim'),
    salesInstanceId: nullable('string', 'the sales instance opened for the lead'),
    claimNo: nullable('string', 'the claim reported'),
  },
};

const disputeSchema = {
  type: 'object',
  properties: {
    disputeNo: { type: 'string' },
    status: { type: 'string', description: 'under-review | decided' },
    subjectType: { type: 'string' },
    subjectRef: { type: 'string', description: 'the claim or policy number contested' },
    contestedAction: { type: 'string' },
    reviewGroup: { type: 'string' },
    reviewDueAt: { type: 'string' },
    escalated: { type: 'boolean', description: 'the review deadline passed before the review' },
    outcome: nullable('string', 'upheld | overturned'),
    outcomeReason: nullable('string'),
    decidedAt: nullable('string'),
    reviewedBy: nullable('string', 'who completed the review'),
    excludedReviewers: { type: 'array', items: { type: 'object', properties: { user: { type: 'string' }, reason: { type: 'string' } } }, description: 'who may not review it (separation of duties)' },
  },
};

const reportSchema = {
  type: 'object',
  properties: {
    from: { type: 'string' },
    to: { type: 'string' },
    total: { type: 'integer' },
    bySeverity: { type: 'object', additionalProperties: { type: 'integer' } },
    byChannel: { type: 'object', additionalProperties: { type: 'integer' } },
    deadlineBreaches: { type: 'integer' },
    responded: { type: 'integer' },
    averageHoursToResponse: nullable('number', 'hours, 2 decimals'),
    closed: { type: 'integer' },
    satisfaction: { type: 'object', properties: { answered: { type: 'integer' }, noAnswer: { type: 'integer' }, average: nullable('number', '1..5, 2 decimals') } },
  },
};

const STAGES: Record<string, string> = {
  Task_AssignComplaint: 'assignment',
  Task_InvestigateComplaint: 'investigation',
  Task_ResolveComplaint: 'resolution',
  Task_AwaitSatisfaction: 'survey',
};

export async function customerServiceRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  const cs = new CustomerServiceStore(engine.db, () => engine.clock.now());
  const insurance = new InsuranceStore(engine.db, () => engine.clock.now());
  const checkStartForm = startFormChecker(engine.db);

  /** Starts `key` under a fresh number of `seq` (its business key), after its start form accepted the body. */
  /** `before`: checks after the start form (throws to refuse); what it returns is added to the variables. */
  async function startNumbered(key: string, seq: CustomerServiceSequence, prefix: 'CMP' | 'CON' | 'DSP', body: Record<string, unknown>, actor: Actor, before?: () => Promise<Record<string, unknown> | void>) {
    await checkStartForm(key, body);
    const variables = { ...body, ...((await before?.()) ?? {}) };
    for (let i = 0; i < MAX_NUMBER_TRIES; i++) {
      const no = serviceNumber(prefix, await cs.nextNumber(seq), new Date(engine.clock.now()));
      try {
        return { no, inst: await engine.startInstance(key, { businessKey: no, variables }, actor) };
      } catch (err) {
        if (!(err instanceof InsureflowError) || err.code !== 'BUSINESS_KEY_IN_USE') throw err;
      }
    }
    throw new InsureflowError('SERVICE_NUMBER_UNAVAILABLE', `the next ${MAX_NUMBER_TRIES} ${seq} numbers are all held as business keys by other ${key} instances; cancel the instances started directly with such keys and register again`);
  }

  async function complaintView(c: Complaint) {
    const inst = await engine.getInstance(c.processInstanceId, SYSTEM);
    const open = inst.openTasks.find((t) => STAGES[t.activityId]);
    const waiting = open?.activityId ?? inst.activeActivities.find((a) => STAGES[a]);
    return {
      complaintNo: c.complaintNo,
      status: c.status,
      stage: waiting ? STAGES[waiting] : c.status,
      channel: c.channel,
      category: c.category,
      severity: c.severity,
      handlingGroup: c.handlingGroup,
      handler: open?.assignee ?? c.handler,
      registeredAt: iso(c.registeredAt),
      responseDueAt: iso(c.responseDueAt),
      deadlineBreached: c.deadlineBreached,
      respondedAt: iso(c.respondedAt),
      responseOutcome: c.responseOutcome,
      closedAt: iso(c.closedAt),
      surveyStatus: c.surveyStatus,
      satisfactionScore: c.satisfactionScore,
    };
  }

  const consultationView = (c: Consultation) => ({
    consultationNo: c.consultationNo,
    status: c.status,
    channel: c.channel,
    topic: c.topic,
    customerId: c.customerId,
    registeredAt: iso(c.registeredAt),
    answeredAt: iso(c.answeredAt),
    outcome: c.outcome,
    salesInstanceId: c.salesInstanceId,
    claimNo: c.claimNo,
  });

  async function disputeView(d: Dispute) {
    const reviews = await engine.listTasks({ processInstanceId: d.processInstanceId, status: 'completed', limit: 10 }, SYSTEM);
    return {
      disputeNo: d.disputeNo,
      status: d.status,
      subjectType: d.subjectType,
      subjectRef: d.subjectRef,
      contestedAction: d.contestedAction,
      reviewGroup: d.reviewGroup,
      reviewDueAt: iso(d.reviewDueAt),
      escalated: d.escalated,
      outcome: d.outcome,
      outcomeReason: d.outcomeReason,
      decidedAt: iso(d.decidedAt),
      reviewedBy: reviews.items.find((t) => t.activityId === 'Task_ReviewDispute')?.completedBy ?? null,
      excludedReviewers: await disputeExclusions(engine, cs, d.processInstanceId),
    };
  }

  /** Refuses a complaint or consultation whose notices would have no recipient (reachabilityProblems). */
  const reachable = (body: Record<string, unknown>) => async () => {
    const problems = await reachabilityProblems(insurance, body);
    if (problems.length) throw new InsureflowError('VALIDATION_FAILED', `the customer cannot be written to: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
  };

  const notRegistered = (what: string, inst: { id: string; status: string }) => new InsureflowError('INSTANCE_NOT_ACTIVE', `the ${what} could not be registered (instance ${inst.id} is ${inst.status}); see its incidents`);

  app.post(
    '/complaints',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['customer service'],
        summary: 'Register a complaint from any channel (phone, email, app, branch, regulator referral); the body is the complaint start form',
        body: { type: 'object', additionalProperties: true },
        response: { 201: { type: 'object', properties: { complaintNo: { type: 'string' }, processInstanceId: { type: 'string' }, complaint: complaintSchema } }, 503: { $ref: 'Error#' }, ...errors },
      },
    },
    async (req, reply) => {
      await engine.authorize(req.actor, 'start', 'process-definition', COMPLAINT_PROCESS);
      const body = req.body as Record<string, unknown>;
      const { inst } = await startNumbered(COMPLAINT_PROCESS, 'complaint', 'CMP', body, req.actor, reachable(body));
      const c = await cs.complaintOfInstance(inst.id);
      if (!c) throw notRegistered('complaint', inst);
      reply.status(201);
      return { complaintNo: c.complaintNo, processInstanceId: inst.id, complaint: await complaintView(c) };
    },
  );

  app.get(
    '/complaints/:complaintNo',
    {
      config: { roles: ['admin', 'ops'] },
      schema: { tags: ['customer service'], summary: 'A complaint: stage, severity, response deadline, breach, response, survey', params: params('complaintNo', 'CMP'), response: { 200: complaintSchema, ...errors } },
    },
    async (req) => {
      await engine.authorize(req.actor, 'read-instances', 'process-definition', COMPLAINT_PROCESS);
      const no = (req.params as { complaintNo: string }).complaintNo;
      const c = await cs.complaint(no);
      if (!c) throw new InsureflowError('NOT_FOUND', `complaint ${JSON.stringify(no)} was not found`);
      return complaintView(c);
    },
  );

  app.post(
    '/consultations',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['customer service'],
        summary: 'Log a customer question; the body is the consultation start form',
        body: { type: 'object', additionalProperties: true },
        response: { 201: { type: 'object', properties: { consultationNo: { type: 'string' }, processInstanceId: { type: 'string' }, consultation: consultationSchema } }, 503: { $ref: 'Error#' }, ...errors },
      },
    },
    async (req, reply) => {
      await engine.authorize(req.actor, 'start', 'process-definition', CONSULTATION_PROCESS);
      const body = req.body as Record<string, unknown>;
      const { inst } = await startNumbered(CONSULTATION_PROCESS, 'consultation', 'CON', body, req.actor, reachable(body));
      const c = await cs.consultationOfInstance(inst.id);
      if (!c) throw notRegistered('consultation', inst);
      reply.status(201);
      return { consultationNo: c.consultationNo, processInstanceId: inst.id, consultation: consultationView(c) };
    },
  );

  app.get(
    '/consultations/:consultationNo',
    {
      config: { roles: ['admin', 'ops'] },
      schema: { tags: ['customer service'], summary: 'A consultation: answered, and the sale or claim it opened', params: params('consultationNo', 'CON'), response: { 200: consultationSchema, ...errors } },
    },
    async (req) => {
      await engine.authorize(req.actor, 'read-instances', 'process-definition', CONSULTATION_PROCESS);
      const no = (req.params as { consultationNo: string }).consultationNo;
      const c = await cs.consultation(no);
      if (!c) throw new InsureflowError('NOT_FOUND', `consultation ${JSON.stringify(no)} was not found`);
      return consultationView(c);
    },
  );

  app.post(
    '/disputes',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['customer service'],
        summary: 'Contest a claim decision or a policy action; the body is the dispute start form (404 when the claim or policy does not exist)',
        body: { type: 'object', additionalProperties: true },
        response: { 201: { type: 'object', properties: { disputeNo: { type: 'string' }, processInstanceId: { type: 'string' }, dispute: disputeSchema } }, 503: { $ref: 'Error#' }, ...errors },
      },
    },
    async (req, reply) => {
      await engine.authorize(req.actor, 'start', 'process-definition', DISPUTE_PROCESS);
      const body = req.body as Record<string, unknown>;
      // the subject exists, the contested action fits it, and the customer can be written to
      const subjectChecks = async () => {
        const subjectType = body.subjectType === 'policy' ? 'policy' : 'claim';
        const ref = String(subjectType === 'policy' ? body.policyNo : body.claimNo);
        const claim = subjectType === 'claim' ? await insurance.claim(ref) : null;
        const policy = subjectType === 'policy' ? await insurance.policy(ref) : null;
        if (!claim && !policy) throw new InsureflowError('NOT_FOUND', `${subjectType} ${JSON.stringify(ref)} was not found`);
        const action = String(body.contestedAction);
        const mismatch = contestedActionProblem(subjectType, action, claim);
        if (mismatch) throw new InsureflowError('VALIDATION_FAILED', `contestedAction ${action} ${mismatch}`, [{ field: 'contestedAction', message: mismatch, keyword: 'subject-state' }]);
        const customerId = claim ? (claim.customerId ?? (await insurance.policy(claim.policyNo))?.customerId ?? null) : policy!.customerId;
        // without a contact in the body, the claim's report contact (its claims instance's start variables)
        let contact: Record<string, unknown> = {};
        if (claim && !str(body.contactEmail) && !str(body.contactPhone)) {
          const reported = await engine.getInstance(claim.processInstanceId, SYSTEM).then(
            (i) => i.variables,
            (err) => {
              if (err instanceof InsureflowError && err.code === 'INSTANCE_NOT_FOUND') return {} as Record<string, unknown>;
              throw err;
            },
          );
          contact = Object.fromEntries((['contactEmail', 'contactPhone'] as const).filter((k) => str(reported[k])).map((k) => [k, str(reported[k])]));
        }
        const to = { ...body, ...contact };
        if (!(await recipientOf(insurance, customerId, str(to.contactEmail), str(to.contactPhone))).recipient) {
          const message = `or contactPhone is required: the ${subjectType}'s customer has no e-mail or phone on file${claim ? ' and the claim was reported without a contact' : ''}`;
          throw new InsureflowError('VALIDATION_FAILED', `the customer cannot be written to: contactEmail ${message}`, [{ field: 'contactEmail', message, keyword: 'contact' }]);
        }
        return contact;
      };
      const { inst } = await startNumbered(DISPUTE_PROCESS, 'dispute', 'DSP', body, req.actor, subjectChecks);
      const d = await cs.disputeOfInstance(inst.id);
      if (!d) throw notRegistered('dispute', inst);
      reply.status(201);
      return { disputeNo: d.disputeNo, processInstanceId: inst.id, dispute: await disputeView(d) };
    },
  );

  app.get(
    '/disputes/:disputeNo',
    {
      config: { roles: ['admin', 'ops'] },
      schema: { tags: ['customer service'], summary: 'A dispute: review deadline, escalation, outcome, who reviewed it and who may not', params: params('disputeNo', 'DSP'), response: { 200: disputeSchema, ...errors } },
    },
    async (req) => {
      await engine.authorize(req.actor, 'read-instances', 'process-definition', DISPUTE_PROCESS);
      const no = (req.params as { disputeNo: string }).disputeNo;
      const d = await cs.dispute(no);
      if (!d) throw new InsureflowError('NOT_FOUND', `dispute ${JSON.stringify(no)} was not found`);
      return disputeView(d);
    },
  );

  app.get(
    '/reports/complaints',
    {
      config: { roles: ['admin', 'auditor', 'ops'] },
      // the permission before the query is validated: a caller without it gets 403, whatever the query
      preValidation: async (req) => engine.authorize(req.actor, 'read', 'report', 'complaints'),
      schema: {
        tags: ['reports'],
        summary: 'Complaints registered from `from` to `to` (UTC calendar days, both included): counts by severity and channel, deadline breaches, average hours to the response, satisfaction',
        querystring: {
          type: 'object',
          required: ['from', 'to'],
          additionalProperties: false,
          properties: { from: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD' }, to: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD, included' } },
        },
        response: { 200: reportSchema, ...errors },
      },
    },
    async (req) => {
      const { from, to } = req.query as { from: string; to: string };
      const start = Date.parse(`${from}T00:00:00Z`);
      const end = Date.parse(`${to}T00:00:00Z`);
      const bad = [Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== from ? { field: 'from', message: 'must be a calendar date YYYY-MM-DD' } : null, Number.isNaN(end) || new Date(end).toISOString().slice(0, 10) !== to ? { field: 'to', message: 'must be a calendar date YYYY-MM-DD' } : null].filter(Boolean);
      if (bad.length) throw new InsureflowError('VALIDATION_FAILED', `the period is invalid: ${bad.map((b) => `${b!.field} ${b!.message}`).join('; ')}`, bad);
      if (end < start) throw new InsureflowError('VALIDATION_FAILED', `the period is invalid: to (${to}) is before from (${from})`, [{ field: 'to', message: 'must not be before from' }]);
      const list = await cs.complaintsRegistered(start, end + DAY_MS);
      return { from, to, ...complaintsReport(list) };
    },
  );
}
