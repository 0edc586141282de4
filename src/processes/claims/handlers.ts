/**
 * Handlers of processes/claims.bpmn: thin adapters between the diagram, the pure rules (rules.ts) and the
 * insurance tables. Business refusals are BpmnErrors the diagram routes; everything else is a technical failure
 * the engine retries. Every write is idempotent (the engine may call a handler again after a crash or a retry):
 * the claim row is keyed by the instance, the payout by the idempotency key and the claim, notifications by
 * their message key.
 */
import type { Clock } from '../../engine/clock.ts';
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import { BpmnError } from '../../errors.ts';
import { InsuranceStore, type Claim, type Policy } from '../../persistence/insurance.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';
import type { PaymentRelay } from './payment-relay.ts';
import {
  DOCUMENTS_DEADLINE_AFTER,
  DOCUMENTS_REMINDER_AFTER,
  aggregateFraudScore,
  assessedLoss,
  claimNumber,
  closureFigures,
  computePayout,
  coverageRejection,
  durationUntil,
  fraudInputs,
  isClaimNumber,
  policyCoversLoss,
  rejectionOf,
  requiresSupervisorApproval,
  settlementDeadline,
  type FraudIndicator,
  type RejectionCode,
} from './rules.ts';
import { durationMs } from '../../engine/iso.ts';
import { ClaimScreeningStore } from '../../persistence/claim-screening.ts';
import { autoPaymentStoppedBy, cancelledOnOrBefore, noticeAddress, possibleDuplicateOf, rejectionDecisionMode } from './screening.ts';
import { reservesOf, type DecideFn } from './reserves.ts';
import { approvalsOf, initialApprovalLevel, supervisorApprovalRequired } from './authority.ts';

/** The bank or payment provider. It must honour the idempotency key: the same key never moves money twice. */
export interface PaymentGateway {
  transfer(req: { idempotencyKey: string; amount: number; currency: string; payee: string | null; reference: string }): Promise<{ reference: string }>;
}

/** The default gateway books the payout in the ledger only (a relay to the bank reads completed payouts). */
export const ledgerOnlyGateway: PaymentGateway = {
  async transfer(req) {
    return { reference: `LEDGER-${req.reference}` };
  },
};

export interface ClaimDeps {
  /** the insurance repository bound to a handler call's unit of work */
  store: StoreOf;
  /** sends ordered payouts to the bank after the ordering transition committed */
  relay?: PaymentRelay;
  clock: Clock;
  /** evaluates deployed decisions (the initial reserve, reserves.ts); registerInsuranceDomain passes the engine's */
  decide?: DecideFn;
  /** the settlement SLA in hours after the survey (default 72) */
  settlementHours?: number;
  documentsReminderAfter?: string;
  documentsDeadlineAfter?: string;
}

export const CLAIM_HANDLERS = [
  'claims.register',
  'claims.verifyPolicy',
  'claims.scoreFraud',
  'claims.assessAutomatically',
  'claims.requestDocuments',
  'claims.remindDocuments',
  'claims.fileDocuments',
  'claims.markDocumentsOverdue',
  'claims.startSettlementClock',
  'claims.adjudicate',
  'claims.pay',
  'claims.recordRefusal',
  'claims.recordSlaBreach',
  'claims.notifyPayment',
  'claims.notifyRejection',
  'claims.close',
] as const;

export type ClaimHandlerName = (typeof CLAIM_HANDLERS)[number];

const iso = (ms: number) => new Date(ms).toISOString();
const day = (ms: number) => iso(ms).slice(0, 10);
const money = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);
const numberOr = (v: unknown, fallback: number | null = null): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

export function createClaimHandlers(deps: ClaimDeps): Record<ClaimHandlerName, Handler> {
  return perTransition(CLAIM_HANDLERS, (ctx) => claimHandlersOver(deps, deps.store(ctx)));
}

function claimHandlersOver(deps: ClaimDeps, store: InsuranceStore): Record<ClaimHandlerName, Handler> {
  const now = () => deps.clock.now();
  const reserves = (ctx: HandlerContext) => reservesOf(store, ctx, deps.decide);
  const settlementHours = deps.settlementHours ?? 72;
  const reminderAfter = deps.documentsReminderAfter ?? DOCUMENTS_REMINDER_AFTER;
  const deadlineAfter = deps.documentsDeadlineAfter ?? DOCUMENTS_DEADLINE_AFTER;

  async function claimOf(ctx: HandlerContext): Promise<Claim> {
    const c = await store.claimOfInstance(ctx.instanceId);
    if (!c) throw new Error(`instance ${ctx.instanceId} has no registered claim`);
    return c;
  }

  async function policyOf(c: Claim): Promise<Policy | null> {
    return store.policy(c.policyNo);
  }

  /**
   * Where to write to the customer (screening.ts noticeAddress): the policyholder's preferred channel and its
   * address, else their e-mail, phone or postal address; the policyholder is the claim's customer or, before the
   * policy check recorded it, the customer of the policy named; without a policy on file, the contact given at
   * the report. `address` null when nobody can be reached.
   */
  async function customerAddress(c: Claim, v: Readonly<Record<string, unknown>>) {
    const customerId = c.customerId ?? (await store.policy(c.policyNo))?.customerId ?? null;
    const customer = customerId ? await store.customer(customerId) : null;
    return { customerId, address: noticeAddress(customer, { contactEmail: v.contactEmail, contactPhone: v.contactPhone }) };
  }

  async function tellCustomer(ctx: HandlerContext, c: Claim, key: string, topic: string, subject: string, body: string, payload: Record<string, unknown> = {}) {
    const { customerId, address } = await customerAddress(c, ctx.variables);
    if (!address) {
      // nobody to write to (a direct start on a policy not on file, without a contact): customer service gets the
      // notice to reach the reporter another way, so no notice is left without a recipient
      return store.notify({
        messageKey: key,
        channel: 'internal',
        recipient: 'customer-service',
        topic,
        subject: `[no customer address] ${subject}`,
        body: `The customer of claim ${c.claimNo} has no address on file and gave no contact: please reach the reporter and pass this on.\n\n${body}`,
        payload: { claimNo: c.claimNo, unreachable: true, ...payload },
        businessRef: c.claimNo,
        processInstanceId: ctx.instanceId,
      });
    }
    // the outbox keeps recipients up to 320 characters: a longer postal address travels in the payload
    const recipient = address.recipient.length > 320 ? `customer:${customerId}` : address.recipient;
    return store.notify({
      messageKey: key,
      channel: address.channel,
      recipient,
      topic,
      subject,
      body,
      payload: { claimNo: c.claimNo, ...(address.channel === 'post' ? { postalAddress: address.recipient } : {}), ...payload },
      businessRef: c.claimNo,
      processInstanceId: ctx.instanceId,
    });
  }

  return {
    /**
     * Numbers the claim and records the first notice of loss. Claim intake (POST /api/claims) allocates the claim
     * number from the claim sequence and starts the instance with it as business key; the claim is registered
     * under exactly that number, so business key and claim number agree. A business key that is not such a
     * number is refused with an error (the start then shows an incident at this task, naming the key): one that
     * is not a claim number, one the sequence has not handed out yet (a direct POST
     * /api/process-definitions/claims/start reserving future numbers), or one another claim already has (e.g. a
     * completed claim's). An instance without a business key (an embedder's start) gets the next number.
     */
    async 'claims.register'(ctx) {
      const v = ctx.variables;
      let claim = await store.claimOfInstance(ctx.instanceId);
      if (!claim) {
        const reportedAt = now();
        const key = ctx.businessKey;
        if (key !== null && key !== undefined) {
          const refuse = (why: string) => {
            throw new Error(`business key ${JSON.stringify(key)} is not a claim number that claim intake allocated for this claim: ${why}; report claims with POST /api/claims, which numbers them`);
          };
          if (!isClaimNumber(key)) refuse('it is not of the form CLM-YYYYMMDD-NNNNNN');
          if (Number(key.slice(13)) > (await store.currentNumber('claim'))) refuse('that number has not been handed out yet');
          if (await store.claimNumberTaken(key)) refuse('another claim has that number');
        }
        const claimNo = isClaimNumber(key) ? key : claimNumber(await store.nextNumber('claim'), new Date(reportedAt));
        claim = await store.registerClaim({
          claimNo,
          processInstanceId: ctx.instanceId,
          policyNo: String(v.policyNo),
          channel: String(v.channel),
          lossDate: String(v.lossDate),
          reportedAt,
          peril: String(v.peril),
          description: str(v.description),
          claimedAmount: Number(v.claimedAmount),
        });
      }
      // the same loss reported twice (phone, then app): flag it once; a person decides, never the automatic path
      if (!claim.duplicateOf) {
        const sameLoss = await new ClaimScreeningStore(store.db).sameLoss(claim.policyNo, claim.lossDate, claim.peril, claim.claimNo);
        const original = possibleDuplicateOf(claim, sameLoss, now());
        if (original) claim = await store.updateClaim(claim.claimNo, { duplicateOf: original.claimNo });
      }
      return {
        claimNo: claim.claimNo,
        possibleDuplicate: claim.duplicateOf !== null,
        duplicateOf: claim.duplicateOf,
        reportedAt: iso(claim.reportedAt),
        reportDate: day(claim.reportedAt),
        injuries: v.injuries === true,
        thirdPartyInvolved: v.thirdPartyInvolved === true,
        ...(await reserves(ctx).initial(claim)),
      };
    },

    /** Policy in force on the loss date, peril covered, sum insured; a refusal is the CLAIM_NOT_COVERED error. */
    async 'claims.verifyPolicy'(ctx) {
      const claim = await claimOf(ctx);
      const refuse = async (code: Parameters<typeof coverageRejection>[0]) => {
        const r = coverageRejection(code);
        throw new BpmnError('CLAIM_NOT_COVERED', r.reason, { rejectionCode: r.code, rejectionReason: r.reason });
      };
      const policy = await policyOf(claim);
      if (!policy) return refuse('POLICY_NOT_FOUND');
      // the policyholder is known from here on: a refusal below is sent to them
      if (claim.customerId !== policy.customerId) await store.updateClaim(claim.claimNo, { customerId: policy.customerId });
      const reportDate = day(claim.reportedAt);
      if (claim.lossDate > reportDate) return refuse('INVALID_LOSS_DATE');
      // coverage is judged on the version in force on the loss date, whatever the policy's status is today
      const cover = await store.policyVersionOn(policy.policyNo, claim.lossDate);
      const cancelledFrom = cover ? null : cancelledOnOrBefore(await store.policyVersions(policy.policyNo), claim.lossDate);
      const coverage = policyCoversLoss({ cover, lossDate: claim.lossDate, peril: claim.peril, cancelledFrom });
      if (!coverage.covered || !cover) return refuse(coverage.reason ?? 'LOSS_OUTSIDE_PERIOD');
      const claimsLast12Months = await store.claimsInYearBefore(policy.policyNo, claim.lossDate, claim.claimNo);
      const facts = fraudInputs({
        lossDate: claim.lossDate,
        reportDate,
        policyStart: policy.startDate,
        claimsLast12Months,
        claimedAmount: claim.claimedAmount,
        sumInsured: cover.sumInsured,
        coverChangedAt: policy.coverChangedAt === null ? null : new Date(policy.coverChangedAt),
      });
      await store.updateClaim(claim.claimNo, { customerId: policy.customerId, stage: 'verified' });
      return {
        policyVerified: true,
        customerId: policy.customerId,
        productCode: policy.productCode,
        // the terms of the version in force on the loss date feed the payout
        policyVersion: cover.version,
        sumInsured: cover.sumInsured,
        deductible: cover.deductible,
        coinsurance: cover.coinsurance,
        ...facts,
      };
    },

    /** Turns the FraudIndicators decision into a score and level; stores the screening result. */
    async 'claims.scoreFraud'(ctx) {
      const v = ctx.variables;
      const claim = await claimOf(ctx);
      const score = aggregateFraudScore(v.fraudIndicators as FraudIndicator[] | null);
      const classification = (v.classification ?? {}) as { complexity?: string; autoApprovalLimit?: number; surveyRequired?: boolean };
      const complexity = classification.complexity === 'simple' ? 'simple' : 'complex';
      await store.updateClaim(claim.claimNo, { classification: complexity, fraudScore: score.score, fraudLevel: score.level, fraudIndicators: score.indicators, stage: 'screened' });
      const stoppedBy = autoPaymentStoppedBy({ indicators: score.indicators, duplicateOf: claim.duplicateOf });
      return {
        fraudScore: score.score,
        fraudLevel: score.level,
        fraudFlags: score.indicators,
        // a possible duplicate or too many claims: never approved automatically (claims.assessAutomatically)
        stopAutoPayment: stoppedBy.length > 0,
        autoPaymentStoppedBy: stoppedBy,
        complexity,
        autoApprovalLimit: numberOr(classification.autoApprovalLimit, 0),
        surveyRequired: classification.surveyRequired === true,
        // the adjuster may still ask for a survey in the review form
        surveyRequested: v.surveyRequested === true,
      };
    },

    /** Simple claims: the payout the claim would get, approved without a person when within the automatic limit. */
    async 'claims.assessAutomatically'(ctx) {
      const v = ctx.variables;
      const claim = await claimOf(ctx);
      const { payout } = computePayout({ lossAmount: claim.claimedAmount, deductible: Number(v.deductible), sumInsured: Number(v.sumInsured), coinsurance: Number(v.coinsurance) });
      const limit = numberOr(v.autoApprovalLimit, 0)!;
      // read from the claim row, not the variables: a possible duplicate or a frequent claimant always goes to a person
      const stoppedBy = autoPaymentStoppedBy({ indicators: claim.fraudIndicators, duplicateOf: claim.duplicateOf });
      const autoApproved = stoppedBy.length === 0 && limit > 0 && !requiresSupervisorApproval(payout, limit);
      await store.updateClaim(claim.claimNo, autoApproved ? { stage: 'approved', decisionMode: 'automatic' } : { stage: 'review' });
      return { autoApproved, estimatedPayout: payout, approvedBy: autoApproved ? 'automatic' : null, autoPaymentStoppedBy: stoppedBy };
    },

    /** Asks the customer for the documents the adjuster listed, with a deadline; the reminder and deadline timers use the durations returned. */
    async 'claims.requestDocuments'(ctx) {
      const v = ctx.variables;
      const claim = await claimOf(ctx);
      const missing = Array.isArray(v.missingDocuments) ? (v.missingDocuments as unknown[]).map(String) : [];
      const dueAt = now() + (durationMs(deadlineAfter, new Date(now())) ?? 14 * 86_400_000);
      await tellCustomer(
        ctx,
        claim,
        `${ctx.idempotencyKey}:documents-requested`,
        'claim-documents-requested',
        `Claim ${claim.claimNo}: documents needed`,
        `To continue with your claim ${claim.claimNo} we need: ${missing.join('; ')}. Please send them by ${day(dueAt)}.`,
        { missingDocuments: missing, dueAt: iso(dueAt) },
      );
      await store.updateClaim(claim.claimNo, { stage: 'documents', documents: { ...(claim.documents ?? {}), requested: missing, requestedAt: iso(now()), dueAt: iso(dueAt) } });
      return { documentsStatus: 'requested', documentsDueAt: iso(dueAt), documentsReminderAfter: reminderAfter, documentsDeadlineAfter: deadlineAfter };
    },

    async 'claims.remindDocuments'(ctx) {
      const v = ctx.variables;
      const claim = await claimOf(ctx);
      const missing = Array.isArray(v.missingDocuments) ? (v.missingDocuments as unknown[]).map(String) : [];
      await tellCustomer(
        ctx,
        claim,
        `${ctx.idempotencyKey}:documents-reminder`,
        'claim-documents-reminder',
        `Reminder: claim ${claim.claimNo} is waiting for documents`,
        `We are still waiting for: ${missing.join('; ')}. Without them by ${String(v.documentsDueAt ?? '').slice(0, 10)} we will decide on the information we have.`,
        { missingDocuments: missing },
      );
      return { documentsReminderSent: true };
    },

    async 'claims.fileDocuments'(ctx) {
      const v = ctx.variables;
      const claim = await claimOf(ctx);
      const received = Array.isArray(v.receivedDocuments) ? (v.receivedDocuments as unknown[]).map(String) : [];
      await store.updateClaim(claim.claimNo, { stage: 'review', documents: { ...(claim.documents ?? {}), received, receivedAt: iso(now()) } });
      return { documentsStatus: 'received' };
    },

    async 'claims.markDocumentsOverdue'(ctx) {
      const claim = await claimOf(ctx);
      await store.updateClaim(claim.claimNo, { stage: 'review', documents: { ...(claim.documents ?? {}), overdueAt: iso(now()) } });
      return { documentsStatus: 'overdue' };
    },

    /** Starts the 72-hour clock (from the survey, or from the approval when no survey was needed). */
    async 'claims.startSettlementClock'(ctx) {
      const v = ctx.variables;
      const claim = await claimOf(ctx);
      const start = now();
      const deadline = settlementDeadline(new Date(start), settlementHours).getTime();
      const surveyed = typeof v.surveyLossEstimate === 'number';
      await store.updateClaim(claim.claimNo, {
        stage: 'settlement',
        slaDeadline: deadline,
        ...(v.reviewDecision === 'partial' && typeof v.approvedAmount === 'number' ? { approvedAmount: v.approvedAmount } : {}),
        ...(surveyed
          ? {
              surveyCompletedAt: start,
              surveyReport: { lossEstimate: v.surveyLossEstimate, surveyDate: v.surveyDate ?? null, findings: v.surveyFindings ?? null, causeOfLoss: v.surveyCauseOfLoss ?? null, photoRefs: v.surveyPhotoRefs ?? [] },
            }
          : {}),
      });
      return { slaDeadline: iso(deadline), slaTimer: durationUntil(start, deadline), settlementStartedAt: iso(start), ...(surveyed ? await reserves(ctx).expect(claim, 'survey', v) : {}) };
    },

    /** payout = (assessed loss - deductible), capped at the sum insured, times coinsurance; the reserve becomes the payout; who approves it: authority.ts. */
    async 'claims.adjudicate'(ctx) {
      const v = ctx.variables;
      const claim = await claimOf(ctx);
      const loss = assessedLoss({
        claimedAmount: claim.claimedAmount,
        approvedAmount: v.reviewDecision === 'partial' ? numberOr(v.approvedAmount) : null,
        surveyedLoss: numberOr(v.surveyLossEstimate),
      });
      const { payout, cappedAtSumInsured } = computePayout({ lossAmount: loss, deductible: Number(v.deductible), sumInsured: Number(v.sumInsured), coinsurance: Number(v.coinsurance) });
      const settled = await store.updateClaim(claim.claimNo, { assessedLoss: loss, payout });
      // supervisorApprovalRequired: what instances on claims versions before the authority loop route on
      const legacy = await supervisorApprovalRequired(deps.decide, ctx, payout);
      return { assessedLoss: loss, payout, cappedAtSumInsured, approvalLevel: initialApprovalLevel(v), ...(legacy === null ? {} : { supervisorApprovalRequired: legacy }), ...(await reserves(ctx).expect(settled, 'settlement', v, payout)) };
    },

    /**
     * Orders the payout: the ledger row is written once (idempotency key; one payout per claim) in this
     * transition; the bank transfer is made by the payment relay after the transition commits, with the row's
     * own key (payment-relay.ts), so a transition that rolls back pays nothing and a retry never pays twice.
     */
    async 'claims.pay'(ctx) {
      const claim = await claimOf(ctx);
      const payout = claim.payout ?? 0;
      // reached again by another path after the claim was paid (and maybe closed): its status stays as it is
      const alreadyPaid = claim.paidAt !== null;
      if (payout <= 0) {
        if (!alreadyPaid) await store.updateClaim(claim.claimNo, { status: 'paid', stage: 'paid', paidAt: now() });
        return { paidAmount: 0, paymentReference: null, paidAt: iso(claim.paidAt ?? now()), ...(await reserves(ctx).release(claim, 'payment')) };
      }
      const payment = await store.recordPayment({
        idempotencyKey: ctx.idempotencyKey,
        direction: 'payout',
        claimNo: claim.claimNo,
        policyNo: claim.policyNo,
        amount: payout,
        counterparty: claim.customerId,
        processInstanceId: ctx.instanceId,
      });
      if (payment.status === 'pending') ctx.unitOfWork.afterCommit(() => deps.relay?.send(payment.id).then(() => undefined));
      const paidAt = payment.completedAt ?? claim.paidAt ?? now();
      if (!alreadyPaid) await store.updateClaim(claim.claimNo, { status: 'paid', stage: 'paid', paidAt });
      return { paymentId: payment.id, paidAmount: payment.amount, paymentReference: payment.reference, paidAt: iso(paidAt), ...(await reserves(ctx).release(claim, 'payment')) };
    },

    /** The supervisor refused the payout: keep the reason with the claim (the sub-process's variables stay inside it). */
    async 'claims.recordRefusal'(ctx) {
      const claim = await claimOf(ctx);
      const r = rejectionOf({ supervisorDecision: 'reject', rejectionReason: ctx.variables.rejectionReason })!;
      await store.updateClaim(claim.claimNo, { rejectionCode: r.code, rejectionReason: r.reason });
      const { approvalChain } = await approvalsOf(store, ctx, now).record(claim, 'reject');
      return { rejectionCode: r.code, rejectionReason: r.reason, approvalChain };
    },

    /** The 72 hours passed before payment: record the breach and alert the claims supervisors. */
    async 'claims.recordSlaBreach'(ctx) {
      const claim = await claimOf(ctx);
      const at = claim.slaBreachedAt ?? now();
      await store.updateClaim(claim.claimNo, { slaBreached: true, slaBreachedAt: at });
      await store.notify({
        messageKey: `${claim.claimNo}:sla-breached`,
        channel: 'internal',
        recipient: 'claims-supervisors',
        topic: 'claim-sla-breached',
        subject: `Claim ${claim.claimNo} missed its 72-hour settlement deadline`,
        body: `Claim ${claim.claimNo} was due to be paid by ${claim.slaDeadline ? iso(claim.slaDeadline) : 'its deadline'} and is still in settlement (stage: ${claim.stage}).`,
        payload: { claimNo: claim.claimNo, slaDeadline: claim.slaDeadline ? iso(claim.slaDeadline) : null, stage: claim.stage },
        businessRef: claim.claimNo,
        processInstanceId: ctx.instanceId,
      });
      return { slaBreached: true, slaBreachedAt: iso(at) };
    },

    async 'claims.notifyPayment'(ctx) {
      const claim = await claimOf(ctx);
      const amount = claim.payout ?? 0;
      await tellCustomer(
        ctx,
        claim,
        `${claim.claimNo}:paid`,
        'claim-paid',
        amount > 0 ? `Claim ${claim.claimNo} has been paid` : `Claim ${claim.claimNo} is accepted: nothing to pay (below your deductible)`,
        amount > 0
          ? `We have paid ${money(amount)} CNY for your claim ${claim.claimNo} (assessed loss ${money(claim.assessedLoss ?? amount)}, after your deductible and the terms of your policy).`
          : `Your claim ${claim.claimNo} is accepted, but the assessed loss does not exceed your deductible, so there is nothing to pay.`,
        { payout: amount, assessedLoss: claim.assessedLoss },
      );
      return { customerNotified: true };
    },

    /** Every rejection ends here: the reason, whichever step gave it, goes to the customer. */
    async 'claims.notifyRejection'(ctx) {
      const claim = await claimOf(ctx);
      // a refusal inside the settlement sub-process is recorded on the claim; the others arrive as variables
      const recorded = claim.rejectionCode && claim.rejectionReason ? { code: claim.rejectionCode as RejectionCode, reason: claim.rejectionReason } : null;
      const rejection = recorded ?? rejectionOf(ctx.variables) ?? { code: 'REJECTED_ON_REVIEW' as const, reason: 'The claim could not be accepted.' };
      // a rejected claim keeps no payout (an adjudicated amount the supervisor refused is not owed)
      await store.updateClaim(claim.claimNo, { status: 'rejected', stage: 'rejected', rejectionCode: rejection.code, rejectionReason: rejection.reason, payout: null, decisionMode: rejectionDecisionMode(rejection.code) });
      await tellCustomer(ctx, claim, `${claim.claimNo}:rejected`, 'claim-rejected', `Decision on claim ${claim.claimNo}`, `${rejection.reason} If you disagree, reply to this message or call customer service to ask for a review.`, { rejectionCode: rejection.code });
      return { rejectionCode: rejection.code, rejectionReason: rejection.reason, customerNotified: true };
    },

    /** Closure with the analysis data: loss-ratio inputs, cycle time, SLA met. */
    async 'claims.close'(ctx) {
      const claim = await claimOf(ctx);
      const policy = await policyOf(claim);
      const closedAt = claim.closedAt ?? now();
      const figures = closureFigures({ reportedAt: claim.reportedAt, closedAt, payout: claim.status === 'rejected' ? 0 : claim.payout, paidAt: claim.paidAt, slaDeadline: claim.slaDeadline, slaBreached: claim.slaBreached, premium: policy?.premium ?? null });
      await store.updateClaim(claim.claimNo, {
        status: claim.status === 'rejected' ? 'rejected' : 'closed',
        stage: 'closed',
        closedAt,
        cycleTimeMs: closedAt - claim.reportedAt,
        slaMet: figures.slaMet,
        analysis: { ...figures, channel: claim.channel, peril: claim.peril, classification: claim.classification, fraudScore: claim.fraudScore, productCode: policy?.productCode ?? null, outcome: claim.status === 'rejected' ? 'rejected' : 'paid' },
      });
      // a rejected claim (or one closed another way) releases what is still reserved
      const released = claim.reserveOutstanding > 0 ? await reserves(ctx).release(claim, claim.status === 'rejected' ? 'rejection' : 'closure') : {};
      return { claimClosed: true, cycleTimeHours: figures.cycleTimeHours, slaMet: figures.slaMet, ...released };
    },
  };
}
