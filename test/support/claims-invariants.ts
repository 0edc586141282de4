/**
 * Invariants of the property-claims domain, checked on a database (SQLite or PostgreSQL) after crash and race
 * tests: the domain records (claims rows, payouts in the ledger, claim notifications in the outbox) must agree
 * with the path their process instance committed to history, and every history chain must verify.
 *
 * The reference is the committed history of each claims instance (processes/claims.bpmn):
 * - a step "ran" when its `activity.completed` event is in the instance's chain;
 * - every record a handler of src/processes/claims/handlers.ts writes is backed by the step that writes it
 *   (a payout by Task_PayClaim, a rejection letter by Task_NotifyRejection, payout figures by Task_Adjudicate...),
 *   unless that step is still pending (a retry job or an open incident at it: a failed attempt may have left a
 *   pending ledger row for its retry to complete, with the same idempotency key);
 * - conversely a step that ran left its records (a paid claim has its one completed payout, a rejection its
 *   letter), and a finished instance's claim is closed the way its end event says.
 *
 * findClaimViolations(db) returns every violation found (empty when the state is consistent); it only reads,
 * and works on a Knex handle or a transaction.
 */
import type { Knex } from 'knex';
import { verifyHistoryChain } from '../../src/audit/verify.ts';

export type ClaimViolationKind =
  /** a claims row whose process instance does not exist (written by a transition that never committed) */
  | 'orphan-claim'
  /** a claims instance whose history says Task_RegisterClaim ran, but no claims row belongs to it */
  | 'missing-claim'
  /** the claim number differs from its instance's business key */
  | 'claim-number-mismatch'
  /** a payout in the ledger whose claim or process instance does not exist */
  | 'orphan-payout'
  /** a claim notification in the outbox whose process instance does not exist */
  | 'orphan-notification'
  /** a payout in the ledger although Task_PayClaim never ran for the claim */
  | 'payout-without-pay-step'
  /** a payout in the ledger for a claim whose instance took the rejection path */
  | 'payout-on-rejected-claim'
  /** more than one payout for one claim */
  | 'multiple-payouts'
  /** Task_PayClaim ran but the ledger has no completed payout of the claim's adjudicated amount */
  | 'payout-mismatch'
  /** a claim notification although the step that sends it never ran (e.g. a rejection letter on a paid claim) */
  | 'notification-without-step'
  /** the step that sends a claim notification ran, but the notification is not in the outbox */
  | 'notification-missing'
  /** a field of the claims row written by a step that never ran (e.g. status "rejected" without Task_NotifyRejection) */
  | 'record-without-step'
  /** the history took both the payment and the rejection path */
  | 'both-outcomes'
  /** the instance completed but its claim is still "open" */
  | 'finished-claim-open'
  /** the instance completed and the claim's status, stage or outcome does not match the end event reached */
  | 'outcome-mismatch'
  /** a history chain does not verify, or an instance has no history */
  | 'history-broken';

export interface ClaimViolation {
  kind: ClaimViolationKind;
  claimNo: string | null;
  processInstanceId: string | null;
  detail: string;
}

const PROCESS_KEY = 'claims';
const END_PAID = 'End_ClaimClosed';
const END_REJECTED = 'End_ClaimRejected';
const PAY = 'Task_PayClaim';
const NOTIFY_REJECTION = 'Task_NotifyRejection';
const CLOSE_STEPS = ['Task_CloseClaim', 'Task_CloseRejectedClaim'];

/** Outbox topics of the claims handlers, by the activity whose handler writes them. */
const NOTIFICATION_STEP: Record<string, string> = {
  'claim-paid': 'Task_NotifyPayment',
  'claim-rejected': NOTIFY_REJECTION,
  'claim-documents-requested': 'Task_RequestDocuments',
  'claim-documents-reminder': 'Task_RemindDocuments',
  'claim-sla-breached': 'Task_RecordSlaBreach',
};

/** Fields of the claims row and the steps whose handlers write them (any one of them backs the field). */
const FIELD_STEPS: { what: string; set: (c: ClaimRow) => boolean; steps: string[] }[] = [
  { what: 'status "rejected"', set: (c) => c.status === 'rejected', steps: [NOTIFY_REJECTION] },
  { what: 'status "paid"', set: (c) => c.status === 'paid', steps: [PAY] },
  { what: 'status "closed"', set: (c) => c.status === 'closed', steps: ['Task_CloseClaim'] },
  { what: 'paid_at', set: (c) => c.paid_at !== null, steps: [PAY] },
  { what: 'rejection_code', set: (c) => c.rejection_code !== null, steps: [NOTIFY_REJECTION, 'Task_RecordRefusal'] },
  { what: 'payout', set: (c) => c.payout !== null, steps: ['Task_Adjudicate'] },
  { what: 'assessed_loss', set: (c) => c.assessed_loss !== null, steps: ['Task_Adjudicate'] },
  { what: 'sla_deadline', set: (c) => c.sla_deadline !== null, steps: ['Task_StartSettlementClock'] },
  { what: 'survey_report', set: (c) => c.survey_report !== null, steps: ['Task_StartSettlementClock'] },
  { what: 'sla_breached', set: (c) => c.sla_breached, steps: ['Task_RecordSlaBreach'] },
  { what: 'closed_at', set: (c) => c.closed_at !== null, steps: CLOSE_STEPS },
  { what: 'analysis', set: (c) => c.analysis !== null, steps: CLOSE_STEPS },
  { what: 'stage "closed"', set: (c) => c.stage === 'closed', steps: CLOSE_STEPS },
];

interface ClaimRow {
  claim_no: string;
  process_instance_id: string;
  status: string;
  stage: string;
  payout: number | null;
  assessed_loss: number | null;
  sla_deadline: number | null;
  survey_report: string | null;
  sla_breached: boolean;
  rejection_code: string | null;
  paid_at: number | null;
  closed_at: number | null;
  analysis: string | null;
}

interface InstanceRow {
  id: string;
  process_key: string;
  business_key: string | null;
  status: string;
}

/** What the committed history of one instance says it did. */
interface Path {
  /** activities with an activity.completed event */
  done: Set<string>;
  /** activities with a retry job or an open incident: their handler may have written a first attempt's records */
  pending: Set<string>;
}

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const truthy = (v: unknown) => v === true || v === 1 || v === '1' || v === 't' || v === 'true';
const CHUNK = 400;

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

function outcomeOf(analysis: string | null): unknown {
  if (analysis === null) return null;
  try {
    return (JSON.parse(analysis) as { outcome?: unknown }).outcome ?? null;
  } catch {
    return '(unparseable analysis)';
  }
}

/**
 * Every violation of the claims invariants in this database (see ClaimViolationKind), claims and chains in a
 * stable order. Reads only.
 */
export async function findClaimViolations(db: Knex | Knex.Transaction): Promise<ClaimViolation[]> {
  const out: ClaimViolation[] = [];
  const add = (kind: ClaimViolationKind, claimNo: string | null, processInstanceId: string | null, detail: string) => out.push({ kind, claimNo, processInstanceId, detail });

  const claims: ClaimRow[] = (
    await db('claims')
      .orderBy('claim_no')
      .select('claim_no', 'process_instance_id', 'status', 'stage', 'payout', 'assessed_loss', 'sla_deadline', 'survey_report', 'sla_breached', 'rejection_code', 'paid_at', 'closed_at', 'analysis')
  ).map((r: any) => ({
    ...r,
    payout: numOrNull(r.payout),
    assessed_loss: numOrNull(r.assessed_loss),
    sla_deadline: numOrNull(r.sla_deadline),
    sla_breached: truthy(r.sla_breached),
    paid_at: numOrNull(r.paid_at),
    closed_at: numOrNull(r.closed_at),
  }));
  const instances = new Map<string, InstanceRow>((await db('process_instances').select('id', 'process_key', 'business_key', 'status')).map((r: any) => [r.id as string, r as InstanceRow]));
  const claimsInstances = [...instances.values()].filter((i) => i.process_key === PROCESS_KEY).map((i) => i.id).sort();

  // the committed path of every claims instance
  const paths = new Map<string, Path>(claimsInstances.map((id) => [id, { done: new Set<string>(), pending: new Set<string>() }]));
  for (const ids of chunks(claimsInstances)) {
    const events = await db('history_events').whereIn('chain_id', ids).andWhere({ type: 'activity.completed' }).select('chain_id', 'activity_id');
    for (const e of events) if (e.activity_id) paths.get(e.chain_id)!.done.add(e.activity_id);
    const jobs = await db('jobs').whereIn('process_instance_id', ids).andWhere({ type: 'retry' }).select('process_instance_id', 'activity_id');
    const incidents = await db('incidents').whereIn('process_instance_id', ids).andWhere({ status: 'open' }).select('process_instance_id', 'activity_id');
    for (const p of [...jobs, ...incidents]) paths.get(p.process_instance_id)!.pending.add(p.activity_id);
  }
  const ran = (path: Path | undefined, steps: string[]) => Boolean(path && steps.some((s) => path.done.has(s)));
  const mayHaveRun = (path: Path | undefined, steps: string[]) => Boolean(path && steps.some((s) => path.done.has(s) || path.pending.has(s)));

  const payouts: { id: number; claim_no: string | null; process_instance_id: string | null; amount: number; status: string }[] = (
    await db('payments').where({ direction: 'payout' }).orderBy('id').select('id', 'claim_no', 'process_instance_id', 'amount', 'status')
  ).map((r: any) => ({ ...r, id: Number(r.id), amount: Number(r.amount) }));
  const notices: { id: number; topic: string; business_ref: string | null; process_instance_id: string | null }[] = (
    await db('outbox').whereIn('topic', Object.keys(NOTIFICATION_STEP)).orderBy('id').select('id', 'topic', 'business_ref', 'process_instance_id')
  ).map((r: any) => ({ ...r, id: Number(r.id) }));

  // claims and their instances
  const claimByNo = new Map(claims.map((c) => [c.claim_no, c]));
  const claimByInstance = new Map(claims.map((c) => [c.process_instance_id, c]));
  for (const c of claims) {
    const inst = instances.get(c.process_instance_id);
    if (!inst) {
      add('orphan-claim', c.claim_no, c.process_instance_id, `claim ${c.claim_no} (status ${c.status}, stage ${c.stage}) belongs to process instance ${c.process_instance_id}, which does not exist`);
      continue;
    }
    if (inst.business_key !== null && inst.business_key !== c.claim_no) {
      add('claim-number-mismatch', c.claim_no, inst.id, `claim ${c.claim_no} belongs to instance ${inst.id} whose business key is ${inst.business_key}`);
    }
  }
  for (const id of claimsInstances) {
    if (paths.get(id)!.done.has('Task_RegisterClaim') && !claimByInstance.has(id)) {
      add('missing-claim', instances.get(id)!.business_key, id, `instance ${id} registered its claim (Task_RegisterClaim completed) but has no claims row`);
    }
  }

  // payouts: one per claim, only after Task_PayClaim, never on the rejection path
  const payoutsOf = new Map<string, typeof payouts>();
  for (const p of payouts) {
    const claim = (p.claim_no !== null ? claimByNo.get(p.claim_no) : undefined) ?? (p.process_instance_id !== null ? claimByInstance.get(p.process_instance_id) : undefined);
    if (!claim || (p.process_instance_id !== null && !instances.has(p.process_instance_id)) || !instances.has(claim.process_instance_id)) {
      add('orphan-payout', p.claim_no, p.process_instance_id, `payout #${p.id} of ${p.amount} (${p.status}) for claim ${p.claim_no ?? '(none)'} of instance ${p.process_instance_id ?? '(none)'}: no such committed claim or instance`);
      continue;
    }
    const list = payoutsOf.get(claim.claim_no) ?? [];
    list.push(p);
    payoutsOf.set(claim.claim_no, list);
  }
  for (const c of claims) {
    const path = paths.get(c.process_instance_id);
    if (!path) continue; // orphan, reported above
    const list = payoutsOf.get(c.claim_no) ?? [];
    if (list.length > 1) add('multiple-payouts', c.claim_no, c.process_instance_id, `claim ${c.claim_no} has ${list.length} payouts: ${list.map((p) => `#${p.id} ${p.amount} ${p.status}`).join(', ')}`);
    const rejectedPath = ran(path, [NOTIFY_REJECTION, END_REJECTED]);
    for (const p of list) {
      if (!path.done.has(PAY) && !(p.status === 'pending' && path.pending.has(PAY))) {
        add('payout-without-pay-step', c.claim_no, c.process_instance_id, `payout #${p.id} of ${p.amount} (${p.status}) but ${PAY} never completed in the history of ${c.process_instance_id}`);
      }
      if (rejectedPath || c.status === 'rejected') {
        add('payout-on-rejected-claim', c.claim_no, c.process_instance_id, `payout #${p.id} of ${p.amount} on claim ${c.claim_no}, which ${rejectedPath ? 'took the rejection path' : 'is rejected'}`);
      }
    }
    if (path.done.has(PAY)) {
      const expected = c.payout ?? 0;
      const completed = list.filter((p) => p.status === 'completed');
      if (expected > 0 && !completed.some((p) => p.amount === expected)) {
        add('payout-mismatch', c.claim_no, c.process_instance_id, `${PAY} completed with an adjudicated payout of ${expected}, ledger has ${list.length ? list.map((p) => `#${p.id} ${p.amount} ${p.status}`).join(', ') : 'no payout'}`);
      }
      if (expected <= 0 && list.length) add('payout-mismatch', c.claim_no, c.process_instance_id, `adjudicated payout is ${c.payout}, ledger has ${list.map((p) => `#${p.id} ${p.amount}`).join(', ')}`);
    }
    if (ran(path, [PAY]) && ran(path, [NOTIFY_REJECTION, END_REJECTED])) {
      add('both-outcomes', c.claim_no, c.process_instance_id, `the history of ${c.process_instance_id} has both ${PAY} and the rejection path (${[NOTIFY_REJECTION, END_REJECTED].filter((s) => path.done.has(s)).join(', ')})`);
    }
  }

  // notifications: sent by the step that ran, and present when it ran
  for (const n of notices) {
    const inst = n.process_instance_id !== null ? instances.get(n.process_instance_id) : undefined;
    if (!inst) {
      add('orphan-notification', n.business_ref, n.process_instance_id, `notification #${n.id} "${n.topic}" about ${n.business_ref ?? '(nothing)'} from instance ${n.process_instance_id ?? '(none)'}, which does not exist`);
      continue;
    }
    const step = NOTIFICATION_STEP[n.topic];
    const path = paths.get(inst.id);
    if (!mayHaveRun(path, [step])) {
      const claim = claimByInstance.get(inst.id);
      add('notification-without-step', n.business_ref, inst.id, `notification #${n.id} "${n.topic}" but ${step} never completed (claim status ${claim?.status ?? '?'}, instance ${inst.status}${path?.done.has(END_PAID) ? `, reached ${END_PAID}` : ''})`);
    }
  }
  for (const c of claims) {
    const path = paths.get(c.process_instance_id);
    if (!path) continue;
    for (const topic of ['claim-paid', 'claim-rejected']) {
      if (path.done.has(NOTIFICATION_STEP[topic]) && !notices.some((n) => n.topic === topic && n.process_instance_id === c.process_instance_id)) {
        add('notification-missing', c.claim_no, c.process_instance_id, `${NOTIFICATION_STEP[topic]} completed but there is no "${topic}" notification`);
      }
    }
  }

  // fields of the claims row and the end reached
  for (const c of claims) {
    const path = paths.get(c.process_instance_id);
    const inst = instances.get(c.process_instance_id);
    if (!path || !inst) continue;
    for (const f of FIELD_STEPS) {
      if (f.set(c) && !mayHaveRun(path, f.steps)) {
        add('record-without-step', c.claim_no, c.process_instance_id, `claim ${c.claim_no} has ${f.what} but ${f.steps.join(' / ')} never completed (instance ${inst.status})`);
      }
    }
    if (inst.status !== 'completed') continue;
    if (c.status === 'open') add('finished-claim-open', c.claim_no, inst.id, `instance ${inst.id} completed but claim ${c.claim_no} is "open" (stage ${c.stage})`);
    const outcome = outcomeOf(c.analysis);
    if (path.done.has(END_PAID) && path.done.has(END_REJECTED)) {
      add('outcome-mismatch', c.claim_no, inst.id, `instance reached both ${END_PAID} and ${END_REJECTED}`);
    } else if (path.done.has(END_PAID)) {
      if (c.status !== 'closed' || c.stage !== 'closed' || outcome !== 'paid') {
        add('outcome-mismatch', c.claim_no, inst.id, `reached ${END_PAID} but the claim is status ${c.status}, stage ${c.stage}, outcome ${String(outcome)} (expected closed, closed, paid)`);
      }
    } else if (path.done.has(END_REJECTED)) {
      if (c.status !== 'rejected' || c.stage !== 'closed' || outcome !== 'rejected') {
        add('outcome-mismatch', c.claim_no, inst.id, `reached ${END_REJECTED} but the claim is status ${c.status}, stage ${c.stage}, outcome ${String(outcome)} (expected rejected, closed, rejected)`);
      }
    } else {
      add('outcome-mismatch', c.claim_no, inst.id, `instance completed without reaching ${END_PAID} or ${END_REJECTED} (claim status ${c.status})`);
    }
  }

  // history: every chain verifies, every instance has one
  const chains: string[] = (await db('history_events').distinct('chain_id')).map((r: any) => r.chain_id as string);
  const withHistory = new Set(chains);
  for (const id of [...instances.keys()].sort()) {
    if (!withHistory.has(id)) add('history-broken', claimByInstance.get(id)?.claim_no ?? null, id, `process instance ${id} has no history`);
  }
  for (const chainId of chains.sort()) {
    const v = await verifyHistoryChain(db as Knex, chainId);
    if (!v.consistent) {
      const isInstance = instances.has(chainId);
      add('history-broken', isInstance ? (claimByInstance.get(chainId)?.claim_no ?? null) : null, isInstance ? chainId : null, `chain ${chainId}: ${v.firstBroken ? `${v.firstBroken.kind} at seq ${v.firstBroken.seq}: ${v.firstBroken.reason}` : 'does not verify'}`);
    }
  }
  return out;
}

/** One line per violation, for assertion messages. */
export function describeViolations(violations: ClaimViolation[], max = 40): string {
  const lines = violations.slice(0, max).map((v) => `  [${v.kind}] ${v.claimNo ?? '-'}: ${v.detail}`);
  if (violations.length > max) lines.push(`  ... and ${violations.length - max} more`);
  return lines.join('\n');
}

/** Count of violations by kind, e.g. { 'orphan-claim': 2 }. */
export function countByKind(violations: ClaimViolation[]): Partial<Record<ClaimViolationKind, number>> {
  const out: Partial<Record<ClaimViolationKind, number>> = {};
  for (const v of violations) out[v.kind] = (out[v.kind] ?? 0) + 1;
  return out;
}
