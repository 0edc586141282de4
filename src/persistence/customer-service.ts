/**
 * Repository of the customer-service tables (migrations/20261201150000_customer_service.ts): complaints,
 * consultations and disputes, and their number sequences. Rows are snake_case; the domain objects returned are
 * camelCase with numbers as numbers, booleans as booleans and JSON parsed here (the record named in a parse error).
 * Registration is idempotent per process instance (a retried handler gets the row it wrote).
 */
import type { Knex } from 'knex';
import { parseJson } from './store.ts';

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 't';

export type CustomerServiceSequence = 'complaint' | 'consultation' | 'dispute';

export interface Complaint {
  complaintNo: string;
  processInstanceId: string;
  channel: string;
  category: string;
  customerId: string | null;
  policyNo: string | null;
  claimNo: string | null;
  complainantName: string;
  contactEmail: string | null;
  contactPhone: string | null;
  summary: string;
  keywordFlags: Record<string, boolean>;
  severity: string | null;
  responseDays: number | null;
  responseDueAt: number | null;
  handlingGroup: string | null;
  handler: string | null;
  status: string;
  respondedAt: number | null;
  responseOutcome: string | null;
  deadlineBreached: boolean;
  breachedAt: number | null;
  resolution: string | null;
  closedAt: number | null;
  surveyStatus: string;
  satisfactionScore: number | null;
  satisfactionComment: string | null;
  registeredAt: number;
  updatedAt: number;
}

export interface Consultation {
  consultationNo: string;
  processInstanceId: string;
  channel: string;
  topic: string;
  question: string;
  customerId: string | null;
  customerName: string;
  contactEmail: string | null;
  contactPhone: string | null;
  policyNo: string | null;
  status: string;
  answer: string | null;
  answeredAt: number | null;
  outcome: string | null;
  salesInstanceId: string | null;
  claimNo: string | null;
  claimInstanceId: string | null;
  registeredAt: number;
  updatedAt: number;
}

export interface Dispute {
  disputeNo: string;
  processInstanceId: string;
  subjectType: 'claim' | 'policy';
  subjectRef: string;
  contestedAction: string;
  grounds: string;
  customerId: string | null;
  contactEmail: string | null;
  contactPhone: string | null;
  reviewGroup: string;
  reviewDueAt: number;
  escalated: boolean;
  escalatedAt: number | null;
  status: string;
  outcome: string | null;
  outcomeReason: string | null;
  decidedAt: number | null;
  registeredAt: number;
  updatedAt: number;
}

/** camelCase field -> column, for the fields a patch may change; JSON fields are serialised. */
interface TableMap {
  table: string;
  key: string;
  columns: Record<string, string>;
  json: Set<string>;
}

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const mapOf = (table: string, key: string, fields: string[], json: string[] = []): TableMap => ({ table, key, columns: Object.fromEntries(fields.map((f) => [f, snake(f)])), json: new Set(json) });

const COMPLAINTS = mapOf(
  'complaints',
  'complaint_no',
  ['channel', 'category', 'customerId', 'policyNo', 'claimNo', 'complainantName', 'contactEmail', 'contactPhone', 'summary', 'keywordFlags', 'severity', 'responseDays', 'responseDueAt', 'handlingGroup', 'handler', 'status', 'respondedAt', 'responseOutcome', 'deadlineBreached', 'breachedAt', 'resolution', 'closedAt', 'surveyStatus', 'satisfactionScore', 'satisfactionComment'],
  ['keywordFlags'],
);
const CONSULTATIONS = mapOf('consultations', 'consultation_no', ['channel', 'topic', 'question', 'customerId', 'customerName', 'contactEmail', 'contactPhone', 'policyNo', 'status', 'answer', 'answeredAt', 'outcome', 'salesInstanceId', 'claimNo', 'claimInstanceId']);
const DISPUTES = mapOf('disputes', 'dispute_no', ['subjectType', 'subjectRef', 'contestedAction', 'grounds', 'customerId', 'contactEmail', 'contactPhone', 'reviewGroup', 'reviewDueAt', 'escalated', 'escalatedAt', 'status', 'outcome', 'outcomeReason', 'decidedAt']);

function toComplaint(r: any): Complaint {
  return {
    complaintNo: r.complaint_no,
    processInstanceId: r.process_instance_id,
    channel: r.channel,
    category: r.category,
    customerId: r.customer_id,
    policyNo: r.policy_no,
    claimNo: r.claim_no,
    complainantName: r.complainant_name,
    contactEmail: r.contact_email,
    contactPhone: r.contact_phone,
    summary: r.summary,
    keywordFlags: parseJson(r.keyword_flags, `complaints ${r.complaint_no} keyword_flags`, {}),
    severity: r.severity,
    responseDays: num(r.response_days),
    responseDueAt: num(r.response_due_at),
    handlingGroup: r.handling_group,
    handler: r.handler,
    status: r.status,
    respondedAt: num(r.responded_at),
    responseOutcome: r.response_outcome,
    deadlineBreached: bool(r.deadline_breached),
    breachedAt: num(r.breached_at),
    resolution: r.resolution,
    closedAt: num(r.closed_at),
    surveyStatus: r.survey_status,
    satisfactionScore: num(r.satisfaction_score),
    satisfactionComment: r.satisfaction_comment,
    registeredAt: Number(r.registered_at),
    updatedAt: Number(r.updated_at),
  };
}

function toConsultation(r: any): Consultation {
  return {
    consultationNo: r.consultation_no,
    processInstanceId: r.process_instance_id,
    channel: r.channel,
    topic: r.topic,
    question: r.question,
    customerId: r.customer_id,
    customerName: r.customer_name,
    contactEmail: r.contact_email,
    contactPhone: r.contact_phone,
    policyNo: r.policy_no,
    status: r.status,
    answer: r.answer,
    answeredAt: num(r.answered_at),
    outcome: r.outcome,
    salesInstanceId: r.sales_instance_id,
    claimNo: r.claim_no,
    claimInstanceId: r.claim_instance_id,
    registeredAt: Number(r.registered_at),
    updatedAt: Number(r.updated_at),
  };
}

function toDispute(r: any): Dispute {
  return {
    disputeNo: r.dispute_no,
    processInstanceId: r.process_instance_id,
    subjectType: r.subject_type,
    subjectRef: r.subject_ref,
    contestedAction: r.contested_action,
    grounds: r.grounds,
    customerId: r.customer_id,
    contactEmail: r.contact_email,
    contactPhone: r.contact_phone,
    reviewGroup: r.review_group,
    reviewDueAt: Number(r.review_due_at),
    escalated: bool(r.escalated),
    escalatedAt: num(r.escalated_at),
    status: r.status,
    outcome: r.outcome,
    outcomeReason: r.outcome_reason,
    decidedAt: num(r.decided_at),
    registeredAt: Number(r.registered_at),
    updatedAt: Number(r.updated_at),
  };
}

export type NewComplaint = Pick<Complaint, 'complaintNo' | 'processInstanceId' | 'channel' | 'category' | 'customerId' | 'policyNo' | 'claimNo' | 'complainantName' | 'contactEmail' | 'contactPhone' | 'summary' | 'keywordFlags'>;
export type NewConsultation = Pick<Consultation, 'consultationNo' | 'processInstanceId' | 'channel' | 'topic' | 'question' | 'customerId' | 'customerName' | 'contactEmail' | 'contactPhone' | 'policyNo'>;
export type NewDispute = Pick<Dispute, 'disputeNo' | 'processInstanceId' | 'subjectType' | 'subjectRef' | 'contestedAction' | 'grounds' | 'customerId' | 'contactEmail' | 'contactPhone' | 'reviewGroup' | 'reviewDueAt'>;

export class CustomerServiceStore {
  constructor(
    readonly db: Knex,
    private readonly now: () => number,
  ) {}

  /** The next number of a customer-service sequence; gaps are possible, duplicates are not. */
  async nextNumber(name: CustomerServiceSequence): Promise<number> {
    return this.db.transaction(async (trx) => {
      const n = await trx('insurance_sequences').where({ name }).increment('value', 1);
      if (!n) throw new Error(`sequence ${name} is missing (run the migrations)`);
      const row = await trx('insurance_sequences').where({ name }).first('value');
      return Number(row.value);
    });
  }

  /** The last number a sequence handed out (0 when none). */
  async currentNumber(name: CustomerServiceSequence): Promise<number> {
    const row = await this.db('insurance_sequences').where({ name }).first('value');
    return Number(row?.value ?? 0);
  }

  private async insert(map: TableMap, row: Record<string, unknown>): Promise<void> {
    const now = this.now();
    const values: Record<string, unknown> = { registered_at: now, updated_at: now };
    for (const [k, v] of Object.entries(row)) values[map.columns[k] ?? snake(k)] = map.json.has(k) ? JSON.stringify(v ?? {}) : v;
    await this.db(map.table).insert(values).onConflict('process_instance_id').ignore();
  }

  private async patch(map: TableMap, no: string, patch: Record<string, unknown>): Promise<void> {
    const row: Record<string, unknown> = { updated_at: this.now() };
    for (const [k, v] of Object.entries(patch)) {
      const col = map.columns[k];
      if (!col || v === undefined) continue;
      row[col] = map.json.has(k) ? JSON.stringify(v) : v;
    }
    await this.db(map.table).where({ [map.key]: no }).update(row);
  }

  // complaints
  async registerComplaint(c: NewComplaint): Promise<Complaint> {
    await this.insert(COMPLAINTS, { ...c, status: 'registered', deadlineBreached: false, surveyStatus: 'not-sent' });
    return (await this.complaintOfInstance(c.processInstanceId))!;
  }

  async complaint(complaintNo: string): Promise<Complaint | null> {
    const r = await this.db('complaints').where({ complaint_no: complaintNo }).first();
    return r ? toComplaint(r) : null;
  }

  async complaintOfInstance(processInstanceId: string): Promise<Complaint | null> {
    const r = await this.db('complaints').where({ process_instance_id: processInstanceId }).first();
    return r ? toComplaint(r) : null;
  }

  async complaintNumberTaken(complaintNo: string): Promise<boolean> {
    return Boolean(await this.db('complaints').where({ complaint_no: complaintNo }).first('id'));
  }

  async updateComplaint(complaintNo: string, patch: Partial<Omit<Complaint, 'complaintNo' | 'processInstanceId' | 'registeredAt' | 'updatedAt'>>): Promise<Complaint> {
    await this.patch(COMPLAINTS, complaintNo, patch);
    const c = await this.complaint(complaintNo);
    if (!c) throw new Error(`complaint ${complaintNo} was not found`);
    return c;
  }

  /** Complaints registered in [fromMs, toMs), oldest first. */
  async complaintsRegistered(fromMs: number, toMs: number): Promise<Complaint[]> {
    const rows = await this.db('complaints').where('registered_at', '>=', fromMs).andWhere('registered_at', '<', toMs).orderBy('registered_at').orderBy('id');
    return rows.map(toComplaint);
  }

  // consultations
  async registerConsultation(c: NewConsultation): Promise<Consultation> {
    await this.insert(CONSULTATIONS, { ...c, status: 'open' });
    return (await this.consultationOfInstance(c.processInstanceId))!;
  }

  async consultation(consultationNo: string): Promise<Consultation | null> {
    const r = await this.db('consultations').where({ consultation_no: consultationNo }).first();
    return r ? toConsultation(r) : null;
  }

  async consultationOfInstance(processInstanceId: string): Promise<Consultation | null> {
    const r = await this.db('consultations').where({ process_instance_id: processInstanceId }).first();
    return r ? toConsultation(r) : null;
  }

  async updateConsultation(consultationNo: string, patch: Partial<Omit<Consultation, 'consultationNo' | 'processInstanceId' | 'registeredAt' | 'updatedAt'>>): Promise<Consultation> {
    await this.patch(CONSULTATIONS, consultationNo, patch);
    const c = await this.consultation(consultationNo);
    if (!c) throw new Error(`consultation ${consultationNo} was not found`);
    return c;
  }

  // disputes
  async registerDispute(d: NewDispute): Promise<Dispute> {
    await this.insert(DISPUTES, { ...d, status: 'under-review', escalated: false });
    return (await this.disputeOfInstance(d.processInstanceId))!;
  }

  async dispute(disputeNo: string): Promise<Dispute | null> {
    const r = await this.db('disputes').where({ dispute_no: disputeNo }).first();
    return r ? toDispute(r) : null;
  }

  async disputeOfInstance(processInstanceId: string): Promise<Dispute | null> {
    const r = await this.db('disputes').where({ process_instance_id: processInstanceId }).first();
    return r ? toDispute(r) : null;
  }

  async updateDispute(disputeNo: string, patch: Partial<Omit<Dispute, 'disputeNo' | 'processInstanceId' | 'registeredAt' | 'updatedAt'>>): Promise<Dispute> {
    await this.patch(DISPUTES, disputeNo, patch);
    const d = await this.dispute(disputeNo);
    if (!d) throw new Error(`dispute ${disputeNo} was not found`);
    return d;
  }
}
