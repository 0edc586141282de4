/**
 * Support for the audit suites: an engine with every fixture deployed and handlers that can be steered, claims
 * driven through each fixture path, direct tampering with history rows (what a database user could do), and
 * a fingerprint of every table to prove that an operation wrote nothing.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { fixture, testEngine, admin, ops, type TestEngine } from './helpers.ts';
import { BpmnError } from '../src/errors.ts';
import { eventHash, rowToEvent } from '../src/persistence/history.ts';

export const FIXTURES = ['gateway.bpmn', 'parallel.bpmn', 'form.bpmn', 'forms/claim-review.schema.json', 'error.bpmn', 'message.bpmn', 'messages/documents-received.schema.json', 'timer.bpmn', 'retry.bpmn'];
export const HOUR = 3600_000;

export interface AuditTest extends TestEngine {
  payFailures: Map<string, number>;
}

export async function auditEngine(): Promise<AuditTest> {
  const t = await testEngine();
  const payFailures = new Map<string, number>();
  const e = t.engine;
  e.registerHandler('score', ({ variables }) => ({ severity: (variables.amount as number) > 5000 ? 4 : (variables.amount as number) < 500 ? 1 : 2 }));
  e.registerHandler('approve', () => ({ approved: true }));
  e.registerHandler('summarise', ({ variables }) => ({ summary: `${variables.risk}/${variables.legal}` }));
  e.registerHandler('verifyPolicy', ({ variables }) => {
    if (!variables.covered) throw new BpmnError('NOT_COVERED', 'peril not covered', { rejectionReason: 'peril not covered' });
    return { verified: true };
  });
  e.registerHandler('notifyRejection', () => ({ notified: true }));
  e.registerHandler('remind', () => ({ reminded: true }));
  e.registerHandler('pay', ({ instanceId, attempt, variables }) => {
    if (variables.alwaysFail) throw new Error('bank unavailable');
    if (attempt <= (payFailures.get(instanceId) ?? 0)) throw new Error(`bank timeout (attempt ${attempt})`);
    return { paid: true, attempt };
  });
  await e.deploy(FIXTURES.map((n) => ({ name: n, content: fixture(n) })), { actor: admin, source: 'api' });
  // the people of these suites act on grants (src/engine/authorization.ts): adjusters start every fixture process
  // and send its messages; intake starts them too
  await e.grant({ group: 'adjusters', resourceType: 'process-definition', resourceId: '*', permissions: ['start'] }, admin);
  await e.grant({ group: 'adjusters', resourceType: 'message', resourceId: 'documents-received', permissions: ['correlate'] }, admin);
  await e.grant({ group: 'adjusters', resourceType: 'message', resourceId: 'contract-signed', permissions: ['correlate'] }, admin);
  await e.grant({ group: 'intake', resourceType: 'process-definition', resourceId: '*', permissions: ['start'] }, admin);
  return { ...t, payFailures };
}

const adjuster = ops('ann', 'adjusters', 'experts', 'risk', 'legal', 'supervisors');

/** A claim reviewed by a person: start, claim, complete (form fixture). Returns the instance id. */
export async function reviewedClaim(t: AuditTest, decision: 'approve' | 'reject' = 'approve'): Promise<string> {
  const e = t.engine;
  const inst = await e.startInstance('form-test', { businessKey: `CLM-${decision}-${t.clock.now()}`, variables: { reviewGroup: 'adjusters' } }, ops('olga', 'intake'));
  t.clock.advance(60_000);
  await e.claimTask(inst.openTasks[0].id, adjuster);
  t.clock.advance(60_000);
  await e.completeTask(inst.openTasks[0].id, { decision, approvedAmount: decision === 'approve' ? 1200 : 0 }, adjuster);
  t.clock.advance(60_000);
  return inst.id;
}

/**
 * One instance down every path of every fixture, each step followed by `after(id, label)` (to compare the
 * reconstruction with the live instance). Returns the instance ids by path.
 */
export async function everyPath(t: AuditTest, after: (id: string, label: string) => Promise<void> = async () => {}): Promise<Record<string, string>> {
  const e = t.engine;
  const ids: Record<string, string> = {};
  // a moment strictly between two actions: what follows happens later than the snapshot
  const step = async (id: string, label: string) => {
    t.clock.advance(1000);
    await after(id, label);
    t.clock.advance(1000);
  };
  const taskOf = async (id: string, activityId: string) => (await e.getInstance(id)).openTasks.find((x) => x.activityId === activityId)!;

  for (const [path, amount] of [['gateway.expert', 9000], ['gateway.auto', 100], ['gateway.normal', 3000]] as const) {
    const inst = await e.startInstance('gateway-test', { businessKey: path, variables: { amount } }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: started`);
    if (inst.openTasks[0]) {
      await e.claimTask(inst.openTasks[0].id, adjuster);
      await step(inst.id, `${path}: claimed`);
      await e.unclaimTask(inst.openTasks[0].id, adjuster);
      await step(inst.id, `${path}: unclaimed`);
      await e.completeTask(inst.openTasks[0].id, { reviewed: true }, adjuster);
      await step(inst.id, `${path}: completed`);
    }
  }

  for (const first of ['Task_Risk', 'Task_Legal']) {
    const path = `parallel.${first === 'Task_Risk' ? 'risk-first' : 'legal-first'}`;
    const inst = await e.startInstance('parallel-test', { businessKey: path }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: started`);
    const second = first === 'Task_Risk' ? 'Task_Legal' : 'Task_Risk';
    await e.completeTask((await taskOf(inst.id, first)).id, first === 'Task_Risk' ? { risk: 'low' } : { legal: 'ok' }, adjuster);
    await step(inst.id, `${path}: one branch`);
    await e.completeTask((await taskOf(inst.id, second)).id, second === 'Task_Risk' ? { risk: 'low' } : { legal: 'ok' }, adjuster);
    await step(inst.id, `${path}: joined`);
  }

  for (const decision of ['approve', 'reject'] as const) {
    const path = `form.${decision}`;
    const inst = await e.startInstance('form-test', { businessKey: path, variables: { reviewGroup: 'adjusters' } }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: started`);
    await e.completeTask(inst.openTasks[0].id, { decision, approvedAmount: decision === 'approve' ? 800 : 0 }, adjuster);
    await step(inst.id, `${path}: completed`);
  }

  for (const covered of [true, false]) {
    const path = `error.${covered ? 'covered' : 'not-covered'}`;
    const inst = await e.startInstance('error-test', { businessKey: path, variables: { covered } }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: ran`);
  }

  {
    const path = 'message';
    const inst = await e.startInstance('message-test', { businessKey: 'MSG-1', variables: { claimNo: 'C-77' } }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: waiting for documents`);
    await e.correlateMessage({ name: 'documents-received', correlationKey: 'C-77', variables: { docs: ['photo.jpg'] } }, adjuster);
    await step(inst.id, `${path}: documents received`);
    await e.correlateMessage({ name: 'contract-signed', businessKey: 'MSG-1' }, adjuster);
    await step(inst.id, `${path}: signed`);
  }

  {
    const path = 'timer.reminder';
    const inst = await e.startInstance('timer-test', { businessKey: path, variables: { deadline: 'PT3H' } }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: started`);
    t.clock.advance(HOUR);
    await e.runDueJobs();
    await step(inst.id, `${path}: reminded`);
    await e.claimTask((await taskOf(inst.id, 'Task_Settle')).id, adjuster);
    await step(inst.id, `${path}: claimed`);
    await e.completeTask((await taskOf(inst.id, 'Task_Settle')).id, { settled: true }, adjuster);
    await step(inst.id, `${path}: settled`);
  }

  {
    const path = 'timer.deadline';
    const inst = await e.startInstance('timer-test', { businessKey: path, variables: { deadline: 'PT30M' } }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: started`);
    t.clock.advance(HOUR / 2);
    await e.runDueJobs();
    await step(inst.id, `${path}: escalated`);
    await e.completeTask((await taskOf(inst.id, 'Task_Escalate')).id, { escalatedTo: 'sue' }, adjuster);
    await step(inst.id, `${path}: settled`);
  }

  {
    const path = 'retry.recovered';
    const inst = await e.startInstance('retry-test', { businessKey: path }, adjuster);
    t.payFailures.set(inst.id, 2);
    ids[path] = inst.id;
    await step(inst.id, `${path}: first attempt failed`);
    for (let i = 2; i <= 3; i++) {
      t.clock.advance(5 * 60_000);
      await e.runDueJobs();
      await step(inst.id, `${path}: attempt ${i}`);
    }
  }

  {
    const path = 'retry.incident';
    const inst = await e.startInstance('retry-test', { businessKey: path, variables: { alwaysFail: true } }, adjuster);
    ids[path] = inst.id;
    await step(inst.id, `${path}: first attempt failed`);
    for (let i = 0; i < 3; i++) {
      t.clock.advance(5 * 60_000);
      await e.runDueJobs();
    }
    await step(inst.id, `${path}: incident`);
    const incident = (await e.getInstance(inst.id)).incidents[0];
    await e.retryIncident(incident.id, { note: 'still down' }, admin);
    await step(inst.id, `${path}: retried, failed again`);
    await e.retryIncident(incident.id, { alwaysFail: false }, admin);
    await step(inst.id, `${path}: retried with corrected variables`);
  }

  {
    const path = 'retry.resolved-then-cancelled';
    const inst = await e.startInstance('retry-test', { businessKey: path, variables: { alwaysFail: true } }, adjuster);
    ids[path] = inst.id;
    for (let i = 0; i < 3; i++) {
      t.clock.advance(5 * 60_000);
      await e.runDueJobs();
    }
    await step(inst.id, `${path}: incident`);
    await e.resolveIncident((await e.getInstance(inst.id)).incidents[0].id, admin, 'fixed at the bank');
    await step(inst.id, `${path}: resolved`);
    await e.cancelInstance(inst.id, admin, 'duplicate');
    await step(inst.id, `${path}: cancelled`);
  }
  return ids;
}

// ------------------------------------------------------------------ tampering (as a database user would)

export async function editEventData(db: Knex, chainId: string, seq: number, edit: (data: any) => any): Promise<void> {
  const row = await db('history_events').where({ chain_id: chainId, seq }).first();
  await db('history_events').where({ id: row.id }).update({ data: JSON.stringify(edit(JSON.parse(row.data))) });
}

/** Edit an event and recompute its own hash (but not its successors'), as a careful forger would. */
export async function editAndRehash(db: Knex, chainId: string, seq: number, edit: (data: any) => any): Promise<void> {
  const row = await db('history_events').where({ chain_id: chainId, seq }).first();
  const data = edit(JSON.parse(row.data));
  const e = { ...rowToEvent({ ...row, data: JSON.stringify(data) }) };
  await db('history_events').where({ id: row.id }).update({ data: JSON.stringify(data), hash: eventHash(row.prev_hash, e) });
}

export async function deleteEvent(db: Knex, chainId: string, seq: number): Promise<void> {
  await db('history_events').where({ chain_id: chainId, seq }).delete();
}

/** Insert a forged event at `seq` (later events renumbered), correctly linked to its predecessor. */
export async function insertForged(db: Knex, chainId: string, seq: number, forged: { type: string; actor: string; data: Record<string, unknown> }): Promise<void> {
  const later = await db('history_events').where({ chain_id: chainId }).andWhere('seq', '>=', seq).orderBy('seq', 'desc');
  for (const r of later) await db('history_events').where({ id: r.id }).update({ seq: Number(r.seq) + 1 });
  const before = await db('history_events').where({ chain_id: chainId, seq: seq - 1 }).first();
  const template = rowToEvent(before);
  const e = { ...template, seq, type: forged.type, actor: forged.actor, data: forged.data, activityId: null, activityType: null };
  await db('history_events').insert({
    chain_id: chainId,
    process_instance_id: e.processInstanceId,
    process_key: e.processKey,
    process_version: e.processVersion,
    business_key: e.businessKey,
    seq,
    at: e.at,
    type: e.type,
    activity_id: null,
    activity_type: null,
    actor: e.actor,
    data: JSON.stringify(e.data),
    prev_hash: before.hash,
    hash: eventHash(before.hash, e),
  });
}

/** Swap the places of events `seq` and `seq + 1`. */
export async function swapEvents(db: Knex, chainId: string, seq: number): Promise<void> {
  const a = await db('history_events').where({ chain_id: chainId, seq }).first();
  const b = await db('history_events').where({ chain_id: chainId, seq: seq + 1 }).first();
  await db('history_events').where({ id: a.id }).update({ seq: -1 });
  await db('history_events').where({ id: b.id }).update({ seq });
  await db('history_events').where({ id: a.id }).update({ seq: seq + 1 });
}

export async function deleteTail(db: Knex, chainId: string, count: number): Promise<void> {
  const rows = await db('history_events').where({ chain_id: chainId }).orderBy('seq', 'desc').limit(count).select('id');
  await db('history_events').whereIn('id', rows.map((r: any) => r.id)).delete();
}

/** Everything an instance leaves in the database, gone (history first). */
export async function deleteInstance(db: Knex, id: string): Promise<void> {
  await db('history_events').where({ chain_id: id }).delete();
  await db('task_candidates').whereIn('task_id', db('user_tasks').select('id').where({ process_instance_id: id })).delete();
  for (const table of ['user_tasks', 'jobs', 'incidents', 'subscriptions']) await db(table).where({ process_instance_id: id }).delete();
  await db('process_instances').where({ id }).delete();
}

// ------------------------------------------------------------------ proof that nothing was written

const TABLES = ['deployments', 'resources', 'process_definitions', 'form_schemas', 'decision_definitions', 'process_instances', 'user_tasks', 'jobs', 'incidents', 'subscriptions', 'history_events', 'users', 'api_tokens', 'history_digests', 'history_digest_heads'];

/** sha256 of every row of every table (engine_nodes, a heartbeat, is left out). */
export async function fingerprint(db: Knex): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const rows = await db(table).orderBy('id').select('*');
    out[table] = createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16) + `:${rows.length}`;
  }
  return out;
}
