/**
 * Repositories of the insurance domain (tables of migrations/20261125150000_insurance.ts): every SQL statement
 * the claims, sales and product-development handlers need. Rows are snake_case; the domain objects returned are
 * camelCase with numbers as numbers (PostgreSQL returns decimals as strings), booleans as booleans and JSON
 * parsed here, with the record in any parse error.
 */
import type { Knex } from 'knex';
import { parseJson } from './store.ts';

export type Db = Knex | Knex.Transaction;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === true || v === 1 || v === '1' || v === 't');
const json = (v: unknown) => JSON.stringify(v ?? null);

// ------------------------------------------------------------------------------------------------ domain types

export interface Customer {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  creditGrade: string | null;
  /** email | sms | post; null: e-mail when known, else SMS */
  preferredChannel?: string | null;
  postalAddress?: string | null;
  createdAt: number;
}

export interface Policy {
  policyNo: string;
  customerId: string;
  productCode: string;
  productVersion: number | null;
  status: string;
  startDate: string;
  endDate: string;
  sumInsured: number;
  deductible: number;
  coinsurance: number;
  perils: string[];
  premium: number;
  coverChangedAt: number | null;
  quoteNo: string | null;
  schedule: Record<string, unknown>;
  processInstanceId: string | null;
}

/** The terms of a policy over a span of days (migrations/20261201100000_policy_versions.ts). Dates YYYY-MM-DD, inclusive. */
export interface PolicyVersion {
  policyNo: string;
  version: number;
  effectiveFrom: string;
  effectiveTo: string;
  sumInsured: number;
  deductible: number;
  coinsurance: number;
  perils: string[];
  premium: number;
  reason: 'issue' | 'endorsement' | 'renewal' | 'cancellation';
  processInstanceId: string | null;
  createdAt: number;
}

export interface Claim {
  claimNo: string;
  processInstanceId: string;
  policyNo: string;
  customerId: string | null;
  channel: string;
  lossDate: string;
  reportedAt: number;
  peril: string;
  description: string | null;
  claimedAmount: number;
  approvedAmount: number | null;
  assessedLoss: number | null;
  payout: number | null;
  status: string;
  stage: string;
  classification: string | null;
  fraudScore: number | null;
  fraudLevel: string | null;
  fraudIndicators: string[] | null;
  surveyReport: Record<string, unknown> | null;
  surveyCompletedAt: number | null;
  documents: Record<string, unknown> | null;
  slaDeadline: number | null;
  slaBreached: boolean;
  slaBreachedAt: number | null;
  slaMet: boolean | null;
  rejectionCode: string | null;
  rejectionReason: string | null;
  paidAt: number | null;
  closedAt: number | null;
  cycleTimeMs: number | null;
  analysis: Record<string, unknown> | null;
  /** outstanding reserve (major units, 2 decimals); never negative */
  reserveOutstanding: number;
  /** claim number of a possible duplicate */
  duplicateOf: string | null;
  decisionMode: 'automatic' | 'manual' | null;
  fraudOutcome: 'confirmed' | 'cleared' | null;
  /** approvals of the payout, in order */
  approvalChain: Record<string, unknown>[] | null;
  updatedAt: number;
}

/** One change of a claim's outstanding reserve (claim_reserve_movements). Amounts in CNY major units, 2 decimals. */
export interface ReserveMovement {
  id: number;
  claimNo: string;
  /** idempotency key: a retried handler finds its movement instead of moving the reserve again */
  movementKey: string;
  reason: 'initial' | 'review' | 'survey' | 'settlement' | 'payment' | 'rejection' | 'closure';
  amountBefore: number;
  amountAfter: number;
  change: number;
  processInstanceId: string | null;
  activityId: string | null;
  createdAt: number;
}

export interface Payment {
  id: number;
  idempotencyKey: string;
  /** payout: to a claimant; premium: from a customer; refund: back to a customer (e.g. a premium paid in excess) */
  direction: 'payout' | 'premium' | 'refund';
  claimNo: string | null;
  policyNo: string | null;
  quoteNo: string | null;
  amount: number;
  currency: string;
  counterparty: string | null;
  status: 'pending' | 'completed';
  reference: string | null;
  createdAt: number;
  completedAt: number | null;
  /** the instance that booked it */
  processInstanceId?: string | null;
}

export interface Notification {
  id: number;
  messageKey: string;
  channel: string;
  recipient: string | null;
  topic: string;
  subject: string;
  body: string;
  payload: Record<string, unknown>;
  businessRef: string | null;
  status: string;
  processInstanceId: string | null;
  createdAt: number;
}

export interface Product {
  productCode: string;
  version: number;
  name: string;
  line: string | null;
  baseRate: number | null;
  parameters: Record<string, unknown>;
  status: string;
  launchedAt: number | null;
  processInstanceId: string | null;
}

export interface Quote {
  quoteNo: string;
  processInstanceId: string;
  customerId: string | null;
  productCode: string;
  productVersion: number;
  sumInsured: number;
  baseRate: number;
  riskFactor: number;
  creditFactor: number;
  discountPercent: number;
  grossPremium: number;
  netPremium: number;
  riskProfile: Record<string, unknown>;
  coverStart: string | null;
  status: string;
  offeredAt: number | null;
  expiresAt: number | null;
}

// ------------------------------------------------------------------------------------------------ mappers

function toCustomer(r: any): Customer {
  return { id: r.id, name: r.name, email: r.email, phone: r.phone, creditGrade: r.credit_grade, preferredChannel: r.preferred_channel ?? null, postalAddress: r.postal_address ?? null, createdAt: Number(r.created_at) };
}

function toPolicy(r: any): Policy {
  const what = `policies ${r.policy_no}`;
  return {
    policyNo: r.policy_no,
    customerId: r.customer_id,
    productCode: r.product_code,
    productVersion: num(r.product_version),
    status: r.status,
    startDate: r.start_date,
    endDate: r.end_date,
    ...termsOf(r, what),
    coverChangedAt: num(r.cover_changed_at),
    quoteNo: r.quote_no,
    schedule: parseJson(r.schedule, `${what} schedule`, {}),
    processInstanceId: r.process_instance_id,
  };
}

/** The terms of cover a policy row and a policy version row both carry, to their columns. */
type Terms = Pick<PolicyVersion, 'sumInsured' | 'deductible' | 'coinsurance' | 'perils' | 'premium'>;
const termsRow = (t: Terms) => ({ sum_insured: t.sumInsured, deductible: t.deductible, coinsurance: t.coinsurance, perils: json(t.perils), premium: t.premium });
const termsOf = (r: any, what: string): Terms => ({
  sumInsured: Number(r.sum_insured),
  deductible: Number(r.deductible ?? 0),
  coinsurance: Number(r.coinsurance),
  perils: parseJson<string[]>(r.perils, `${what} perils`, []),
  premium: Number(r.premium ?? 0),
});

function toPolicyVersion(r: any): PolicyVersion {
  return {
    policyNo: r.policy_no,
    version: Number(r.version),
    effectiveFrom: r.effective_from,
    effectiveTo: r.effective_to,
    ...termsOf(r, `policy_versions ${r.policy_no} v${r.version}`),
    reason: r.reason,
    processInstanceId: r.process_instance_id,
    createdAt: Number(r.created_at),
  };
}

const dayBefore = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

function toClaim(r: any): Claim {
  const what = `claims ${r.claim_no}`;
  return {
    claimNo: r.claim_no,
    processInstanceId: r.process_instance_id,
    policyNo: r.policy_no,
    customerId: r.customer_id,
    channel: r.channel,
    lossDate: r.loss_date,
    reportedAt: Number(r.reported_at),
    peril: r.peril,
    description: r.description,
    claimedAmount: Number(r.claimed_amount),
    approvedAmount: num(r.approved_amount),
    assessedLoss: num(r.assessed_loss),
    payout: num(r.payout),
    status: r.status,
    stage: r.stage,
    classification: r.classification,
    fraudScore: num(r.fraud_score),
    fraudLevel: r.fraud_level,
    fraudIndicators: parseJson(r.fraud_indicators, `${what} fraud_indicators`, null),
    surveyReport: parseJson(r.survey_report, `${what} survey_report`, null),
    surveyCompletedAt: num(r.survey_completed_at),
    documents: parseJson(r.documents, `${what} documents`, null),
    slaDeadline: num(r.sla_deadline),
    slaBreached: bool(r.sla_breached) ?? false,
    slaBreachedAt: num(r.sla_breached_at),
    slaMet: bool(r.sla_met),
    rejectionCode: r.rejection_code,
    rejectionReason: r.rejection_reason,
    paidAt: num(r.paid_at),
    closedAt: num(r.closed_at),
    cycleTimeMs: num(r.cycle_time_ms),
    analysis: parseJson(r.analysis, `${what} analysis`, null),
    reserveOutstanding: Number(r.reserve_outstanding ?? 0),
    duplicateOf: r.duplicate_of ?? null,
    decisionMode: r.decision_mode ?? null,
    fraudOutcome: r.fraud_outcome ?? null,
    approvalChain: parseJson(r.approval_chain, `${what} approval_chain`, null),
    updatedAt: Number(r.updated_at),
  };
}

function toPayment(r: any): Payment {
  return {
    id: Number(r.id),
    idempotencyKey: r.idempotency_key,
    direction: r.direction,
    claimNo: r.claim_no,
    policyNo: r.policy_no,
    quoteNo: r.quote_no,
    amount: Number(r.amount),
    currency: r.currency,
    counterparty: r.counterparty,
    status: r.status,
    reference: r.reference,
    createdAt: Number(r.created_at),
    completedAt: num(r.completed_at),
    processInstanceId: r.process_instance_id ?? null,
  };
}

function toReserveMovement(r: any): ReserveMovement {
  return {
    id: Number(r.id),
    claimNo: r.claim_no,
    movementKey: r.movement_key,
    reason: r.reason,
    amountBefore: Number(r.amount_before),
    amountAfter: Number(r.amount_after),
    change: Number(r.change),
    processInstanceId: r.process_instance_id,
    activityId: r.activity_id,
    createdAt: Number(r.created_at),
  };
}

function toNotification(r: any): Notification {
  return {
    id: Number(r.id),
    messageKey: r.message_key,
    channel: r.channel,
    recipient: r.recipient,
    topic: r.topic,
    subject: r.subject,
    body: r.body,
    payload: parseJson(r.payload, `outbox ${r.message_key} payload`, {}),
    businessRef: r.business_ref,
    status: r.status,
    processInstanceId: r.process_instance_id,
    createdAt: Number(r.created_at),
  };
}

function toProduct(r: any): Product {
  return {
    productCode: r.product_code,
    version: Number(r.version),
    name: r.name,
    line: r.line,
    baseRate: num(r.base_rate),
    parameters: parseJson(r.parameters, `product_catalogue ${r.product_code} v${r.version} parameters`, {}),
    status: r.status,
    launchedAt: num(r.launched_at),
    processInstanceId: r.process_instance_id,
  };
}

function toQuote(r: any): Quote {
  return {
    quoteNo: r.quote_no,
    processInstanceId: r.process_instance_id,
    customerId: r.customer_id,
    productCode: r.product_code,
    productVersion: Number(r.product_version),
    sumInsured: Number(r.sum_insured),
    baseRate: Number(r.base_rate),
    riskFactor: Number(r.risk_factor),
    creditFactor: Number(r.credit_factor),
    discountPercent: Number(r.discount_percent),
    grossPremium: Number(r.gross_premium),
    netPremium: Number(r.net_premium),
    riskProfile: parseJson(r.risk_profile, `quotes ${r.quote_no} risk_profile`, {}),
    coverStart: r.cover_start,
    status: r.status,
    offeredAt: num(r.offered_at),
    expiresAt: num(r.expires_at),
  };
}

// ------------------------------------------------------------------------------------------------ inputs

export interface NewClaim {
  claimNo: string;
  processInstanceId: string;
  policyNo: string;
  channel: string;
  lossDate: string;
  reportedAt: number;
  peril: string;
  description: string | null;
  claimedAmount: number;
}

export type ClaimPatch = Partial<Omit<Claim, 'claimNo' | 'processInstanceId' | 'reportedAt'>>;

const CLAIM_COLUMNS: Record<string, string> = {
  policyNo: 'policy_no',
  customerId: 'customer_id',
  channel: 'channel',
  lossDate: 'loss_date',
  peril: 'peril',
  description: 'description',
  claimedAmount: 'claimed_amount',
  approvedAmount: 'approved_amount',
  assessedLoss: 'assessed_loss',
  payout: 'payout',
  status: 'status',
  stage: 'stage',
  classification: 'classification',
  fraudScore: 'fraud_score',
  fraudLevel: 'fraud_level',
  fraudIndicators: 'fraud_indicators',
  surveyReport: 'survey_report',
  surveyCompletedAt: 'survey_completed_at',
  documents: 'documents',
  slaDeadline: 'sla_deadline',
  slaBreached: 'sla_breached',
  slaBreachedAt: 'sla_breached_at',
  slaMet: 'sla_met',
  rejectionCode: 'rejection_code',
  rejectionReason: 'rejection_reason',
  paidAt: 'paid_at',
  reserveOutstanding: 'reserve_outstanding',
  duplicateOf: 'duplicate_of',
  decisionMode: 'decision_mode',
  fraudOutcome: 'fraud_outcome',
  approvalChain: 'approval_chain',
  closedAt: 'closed_at',
  cycleTimeMs: 'cycle_time_ms',
  analysis: 'analysis',
  updatedAt: 'updated_at',
};
const CLAIM_JSON = new Set(['fraudIndicators', 'surveyReport', 'documents', 'analysis', 'approvalChain']);

export interface NewNotification {
  messageKey: string;
  channel: 'email' | 'sms' | 'post' | 'internal';
  recipient: string | null;
  topic: string;
  subject: string;
  body: string;
  payload?: Record<string, unknown>;
  businessRef?: string | null;
  processInstanceId?: string | null;
}

export interface NewPayment {
  idempotencyKey: string;
  direction: 'payout' | 'premium' | 'refund';
  claimNo?: string | null;
  policyNo?: string | null;
  quoteNo?: string | null;
  amount: number;
  currency?: string;
  counterparty?: string | null;
  processInstanceId?: string | null;
}

// ------------------------------------------------------------------------------------------------ the store

export class InsuranceStore {
  constructor(
    readonly db: Knex,
    private readonly now: () => number,
  ) {}

  /** The next number of a sequence (claim, policy, quote, customer); gaps are possible, duplicates are not. */
  async nextNumber(name: 'claim' | 'policy' | 'quote' | 'customer'): Promise<number> {
    return this.db.transaction(async (trx) => {
      const n = await trx('insurance_sequences').where({ name }).increment('value', 1);
      if (!n) throw new Error(`sequence ${name} is missing (run the migrations)`);
      const row = await trx('insurance_sequences').where({ name }).first('value');
      return Number(row.value);
    });
  }

  /** The last number a sequence has handed out (0 when none). */
  async currentNumber(name: 'claim' | 'policy' | 'quote' | 'customer'): Promise<number> {
    const row = await this.db('insurance_sequences').where({ name }).first('value');
    return Number(row?.value ?? 0);
  }

  // customers
  async customer(id: string): Promise<Customer | null> {
    const r = await this.db('customers').where({ id }).first();
    return r ? toCustomer(r) : null;
  }

  async customerByEmail(email: string): Promise<Customer | null> {
    const r = await this.db('customers').where({ email }).orderBy('id').first();
    return r ? toCustomer(r) : null;
  }

  async insertCustomer(c: Omit<Customer, 'createdAt'>, db: Db = this.db): Promise<void> {
    await db('customers').insert({ id: c.id, name: c.name, email: c.email, phone: c.phone, credit_grade: c.creditGrade, preferred_channel: c.preferredChannel ?? null, postal_address: c.postalAddress ?? null, created_at: this.now() }).onConflict('id').ignore();
  }

  // policies
  async policy(policyNo: string): Promise<Policy | null> {
    const r = await this.db('policies').where({ policy_no: policyNo }).first();
    return r ? toPolicy(r) : null;
  }

  async policyByQuote(quoteNo: string): Promise<Policy | null> {
    const r = await this.db('policies').where({ quote_no: quoteNo }).first();
    return r ? toPolicy(r) : null;
  }

  async insertPolicy(p: Policy, db: Db = this.db): Promise<void> {
    const now = this.now();
    await db('policies')
      .insert({
        policy_no: p.policyNo,
        customer_id: p.customerId,
        product_code: p.productCode,
        product_version: p.productVersion,
        status: p.status,
        start_date: p.startDate,
        end_date: p.endDate,
        ...termsRow(p),
        cover_changed_at: p.coverChangedAt,
        quote_no: p.quoteNo,
        schedule: json(p.schedule),
        process_instance_id: p.processInstanceId,
        created_at: now,
        updated_at: now,
      })
      .onConflict('policy_no')
      .ignore();
    await db('policy_versions')
      .insert({
        policy_no: p.policyNo,
        version: 1,
        effective_from: p.startDate,
        effective_to: p.endDate,
        ...termsRow(p),
        reason: 'issue',
        process_instance_id: p.processInstanceId,
        created_at: now,
      })
      .onConflict(['policy_no', 'version'])
      .ignore();
  }

  /** Every version of a policy, oldest first. */
  async policyVersions(policyNo: string): Promise<PolicyVersion[]> {
    const rows = await this.db('policy_versions').where({ policy_no: policyNo }).orderBy('version');
    return rows.map(toPolicyVersion);
  }

  /**
   * The version in force on a calendar day (YYYY-MM-DD), whatever the policy's status is today; null when no
   * version covers that day (before the first day of cover, after its end or after a cancellation took effect).
   * When spans overlap (they should not), the highest version wins.
   */
  async policyVersionOn(policyNo: string, date: string): Promise<PolicyVersion | null> {
    const r = await this.db('policy_versions')
      .where({ policy_no: policyNo })
      .andWhere('effective_from', '<=', date)
      .andWhere('effective_to', '>=', date)
      .orderBy('version', 'desc')
      .first();
    return r ? toPolicyVersion(r) : null;
  }

  /**
   * Adds the next version of a policy, effective from `v.effectiveFrom` (YYYY-MM-DD): every earlier version still
   * in force on or after that day now ends the day before. An endorsement or renewal carries the new terms up to
   * `v.effectiveTo` and the policy row takes them (end_date = effectiveTo). A cancellation (`reason`
   * 'cancellation', `effectiveFrom` = the first day without cover) records a row with an empty span (it never
   * covers a day) and sets the policy to status cancelled, ending the day before, with the terms (sum insured,
   * premium, ...) of the version in force on that last day. Empty span rule: a version whose effectiveTo is the day
   * before its effectiveFrom never covers a day; so does every version that would have started on or after the
   * new version's first day (e.g. an endorsement from 12-15 followed by a cancellation from 11-30): it is
   * superseded: kept for the record with its span emptied the same way (GET /api/policies/:policyNo reports it as
   * `superseded: true`). Idempotent per (policy, process
   * instance, reason): a retried handler gets the version it already added. Call it inside the transition's
   * unit of work (the store bound to it) so the version commits with the instance's state.
   */
  async addPolicyVersion(v: Omit<PolicyVersion, 'version' | 'createdAt' | 'policyNo'> & { policyNo: string }): Promise<PolicyVersion> {
    if (v.processInstanceId) {
      const done = await this.db('policy_versions').where({ policy_no: v.policyNo, process_instance_id: v.processInstanceId, reason: v.reason }).orderBy('version', 'desc').first();
      if (done) return toPolicyVersion(done);
    }
    const last = await this.db('policy_versions').where({ policy_no: v.policyNo }).max({ n: 'version' }).first();
    const version = Number((last as any)?.n ?? 0) + 1;
    const endOfEarlier = dayBefore(v.effectiveFrom);
    // versions in force on the day before end then; versions that would only have started on or after the new one
    // never take effect: their span becomes empty (effective_to the day before their own effective_from), never inverted
    await this.db('policy_versions').where({ policy_no: v.policyNo }).andWhere('effective_from', '<', v.effectiveFrom).andWhere('effective_to', '>=', v.effectiveFrom).update({ effective_to: endOfEarlier });
    const superseded = await this.db('policy_versions').where({ policy_no: v.policyNo }).andWhere('effective_from', '>=', v.effectiveFrom).andWhereRaw('effective_to >= effective_from');
    for (const r of superseded) await this.db('policy_versions').where({ policy_no: v.policyNo, version: r.version }).update({ effective_to: dayBefore(r.effective_from) });
    const cancellation = v.reason === 'cancellation';
    const row = {
      policy_no: v.policyNo,
      version,
      effective_from: v.effectiveFrom,
      effective_to: cancellation ? endOfEarlier : v.effectiveTo,
      ...termsRow(v),
      reason: v.reason,
      process_instance_id: v.processInstanceId,
      created_at: this.now(),
    };
    await this.db('policy_versions').insert(row);
    // after a cancellation the policy shows the terms of the version in force on its last day of cover (if any)
    const lastInForce = cancellation ? await this.policyVersionOn(v.policyNo, endOfEarlier) : null;
    const lastTerms = lastInForce ? termsRow(lastInForce) : {};
    const terms = cancellation
      ? { status: 'cancelled', end_date: endOfEarlier, ...lastTerms }
      : { ...termsRow(v), end_date: v.effectiveTo };
    await this.db('policies').where({ policy_no: v.policyNo }).update({ ...terms, updated_at: this.now() });
    return toPolicyVersion(row);
  }

  /**
   * Policy servicing: replaces the schedule sent to the customer (e.g. a new address or risk profile) and, when
   * the sum insured was raised, records when (`coverChangedAt`, epoch ms: a fraud indicator).
   */
  async updatePolicyDetails(policyNo: string, patch: { schedule?: Record<string, unknown>; coverChangedAt?: number }): Promise<void> {
    const row: Record<string, unknown> = { updated_at: this.now() };
    if (patch.schedule !== undefined) row.schedule = json(patch.schedule);
    if (patch.coverChangedAt !== undefined) row.cover_changed_at = patch.coverChangedAt;
    await this.db('policies').where({ policy_no: policyNo }).update(row);
  }

  /** Claims on a policy with a loss on or after `fromDate` (YYYY-MM-DD): the claims history of a re-rating. */
  async claimsSince(policyNo: string, fromDate: string): Promise<number> {
    const r = await this.db('claims').where({ policy_no: policyNo }).andWhere('loss_date', '>=', fromDate).count({ n: '*' }).first();
    return Number((r as any)?.n ?? 0);
  }

  async setPolicyStatus(policyNo: string, status: string): Promise<void> {
    await this.db('policies').where({ policy_no: policyNo }).update({ status, updated_at: this.now() });
  }

  // claims
  async claim(claimNo: string): Promise<Claim | null> {
    const r = await this.db('claims').where({ claim_no: claimNo }).first();
    return r ? toClaim(r) : null;
  }

  async claimOfInstance(processInstanceId: string): Promise<Claim | null> {
    const r = await this.db('claims').where({ process_instance_id: processInstanceId }).first();
    return r ? toClaim(r) : null;
  }

  /** Inserts the claim unless this instance already registered one (a retried handler); returns the stored claim. */
  async registerClaim(c: NewClaim): Promise<Claim> {
    await this.db('claims')
      .insert({
        claim_no: c.claimNo,
        process_instance_id: c.processInstanceId,
        policy_no: c.policyNo,
        channel: c.channel,
        loss_date: c.lossDate,
        reported_at: c.reportedAt,
        peril: c.peril,
        description: c.description,
        claimed_amount: c.claimedAmount,
        status: 'open',
        stage: 'reported',
        sla_breached: false,
        updated_at: this.now(),
      })
      .onConflict('process_instance_id')
      .ignore();
    return (await this.claimOfInstance(c.processInstanceId)) as Claim;
  }

  async claimNumberTaken(claimNo: string): Promise<boolean> {
    return Boolean(await this.db('claims').where({ claim_no: claimNo }).first('id'));
  }

  async updateClaim(claimNo: string, patch: ClaimPatch): Promise<Claim> {
    const row: Record<string, unknown> = { updated_at: this.now() };
    for (const [k, v] of Object.entries(patch)) {
      const col = CLAIM_COLUMNS[k];
      if (!col || v === undefined) continue;
      row[col] = CLAIM_JSON.has(k) ? (v === null ? null : json(v)) : v;
    }
    await this.db('claims').where({ claim_no: claimNo }).update(row);
    const c = await this.claim(claimNo);
    if (!c) throw new Error(`claim ${claimNo} was not found`);
    return c;
  }

  /** Claims on a policy with a loss in the 12 months before `lossDate` (inclusive), other than `exceptClaimNo`. */
  async claimsInYearBefore(policyNo: string, lossDate: string, exceptClaimNo: string): Promise<number> {
    const from = new Date(Date.parse(`${lossDate}T00:00:00Z`) - 365 * 86_400_000).toISOString().slice(0, 10);
    const r = await this.db('claims')
      .where({ policy_no: policyNo })
      .andWhere('loss_date', '>=', from)
      .andWhere('loss_date', '<=', lossDate)
      .andWhereNot({ claim_no: exceptClaimNo })
      .count({ n: '*' })
      .first();
    return Number((r as any)?.n ?? 0);
  }

  // claim reserves
  /** The reserve movements of a claim, oldest first. */
  async reserveMovements(claimNo: string): Promise<ReserveMovement[]> {
    return (await this.db('claim_reserve_movements').where({ claim_no: claimNo }).orderBy('id')).map(toReserveMovement);
  }

  /**
   * Moves a claim's outstanding reserve: writes the movement row and the claim's new reserve, once per movement
   * key (a second call with the key returns the stored movement and changes nothing). `change` is amountAfter -
   * amountBefore, computed by the caller in decimals. A negative reserve is refused (RangeError): reserves never
   * go negative.
   */
  async moveReserve(m: Omit<ReserveMovement, 'id' | 'createdAt'>): Promise<{ movement: ReserveMovement; moved: boolean }> {
    const existing = await this.db('claim_reserve_movements').where({ movement_key: m.movementKey }).first();
    if (existing) return { movement: toReserveMovement(existing), moved: false };
    if (!(Number.isFinite(m.amountAfter) && m.amountAfter >= 0)) throw new RangeError(`the reserve of claim ${m.claimNo} cannot become ${m.amountAfter}: reserves never go negative`);
    const now = this.now();
    await this.db('claim_reserve_movements').insert({
      claim_no: m.claimNo,
      movement_key: m.movementKey,
      reason: m.reason,
      amount_before: m.amountBefore,
      amount_after: m.amountAfter,
      change: m.change,
      process_instance_id: m.processInstanceId,
      activity_id: m.activityId,
      created_at: now,
    });
    const n = await this.db('claims').where({ claim_no: m.claimNo }).update({ reserve_outstanding: m.amountAfter, updated_at: now });
    if (!n) throw new Error(`claim ${m.claimNo} was not found`);
    return { movement: toReserveMovement(await this.db('claim_reserve_movements').where({ movement_key: m.movementKey }).first()), moved: true };
  }

  // payments ledger
  /**
   * Writes a ledger row once: a second call with the same idempotency key (a retry) or, for payouts, for the same
   * claim (a second path to payment) inserts nothing. Returns the row that is in the ledger.
   */
  async recordPayment(p: NewPayment): Promise<Payment> {
    await this.db('payments')
      .insert({
        idempotency_key: p.idempotencyKey,
        direction: p.direction,
        claim_no: p.direction === 'payout' ? (p.claimNo ?? null) : null,
        policy_no: p.policyNo ?? null,
        quote_no: p.quoteNo ?? null,
        amount: p.amount,
        currency: p.currency ?? 'CNY',
        counterparty: p.counterparty ?? null,
        status: 'pending',
        process_instance_id: p.processInstanceId ?? null,
        created_at: this.now(),
      })
      .onConflict()
      .ignore();
    let r = await this.db('payments').where({ idempotency_key: p.idempotencyKey }).first();
    if (!r && p.direction === 'payout' && p.claimNo) r = await this.db('payments').where({ claim_no: p.claimNo }).first();
    if (!r) throw new Error(`payment ${p.idempotencyKey} could not be recorded`);
    return toPayment(r);
  }

  async completePayment(id: number, reference: string): Promise<Payment> {
    await this.db('payments').where({ id, status: 'pending' }).update({ status: 'completed', reference, completed_at: this.now() });
    return toPayment(await this.db('payments').where({ id }).first());
  }

  async payments(filter: { id?: number; claimNo?: string; quoteNo?: string; status?: Payment['status']; direction?: Payment['direction']; limit?: number }): Promise<Payment[]> {
    let q = this.db('payments');
    if (filter.id !== undefined) q = q.where({ id: filter.id });
    if (filter.claimNo) q = q.where({ claim_no: filter.claimNo });
    if (filter.quoteNo) q = q.where({ quote_no: filter.quoteNo });
    if (filter.status) q = q.where({ status: filter.status });
    if (filter.direction) q = q.where({ direction: filter.direction });
    if (filter.limit) q = q.limit(filter.limit);
    return (await q.orderBy('id')).map(toPayment);
  }

  /**
   * The ledger of a policy, oldest first: rows booked on the policy number, and the premium of the quote it was
   * issued from (sales books the first premium on the quote).
   */
  async policyLedger(policyNo: string, quoteNo: string | null): Promise<Payment[]> {
    const rows = await this.db('payments')
      .where((q) => {
        q.where({ policy_no: policyNo });
        if (quoteNo) q.orWhere({ quote_no: quoteNo });
      })
      .orderBy('id');
    return rows.map(toPayment);
  }

  // outbox
  /** Queues a notification once per message key; returns the stored one. */
  async notify(n: NewNotification): Promise<Notification> {
    await this.db('outbox')
      .insert({
        message_key: n.messageKey,
        channel: n.channel,
        recipient: n.recipient,
        topic: n.topic,
        subject: n.subject,
        body: n.body,
        payload: json(n.payload ?? {}),
        business_ref: n.businessRef ?? null,
        status: 'pending',
        process_instance_id: n.processInstanceId ?? null,
        created_at: this.now(),
      })
      .onConflict('message_key')
      .ignore();
    return toNotification(await this.db('outbox').where({ message_key: n.messageKey }).first());
  }

  async notifications(filter: { businessRef?: string; topic?: string }): Promise<Notification[]> {
    let q = this.db('outbox');
    if (filter.businessRef) q = q.where({ business_ref: filter.businessRef });
    if (filter.topic) q = q.where({ topic: filter.topic });
    return (await q.orderBy('id')).map(toNotification);
  }

  // product catalogue
  async launchedProduct(productCode: string): Promise<Product | null> {
    const r = await this.db('product_catalogue').where({ product_code: productCode, status: 'launched' }).orderBy('version', 'desc').first();
    return r ? toProduct(r) : null;
  }

  async productVersion(productCode: string, version: number): Promise<Product | null> {
    const r = await this.db('product_catalogue').where({ product_code: productCode, version }).first();
    return r ? toProduct(r) : null;
  }

  async productDraftOf(processInstanceId: string): Promise<Product | null> {
    const r = await this.db('product_catalogue').where({ process_instance_id: processInstanceId }).orderBy('version', 'desc').first();
    return r ? toProduct(r) : null;
  }

  /** The draft this instance works on (created at its first design), updated with the latest design. */
  async saveProductDraft(p: { productCode: string; name: string; line: string | null; parameters: Record<string, unknown>; processInstanceId: string }): Promise<Product> {
    const now = this.now();
    const existing = await this.productDraftOf(p.processInstanceId);
    if (existing) {
      await this.db('product_catalogue')
        .where({ product_code: existing.productCode, version: existing.version })
        .update({ name: p.name, line: p.line, parameters: json(p.parameters), updated_at: now });
      return (await this.productVersion(existing.productCode, existing.version)) as Product;
    }
    return this.db.transaction(async (trx) => {
      const last = await trx('product_catalogue').where({ product_code: p.productCode }).max({ v: 'version' }).first();
      const version = Number((last as any)?.v ?? 0) + 1;
      await trx('product_catalogue').insert({
        product_code: p.productCode,
        version,
        name: p.name,
        line: p.line,
        base_rate: null,
        parameters: json(p.parameters),
        status: 'draft',
        launched_at: null,
        process_instance_id: p.processInstanceId,
        created_at: now,
        updated_at: now,
      });
      return toProduct(await trx('product_catalogue').where({ product_code: p.productCode, version }).first());
    });
  }

  async setProductPricing(productCode: string, version: number, baseRate: number, pricing: Record<string, unknown>): Promise<Product> {
    const current = (await this.productVersion(productCode, version)) as Product;
    await this.db('product_catalogue')
      .where({ product_code: productCode, version })
      .update({ base_rate: baseRate, parameters: json({ ...current.parameters, pricing }), updated_at: this.now() });
    return (await this.productVersion(productCode, version)) as Product;
  }

  /** Publishes a version: it becomes the launched one and earlier launched versions are superseded. Idempotent. */
  async launchProduct(productCode: string, version: number): Promise<Product> {
    const now = this.now();
    await this.db.transaction(async (trx) => {
      const row = await trx('product_catalogue').where({ product_code: productCode, version }).first('status');
      if (row?.status === 'launched') return;
      await trx('product_catalogue').where({ product_code: productCode, status: 'launched' }).update({ status: 'superseded', updated_at: now });
      await trx('product_catalogue').where({ product_code: productCode, version }).update({ status: 'launched', launched_at: now, updated_at: now });
    });
    return (await this.productVersion(productCode, version)) as Product;
  }

  /** Inserts a launched product version directly (demo seed). */
  async seedProduct(p: Omit<Product, 'launchedAt' | 'processInstanceId'>): Promise<void> {
    const now = this.now();
    await this.db('product_catalogue')
      .insert({ product_code: p.productCode, version: p.version, name: p.name, line: p.line, base_rate: p.baseRate, parameters: json(p.parameters), status: p.status, launched_at: p.status === 'launched' ? now : null, process_instance_id: null, created_at: now, updated_at: now })
      .onConflict(['product_code', 'version'])
      .ignore();
  }

  // quotes
  async quote(quoteNo: string): Promise<Quote | null> {
    const r = await this.db('quotes').where({ quote_no: quoteNo }).first();
    return r ? toQuote(r) : null;
  }

  async quoteOfInstance(processInstanceId: string): Promise<Quote | null> {
    const r = await this.db('quotes').where({ process_instance_id: processInstanceId }).first();
    return r ? toQuote(r) : null;
  }

  /** One quote per sales instance: created at the first pricing, re-priced afterwards. */
  async saveQuote(q: Omit<Quote, 'status' | 'offeredAt' | 'expiresAt'> & { status?: string }): Promise<Quote> {
    const now = this.now();
    const values = {
      customer_id: q.customerId,
      product_code: q.productCode,
      product_version: q.productVersion,
      sum_insured: q.sumInsured,
      base_rate: q.baseRate,
      risk_factor: q.riskFactor,
      credit_factor: q.creditFactor,
      discount_percent: q.discountPercent,
      gross_premium: q.grossPremium,
      net_premium: q.netPremium,
      risk_profile: json(q.riskProfile),
      cover_start: q.coverStart,
      status: q.status ?? 'draft',
      updated_at: now,
    };
    const existing = await this.quoteOfInstance(q.processInstanceId);
    if (existing) await this.db('quotes').where({ quote_no: existing.quoteNo }).update(values);
    else await this.db('quotes').insert({ quote_no: q.quoteNo, process_instance_id: q.processInstanceId, ...values, created_at: now }).onConflict('process_instance_id').ignore();
    return (await this.quoteOfInstance(q.processInstanceId)) as Quote;
  }

  async updateQuote(quoteNo: string, patch: { status?: string; offeredAt?: number; expiresAt?: number }): Promise<Quote> {
    const row: Record<string, unknown> = { updated_at: this.now() };
    if (patch.status !== undefined) row.status = patch.status;
    if (patch.offeredAt !== undefined) row.offered_at = patch.offeredAt;
    if (patch.expiresAt !== undefined) row.expires_at = patch.expiresAt;
    await this.db('quotes').where({ quote_no: quoteNo }).update(row);
    return (await this.quote(quoteNo)) as Quote;
  }
}
