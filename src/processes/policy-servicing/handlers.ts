/**
 * Handlers of the policy servicing diagrams (processes/policy-change.bpmn, policy-cancellation.bpmn,
 * policy-renewal.bpmn): thin adapters between the diagrams, the pure rules (rules.ts), the decisions
 * (RiskFactor, CreditGradeFactor, EndorsementApproval, CancellationTerms) and the insurance tables. Every change of
 * cover is a new policy version (InsuranceStore.addPolicyVersion), written in the transition's unit of work;
 * ledger rows are keyed by the handler's idempotency key and notices by message key, so retries change nothing.
 *
 * Business outcomes are BPMN errors the diagrams route: CHANGE_REFUSED (unknown or not active policy, effective
 * date outside the term; at validation, or when applying after an approval if the policy was cancelled meanwhile),
 * CANCELLATION_REFUSED (likewise). A short renewal payment is no error but `paidInFull: false`.
 */
import type { Clock } from '../../engine/clock.ts';
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import { BpmnError } from '../../errors.ts';
import type { InsuranceStore, Policy, PolicyVersion } from '../../persistence/insurance.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';
import { amount, sum, toNumber } from '../money.ts';
import { durationUntil } from '../claims/rules.ts';
import { RENEWAL_OFFER_DAYS, addDays, annualPremium, cancellationRefund, cny, daysInclusive, nextTerm, premiumChange, renewalSchedule, rescaledPremium } from './rules.ts';

export interface ServicingDeps {
  store: StoreOf;
  clock: Clock;
  /** days before the end of cover the renewal offer goes out (default RENEWAL_OFFER_DAYS) */
  renewalOfferDays?: number;
  /** starts another process once the calling transition commits (the next term's renewal case) */
  processes?: { startAfterCommit(ctx: HandlerContext, key: string, businessKey: string, variables: Record<string, unknown>): Promise<string> };
}

export const SERVICING_HANDLERS = [
  'policyChange.validate',
  'policyChange.rate',
  'policyChange.apply',
  'policyChange.notify',
  'policyChange.notifyRefusal',
  'policyCancellation.validate',
  'policyCancellation.schedule',
  'policyCancellation.sendNotice',
  'policyCancellation.cancel',
  'policyCancellation.notifyWithdrawn',
  'policyCancellation.notifyRefusal',
  'policyRenewal.schedule',
  'policyRenewal.check',
  'policyRenewal.offer',
  'policyRenewal.requestPremium',
  'policyRenewal.declined',
  'policyRenewal.recordPayment',
  'policyRenewal.renew',
  'policyRenewal.lapse',
] as const;

export type ServicingHandlerName = (typeof SERVICING_HANDLERS)[number];

/** Rating inputs of a policy when neither an endorsement nor its quote recorded them (seeded policies): the reference home risk. */
export const DEFAULT_RISK_PROFILE = { propertyType: 'residential', constructionClass: 'masonry' } as const;

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);
const today = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const PERILS = ['fire', 'water', 'theft', 'storm', 'glass', 'other'];

export function createServicingHandlers(deps: ServicingDeps): Record<ServicingHandlerName, Handler> {
  return perTransition(SERVICING_HANDLERS, (ctx) => servicingHandlersOver(deps, deps.store(ctx)));
}

/** What a policy is rated on: its risk profile (endorsed, else quoted, else the reference risk) and the rating of its sale. */
async function ratingBasis(store: InsuranceStore, policy: Policy) {
  const quote = policy.quoteNo ? await store.quote(policy.quoteNo) : null;
  const endorsed = (policy.schedule.riskProfile ?? null) as Record<string, unknown> | null;
  const profile = { ...DEFAULT_RISK_PROFILE, propertyAddress: null as unknown, ...(quote?.riskProfile ?? {}), ...(endorsed ?? {}) };
  const product = policy.productVersion !== null ? await store.productVersion(policy.productCode, policy.productVersion) : null;
  const launched = await store.launchedProduct(policy.productCode);
  return {
    propertyType: String(profile.propertyType ?? DEFAULT_RISK_PROFILE.propertyType),
    constructionClass: String(profile.constructionClass ?? DEFAULT_RISK_PROFILE.constructionClass),
    propertyAddress: (profile.propertyAddress ?? null) as string | null,
    /** the rate the policy was sold at (endorsements keep it) */
    soldRate: quote?.baseRate ?? product?.baseRate ?? launched?.baseRate ?? null,
    /** the tariff in force today (renewals take it) */
    currentRate: launched?.baseRate ?? quote?.baseRate ?? product?.baseRate ?? null,
    discountPercent: quote?.discountPercent ?? 0,
  };
}

function servicingHandlersOver(deps: ServicingDeps, store: InsuranceStore): Record<ServicingHandlerName, Handler> {
  const now = () => deps.clock.now();
  const offerDays = deps.renewalOfferDays ?? RENEWAL_OFFER_DAYS;
  /** ISO 8601 duration from now to an instant: the diagrams' timers are durations computed here (when they are entered) */
  const lapseIn = (at: string) => durationUntil(now(), Date.parse(at));

  async function policyOf(ctx: HandlerContext): Promise<Policy> {
    const policyNo = String(ctx.variables.policyNo);
    const policy = await store.policy(policyNo);
    if (!policy) throw new Error(`policy ${policyNo} was not found`);
    return policy;
  }

  /** The customer's notice on their preferred channel (e-mail when known, else SMS), once per message key. */
  async function tell(ctx: HandlerContext, policy: Policy, key: string, topic: string, subject: string, body: string, payload: Record<string, unknown> = {}) {
    const customer = await store.customer(policy.customerId);
    const sms = customer?.preferredChannel === 'sms' && customer.phone;
    const recipient = sms ? customer.phone : (customer?.email ?? customer?.phone ?? null);
    await store.notify({ messageKey: `${policy.policyNo}:${key}`, channel: recipient?.includes('@') ? 'email' : 'sms', recipient, topic, subject, body, payload: { policyNo: policy.policyNo, ...payload }, businessRef: policy.policyNo, processInstanceId: ctx.instanceId });
  }

  /** Claims on the policy with a loss in the 3 years before `date`: the RiskFactor decision's claims history. */
  const claimsLast3Years = (policyNo: string, date: string) => store.claimsSince(policyNo, addDays(date, -3 * 365));

  /** The version in force on `date`, or the policy's current terms when none covers it. */
  async function termsOn(policy: Policy, date: string): Promise<Pick<PolicyVersion, 'sumInsured' | 'deductible' | 'coinsurance' | 'perils' | 'premium'>> {
    return (await store.policyVersionOn(policy.policyNo, date)) ?? policy;
  }

  /** The first day of the policy's current term: the start of the latest issue or renewal version. */
  async function termStart(policy: Policy): Promise<{ start: string; version: PolicyVersion | null }> {
    const versions = await store.policyVersions(policy.policyNo);
    const term = [...versions].reverse().find((v) => v.reason === 'issue' || v.reason === 'renewal') ?? null;
    return { start: term?.effectiveFrom ?? policy.startDate, version: term };
  }

  /**
   * Premium received for the current term less refunds made or owed in it (decimal, from the ledger): rows booked by
   * the instance that opened the term (the sale or the renewal) and by endorsements of the term. A term opened
   * without a process (a policy seeded or migrated in: its issue version has no instance) also counts the rows
   * booked on the policy without an instance (the demo seed's premium).
   */
  async function netPaidForTerm(policy: Policy): Promise<number> {
    const { start, version } = await termStart(policy);
    const versions = await store.policyVersions(policy.policyNo);
    const opener = version ? version.processInstanceId : policy.processInstanceId;
    const instances = new Set<string>([opener ?? ''].filter(Boolean));
    for (const v of versions) if (v.reason === 'endorsement' && v.effectiveFrom >= start && v.processInstanceId) instances.add(v.processInstanceId);
    const ofTerm = (id: string | null) => (id ? instances.has(id) : !opener);
    const rows = (await store.policyLedger(policy.policyNo, policy.quoteNo)).filter((p) => ofTerm(p.processInstanceId ?? null));
    // premiums count once received; refunds as soon as they are owed (a pending refund of an excess is not premium)
    const premiums = rows.filter((p) => p.direction === 'premium' && p.status === 'completed').map((p) => p.amount);
    const refunds = rows.filter((p) => p.direction === 'refund').map((p) => p.amount);
    return toNumber(sum(premiums).minus(sum(refunds)));
  }

  /** Refunds what this renewal case holds (its premium rows less its refunds) as one refund row; returns the amount. */
  async function refundHeld(ctx: HandlerContext, policy: Policy, tag: string): Promise<number> {
    const mine = (await store.policyLedger(policy.policyNo, null)).filter((p) => p.status === 'completed' && p.processInstanceId === ctx.instanceId);
    const held = toNumber(sum(mine.filter((p) => p.direction === 'premium').map((p) => p.amount)).minus(sum(mine.filter((p) => p.direction === 'refund').map((p) => p.amount))));
    if (held <= 0) return 0;
    let refund = await store.recordPayment({ idempotencyKey: ctx.idempotencyKey, direction: 'refund', policyNo: policy.policyNo, amount: held, counterparty: policy.customerId, processInstanceId: ctx.instanceId });
    if (refund.status !== 'completed') refund = await store.completePayment(refund.id, `REFUND-${policy.policyNo}-${tag}`);
    return held;
  }

  return {
    // ------------------------------------------------------------------------------------------ policy-change

    /** The policy exists, is active, and the effective date lies in its term (not before today): else CHANGE_REFUSED. */
    async 'policyChange.validate'(ctx) {
      const v = ctx.variables;
      const policyNo = String(v.policyNo);
      const effectiveDate = String(v.effectiveDate);
      const policy = await store.policy(policyNo);
      const refuse = (reason: string): never => {
        throw new BpmnError('CHANGE_REFUSED', reason, { refusalReason: reason });
      };
      if (!policy) return refuse(`Policy ${policyNo} does not exist.`);
      if (policy.status !== 'active') return refuse(`Policy ${policyNo} is ${policy.status}: only active policies can be changed.`);
      if (effectiveDate < policy.startDate || effectiveDate > policy.endDate) return refuse(`The change must take effect within the term of the policy (${policy.startDate} to ${policy.endDate}); ${effectiveDate} was asked.`);
      if (effectiveDate < today(now())) return refuse(`A change cannot take effect in the past (${effectiveDate}; today is ${today(now())}).`);
      const changes = (v.changes ?? {}) as Record<string, unknown>;
      const basis = await ratingBasis(store, policy);
      const customer = await store.customer(policy.customerId);
      const current = await termsOn(policy, effectiveDate);
      const newSumInsured = typeof changes.sumInsured === 'number' ? changes.sumInsured : current.sumInsured;
      return {
        customerId: policy.customerId,
        currentPremium: current.premium,
        currentSumInsured: current.sumInsured,
        newSumInsured,
        newDeductible: typeof changes.deductible === 'number' ? changes.deductible : current.deductible,
        newPerils: Array.isArray(changes.perils) ? (changes.perils as string[]).filter((p) => PERILS.includes(p)) : current.perils,
        propertyType: str(changes.propertyType) ?? basis.propertyType,
        constructionClass: str(changes.constructionClass) ?? basis.constructionClass,
        propertyAddress: str(changes.propertyAddress) ?? basis.propertyAddress,
        // the current rating inputs: Task_CurrentRiskFactor rates the current terms with them
        currentPropertyType: basis.propertyType,
        currentConstructionClass: basis.constructionClass,
        claimsLast3Years: await claimsLast3Years(policyNo, effectiveDate),
        creditGrade: customer?.creditGrade ?? 'C',
        termStart: (await termStart(policy)).start,
        termEnd: policy.endDate,
        refusalReason: null,
      };
    },

    /**
     * Re-rating: the new annual premium is the current premium scaled by the rating of the new terms over the
     * rating of the current terms (rescaledPremium: both at the rate the policy was sold at, with its discount and
     * the customer's credit factor; riskFactor over the new risk inputs, currentRiskFactor over the current ones),
     * so a premium that did not come from this tariff (seeded, migrated, negotiated) is kept where nothing rated
     * changes; and the pro-rata difference for the rest of the term. The EndorsementApproval decision then reads
     * premiumChangeAbsPercent, proRataDifferenceAbs and sumInsuredChangePercent.
     */
    async 'policyChange.rate'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      const basis = await ratingBasis(store, policy);
      if (basis.soldRate === null) throw new Error(`policy ${policy.policyNo}: no base rate for product ${policy.productCode}`);
      const rating = { baseRate: basis.soldRate, creditFactor: Number(v.creditFactor), discountPercent: basis.discountPercent };
      const newPremium = rescaledPremium(Number(v.currentPremium), { ...rating, sumInsured: Number(v.currentSumInsured), riskFactor: Number(v.currentRiskFactor) }, { ...rating, sumInsured: Number(v.newSumInsured), riskFactor: Number(v.riskFactor) });
      const change = premiumChange(Number(v.currentPremium), newPremium, String(v.effectiveDate), String(v.termStart), String(v.termEnd));
      const oldSum = amount(Number(v.currentSumInsured));
      const sumInsuredChangePercent = oldSum.isZero() ? 0 : amount(Number(v.newSumInsured)).minus(oldSum).dividedBy(oldSum).times(100).toDecimalPlaces(2).toNumber();
      return {
        newPremium: change.newPremium,
        annualPremiumDifference: change.annualDifference,
        premiumChangePercent: change.changePercent,
        premiumChangeAbsPercent: Math.abs(change.changePercent),
        proRataDifference: change.proRataDifference,
        proRataDifferenceAbs: Math.abs(change.proRataDifference),
        remainingDays: change.remainingDays,
        termDays: change.termDays,
        sumInsuredChangePercent,
      };
    },

    /**
     * The new version, effective from the date to the end of the term; a premium decrease is refunded pro rata
     * (a refund row in the ledger), an increase is asked of the customer in the notice.
     */
    async 'policyChange.apply'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      // the policy may have been cancelled or have lapsed while underwriting decided
      if (policy.status !== 'active' || String(v.effectiveDate) > policy.endDate) {
        const reason = `Policy ${policy.policyNo} is ${policy.status} and covered until ${policy.endDate}: the change from ${String(v.effectiveDate)} can no longer be made.`;
        throw new BpmnError('CHANGE_REFUSED', reason, { refusalReason: reason });
      }
      const current = await termsOn(policy, String(v.effectiveDate));
      const version = await store.addPolicyVersion({
        policyNo: policy.policyNo,
        effectiveFrom: String(v.effectiveDate),
        effectiveTo: policy.endDate,
        sumInsured: Number(v.newSumInsured),
        deductible: Number(v.newDeductible),
        coinsurance: current.coinsurance,
        perils: v.newPerils as string[],
        premium: Number(v.newPremium),
        reason: 'endorsement',
        processInstanceId: ctx.instanceId,
      });
      const riskProfile = { propertyType: v.propertyType, constructionClass: v.constructionClass, propertyAddress: v.propertyAddress ?? null };
      await store.updatePolicyDetails(policy.policyNo, {
        schedule: { ...policy.schedule, sumInsured: version.sumInsured, deductible: version.deductible, perils: version.perils, premium: version.premium, propertyAddress: v.propertyAddress ?? null, riskProfile, endorsedFrom: version.effectiveFrom, version: version.version },
        ...(Number(v.newSumInsured) > current.sumInsured ? { coverChangedAt: now() } : {}),
      });
      const diff = Number(v.proRataDifference);
      let refundPaymentId: number | null = null;
      if (diff < 0) {
        let refund = await store.recordPayment({ idempotencyKey: ctx.idempotencyKey, direction: 'refund', policyNo: policy.policyNo, amount: -diff, counterparty: policy.customerId, processInstanceId: ctx.instanceId });
        if (refund.status !== 'completed') refund = await store.completePayment(refund.id, `REFUND-${policy.policyNo}-V${version.version}`);
        refundPaymentId = refund.id;
      }
      return { policyVersion: version.version, premiumDue: diff > 0 ? diff : 0, premiumRefunded: diff < 0 ? -diff : 0, refundPaymentId };
    },

    async 'policyChange.notify'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      const diff = Number(v.proRataDifference);
      const money = diff > 0 ? `Please pay the additional premium of ${cny(diff)} CNY for the rest of the term.` : diff < 0 ? `We refund ${cny(-diff)} CNY of premium for the rest of the term.` : 'The premium is unchanged.';
      await tell(ctx, policy, `endorsement-v${String(v.policyVersion)}`, 'policy-changed', `Your policy ${policy.policyNo} has been changed`, `From ${String(v.effectiveDate)} your policy ${policy.policyNo} covers a sum insured of ${cny(Number(v.newSumInsured))} CNY (deductible ${cny(Number(v.newDeductible))} CNY; perils ${(v.newPerils as string[]).join(', ')}). The annual premium is ${cny(Number(v.newPremium))} CNY. ${money}`, { version: v.policyVersion, effectiveDate: v.effectiveDate, newPremium: v.newPremium, proRataDifference: diff });
      return { changeStatus: 'applied' };
    },

    /** Refused at validation or by the underwriter: the customer is told why (no notice for a policy that does not exist). */
    async 'policyChange.notifyRefusal'(ctx) {
      const v = ctx.variables;
      const policy = await store.policy(String(v.policyNo));
      const reason = str(v.refusalReason) ?? (str(v.underwriterComment) ? `Underwriting declined the change: ${String(v.underwriterComment)}` : 'Underwriting declined the change.');
      if (policy) await tell(ctx, policy, `endorsement-refused:${ctx.instanceId}`, 'policy-change-refused', `Your change to policy ${policy.policyNo} was not made`, `${reason} Your cover is unchanged.`, { reason });
      return { changeStatus: 'refused', refusalReason: reason };
    },

    // ------------------------------------------------------------------------------------ policy-cancellation

    /** The policy exists and is active, the date lies in its term and not in the past: else CANCELLATION_REFUSED. */
    async 'policyCancellation.validate'(ctx) {
      const v = ctx.variables;
      const policyNo = String(v.policyNo);
      const policy = await store.policy(policyNo);
      const refuse = (reason: string): never => {
        throw new BpmnError('CANCELLATION_REFUSED', reason, { refusalReason: reason });
      };
      if (!policy) return refuse(`Policy ${policyNo} does not exist.`);
      if (policy.status !== 'active') return refuse(`Policy ${policyNo} is ${policy.status}: only active policies can be cancelled.`);
      const day = today(now());
      const requested = v.reason === 'surrender' ? day : (str(v.effectiveDate) ?? day);
      if (requested < day) return refuse(`A cancellation cannot take effect in the past (${requested}; today is ${day}).`);
      if (requested > policy.endDate) return refuse(`The policy ends on ${policy.endDate}; a cancellation from ${requested} changes nothing.`);
      const { start } = await termStart(policy);
      return { customerId: policy.customerId, requestedEffectiveDate: requested < start ? start : requested, termStart: start, termEnd: policy.endDate, daysInForce: daysInclusive(start, requested) - 1, refusalReason: null };
    },

    /** The effective date: as requested, but not before the notice period of the CancellationTerms decision has run. */
    async 'policyCancellation.schedule'(ctx) {
      const v = ctx.variables;
      const terms = (v.cancellationTerms ?? {}) as { noticeDays?: number };
      const noticeDays = Number(terms.noticeDays ?? 0);
      const earliest = addDays(today(now()), noticeDays);
      let effective = String(v.requestedEffectiveDate);
      if (effective < earliest) effective = earliest;
      const policy = await policyOf(ctx);
      if (effective > policy.endDate) effective = addDays(policy.endDate, 1);
      const at = Date.parse(`${effective}T00:00:00Z`);
      return { cancellationEffectiveDate: effective, cancellationEffectiveAt: new Date(at).toISOString(), cancellationEffectiveIn: durationUntil(now(), at), cancellationPending: effective > today(now()) };
    },

    async 'policyCancellation.sendNotice'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      const byInsurer = v.cancelledBy === 'insurer';
      const body = byInsurer
        ? `We will cancel your policy ${policy.policyNo} (${String(v.reason)}) with effect from ${String(v.cancellationEffectiveDate)}. You are covered until the day before. Contact us before that date if you want to settle the matter.`
        : `As you asked, your policy ${policy.policyNo} will be cancelled with effect from ${String(v.cancellationEffectiveDate)}. You are covered until the day before; the unearned premium will be refunded then.`;
      await tell(ctx, policy, `cancellation-notice:${ctx.instanceId}`, 'cancellation-notice', `Cancellation of policy ${policy.policyNo}`, body, { effectiveDate: v.cancellationEffectiveDate, cancelledBy: v.cancelledBy, reason: v.reason });
      return { cancellationStatus: 'notified' };
    },

    /** The cancellation version (no cover from the date), the refund of the unearned premium booked in the ledger. */
    async 'policyCancellation.cancel'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      const effective = String(v.cancellationEffectiveDate);
      const terms = (v.cancellationTerms ?? {}) as { refundShare?: number; refundBasis?: 'unearned' | 'premium' };
      const current = await termsOn(policy, addDays(effective, -1));
      const { start } = await termStart(policy);
      const refund = cancellationRefund({ netPaid: await netPaidForTerm(policy), firstDayWithoutCover: effective, termStart: start, termEnd: policy.endDate, refundShare: Number(terms.refundShare ?? 1), basis: terms.refundBasis === 'premium' ? 'premium' : 'unearned' });
      const version = await store.addPolicyVersion({ policyNo: policy.policyNo, effectiveFrom: effective, effectiveTo: effective, sumInsured: current.sumInsured, deductible: current.deductible, coinsurance: current.coinsurance, perils: current.perils, premium: current.premium, reason: 'cancellation', processInstanceId: ctx.instanceId });
      let refundPaymentId: number | null = null;
      if (refund.refund > 0) {
        let row = await store.recordPayment({ idempotencyKey: ctx.idempotencyKey, direction: 'refund', policyNo: policy.policyNo, amount: refund.refund, counterparty: policy.customerId, processInstanceId: ctx.instanceId });
        if (row.status !== 'completed') row = await store.completePayment(row.id, `REFUND-${policy.policyNo}-V${version.version}`);
        refundPaymentId = row.id;
      }
      await tell(ctx, policy, `cancelled:${ctx.instanceId}`, 'policy-cancelled', `Your policy ${policy.policyNo} is cancelled`, `Your policy ${policy.policyNo} is cancelled with effect from ${effective}; losses before that day remain covered. ${refund.refund > 0 ? `We refund ${cny(refund.refund)} CNY of unearned premium (${refund.unearnedDays} of ${refund.termDays} days).` : 'No premium is refunded.'}`, { effectiveDate: effective, refund: refund.refund, version: version.version });
      return { cancellationStatus: 'cancelled', policyVersion: version.version, netPremiumPaid: refund.netPaid, unearnedDays: refund.unearnedDays, refundAmount: refund.refund, refundPaymentId };
    },

    async 'policyCancellation.notifyWithdrawn'(ctx) {
      const policy = await policyOf(ctx);
      await tell(ctx, policy, `cancellation-withdrawn:${ctx.instanceId}`, 'cancellation-withdrawn', `Policy ${policy.policyNo} stays in force`, `The cancellation of your policy ${policy.policyNo} has been withdrawn; your cover continues unchanged.`);
      return { cancellationStatus: 'withdrawn' };
    },

    async 'policyCancellation.notifyRefusal'(ctx) {
      const v = ctx.variables;
      const policy = await store.policy(String(v.policyNo));
      const reason = str(v.refusalReason) ?? 'The cancellation was refused.';
      if (policy) await tell(ctx, policy, `cancellation-refused:${ctx.instanceId}`, 'cancellation-refused', `Cancellation of policy ${policy.policyNo} not made`, `${reason} Your policy is unchanged.`, { reason });
      return { cancellationStatus: 'refused', refusalReason: reason };
    },

    // ---------------------------------------------------------------------------------------- policy-renewal

    /** When the offer goes out (offerDays before the end of cover) and when the unpaid policy lapses (the day after it ends). */
    async 'policyRenewal.schedule'(ctx) {
      const policy = await policyOf(ctx);
      const s = renewalSchedule(policy.endDate, now(), offerDays);
      return { customerId: policy.customerId, policyEnd: policy.endDate, renewalOfferAt: s.offerAt, renewalOfferIn: durationUntil(now(), Date.parse(s.offerAt)), renewalLapseAt: s.lapseAt, renewalStatus: 'scheduled' };
    },

    /** At offer time: renewable only while active and not cancelled; the rating inputs of the re-rating. */
    async 'policyRenewal.check'(ctx) {
      const policy = await policyOf(ctx);
      const renewable = policy.status === 'active';
      if (!renewable) return { renewable, renewalStatus: `not renewed: the policy is ${policy.status}` };
      const basis = await ratingBasis(store, policy);
      const customer = await store.customer(policy.customerId);
      return {
        renewable,
        policyEnd: policy.endDate,
        renewalLapseAt: renewalSchedule(policy.endDate, now(), offerDays).lapseAt,
        propertyType: basis.propertyType,
        constructionClass: basis.constructionClass,
        claimsLast3Years: await claimsLast3Years(policy.policyNo, today(now())),
        creditGrade: customer?.creditGrade ?? 'C',
      };
    },

    /** The offer: the current terms for the next term, priced on today's tariff and the new factors. */
    async 'policyRenewal.offer'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      const basis = await ratingBasis(store, policy);
      if (basis.currentRate === null) throw new Error(`policy ${policy.policyNo}: no base rate for product ${policy.productCode}`);
      const product = await store.launchedProduct(policy.productCode);
      const term = nextTerm(policy.endDate, Number(product?.parameters.policyTermMonths ?? 12));
      const premium = annualPremium({ sumInsured: policy.sumInsured, baseRate: basis.currentRate, riskFactor: Number(v.riskFactor), creditFactor: Number(v.creditFactor), discountPercent: basis.discountPercent });
      await tell(ctx, policy, `renewal-offer:${term.startDate}`, 'renewal-offer', `Renew your policy ${policy.policyNo}`, `Your cover ends on ${policy.endDate}. We offer to renew it from ${term.startDate} to ${term.endDate} for ${cny(premium)} CNY (sum insured ${cny(policy.sumInsured)} CNY). Accept the offer and pay the full premium by ${policy.endDate} to stay covered.`, { renewalPremium: premium, termStart: term.startDate, termEnd: term.endDate, payBy: policy.endDate });
      return { renewalPremium: premium, renewalTermStart: term.startDate, renewalTermEnd: term.endDate, renewalPaid: 0, renewalStatus: 'offered', renewalLapseIn: lapseIn(String(v.renewalLapseAt)) };
    },

    /** Accepted: the customer is asked for the full premium by the end of cover (the payment wait's timer uses renewalLapseIn). */
    async 'policyRenewal.requestPremium'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      await tell(ctx, policy, `renewal-premium-due:${String(v.renewalTermStart)}`, 'renewal-premium-due', `Renewal premium for ${policy.policyNo}`, `Thank you for renewing. Please pay ${cny(Number(v.renewalPremium))} CNY by ${policy.endDate}; the new term starts on ${String(v.renewalTermStart)} once the full premium is paid.`, { amount: v.renewalPremium, payBy: policy.endDate });
      return { renewalStatus: 'accepted', renewalLapseIn: lapseIn(String(v.renewalLapseAt)) };
    },

    /** Declined: the customer is told the cover ends with the term (the wait until then uses renewalLapseIn). */
    async 'policyRenewal.declined'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      await tell(ctx, policy, `renewal-declined:${String(v.renewalTermStart)}`, 'renewal-declined', `Your policy ${policy.policyNo} will not be renewed`, `As you asked, your policy ${policy.policyNo} will not be renewed; your cover ends on ${policy.endDate}.`);
      return { renewalStatus: 'declined', renewalLapseIn: lapseIn(String(v.renewalLapseAt)) };
    },

    /**
     * A renewal payment (policy-renewal-premium-paid: paidAmount, paymentReference) goes to the ledger once; the
     * whole premium is required: short, the customer is asked for the rest and the case waits again; over, the
     * excess is refunded (a refund row).
     */
    async 'policyRenewal.recordPayment'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      const paid = amount(Number(v.paidAmount));
      let row = await store.recordPayment({ idempotencyKey: ctx.idempotencyKey, direction: 'premium', policyNo: policy.policyNo, amount: toNumber(paid), counterparty: policy.customerId, processInstanceId: ctx.instanceId });
      if (row.status !== 'completed') row = await store.completePayment(row.id, str(v.paymentReference) ?? `RENEWAL-${policy.policyNo}-${row.id}`);
      const mine = (await store.policyLedger(policy.policyNo, null)).filter((p) => p.status === 'completed' && p.processInstanceId === ctx.instanceId);
      const received = sum(mine.filter((p) => p.direction === 'premium').map((p) => p.amount)).minus(sum(mine.filter((p) => p.direction === 'refund').map((p) => p.amount)));
      const due = amount(Number(v.renewalPremium));
      if (received.lessThan(due)) {
        const rest = toNumber(due.minus(received));
        await tell(ctx, policy, `renewal-short:${row.id}`, 'renewal-premium-short', `Renewal of ${policy.policyNo}: ${cny(rest)} CNY still due`, `We received ${cny(toNumber(paid))} CNY; the renewal premium is ${cny(toNumber(due))} CNY. Please pay the remaining ${cny(rest)} CNY by ${policy.endDate} to renew your cover.`, { received: toNumber(received), due: toNumber(due) });
        return { renewalPaid: toNumber(received), renewalOutstanding: rest, paidInFull: false, renewalLapseIn: lapseIn(String(v.renewalLapseAt)) };
      }
      let excess = 0;
      if (received.greaterThan(due)) {
        excess = toNumber(received.minus(due));
        let refund = await store.recordPayment({ idempotencyKey: `${ctx.idempotencyKey}:excess`, direction: 'refund', policyNo: policy.policyNo, amount: excess, counterparty: policy.customerId, processInstanceId: ctx.instanceId });
        if (refund.status !== 'completed') refund = await store.completePayment(refund.id, `REFUND-${policy.policyNo}-EXCESS-${row.id}`);
      }
      return { renewalPaid: toNumber(due), renewalOutstanding: 0, renewalOverpaid: excess, paidInFull: true };
    },

    /** The renewal version for the next term (policy end date moves), the notice, and the next term's renewal case. */
    async 'policyRenewal.renew'(ctx) {
      const v = ctx.variables;
      const policy = await policyOf(ctx);
      if (policy.status !== 'active') {
        // cancelled while the renewal waited for its premium: nothing to renew, the money goes back
        const refunded = await refundHeld(ctx, policy, 'NOT-RENEWED');
        await tell(ctx, policy, `not-renewed:${String(v.renewalTermStart)}`, 'renewal-cancelled', `Policy ${policy.policyNo} not renewed`, `Your policy ${policy.policyNo} is ${policy.status}, so it cannot be renewed.${refunded > 0 ? ` We refund the ${cny(refunded)} CNY you paid towards the renewal.` : ''}`, { refunded });
        return { renewalStatus: `not renewed: the policy is ${policy.status}`, renewalRefunded: refunded };
      }
      const version = await store.addPolicyVersion({ policyNo: policy.policyNo, effectiveFrom: String(v.renewalTermStart), effectiveTo: String(v.renewalTermEnd), sumInsured: policy.sumInsured, deductible: policy.deductible, coinsurance: policy.coinsurance, perils: policy.perils, premium: Number(v.renewalPremium), reason: 'renewal', processInstanceId: ctx.instanceId });
      await store.updatePolicyDetails(policy.policyNo, { schedule: { ...policy.schedule, period: { startDate: version.effectiveFrom, endDate: version.effectiveTo }, premium: version.premium, version: version.version } });
      await tell(ctx, policy, `renewed:${version.effectiveFrom}`, 'policy-renewed', `Your policy ${policy.policyNo} is renewed`, `Thank you: your policy ${policy.policyNo} is renewed from ${version.effectiveFrom} to ${version.effectiveTo} for ${cny(version.premium)} CNY.`, { version: version.version, termStart: version.effectiveFrom, termEnd: version.effectiveTo });
      let nextRenewalInstanceId: string | null = null;
      if (deps.processes) nextRenewalInstanceId = await deps.processes.startAfterCommit(ctx, 'policy-renewal', policy.policyNo, { policyNo: policy.policyNo });
      return { renewalStatus: 'renewed', policyVersion: version.version, nextRenewalInstanceId };
    },

    /** Not renewed by the end of cover: the policy expires (unless cancelled meanwhile), premium paid towards the renewal is refunded. */
    async 'policyRenewal.lapse'(ctx) {
      const policy = await policyOf(ctx);
      const refunded = await refundHeld(ctx, policy, 'LAPSE');
      if (policy.status !== 'active') return { renewalStatus: `not renewed: the policy is ${policy.status}`, renewalRefunded: refunded };
      await store.setPolicyStatus(policy.policyNo, 'expired');
      await tell(ctx, policy, `lapsed:${policy.endDate}`, 'policy-lapsed', `Your policy ${policy.policyNo} has ended`, `Your policy ${policy.policyNo} was not renewed and ended on ${policy.endDate}; losses after that day are not covered.${refunded > 0 ? ` We refund the ${cny(refunded)} CNY you paid towards the renewal.` : ''}`, { endDate: policy.endDate, refunded });
      return { renewalStatus: 'lapsed', renewalRefunded: refunded };
    },
  };
}

