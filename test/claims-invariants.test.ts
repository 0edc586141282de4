/**
 * The claims invariant checker (test/support/claims-invariants.ts) on a tiny hand-made database: a paid claim,
 * a claim rejected on review, a claim waiting for review and a claim whose payment is waiting for its retry.
 * Given that consistent state, the checker finds nothing; given each kind of corruption the crash and race
 * tests look for, it reports exactly that kind. Every corruption runs in a transaction that is rolled back.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Knex } from 'knex';
import { testDb, type TestDb } from './helpers.ts';
import { appendHistory, type NewEvent } from '../src/persistence/history.ts';
import { findClaimViolations, describeViolations, type ClaimViolationKind } from './support/claims-invariants.ts';

const T0 = Date.parse('2026-01-05T09:00:00Z');
const DEF = 'claims:1:test';

/** Claim numbers and instance ids of the hand-made state. */
const PAID = { no: 'CLM-20260105-000001', id: 'inst-paid' };
const REJECTED = { no: 'CLM-20260105-000002', id: 'inst-rejected' };
const OPEN = { no: 'CLM-20260105-000003', id: 'inst-open' };
const PAYING = { no: 'CLM-20260105-000004', id: 'inst-paying' };

const SCREENING = ['Start_ClaimReported', 'Task_RegisterClaim', 'Task_VerifyPolicy', 'Task_ClassifyClaim', 'Task_CheckFraudIndicators', 'Task_ScoreFraud'];
const SETTLEMENT = ['Task_ManualReview', 'Task_StartSettlementClock', 'Task_Adjudicate'];

function events(c: { no: string; id: string }, activities: string[], flows: string[], end: boolean): NewEvent[] {
  let at = T0;
  const base = { processInstanceId: c.id, processKey: 'claims', processVersion: 1, businessKey: c.no, actor: 'system', activityType: null };
  const out: NewEvent[] = [{ ...base, at: at++, type: 'instance.started', activityId: 'claims', data: {} }];
  for (const a of activities) out.push({ ...base, at: at++, type: 'activity.completed', activityId: a, data: {} });
  for (const f of flows) out.push({ ...base, at: at++, type: 'flow.taken', activityId: f, data: {} });
  if (end) out.push({ ...base, at: at++, type: 'instance.completed', activityId: null, data: {} });
  return out;
}

async function instance(db: Knex, c: { no: string; id: string }, status: string, hist: NewEvent[]) {
  await db('process_instances').insert({ id: c.id, definition_id: DEF, process_key: 'claims', process_version: 1, business_key: c.no, status, state: status === 'completed' ? null : '{}', variables: '{}', started_by: 'cs', started_at: T0, ended_at: status === 'completed' ? T0 + 1000 : null, updated_at: T0, rev: 3 });
  await appendHistory(db, c.id, hist, true);
}

function claimRow(c: { no: string; id: string }, fields: Record<string, unknown>) {
  return { claim_no: c.no, process_instance_id: c.id, policy_no: 'POL-HOME-2026-000001', customer_id: 'CUST-000001', channel: 'phone', loss_date: '2026-01-03', reported_at: T0, peril: 'water', description: 'Burst pipe', claimed_amount: 12000, fraud_score: 0, fraud_level: 'low', classification: 'complex', sla_breached: false, updated_at: T0, ...fields };
}

function notice(c: { no: string; id: string }, topic: string) {
  return { message_key: `${c.no}:${topic}`, channel: 'email', recipient: 'li.wei@example.com', topic, subject: topic, body: topic, payload: '{}', business_ref: c.no, status: 'pending', process_instance_id: c.id, created_at: T0 };
}

function payout(c: { no: string | null; id: string }, amount: number, status: 'pending' | 'completed', key = `${c.id}:pay`) {
  return { idempotency_key: key, direction: 'payout', claim_no: c.no, policy_no: 'POL-HOME-2026-000001', amount, currency: 'CNY', counterparty: 'CUST-000001', status, reference: status === 'completed' ? 'LEDGER-1' : null, process_instance_id: c.id, created_at: T0, completed_at: status === 'completed' ? T0 : null };
}

/** The consistent state every case starts from. */
async function seed(db: Knex) {
  await db('deployments').insert({ id: 'dep-1', name: 'processes', source: 'startup', deployed_by: null, deployed_at: T0 });
  await db('process_definitions').insert({ id: DEF, key: 'claims', version: 1, name: 'Property claim', deployment_id: 'dep-1', resource_name: 'claims.bpmn', xml: '<definitions/>', checksum: 'x', created_at: T0 });

  await instance(db, PAID, 'completed', events(PAID, [...SCREENING, ...SETTLEMENT, 'Task_PayClaim', 'End_Paid', 'SubProcess_Settlement', 'Task_NotifyPayment', 'Task_CloseClaim', 'End_ClaimClosed'], ['Flow_ReviewApproved'], true));
  await db('claims').insert(claimRow(PAID, { status: 'closed', stage: 'closed', assessed_loss: 9000, payout: 8500, sla_deadline: T0 + 72 * 3_600_000, paid_at: T0 + 500, closed_at: T0 + 600, cycle_time_ms: 600, sla_met: true, analysis: JSON.stringify({ outcome: 'paid', incurred: 8500 }) }));
  await db('payments').insert(payout(PAID, 8500, 'completed'));
  await db('outbox').insert(notice(PAID, 'claim-paid'));

  await instance(db, REJECTED, 'completed', events(REJECTED, [...SCREENING, 'Task_ManualReview', 'Gateway_MergeRejection', 'Task_NotifyRejection', 'Task_CloseRejectedClaim', 'End_ClaimRejected'], ['Flow_ReviewRejected'], true));
  await db('claims').insert(claimRow(REJECTED, { status: 'rejected', stage: 'closed', rejection_code: 'REJECTED_ON_REVIEW', rejection_reason: 'Not sudden', closed_at: T0 + 600, cycle_time_ms: 600, analysis: JSON.stringify({ outcome: 'rejected', incurred: 0 }) }));
  await db('outbox').insert(notice(REJECTED, 'claim-rejected'));

  await instance(db, OPEN, 'active', events(OPEN, SCREENING, [], false));
  await db('claims').insert(claimRow(OPEN, { status: 'open', stage: 'screened' }));

  // the first attempt of the payment failed after booking: its retry completes the same ledger row
  await instance(db, PAYING, 'active', events(PAYING, [...SCREENING, ...SETTLEMENT], ['Flow_ReviewApproved'], false));
  await db('claims').insert(claimRow(PAYING, { status: 'open', stage: 'payment', assessed_loss: 9000, payout: 8500, sla_deadline: T0 + 72 * 3_600_000 }));
  await db('payments').insert(payout(PAYING, 8500, 'pending'));
  await db('jobs').insert({ id: 'job-pay', type: 'retry', process_instance_id: PAYING.id, definition_id: DEF, activity_id: 'Task_PayClaim', execution_id: 'Task_PayClaim_1', due_at: T0 + 300_000, payload: '{}', attempts: 1, created_at: T0 });
}

const checker = suite<{ t: TestDb }>('claims invariant checker');

checker.before(async (ctx) => {
  ctx.t = await testDb();
  await seed(ctx.t.db);
});
checker.after(async (ctx) => ctx.t.destroy());

/** Apply a corruption in a transaction, check, roll back; returns the sorted distinct kinds found. */
async function kindsAfter(db: Knex, corrupt: (trx: Knex.Transaction) => Promise<unknown>): Promise<ClaimViolationKind[]> {
  const trx = await db.transaction();
  try {
    await corrupt(trx);
    const v = await findClaimViolations(trx);
    return [...new Set(v.map((x) => x.kind))].sort();
  } finally {
    await trx.rollback();
  }
}

const same = (kinds: ClaimViolationKind[]) => [...kinds].sort();

checker('Given the consistent hand-made state, the checker finds nothing', async ({ t }) => {
  const v = await findClaimViolations(t.db);
  assert.equal(v, [], describeViolations(v));
});

checker('a claim whose instance never committed is an orphan', async ({ t }) => {
  const kinds = await kindsAfter(t.db, (trx) => trx('claims').insert(claimRow({ no: 'CLM-20260105-000009', id: 'never-committed' }, { status: 'open', stage: 'reported' })));
  assert.equal(kinds, ['orphan-claim']);
});

checker('an instance that registered its claim without a claims row', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('claims').where({ claim_no: OPEN.no }).delete()), ['missing-claim']);
});

checker('a claim number that is not its instance business key', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('process_instances').where({ id: OPEN.id }).update({ business_key: 'CLM-20260105-000777' })), ['claim-number-mismatch']);
});

checker('a payout or a letter from a transition that never committed', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('payments').insert(payout({ no: 'CLM-20260105-000009', id: 'never-committed' }, 100, 'completed'))), ['orphan-payout']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('outbox').insert(notice({ no: 'CLM-20260105-000009', id: 'never-committed' }, 'claim-rejected'))), ['orphan-notification']);
});

checker('a payout on a claim that took the rejection path', async ({ t }) => {
  const kinds = await kindsAfter(t.db, (trx) => trx('payments').insert(payout(REJECTED, 11500, 'completed')));
  assert.equal(kinds, same(['payout-on-rejected-claim', 'payout-without-pay-step']));
});

checker('a payout before the payment step ran (a pending one is fine while its retry waits)', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('payments').insert(payout(OPEN, 11500, 'completed'))), ['payout-without-pay-step']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('jobs').where({ id: 'job-pay' }).delete()), ['payout-without-pay-step']);
});

checker('a second payout for one claim', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('payments').insert(payout({ no: null, id: PAID.id }, 8500, 'completed', 'second-key'))), ['multiple-payouts']);
});

checker('a paid claim without its payout, or with another amount', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('payments').where({ claim_no: PAID.no }).delete()), ['payout-mismatch']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('payments').where({ claim_no: PAID.no }).update({ amount: 9000 })), ['payout-mismatch']);
});

checker('a rejection letter on a paid claim, a lost rejection letter', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('outbox').insert(notice(PAID, 'claim-rejected'))), ['notification-without-step']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('outbox').where({ business_ref: REJECTED.no }).delete()), ['notification-missing']);
});

checker('told "rejected" by a transition that never committed, then paid', async ({ t }) => {
  const kinds = await kindsAfter(t.db, async (trx) => {
    await trx('outbox').insert(notice(PAID, 'claim-rejected'));
    await trx('claims').where({ claim_no: PAID.no }).update({ rejection_code: 'REJECTED_ON_REVIEW', rejection_reason: 'Not sudden' });
  });
  assert.equal(kinds, same(['notification-without-step', 'record-without-step']));
});

checker('claim fields written by steps the instance never took', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('claims').where({ claim_no: OPEN.no }).update({ status: 'rejected' })), ['record-without-step']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('claims').where({ claim_no: OPEN.no }).update({ payout: 11500, sla_deadline: T0 })), ['record-without-step']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('claims').where({ claim_no: REJECTED.no }).update({ paid_at: T0 })), ['record-without-step']);
});

checker('a history that took both the payment and the rejection path', async ({ t }) => {
  const kinds = await kindsAfter(t.db, (trx) =>
    appendHistory(trx, PAID.id, [{ processInstanceId: PAID.id, processKey: 'claims', processVersion: 1, businessKey: PAID.no, at: T0 + 5000, type: 'activity.completed', activityId: 'Task_NotifyRejection', activityType: null, actor: 'system', data: {} }]),
  );
  assert.equal(kinds, same(['both-outcomes', 'notification-missing', 'payout-on-rejected-claim']));
});

checker('a finished instance whose claim is open or closed the other way', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('claims').where({ claim_no: REJECTED.no }).update({ status: 'open' })), same(['finished-claim-open', 'outcome-mismatch']));
  assert.equal(await kindsAfter(t.db, (trx) => trx('claims').where({ claim_no: PAID.no }).update({ analysis: JSON.stringify({ outcome: 'rejected' }) })), ['outcome-mismatch']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('history_events').where({ chain_id: PAID.id, activity_id: 'End_ClaimClosed' }).update({ activity_id: 'End_Paid' })), same(['history-broken', 'outcome-mismatch']));
});

checker('a history chain that does not verify, an instance without history', async ({ t }) => {
  assert.equal(await kindsAfter(t.db, (trx) => trx('history_events').where({ chain_id: OPEN.id, seq: 2 }).update({ data: '{"edited":true}' })), ['history-broken']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('history_events').where({ chain_id: OPEN.id, seq: 3 }).delete()), ['history-broken']);
  assert.equal(await kindsAfter(t.db, (trx) => trx('history_events').where({ chain_id: OPEN.id }).delete()), ['history-broken']);
});

checker.run();
