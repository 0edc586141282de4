/**
 * Handlers of processes/sales.bpmn, from a lead to an issued policy and the start of its renewal case
 * (processes/policy-renewal.bpmn): thin adapters between the diagram, the pure rules (rules.ts), the product
 * catalogue and the sales tables. A product that is not launched is the PRODUCT_NOT_AVAILABLE business error (back
 * to the needs analysis). Writes are idempotent: one quote per instance, one policy per quote, a premium payment
 * once per payment reference (else per handler call), one refund per reason, notifications by message key.
 * Premium payments are compared with the net premium in decimals (rules.ts premiumBalance): only the full premium
 * issues the policy.
 */
import type { Clock } from '../../engine/clock.ts';
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import { BpmnError } from '../../errors.ts';
import { InsuranceStore, type Customer, type Quote } from '../../persistence/insurance.ts';
import { amount, Money, toMinor, toNumber } from '../money.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';
import { durationUntil } from '../claims/rules.ts';
import {
  PAYMENT_GRACE_DAYS,
  computePremium,
  customerNumber,
  offerExpiry,
  policyNumber,
  policyPeriod,
  premiumBalance,
  quoteNumber,
} from './rules.ts';

export interface SalesDeps {
  /** the insurance repository bound to a handler call's unit of work */
  store: StoreOf;
  clock: Clock;
  /** credit grade (A..E) of a customer the insurer has not assessed yet; default: null (treated as C) */
  creditGrade?: (customer: Customer) => Promise<string | null>;
  /** days an offer stays open for signature (default 30) */
  offerValidDays?: number;
  /** days a signed contract waits for its premium (default PAYMENT_GRACE_DAYS) */
  paymentGraceDays?: number;
  /** starts another process once the calling transition commits; returns the new instance's id */
  processes?: { startAfterCommit(ctx: HandlerContext, key: string, businessKey: string, variables: Record<string, unknown>): Promise<string> };
}

export const SALES_HANDLERS = [
  'sales.identifyCustomer',
  'sales.quote',
  'sales.closeLost',
  'sales.finaliseQuote',
  'sales.sendOffer',
  'sales.expireOffer',
  'sales.requestPremium',
  'sales.lapse',
  'sales.recordPremium',
  'sales.remindPremium',
  'sales.refundExcess',
  'sales.issuePolicy',
  'sales.startRenewal',
] as const;

export type SalesHandlerName = (typeof SALES_HANDLERS)[number];

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);
const money = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function createSalesHandlers(deps: SalesDeps): Record<SalesHandlerName, Handler> {
  return perTransition(SALES_HANDLERS, (ctx) => salesHandlersOver(deps, deps.store(ctx)));
}

function salesHandlersOver(deps: SalesDeps, store: InsuranceStore): Record<SalesHandlerName, Handler> {
  const now = () => deps.clock.now();
  const offerValidDays = deps.offerValidDays ?? 30;
  const graceDays = deps.paymentGraceDays ?? PAYMENT_GRACE_DAYS;

  async function quoteOf(ctx: HandlerContext): Promise<Quote> {
    const q = await store.quoteOfInstance(ctx.instanceId);
    if (!q) throw new Error(`sales instance ${ctx.instanceId} has no quote`);
    return q;
  }

  /** The quote's premium payments against its net premium. */
  async function balanceOf(q: Quote) {
    const received = await store.payments({ quoteNo: q.quoteNo, direction: 'premium' });
    return premiumBalance(q.netPremium, received.map((p) => p.amount));
  }

  /** Records an amount due back to the customer (a pending refund row of the ledger) once per quote and reason. */
  async function recordRefund(ctx: HandlerContext, q: Quote, reason: 'overpaid' | 'lapsed', refund: number) {
    return store.recordPayment({ idempotencyKey: `${q.quoteNo}:refund:${reason}`, direction: 'refund', quoteNo: q.quoteNo, amount: refund, counterparty: q.customerId, processInstanceId: ctx.instanceId });
  }

  async function tell(ctx: HandlerContext, customerId: string | null, key: string, topic: string, subject: string, body: string, ref: string, payload: Record<string, unknown> = {}) {
    const customer = customerId ? await store.customer(customerId) : null;
    const recipient = customer?.email ?? customer?.phone ?? str(ctx.variables.contactEmail);
    return store.notify({ messageKey: key, channel: recipient?.includes('@') ? 'email' : 'sms', recipient, topic, subject, body, payload, businessRef: ref, processInstanceId: ctx.instanceId });
  }

  return {
    /** The customer of the lead: the one named, the one with the same e-mail, or a new prospect; and its credit grade. */
    async 'sales.identifyCustomer'(ctx) {
      const v = ctx.variables;
      let customer: Customer | null = null;
      const id = str(v.customerId);
      if (id) {
        customer = await store.customer(id);
        if (!customer) throw new BpmnError('CUSTOMER_UNKNOWN', `customer ${id} does not exist`, { quoteProblem: `Customer ${id} does not exist: leave the customer number empty to register a new customer.` });
      }
      const email = str(v.contactEmail);
      if (!customer && email) customer = await store.customerByEmail(email);
      if (!customer) {
        const newId = customerNumber(await store.nextNumber('customer'));
        await store.insertCustomer({ id: newId, name: String(v.customerName ?? 'Unknown'), email, phone: str(v.contactPhone), creditGrade: null });
        customer = (await store.customer(newId))!;
      }
      const grade = customer.creditGrade ?? (deps.creditGrade ? await deps.creditGrade(customer) : null) ?? 'C';
      return { customerId: customer.id, customerName: customer.name, creditGrade: grade, quoteProblem: null };
    },

    /** Prices the cover from the launched catalogue version: base rate x sum insured x risk factor x credit factor. */
    async 'sales.quote'(ctx) {
      const v = ctx.variables;
      const productCode = String(v.productCode);
      const product = await store.launchedProduct(productCode);
      const refuse = (problem: string) => {
        throw new BpmnError('PRODUCT_NOT_AVAILABLE', problem, { quoteProblem: problem });
      };
      if (!product || product.baseRate === null) return refuse(`Product ${productCode} is not on sale: only products launched through product development can be quoted.`);
      const sumInsured = Number(v.sumInsured);
      const min = Number(product.parameters.sumInsuredMin ?? 0);
      const max = Number(product.parameters.sumInsuredMax ?? Infinity);
      if (sumInsured < min || sumInsured > max) return refuse(`Product ${productCode} covers sums insured from ${money(min)} to ${money(max)}; ${money(sumInsured)} was asked.`);
      const premium = computePremium({ baseRate: product.baseRate, sumInsured, riskFactor: Number(v.riskFactor), creditFactor: Number(v.creditFactor) });
      const existing = await store.quoteOfInstance(ctx.instanceId);
      const quote = await store.saveQuote({
        quoteNo: existing?.quoteNo ?? quoteNumber(await store.nextNumber('quote'), new Date(now())),
        processInstanceId: ctx.instanceId,
        customerId: str(v.customerId),
        productCode,
        productVersion: product.version,
        sumInsured,
        baseRate: product.baseRate,
        riskFactor: Number(v.riskFactor),
        creditFactor: Number(v.creditFactor),
        discountPercent: 0,
        grossPremium: premium.grossPremium,
        netPremium: premium.netPremium,
        riskProfile: { propertyType: v.propertyType, constructionClass: v.constructionClass, claimsLast3Years: v.claimsLast3Years, propertyAddress: v.propertyAddress ?? null },
        coverStart: str(v.coverStart),
      });
      return { quoteNo: quote.quoteNo, productVersion: product.version, productName: product.name, baseRate: product.baseRate, grossPremium: premium.grossPremium, netPremium: premium.netPremium, quoteProblem: null };
    },

    async 'sales.closeLost'(ctx) {
      const q = await quoteOf(ctx);
      await store.updateQuote(q.quoteNo, { status: 'declined' });
      return { quoteStatus: 'declined' };
    },

    /** Applies the negotiated discount (the approved one when it needed a manager). */
    async 'sales.finaliseQuote'(ctx) {
      const v = ctx.variables;
      const q = await quoteOf(ctx);
      const authority = (v.discountAuthority ?? {}) as { approvalRequired?: boolean };
      const discountPercent = authority.approvalRequired ? (v.discountDecision === 'approved' ? Number(v.approvedDiscountPercent ?? 0) : 0) : Number(v.discountPercent ?? 0);
      const premium = computePremium({ baseRate: q.baseRate, sumInsured: q.sumInsured, riskFactor: q.riskFactor, creditFactor: q.creditFactor, discountPercent });
      await store.saveQuote({ ...q, discountPercent, grossPremium: premium.grossPremium, netPremium: premium.netPremium });
      return { discountPercent, grossPremium: premium.grossPremium, discount: premium.discount, netPremium: premium.netPremium };
    },

    /** Sends the offer for signature; it stays open offerValidDays (the diagram's expiry timer uses offerValidFor). */
    async 'sales.sendOffer'(ctx) {
      const q = await quoteOf(ctx);
      const sentAt = q.offeredAt ?? now();
      const expiresAt = offerExpiry(new Date(sentAt), offerValidDays).getTime();
      await store.updateQuote(q.quoteNo, { status: 'offered', offeredAt: sentAt, expiresAt });
      await tell(ctx, q.customerId, `${q.quoteNo}:offer`, 'offer', `Your offer ${q.quoteNo}`, `Your ${q.productCode} cover of ${money(q.sumInsured)} CNY costs ${money(q.netPremium)} CNY a year. Sign the contract by ${iso(expiresAt).slice(0, 10)} to accept it.`, q.quoteNo, { quoteNo: q.quoteNo, netPremium: q.netPremium, expiresAt: iso(expiresAt) });
      return { quoteStatus: 'offered', offerExpiresAt: iso(expiresAt), offerValidFor: durationUntil(now(), expiresAt) };
    },

    async 'sales.expireOffer'(ctx) {
      const q = await quoteOf(ctx);
      await store.updateQuote(q.quoteNo, { status: 'expired' });
      await tell(ctx, q.customerId, `${q.quoteNo}:expired`, 'offer-expired', `Offer ${q.quoteNo} has expired`, `The offer ${q.quoteNo} was not signed within ${offerValidDays} days and has expired. Contact your agent for a new quote.`, q.quoteNo);
      return { quoteStatus: 'expired' };
    },

    /** The contract is signed: ask for the premium; the diagram's lapse timer uses paymentGracePeriod. */
    async 'sales.requestPremium'(ctx) {
      const q = await quoteOf(ctx);
      const dueAt = now() + graceDays * DAY_MS;
      await store.updateQuote(q.quoteNo, { status: 'signed' });
      await tell(ctx, q.customerId, `${q.quoteNo}:premium-due`, 'premium-due', `Premium for ${q.quoteNo}`, `Thank you for signing. Please pay ${money(q.netPremium)} CNY by ${iso(dueAt).slice(0, 10)}; the cover starts once the premium is paid.`, q.quoteNo, { amount: q.netPremium, dueAt: iso(dueAt) });
      // the lapse timer waits paymentGracePeriod; sales.recordPremium shortens it to what is left until premiumDueAt
      return { quoteStatus: 'signed', premiumDueAt: iso(dueAt), paymentGracePeriod: `P${graceDays}D`, premiumStatus: 'unpaid', premiumReceived: 0, premiumOutstanding: q.netPremium, premiumOverpaid: 0 };
    },

    /** The grace period is over without the full premium: no cover; whatever was paid is due back to the customer. */
    async 'sales.lapse'(ctx) {
      const q = await quoteOf(ctx);
      const balance = await balanceOf(q);
      const refund = balance.received > 0 ? await recordRefund(ctx, q, 'lapsed', balance.received) : null;
      await store.updateQuote(q.quoteNo, { status: 'lapsed' });
      const refundText = refund ? ` The ${money(refund.amount)} CNY you paid will be refunded.` : '';
      await tell(ctx, q.customerId, `${q.quoteNo}:lapsed`, 'contract-lapsed', `Contract ${q.quoteNo} has lapsed`, `The premium for ${q.quoteNo} was not paid in full within ${graceDays} days, so the contract did not take effect.${refundText}`, q.quoteNo, { received: balance.received, outstanding: balance.outstanding, refundDue: refund?.amount ?? 0 });
      return { quoteStatus: 'lapsed', premiumRefundDue: refund?.amount ?? 0, premiumRefundId: refund?.id ?? null };
    },

    /**
     * One payment of the premium (the sales-premium-paid message: paidAmount, paymentReference?) goes to the ledger
     * once: keyed by the provider's reference, so a redelivered message is not booked twice (without a reference,
     * once per call). Then everything received is compared with the net premium: premiumStatus partial | paid |
     * overpaid routes the diagram. paymentReference is cleared so that it cannot stick to the next payment.
     */
    async 'sales.recordPremium'(ctx) {
      const v = ctx.variables;
      const q = await quoteOf(ctx);
      // the message schema (processes/messages/sales-premium-paid.schema.json) admits only such amounts
      const paid = amount(v.paidAmount);
      if (paid.isZero()) throw new RangeError(`paidAmount must be more than 0, got ${String(v.paidAmount)}`);
      const reference = str(v.paymentReference);
      const key = reference ? `${q.quoteNo}:premium:${reference}` : ctx.idempotencyKey;
      const earlier = (await store.payments({ quoteNo: q.quoteNo, direction: 'premium' })).find((p) => p.idempotencyKey === key);
      const known = earlier !== undefined;
      if (earlier && !new Money(earlier.amount).equals(paid)) {
        // the same reference with another amount: not booked (the reference was), but never silently: finance checks it
        await store.notify({
          messageKey: `${key}:conflict:${toMinor(paid)}`,
          channel: 'internal',
          recipient: 'finance',
          topic: 'premium-reference-conflict',
          subject: `Premium for ${q.quoteNo}: reference ${reference} reported again with another amount`,
          body: `Payment reference ${reference} was booked with ${money(earlier.amount)} CNY and is now reported with ${money(toNumber(paid))} CNY. The second report was not booked; check it with the payment provider.`,
          payload: { quoteNo: q.quoteNo, paymentReference: reference, booked: earlier.amount, reported: toNumber(paid) },
          businessRef: q.quoteNo,
          processInstanceId: ctx.instanceId,
        });
      }
      let payment = await store.recordPayment({ idempotencyKey: key, direction: 'premium', quoteNo: q.quoteNo, amount: toNumber(paid), counterparty: q.customerId, processInstanceId: ctx.instanceId });
      if (payment.status !== 'completed') payment = await store.completePayment(payment.id, reference ?? `PREMIUM-${q.quoteNo}-${payment.id}`);
      const balance = await balanceOf(q);
      const dueAt = typeof v.premiumDueAt === 'string' && Number.isFinite(Date.parse(v.premiumDueAt)) ? Date.parse(v.premiumDueAt) : null;
      const quoteStatus = balance.status === 'paid' || balance.status === 'overpaid' ? 'paid' : 'partially-paid';
      await store.updateQuote(q.quoteNo, { status: quoteStatus });
      return {
        // the instance's quoteStatus follows the quote row (GET /api/process-instances/:id shows it)
        quoteStatus,
        premiumStatus: balance.status,
        premiumReceived: balance.received,
        premiumOutstanding: balance.outstanding,
        premiumOverpaid: balance.overpaid,
        premiumPaid: payment.amount,
        premiumPaymentId: payment.id,
        // a payment reference seen before: the ledger already has it, nothing was booked
        premiumPaymentRepeated: known,
        paymentReference: null,
        // waiting again for the rest: the lapse timer is armed anew with the time left until the original due date
        ...(dueAt === null ? {} : { paymentGracePeriod: durationUntil(now(), dueAt) }),
      };
    },

    /** Less than the premium was received: tell the customer what is outstanding and by when (once per amount received). */
    async 'sales.remindPremium'(ctx) {
      const q = await quoteOf(ctx);
      const balance = await balanceOf(q);
      if (balance.outstanding <= 0) throw new Error(`quote ${q.quoteNo} has no outstanding premium (${balance.status}): nothing to remind`);
      const due = str(ctx.variables.premiumDueAt);
      await tell(
        ctx,
        q.customerId,
        `${q.quoteNo}:premium-outstanding:${toMinor(balance.received)}`,
        'premium-outstanding',
        `Premium for ${q.quoteNo}: ${money(balance.outstanding)} CNY outstanding`,
        `We received ${money(balance.received)} CNY of the premium of ${money(q.netPremium)} CNY for ${q.quoteNo}. Please pay the outstanding ${money(balance.outstanding)} CNY${due ? ` by ${due.slice(0, 10)}` : ''}; the cover starts once the premium is paid in full.`,
        q.quoteNo,
        { netPremium: q.netPremium, received: balance.received, outstanding: balance.outstanding, dueAt: due },
      );
      return { premiumRemindedAt: iso(now()) };
    },

    /** More than the premium was received: the excess is due back to the customer (a pending refund in the ledger). */
    async 'sales.refundExcess'(ctx) {
      const q = await quoteOf(ctx);
      const balance = await balanceOf(q);
      if (balance.overpaid <= 0) throw new Error(`quote ${q.quoteNo} is not overpaid (${balance.status}): nothing to refund`);
      const refund = await recordRefund(ctx, q, 'overpaid', balance.overpaid);
      await tell(ctx, q.customerId, `${q.quoteNo}:refund:overpaid`, 'premium-refund', `Refund of ${money(refund.amount)} CNY for ${q.quoteNo}`, `We received ${money(balance.received)} CNY for a premium of ${money(q.netPremium)} CNY. The ${money(refund.amount)} CNY paid in excess will be refunded to you.`, q.quoteNo, { netPremium: q.netPremium, received: balance.received, refund: refund.amount });
      return { premiumRefundDue: refund.amount, premiumRefundId: refund.id };
    },

    /** Issues the policy (number, period, schedule) from the quote and the product's terms. */
    async 'sales.issuePolicy'(ctx) {
      const v = ctx.variables;
      const q = await quoteOf(ctx);
      const covered = await balanceOf(q);
      if (covered.status !== 'paid' && covered.status !== 'overpaid') throw new Error(`quote ${q.quoteNo}: ${money(covered.outstanding)} CNY of the premium is outstanding, no policy without the full premium`);
      let policy = await store.policyByQuote(q.quoteNo);
      if (!policy) {
        const product = await store.productVersion(q.productCode, q.productVersion);
        const terms = product?.parameters ?? {};
        const months = Number(terms.policyTermMonths ?? 12);
        const period = policyPeriod(q.coverStart, new Date(now()), months);
        const policyNo = policyNumber(q.productCode, await store.nextNumber('policy'), new Date(now()));
        const perils = Array.isArray(terms.perils) ? (terms.perils as string[]) : ['fire', 'water', 'theft', 'storm', 'glass'];
        await store.insertPolicy({
          policyNo,
          customerId: q.customerId!,
          productCode: q.productCode,
          productVersion: q.productVersion,
          status: 'active',
          startDate: period.startDate,
          endDate: period.endDate,
          sumInsured: q.sumInsured,
          deductible: Number(terms.deductible ?? 0),
          coinsurance: Number(terms.coinsurance ?? 1),
          perils,
          premium: q.netPremium,
          coverChangedAt: null,
          quoteNo: q.quoteNo,
          schedule: { policyNo, product: `${q.productCode} v${q.productVersion}`, insured: v.customerName ?? q.customerId, propertyAddress: q.riskProfile.propertyAddress ?? null, period, sumInsured: q.sumInsured, deductible: Number(terms.deductible ?? 0), coinsurance: Number(terms.coinsurance ?? 1), perils, premium: q.netPremium },
          processInstanceId: ctx.instanceId,
        });
        policy = (await store.policyByQuote(q.quoteNo))!;
      }
      await store.updateQuote(q.quoteNo, { status: 'issued' });
      await tell(ctx, policy.customerId, `${policy.policyNo}:issued`, 'policy-issued', `Your policy ${policy.policyNo}`, `Your policy ${policy.policyNo} covers you from ${policy.startDate} to ${policy.endDate}. The schedule is attached.`, policy.policyNo, { schedule: policy.schedule });
      return { quoteStatus: 'issued', policyNo: policy.policyNo, policyStart: policy.startDate, policyEnd: policy.endDate };
    },

    /**
     * The issued policy's renewal case (processes/policy-renewal.bpmn, business key the policy number): started
     * once this transition commits; its durable timer sends the offer before the cover ends.
     */
    async 'sales.startRenewal'(ctx) {
      if (!deps.processes) throw new Error('sales.startRenewal needs deps.processes to start the renewal case');
      const policyNo = String(ctx.variables.policyNo);
      const id = await deps.processes.startAfterCommit(ctx, 'policy-renewal', policyNo, { policyNo });
      return { renewalInstanceId: id };
    },
  };
}
