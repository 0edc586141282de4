/**
 * Handlers of processes/complaint.bpmn, consultation.bpmn and dispute.bpmn: thin adapters between the diagrams,
 * the pure rules (rules.ts) and the customer-service tables. Every write is idempotent (the engine may call a
 * handler again): rows are keyed by the instance, notifications by their message key, and a consultation opens
 * its sale or claim once (the ids it started are kept on its row, in the same transition).
 *
 * Numbers: POST /api/complaints|consultations|disputes allocate the number and start the instance with it as
 * business key; the registration step records the row under exactly that key and refuses a key that is not such
 * a number (a direct start with a made-up key stops with an incident there). An instance without a business key
 * gets the next number.
 */
import type { Clock } from '../../engine/clock.ts';
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import { InsureflowError } from '../../errors.ts';
import type { InsuranceStore } from '../../persistence/insurance.ts';
import type { Complaint, Consultation, CustomerServiceSequence, CustomerServiceStore } from '../../persistence/customer-service.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';
import { durationUntil } from '../claims/rules.ts';
import { checkIntake, startNumberedClaim } from '../claims/intake.ts';
import { COMPLAINT_NO, CONSULTATION_NO, DISPUTE_NO, DISPUTE_REVIEW_DAYS, SURVEY_WINDOW, contestedActionProblem, deadlineAfter, disputeReviewGroup, keywordFlags, serviceNumber } from './rules.ts';

/** How a handler starts another process once its own transition commits (a durable start job). */
export interface ProcessStarter {
  /** writes the start job in the handler's unit of work; returns the id the new instance will have */
  startAfterCommit(ctx: HandlerContext, key: string, businessKey: string | null, variables: Record<string, unknown>): Promise<string>;
  /** is `businessKey` held by an active instance of `key`? (claim intake then takes the next number); read in the handler's transaction */
  businessKeyHeld(ctx: HandlerContext, key: string, businessKey: string): Promise<boolean>;
  /** checks variables against the start form of `key` as deployed, read in the handler's transaction. @throws InsureflowError VALIDATION_FAILED */
  checkStartForm(ctx: HandlerContext, key: string, variables: Record<string, unknown>): Promise<void>;
}

export interface CustomerServiceDeps {
  /** the insurance repository bound to a handler call's unit of work (customers, policies, claims, outbox) */
  store: StoreOf;
  /** the customer-service repository bound to the same unit of work */
  service: (ctx: HandlerContext) => CustomerServiceStore;
  clock: Clock;
  processes: ProcessStarter;
  /** how long the satisfaction survey waits (ISO 8601 duration, default SURVEY_WINDOW) */
  surveyWindow?: string;
  /** calendar days a dispute review may take (default DISPUTE_REVIEW_DAYS) */
  disputeReviewDays?: number;
}

export const CUSTOMER_SERVICE_HANDLERS = [
  'complaints.register',
  'complaints.acknowledge',
  'complaints.assign',
  'complaints.respond',
  'complaints.recordBreach',
  'complaints.close',
  'complaints.sendSurvey',
  'complaints.recordSatisfaction',
  'complaints.recordNoAnswer',
  'consultations.log',
  'consultations.sendAnswer',
  'consultations.openSale',
  'consultations.openClaim',
  'disputes.register',
  'disputes.escalate',
  'disputes.recordOutcome',
  'disputes.orderRemedy',
  'disputes.notifyOutcome',
] as const;

export type CustomerServiceHandlerName = (typeof CUSTOMER_SERVICE_HANDLERS)[number];

const iso = (ms: number) => new Date(ms).toISOString();
const day = (ms: number) => iso(ms).slice(0, 10);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);
const money = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Sales lead sources by consultation channel (sales.start.schema.json). */
const LEAD_SOURCE: Record<string, string> = { phone: 'phone', email: 'online', app: 'online', online: 'online', branch: 'branch' };
/** Claim report channels by consultation channel (claims.start.schema.json has no branch: a visit is reported as by phone). */
const CLAIM_CHANNEL: Record<string, string> = { phone: 'phone', email: 'email', app: 'app', online: 'online', branch: 'phone' };

/** Where to write to a customer: the preferred channel of a known customer, else the contact given (recipient null: nowhere). */
export async function recipientOf(store: InsuranceStore, customerId: string | null, email: string | null, phone: string | null): Promise<{ channel: 'email' | 'sms'; recipient: string | null }> {
  const customer = customerId ? await store.customer(customerId) : null;
  const mail = customer?.email ?? email;
  const sms = customer?.phone ?? phone;
  if (customer?.preferredChannel === 'sms' && sms) return { channel: 'sms', recipient: sms };
  if (mail) return { channel: 'email', recipient: mail };
  return { channel: 'sms', recipient: sms };
}

/** The customer on file a complaint or question is about: the one named, the policyholder, or the one with that e-mail; null when none. */
export async function customerOf(store: InsuranceStore, v: Readonly<Record<string, unknown>>): Promise<string | null> {
  const id = str(v.customerId);
  if (id && (await store.customer(id))) return id;
  const policyNo = str(v.policyNo);
  const policy = policyNo ? await store.policy(policyNo) : null;
  if (policy) return policy.customerId;
  const email = str(v.contactEmail);
  return email ? ((await store.customerByEmail(email))?.id ?? null) : null;
}

/**
 * Why the customer of a complaint or consultation start form (customerId, policyNo, contactEmail, contactPhone)
 * could not be written to: a customerId that is not on file, or no customer on file and no contact. Empty when
 * the notices of the process have a recipient.
 */
export async function reachabilityProblems(store: InsuranceStore, v: Readonly<Record<string, unknown>>): Promise<{ field: string; message: string; keyword: string }[]> {
  const id = str(v.customerId);
  if (id && !(await store.customer(id))) return [{ field: 'customerId', message: 'is not a customer on file; leave it out and give contactEmail or contactPhone', keyword: 'customer' }];
  const { recipient } = await recipientOf(store, await customerOf(store, v), str(v.contactEmail), str(v.contactPhone));
  if (recipient) return [];
  return [{ field: 'contactEmail', message: 'or contactPhone is required: no customer on file can be written to (customerId or policyNo not on file, or without e-mail and phone)', keyword: 'contact' }];
}

/** What a consultation's answer and row say of the sale it opens: the sales start variables (sales.start.schema.json). */
export function salesLeadOf(c: Pick<Consultation, 'channel' | 'customerName' | 'customerId' | 'contactEmail' | 'contactPhone'>, v: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return {
    leadSource: LEAD_SOURCE[c.channel] ?? 'online',
    customerName: c.customerName,
    agent: String(v.agent),
    agentLevel: String(v.agentLevel),
    ...(c.customerId ? { customerId: c.customerId } : {}),
    ...(c.contactEmail ? { contactEmail: c.contactEmail } : {}),
    ...(c.contactPhone ? { contactPhone: c.contactPhone } : {}),
  };
}

/** What a consultation's answer (outcome claim) and row say of the loss: the claims start variables (claims.start.schema.json). */
export function claimReportOf(c: Pick<Consultation, 'channel' | 'customerName' | 'contactEmail' | 'contactPhone'>, v: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return {
    policyNo: String(v.claimPolicyNo),
    channel: CLAIM_CHANNEL[c.channel] ?? 'phone',
    lossDate: String(v.lossDate),
    peril: String(v.peril),
    claimedAmount: Number(v.claimedAmount),
    description: String(v.lossDescription),
    reporterName: c.customerName,
    ...(typeof v.injuries === 'boolean' ? { injuries: v.injuries } : {}),
    ...(typeof v.thirdPartyInvolved === 'boolean' ? { thirdPartyInvolved: v.thirdPartyInvolved } : {}),
    ...(c.contactEmail ? { contactEmail: c.contactEmail } : {}),
    ...(c.contactPhone ? { contactPhone: c.contactPhone } : {}),
  };
}

/** The answer form's name of a claims start field (the report is built from the answer form: claimReportOf). */
export const ANSWER_FIELD_OF_CLAIM: Readonly<Record<string, string>> = { policyNo: 'claimPolicyNo', description: 'lossDescription' };

export function createCustomerServiceHandlers(deps: CustomerServiceDeps): Record<CustomerServiceHandlerName, Handler> {
  return perTransition(CUSTOMER_SERVICE_HANDLERS, (ctx) => handlersOver(deps, deps.store(ctx), deps.service(ctx)));
}

function handlersOver(deps: CustomerServiceDeps, store: InsuranceStore, cs: CustomerServiceStore): Record<CustomerServiceHandlerName, Handler> {
  const now = () => deps.clock.now();
  const surveyWindow = deps.surveyWindow ?? SURVEY_WINDOW;
  const reviewDays = deps.disputeReviewDays ?? DISPUTE_REVIEW_DAYS;

  /**
   * The number of the row this instance registers: its business key when that is a number of the sequence that
   * was handed out and is not taken, the next number without a key. @throws Error for any other key
   */
  async function numberFor(ctx: HandlerContext, seq: CustomerServiceSequence, prefix: 'CMP' | 'CON' | 'DSP', pattern: RegExp, taken: (no: string) => Promise<boolean>, route: string): Promise<string> {
    const key = ctx.businessKey;
    if (key === null || key === undefined) return serviceNumber(prefix, await cs.nextNumber(seq), new Date(now()));
    const refuse = (why: string) => {
      throw new Error(`business key ${JSON.stringify(key)} is not a ${seq} number that ${route} allocated: ${why}; register with ${route}, which numbers it`);
    };
    if (!pattern.test(key)) refuse(`it is not of the form ${prefix}-YYYYMMDD-NNNNNN`);
    if (Number(key.slice(13)) > (await cs.currentNumber(seq))) refuse('that number has not been handed out yet');
    if (await taken(key)) refuse(`another ${seq} has that number`);
    return key;
  }

  async function tell(ctx: HandlerContext, to: { customerId: string | null; contactEmail: string | null; contactPhone: string | null }, key: string, topic: string, ref: string, subject: string, body: string, payload: Record<string, unknown> = {}) {
    const { channel, recipient } = await recipientOf(store, to.customerId, to.contactEmail, to.contactPhone);
    return store.notify({ messageKey: key, channel, recipient, topic, subject, body, payload, businessRef: ref, processInstanceId: ctx.instanceId });
  }

  async function alert(ctx: HandlerContext, group: string, key: string, topic: string, ref: string, subject: string, body: string, payload: Record<string, unknown>) {
    return store.notify({ messageKey: key, channel: 'internal', recipient: group, topic, subject, body, payload, businessRef: ref, processInstanceId: ctx.instanceId });
  }

  async function complaintOf(ctx: HandlerContext): Promise<Complaint> {
    const c = await cs.complaintOfInstance(ctx.instanceId);
    if (!c) throw new Error(`instance ${ctx.instanceId} has no registered complaint`);
    return c;
  }

  async function consultationOf(ctx: HandlerContext) {
    const c = await cs.consultationOfInstance(ctx.instanceId);
    if (!c) throw new Error(`instance ${ctx.instanceId} has no logged consultation`);
    return c;
  }

  async function disputeOf(ctx: HandlerContext) {
    const d = await cs.disputeOfInstance(ctx.instanceId);
    if (!d) throw new Error(`instance ${ctx.instanceId} has no registered dispute`);
    return d;
  }

  return {
    // ------------------------------------------------------------------------------------------ complaints

    /** Records the complaint and the keyword flags of its text (inputs of the ComplaintClassification decision). */
    async 'complaints.register'(ctx) {
      const v = ctx.variables;
      let c = await cs.complaintOfInstance(ctx.instanceId);
      if (!c) {
        const complaintNo = await numberFor(ctx, 'complaint', 'CMP', COMPLAINT_NO, (no) => cs.complaintNumberTaken(no), 'POST /api/complaints');
        c = await cs.registerComplaint({
          complaintNo,
          processInstanceId: ctx.instanceId,
          channel: String(v.channel),
          category: String(v.category),
          customerId: await customerOf(store, v),
          policyNo: str(v.policyNo),
          claimNo: str(v.claimNo),
          complainantName: String(v.complainantName),
          contactEmail: str(v.contactEmail),
          contactPhone: str(v.contactPhone),
          summary: String(v.summary),
          keywordFlags: { ...keywordFlags(String(v.summary ?? '')) },
        });
      }
      return { complaintNo: c.complaintNo, registeredAt: iso(c.registeredAt), ...c.keywordFlags };
    },

    /** Keeps the classification, sets the response deadline (the timer reads responseTimer) and acknowledges. */
    async 'complaints.acknowledge'(ctx) {
      const c = await complaintOf(ctx);
      const cls = (ctx.variables.classification ?? null) as { severity?: unknown; responseDays?: unknown; handlingGroup?: unknown } | null;
      if (!cls || typeof cls.severity !== 'string' || typeof cls.responseDays !== 'number' || typeof cls.handlingGroup !== 'string') {
        throw new Error(`complaint ${c.complaintNo}: the ComplaintClassification decision gave no severity, responseDays and handlingGroup (${JSON.stringify(cls)})`);
      }
      const dueAt = deadlineAfter(c.registeredAt, cls.responseDays);
      const updated = await cs.updateComplaint(c.complaintNo, { severity: cls.severity, responseDays: cls.responseDays, responseDueAt: dueAt, handlingGroup: cls.handlingGroup });
      await tell(
        ctx,
        updated,
        `${c.complaintNo}:acknowledged`,
        'complaint-acknowledged',
        c.complaintNo,
        `We have received your complaint ${c.complaintNo}`,
        `Dear ${c.complainantName}, we have registered your complaint under ${c.complaintNo}. A complaints handler will look into it and you will have our response by ${day(dueAt)}.`,
        { complaintNo: c.complaintNo, responseDueAt: iso(dueAt) },
      );
      return { severity: cls.severity, responseDays: cls.responseDays, handlingGroup: cls.handlingGroup, responseDueAt: iso(dueAt), responseTimer: durationUntil(now(), dueAt) };
    },

    /** Keeps who handles the complaint (the assignment form's handler). */
    async 'complaints.assign'(ctx) {
      const c = await complaintOf(ctx);
      const handler = String(ctx.variables.handler);
      await cs.updateComplaint(c.complaintNo, { status: 'assigned', handler });
      return { assignedAt: iso(now()) };
    },

    /** The response letter to the customer; the response time is kept (once: a retry keeps the first). */
    async 'complaints.respond'(ctx) {
      const v = ctx.variables;
      const c = await complaintOf(ctx);
      const respondedAt = c.respondedAt ?? now();
      const outcome = String(v.responseOutcome);
      const compensation = typeof v.compensationAmount === 'number' && v.compensationAmount > 0 ? v.compensationAmount : null;
      const updated = await cs.updateComplaint(c.complaintNo, { status: 'responded', respondedAt, responseOutcome: outcome, handler: str(v.handler) ?? c.handler });
      const remedy = str(v.remedy);
      await tell(
        ctx,
        updated,
        `${c.complaintNo}:response`,
        'complaint-response',
        c.complaintNo,
        `Our response to your complaint ${c.complaintNo}`,
        [String(v.responseText), remedy ? `What we are doing: ${remedy}` : null, compensation ? `As a gesture of goodwill we will pay you ${money(compensation)} CNY.` : null].filter(Boolean).join('\n\n'),
        { complaintNo: c.complaintNo, responseOutcome: outcome, compensationAmount: compensation },
      );
      const withinDeadline = c.responseDueAt === null || respondedAt <= c.responseDueAt;
      return { respondedAt: iso(respondedAt), respondedWithinDeadline: withinDeadline && !c.deadlineBreached };
    },

    /** The response deadline passed: mark the breach and alert the complaints supervisors. */
    async 'complaints.recordBreach'(ctx) {
      const c = await complaintOf(ctx);
      const at = c.breachedAt ?? now();
      await cs.updateComplaint(c.complaintNo, { deadlineBreached: true, breachedAt: at });
      await alert(
        ctx,
        'complaints-supervisors',
        `${c.complaintNo}:deadline-breached`,
        'complaint-deadline-breached',
        c.complaintNo,
        `Complaint ${c.complaintNo} missed its response deadline`,
        `Complaint ${c.complaintNo} (${c.severity ?? 'unclassified'}, ${c.category}, received by ${c.channel}) was due to be answered by ${c.responseDueAt ? iso(c.responseDueAt) : 'its deadline'} and has not been answered${c.handler ? ` (handler: ${c.handler})` : ''}. Please take it over or chase it.`,
        { complaintNo: c.complaintNo, severity: c.severity, responseDueAt: c.responseDueAt ? iso(c.responseDueAt) : null, handlingGroup: c.handlingGroup },
      );
      return { deadlineBreached: true, breachedAt: iso(at) };
    },

    /** Closes the complaint with its resolution; a customer who did not accept is told where to refer it. */
    async 'complaints.close'(ctx) {
      const v = ctx.variables;
      const c = await complaintOf(ctx);
      const closedAt = c.closedAt ?? now();
      const accepted = v.customerAccepted === true;
      const updated = await cs.updateComplaint(c.complaintNo, { status: 'closed', closedAt, resolution: String(v.resolutionSummary) });
      await tell(
        ctx,
        updated,
        `${c.complaintNo}:closed`,
        'complaint-closed',
        c.complaintNo,
        `Your complaint ${c.complaintNo} is closed`,
        accepted
          ? `Thank you for accepting our response. Your complaint ${c.complaintNo} is now closed.`
          : `Your complaint ${c.complaintNo} is now closed. If you are not satisfied with our response you may refer it to the financial regulator (consumer hotline 12378), quoting ${c.complaintNo}.`,
        { complaintNo: c.complaintNo, customerAccepted: accepted },
      );
      return { complaintStatus: 'closed', closedAt: iso(closedAt) };
    },

    /** Asks the customer to rate the handling (1 to 5); the survey window is the timer's duration. */
    async 'complaints.sendSurvey'(ctx) {
      const c = await complaintOf(ctx);
      const updated = await cs.updateComplaint(c.complaintNo, { surveyStatus: 'sent' });
      await tell(ctx, updated, `${c.complaintNo}:survey`, 'complaint-survey', c.complaintNo, `How did we handle your complaint ${c.complaintNo}?`, `Please rate how we handled your complaint ${c.complaintNo} from 1 (very dissatisfied) to 5 (very satisfied). Your answer helps us improve.`, { complaintNo: c.complaintNo });
      return { surveyWindow };
    },

    async 'complaints.recordSatisfaction'(ctx) {
      const v = ctx.variables;
      const c = await complaintOf(ctx);
      const score = v.satisfactionScore;
      if (typeof score !== 'number' || !Number.isInteger(score) || score < 1 || score > 5) throw new Error(`complaint ${c.complaintNo}: satisfactionScore must be an integer 1..5, got ${JSON.stringify(score)}`);
      await cs.updateComplaint(c.complaintNo, { surveyStatus: 'answered', satisfactionScore: score, satisfactionComment: str(v.satisfactionComment) });
      return { surveyStatus: 'answered' };
    },

    async 'complaints.recordNoAnswer'(ctx) {
      const c = await complaintOf(ctx);
      await cs.updateComplaint(c.complaintNo, { surveyStatus: 'no-answer' });
      return { surveyStatus: 'no-answer' };
    },

    // ------------------------------------------------------------------------------------------ consultations

    async 'consultations.log'(ctx) {
      const v = ctx.variables;
      let c = await cs.consultationOfInstance(ctx.instanceId);
      if (!c) {
        const consultationNo = await numberFor(ctx, 'consultation', 'CON', CONSULTATION_NO, async (no) => Boolean(await cs.consultation(no)), 'POST /api/consultations');
        c = await cs.registerConsultation({
          consultationNo,
          processInstanceId: ctx.instanceId,
          channel: String(v.channel),
          topic: String(v.topic),
          question: String(v.question),
          customerId: await customerOf(store, v),
          customerName: String(v.customerName),
          contactEmail: str(v.contactEmail),
          contactPhone: str(v.contactPhone),
          policyNo: str(v.policyNo),
        });
      }
      return { consultationNo: c.consultationNo };
    },

    async 'consultations.sendAnswer'(ctx) {
      const v = ctx.variables;
      const c = await consultationOf(ctx);
      const answeredAt = c.answeredAt ?? now();
      const updated = await cs.updateConsultation(c.consultationNo, { status: 'answered', answer: String(v.answer), answeredAt, outcome: String(v.outcome) });
      await tell(ctx, updated, `${c.consultationNo}:answer`, 'consultation-answer', c.consultationNo, `Your question ${c.consultationNo}`, String(v.answer), { consultationNo: c.consultationNo, outcome: v.outcome });
      return { answeredAt: iso(answeredAt) };
    },

    /** Hands the lead to the agent: a sales instance (business key LEAD-<consultation number>) once this commits. */
    async 'consultations.openSale'(ctx) {
      const v = ctx.variables;
      const c = await consultationOf(ctx);
      if (c.salesInstanceId) return { salesInstanceId: c.salesInstanceId };
      const lead = salesLeadOf(c, v);
      await deps.processes.checkStartForm(ctx, 'sales', lead);
      const id = await deps.processes.startAfterCommit(ctx, 'sales', `LEAD-${c.consultationNo}`, lead);
      await cs.updateConsultation(c.consultationNo, { status: 'converted', salesInstanceId: id });
      return { salesInstanceId: id };
    },

    /**
     * Reports the loss through claim intake's numbering (claims/intake.ts, as POST /api/claims): the next claim
     * number whose business key is free; the claims instance starts once this transition commits.
     */
    async 'consultations.openClaim'(ctx) {
      const v = ctx.variables;
      const c = await consultationOf(ctx);
      if (c.claimNo) return { claimNo: c.claimNo, claimInstanceId: c.claimInstanceId };
      const report = claimReportOf(c, v);
      await deps.processes.checkStartForm(ctx, 'claims', report);
      // the same intake checks as POST /api/claims (loss date, contact), before a claim number is taken
      await checkIntake(store, now(), report);
      const { claimNo, started } = await startNumberedClaim(store, now, async (no) => {
        if (await deps.processes.businessKeyHeld(ctx, 'claims', no)) throw new InsureflowError('BUSINESS_KEY_IN_USE', `claim number ${no} is held by another claims instance`);
        return deps.processes.startAfterCommit(ctx, 'claims', no, report);
      });
      await cs.updateConsultation(c.consultationNo, { status: 'converted', claimNo, claimInstanceId: started });
      return { claimNo, claimInstanceId: started };
    },

    // ------------------------------------------------------------------------------------------ disputes

    /** Records the dispute of an existing claim or policy, routes its review and sets the deadline. */
    async 'disputes.register'(ctx) {
      const v = ctx.variables;
      let d = await cs.disputeOfInstance(ctx.instanceId);
      if (!d) {
        const subjectType = v.subjectType === 'policy' ? 'policy' : 'claim';
        const subjectRef = String(subjectType === 'claim' ? v.claimNo : v.policyNo);
        let customerId: string | null = null;
        if (subjectType === 'claim') {
          const claim = await store.claim(subjectRef);
          if (!claim) throw new Error(`claim ${subjectRef} was not found: a dispute names an existing claim`);
          const mismatch = contestedActionProblem('claim', String(v.contestedAction), claim);
          if (mismatch) throw new Error(`dispute of claim ${subjectRef}: contestedAction ${String(v.contestedAction)} ${mismatch}`);
          customerId = claim.customerId ?? (await store.policy(claim.policyNo))?.customerId ?? null;
        } else {
          const policy = await store.policy(subjectRef);
          if (!policy) throw new Error(`policy ${subjectRef} was not found: a dispute names an existing policy`);
          customerId = policy.customerId;
        }
        const disputeNo = await numberFor(ctx, 'dispute', 'DSP', DISPUTE_NO, async (no) => Boolean(await cs.dispute(no)), 'POST /api/disputes');
        d = await cs.registerDispute({
          disputeNo,
          processInstanceId: ctx.instanceId,
          subjectType,
          subjectRef,
          contestedAction: String(v.contestedAction),
          grounds: String(v.grounds),
          customerId,
          contactEmail: str(v.contactEmail),
          contactPhone: str(v.contactPhone),
          reviewGroup: disputeReviewGroup(subjectType),
          reviewDueAt: deadlineAfter(now(), reviewDays),
        });
        await tell(ctx, d, `${d.disputeNo}:acknowledged`, 'dispute-acknowledged', d.disputeNo, `We have received your dispute ${d.disputeNo}`, `Your objection to the decision on ${d.subjectRef} is registered under ${d.disputeNo}. Someone who did not take the original decision will review it; you will have the outcome by ${day(d.reviewDueAt)}.`, { disputeNo: d.disputeNo, subjectRef: d.subjectRef, reviewDueAt: iso(d.reviewDueAt) });
      }
      return { disputeNo: d.disputeNo, reviewGroup: d.reviewGroup, reviewDueAt: iso(d.reviewDueAt), reviewTimer: durationUntil(now(), d.reviewDueAt) };
    },

    async 'disputes.escalate'(ctx) {
      const d = await disputeOf(ctx);
      const at = d.escalatedAt ?? now();
      await cs.updateDispute(d.disputeNo, { escalated: true, escalatedAt: at });
      await alert(ctx, 'complaints-supervisors', `${d.disputeNo}:escalated`, 'dispute-review-overdue', d.disputeNo, `Dispute ${d.disputeNo} is not reviewed in time`, `The review of dispute ${d.disputeNo} (${d.contestedAction} on ${d.subjectRef}) was due by ${iso(d.reviewDueAt)} and is still open in ${d.reviewGroup}.`, { disputeNo: d.disputeNo, reviewDueAt: iso(d.reviewDueAt), reviewGroup: d.reviewGroup });
      return { disputeEscalated: true, escalatedAt: iso(at) };
    },

    async 'disputes.recordOutcome'(ctx) {
      const v = ctx.variables;
      const d = await disputeOf(ctx);
      const outcome = v.disputeOutcome === 'overturned' ? 'overturned' : 'upheld';
      const decidedAt = d.decidedAt ?? now();
      await cs.updateDispute(d.disputeNo, { status: 'decided', outcome, outcomeReason: String(v.reviewReason), decidedAt });
      return { disputeOutcome: outcome, decidedAt: iso(decidedAt) };
    },

    /** An overturned decision goes back to the department that made it, with what must be put right. */
    async 'disputes.orderRemedy'(ctx) {
      const d = await disputeOf(ctx);
      const remedy = String(ctx.variables.remedy ?? '');
      await alert(ctx, d.reviewGroup, `${d.disputeNo}:remedy`, 'dispute-overturned', d.subjectRef, `Decision on ${d.subjectRef} overturned (dispute ${d.disputeNo})`, `The review of dispute ${d.disputeNo} overturned the ${d.contestedAction} on ${d.subjectRef}. To put right: ${remedy}`, { disputeNo: d.disputeNo, subjectRef: d.subjectRef, remedy });
      return { remedyOrdered: true };
    },

    async 'disputes.notifyOutcome'(ctx) {
      const d = await disputeOf(ctx);
      const overturned = d.outcome === 'overturned';
      await tell(
        ctx,
        d,
        `${d.disputeNo}:outcome`,
        'dispute-outcome',
        d.disputeNo,
        `The outcome of your dispute ${d.disputeNo}`,
        overturned
          ? `We have reviewed the decision on ${d.subjectRef} and changed it: ${d.outcomeReason} We will contact you about putting it right.`
          : `We have reviewed the decision on ${d.subjectRef} and it stands: ${d.outcomeReason} If you still disagree you may refer the matter to the financial regulator (consumer hotline 12378) or to mediation.`,
        { disputeNo: d.disputeNo, outcome: d.outcome },
      );
      return { customerNotified: true };
    },
  };
}
