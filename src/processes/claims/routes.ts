/**
 * Claim endpoints for customer service: report a loss (FNOL, any channel), record documents the customer sent,
 * and the progress enquiry. Registered under /api by domainRoutes. Each asks the engine first, with the caller as
 * actor (src/engine/authorization.ts): reporting needs start on the process claims, the enquiry read-instances on
 * it, recording documents correlate on the message claim-documents-received (processes/authorizations.json grants
 * them to customer-service); a caller without it gets 403 before anything is looked up.
 *
 * Claim numbers: the business key of a claims instance is the claim number intake allocated for it. Intake takes
 * the next number of the claim sequence and, when another active instance already holds that business key (one
 * started directly with POST /api/process-definitions/claims/start), the next one, up to MAX_NUMBER_TRIES
 * (then 503 CLAIM_NUMBER_UNAVAILABLE). A direct start with a business key that is not a handed-out claim number
 * without a finished claim is refused before anything is written (the claims start guard, ./guards.ts: 400 naming
 * businessKey; an open claim's key is the engine's 409 BUSINESS_KEY_IN_USE), and the registration step
 * (claims.register) refuses such a key again (an embedder without the guard: an incident at registration).
 *
 * Intake checks (POST /api/claims) all run before a claim number is allocated, so a refused report uses none: the
 * start form (engine.checkStart), then the loss date (a real YYYY-MM-DD day, not in the future, not after the
 * report, not before the policy's first day of cover) and, for a policy number not on file, a contact to send the
 * decision to (screening.ts). Each refusal is 400 VALIDATION_FAILED with `details: [{ field, message, keyword }]`.
 */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { InsuranceStore, type Claim } from '../../persistence/insurance.ts';
import { checkIntake, startNumberedClaim } from './intake.ts';
import { claimStatusView } from './status.ts';
import type { Actor } from '../../engine/actor.ts';

export const CLAIMS_PROCESS = 'claims';
export const DOCUMENTS_MESSAGE = 'claim-documents-received';
export { MAX_NUMBER_TRIES } from './intake.ts';

const claimNoParams = {
  type: 'object',
  required: ['claimNo'],
  properties: { claimNo: { type: 'string', pattern: '^CLM-[0-9]{8}-[0-9]{6,}$', description: 'claim number, e.g. CLM-20260105-000001' } },
};

const statusSchema = {
  type: 'object',
  properties: {
    claimNo: { type: 'string' },
    policyNo: { type: 'string' },
    status: { type: 'string', description: 'open | rejected | paid | closed' },
    stage: { type: 'string' },
    stageLabel: { type: 'string' },
    nextStep: { type: 'string' },
    reportedAt: { type: 'string' },
    slaDeadline: { type: ['string', 'null'], description: 'pay-by time: 72 hours after the survey (or the approval)' },
    slaBreached: { type: 'boolean' },
    payout: { type: ['number', 'null'], description: 'CNY; null until adjudicated and for a rejected claim' },
    reserveOutstanding: { type: 'number', description: 'CNY: what the insurer still expects to pay on the claim (0 once paid or rejected)' },
    paidAt: { type: ['string', 'null'] },
    rejectionReason: { type: ['string', 'null'] },
    closedAt: { type: ['string', 'null'] },
  },
};

const errors = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
};

export async function claimRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  const store = new InsuranceStore(engine.db, () => engine.clock.now());

  async function claimOrFail(claimNo: string): Promise<Claim> {
    const claim = await store.claim(claimNo);
    if (!claim) throw new InsureflowError('NOT_FOUND', `claim ${JSON.stringify(claimNo)} was not found`);
    return claim;
  }

  /** The claim's status; `actor`: read as that caller (default: the engine, for the result of the caller's own action). */
  async function statusOf(claim: Claim, actor?: Actor) {
    const inst = await engine.getInstance(claim.processInstanceId, actor);
    const waitingIn = [...inst.openTasks.map((t) => t.activityId), ...inst.activeActivities];
    return claimStatusView(claim, waitingIn);
  }

  /**
   * Starts a claims instance under a fresh claim number (the business key; the registration step records the
   * claim under the same number and refuses any other key, src/processes/claims/handlers.ts). A number whose
   * business key another active claims instance already holds (started directly with a key ahead of the
   * sequence) is skipped for the next one, up to MAX_NUMBER_TRIES numbers.
   * @throws InsureflowError CLAIM_NUMBER_UNAVAILABLE (503) when all of them were held; errors of startInstance
   */
  async function startNumbered(variables: Record<string, unknown>, actor: Actor) {
    // the numbering every report shares (./intake.ts): the next number whose business key is free
    const { started } = await startNumberedClaim(store, () => engine.clock.now(), (claimNo) => engine.startInstance(CLAIMS_PROCESS, { businessKey: claimNo, variables }, actor));
    return started;
  }

  app.post(
    '/claims',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['claims'],
        summary: 'Report a loss (first notice of loss) from any channel; the body is the claims start form',
        description:
          '400 VALIDATION_FAILED (details per field) before any claim number is used: the start form, a loss date that is not a real YYYY-MM-DD day, in the future, after the report or before the policy\'s first day of cover, and no contactEmail/contactPhone for a policy number not on file.',
        body: { type: 'object', additionalProperties: true },
        response: { 201: { type: 'object', properties: { claimNo: { type: 'string' }, processInstanceId: { type: 'string' }, claim: statusSchema } }, 422: { $ref: 'Error#' }, 503: { $ref: 'Error#' }, ...errors },
      },
    },
    async (req, reply) => {
      await engine.authorize(req.actor, 'start', 'process-definition', CLAIMS_PROCESS);
      const variables = req.body as Record<string, unknown>;
      // everything that can refuse the report runs before a claim number is allocated: a refusal uses none
      // the form's and the intake's problems are reported together (one field once), so one answer lists them all
      const problems: { field?: string; message?: string }[] = [];
      const collect = async (check: () => Promise<unknown>) => {
        try {
          await check();
        } catch (err) {
          if (!(err instanceof InsureflowError) || err.code !== 'VALIDATION_FAILED' || !Array.isArray(err.details)) throw err;
          for (const d of err.details as { field?: string; message?: string }[]) if (!problems.some((p) => p.field !== undefined && p.field === d.field)) problems.push(d);
        }
      };
      await collect(() => engine.checkStart(CLAIMS_PROCESS, { variables }, req.actor));
      await collect(() => checkIntake(store, engine.clock.now(), variables));
      if (problems.length) throw new InsureflowError('VALIDATION_FAILED', `the report is invalid: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
      const inst = await startNumbered(variables, req.actor);
      const claim = await store.claimOfInstance(inst.id);
      if (!claim) {
        // the registration step failed (a handler error): the engine retries it, then opens an incident
        throw new InsureflowError('INSTANCE_NOT_ACTIVE', `the claim was not registered: the registration step of instance ${inst.id} failed and is retried; GET /api/process-instances/${inst.id} shows the error (an incident once the retries are used up)`);
      }
      reply.status(201);
      return { claimNo: claim.claimNo, processInstanceId: inst.id, claim: await statusOf(claim) };
    },
  );

  app.get(
    '/claims/:claimNo/status',
    {
      config: { roles: ['admin', 'ops'] },
      schema: { tags: ['claims'], summary: 'Claim progress: stage, what happens next, settlement deadline', params: claimNoParams, response: { 200: statusSchema, ...errors } },
    },
    async (req) => {
      // read as the caller: read-instances on claims, or having held a task of this claim (the surveyor who
      // surveyed it), as for the instance itself (the engine decides: 403 FORBIDDEN otherwise)
      return statusOf(await claimOrFail((req.params as { claimNo: string }).claimNo), req.actor);
    },
  );

  app.get(
    '/claims/:claimNo/notifications',
    {
      config: { roles: ['admin', 'ops', 'auditor'] },
      schema: {
        tags: ['claims'],
        summary: 'What the customer (or staff) was told about the claim: the notices in the outbox, oldest first',
        description: 'Each notice: topic (e.g. claim-rejected, claim-paid, claim-documents-requested), channel (email | sms | post | internal), recipient, subject, body, status (pending | sent), createdAt (ISO 8601). Needs read-instances on the process claims.',
        params: claimNoParams,
        response: {
          200: {
            type: 'object',
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { topic: { type: 'string' }, channel: { type: 'string' }, recipient: { type: ['string', 'null'] }, subject: { type: 'string' }, body: { type: 'string' }, status: { type: 'string' }, createdAt: { type: 'string' } },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (req) => {
      await engine.authorize(req.actor, 'read-instances', 'process-definition', CLAIMS_PROCESS);
      const claim = await claimOrFail((req.params as { claimNo: string }).claimNo);
      const sent = await store.notifications({ businessRef: claim.claimNo });
      return {
        items: sent
          .sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)
          .map((n) => ({ topic: n.topic, channel: n.channel, recipient: n.recipient, subject: n.subject, body: n.body, status: n.status, createdAt: new Date(n.createdAt).toISOString() })),
      };
    },
  );

  app.post(
    '/claims/:claimNo/documents',
    {
      config: { roles: ['admin', 'ops'] },
      schema: {
        tags: ['claims'],
        summary: 'Record the documents the customer sent (delivers the claim-documents-received message)',
        params: claimNoParams,
        body: {
          type: 'object',
          required: ['documents'],
          additionalProperties: false,
          properties: {
            documents: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 300 }, description: 'names or references of the documents received' },
            note: { type: 'string', maxLength: 2000 },
          },
        },
        response: { 200: statusSchema, ...errors },
      },
    },
    async (req) => {
      await engine.authorize(req.actor, 'correlate', 'message', DOCUMENTS_MESSAGE);
      const claim = await claimOrFail((req.params as { claimNo: string }).claimNo);
      const body = req.body as { documents: string[]; note?: string };
      // a decided claim waits for nothing: say so, rather than "no process instance waits for the message"
      if (claim.status !== 'open') throw new InsureflowError('INSTANCE_NOT_ACTIVE', `claim ${claim.claimNo} is ${claim.status}: it needs no more documents; for a review of the decision, register a dispute (POST /api/disputes)`);
      await engine.correlateMessage({ name: DOCUMENTS_MESSAGE, processInstanceId: claim.processInstanceId, variables: { receivedDocuments: body.documents, documentsNote: body.note ?? null } }, req.actor);
      return statusOf(await claimOrFail(claim.claimNo));
    },
  );
}
