/**
 * Crash safety of the claims flow: the real server (src/cli.ts serve) with the shipped processes/ folder and
 * the insurance domain, on a fresh database of the configured kind (a SQLite file, or a new PostgreSQL
 * database). A fixed amount of work, 25 claims reported through POST /api/claims by 6 concurrent clients
 * whose review and survey tasks are claimed and completed over HTTP, is driven while the server is SIGKILLed
 * right after its 8th, 30th and 55th answered request (never by the clock) and restarted; then every
 * claim is finished (remaining tasks completed, jobs left to run) and the database is checked: nothing
 * acknowledged is lost, nothing is paid twice, no claim without its instance, no claim whose records
 * contradict its path (support/claims-invariants.ts), every history chain verifies.
 *
 * An adjuster whose decision was not acknowledged (the server died during the request) finds the task still
 * open after the restart and may decide otherwise: the decision that never committed must leave no trace.
 * Also here: a 2-second boundary timer survives a SIGKILL and fires once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { here } from './helpers.ts';
import { startServer, type ServerProcess } from './support/server.ts';
import { openDb } from '../src/persistence/db.ts';
import { findClaimViolations, describeViolations, countByKind } from './support/claims-invariants.ts';
import { PROCESSES_DIR, claimIndexOf, claimReport, createStaff, freshDatabase, request, reviewForm, reviewPathOf, surveyForm, type ClaimShape, type FreshDatabase, type Reply } from './support/claims-http.ts';

const CLAIMS = 25;
const CLIENTS = 6;
/** the server is SIGKILLed right after the k-th answered request (any 2xx answer), for each k */
const KILL_AFTER = [8, 30, 55];
const TOKEN = `crash-admin-${randomBytes(8).toString('hex')}`;

type Decision = 'approve' | 'reject';

interface Plan {
  index: number;
  shape: ClaimShape;
  /** the adjuster's first decision (review and survey shapes) */
  decision: Decision | null;
}

/** What the clients were told about one claim. */
interface Outcome {
  report: 'none' | 'acked' | 'unknown';
  claimNo?: string;
  instanceId?: string;
  /** review completions whose answer was lost */
  reviewAttempts: number;
  ackedReview?: Decision;
  ackedSurvey: boolean;
}

/** Five shapes in turn: automatic, review approved, review rejected, review approved then surveyed, not covered. */
function plan(index: number): Plan {
  const shapes: [ClaimShape, Decision | null][] = [['auto', null], ['review', 'approve'], ['review', 'reject'], ['survey', 'approve'], ['uncovered', null]];
  const [shape, decision] = shapes[index % shapes.length];
  return { index, shape, decision };
}

/** The first decision as planned; after a lost answer, the adjuster decides the other way. */
const decisionFor = (p: Plan, o: Outcome): Decision => (o.reviewAttempts === 0 ? p.decision! : p.decision === 'approve' ? 'reject' : 'approve');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server under test, killed at the chosen answered requests and restarted at once. */
class Cluster {
  server!: ServerProcess;
  generation = 0;
  acks = 0;
  kills = 0;
  restarting: Promise<void> | null = null;

  constructor(
    private readonly env: Record<string, string>,
    private readonly killAfter: number[],
  ) {}

  async start(): Promise<void> {
    this.server = await startServer(this.env);
  }

  /** Counts an answered request; at a kill point the server is SIGKILLed before anything else runs. */
  ack(): void {
    this.acks++;
    if (!this.killAfter.includes(this.acks)) return;
    const dying = this.server;
    dying.proc.kill('SIGKILL');
    this.kills++;
    this.restarting = (async () => {
      await dying.kill('SIGKILL');
      this.server = await startServer(this.env);
      this.generation++;
    })().finally(() => {
      this.restarting = null;
    });
  }

  /** After a failed request sent to server `generation`: waits for its replacement (fails if it died by itself). */
  async recovered(generation: number): Promise<void> {
    if (this.generation > generation) return;
    if (this.restarting) return this.restarting;
    const p = this.server.proc;
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`the server died without being killed: ${this.server.output().slice(-2000)}`);
    await sleep(50); // a connection error on a live server: try again
  }
}

test('claims: SIGKILL after the 8th, 30th and 55th answered request loses nothing acknowledged, pays once, leaves no contradicting records', async () => {
  const fresh = await freshDatabase();
  try {
    await crashRun(fresh);
  } finally {
    await fresh.drop();
  }
});

async function crashRun(fresh: FreshDatabase): Promise<void> {
  const env = { DATABASE_URL: fresh.url, INSUREFLOW_PROCESSES_DIR: PROCESSES_DIR, INSUREFLOW_ADMIN_TOKEN: TOKEN, INSUREFLOW_JOB_POLL_MS: '50' };
  const cluster = new Cluster(env, KILL_AFTER);
  const plans = Array.from({ length: CLAIMS }, (_, i) => plan(i));
  const outcomes: Outcome[] = plans.map(() => ({ report: 'none', reviewAttempts: 0, ackedSurvey: false }));
  const problems: string[] = [];
  let tokens: Record<string, string> = {};

  /** One request to the current server; every 2xx answer counts towards the kill points. */
  const send = async (who: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ reply: Reply | null; generation: number }> => {
    if (cluster.restarting) await cluster.restarting;
    const generation = cluster.generation;
    const reply = await request(cluster.server.base, tokens[who], method, path, body);
    if (reply && reply.status >= 200 && reply.status < 300) cluster.ack();
    return { reply, generation };
  };

  /**
   * Claims (when not yet assigned to `who`) and completes the open task at `activityId` of a claim, again after
   * a lost answer. Returns the form data of the acknowledged completion; 'unacknowledged' when a completion
   * whose answer was lost committed; 'absent' when no such task is open.
   */
  const work = async (who: string, businessKey: string, activityId: string, form: () => Record<string, unknown>, onLost: () => void = () => {}): Promise<Record<string, unknown> | 'absent' | 'unacknowledged' | 'failed'> => {
    let lost = false;
    for (let guard = 0; guard < 20; guard++) {
      const list = await send(who, 'GET', `/api/tasks?processKey=claims&businessKey=${businessKey}`);
      if (!list.reply) {
        await cluster.recovered(list.generation);
        continue;
      }
      if (list.reply.status !== 200) return fail(`GET tasks of ${businessKey} answered ${list.reply.status}: ${JSON.stringify(list.reply.json)}`);
      const task = (list.reply.json.items as any[]).find((t) => t.activityId === activityId);
      if (!task) return lost ? 'unacknowledged' : 'absent';
      if (task.assignee !== who) {
        const claimed = await send(who, 'POST', `/api/tasks/${task.id}/claim`);
        if (!claimed.reply) {
          await cluster.recovered(claimed.generation);
          continue;
        }
        if (claimed.reply.status === 409) continue;
        if (claimed.reply.status !== 200) return fail(`claim of ${activityId} of ${businessKey} answered ${claimed.reply.status}: ${JSON.stringify(claimed.reply.json)}`);
      }
      const variables = form();
      const done = await send(who, 'POST', `/api/tasks/${task.id}/complete`, { variables });
      if (!done.reply) {
        lost = true;
        onLost();
        await cluster.recovered(done.generation);
        continue;
      }
      if (done.reply.status === 200) return variables;
      if (done.reply.status === 409) continue; // completed meanwhile by an attempt whose answer was lost
      return fail(`completion of ${activityId} of ${businessKey} answered ${done.reply.status}: ${JSON.stringify(done.reply.json)}`);
    }
    return fail(`${activityId} of ${businessKey}: no acknowledged completion after 20 attempts`);
  };
  const fail = (message: string): 'failed' => {
    problems.push(message);
    return 'failed';
  };

  const runClaim = async (p: Plan) => {
    const o = outcomes[p.index];
    const reported = await send('cs', 'POST', '/api/claims', claimReport(fresh.demo, p.shape, p.index));
    if (!reported.reply) {
      o.report = 'unknown'; // the claim may or may not exist: the final sweep finishes it if it does
      await cluster.recovered(reported.generation);
      return;
    }
    if (reported.reply.status !== 201) return void fail(`report #${p.index} answered ${reported.reply.status}: ${JSON.stringify(reported.reply.json)}`);
    o.report = 'acked';
    o.claimNo = reported.reply.json.claimNo;
    o.instanceId = reported.reply.json.processInstanceId;
    if (!p.decision) return;
    let decided: Decision | null = null;
    const review = await work('adjuster', o.claimNo!, 'Task_ManualReview', () => reviewForm((decided = decisionFor(p, o))), () => o.reviewAttempts++);
    if (review === 'failed' || review === 'unacknowledged') return; // the final sweep finishes what is left
    if (review === 'absent') {
      const inst = (await send('admin', 'GET', `/api/process-instances/${o.instanceId}`)).reply?.json;
      return void fail(`claim #${p.index} ${o.claimNo} was acknowledged but has no open review task: its instance is ${inst?.status} in ${JSON.stringify(inst?.activeActivities)}`);
    }
    o.ackedReview = decided!;
    if (decided !== 'approve') return;
    const survey = await work('surveyor', o.claimNo!, 'Task_Survey', () => surveyForm());
    if (typeof survey === 'object') o.ackedSurvey = true;
  };

  try {
    await cluster.start();
    tokens = await createStaff(cluster.server.base, TOKEN);

    // the load: CLIENTS clients take the claims in turn; the server dies at the kill points
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < plans.length) await runClaim(plans[next++]);
      }),
    );
    if (cluster.restarting) await cluster.restarting;
    assert.is(cluster.kills, KILL_AFTER.length, `the server was killed at every kill point (${cluster.acks} answered requests)`);

    // recovery: finish every claim that exists, as the adjusters and surveyors would
    let settled = false;
    for (let round = 0; round < 300 && !settled; round++) {
      const open = await send('admin', 'GET', '/api/tasks?processKey=claims&limit=200');
      assert.ok(open.reply && open.reply.status === 200, `task list: ${JSON.stringify(open.reply)}`);
      for (const t of open.reply!.json.items as any[]) {
        const detail = await send('admin', 'GET', `/api/tasks/${t.id}`);
        const index = claimIndexOf(detail.reply?.json?.variables?.description);
        if (index === null) {
          fail(`open task ${t.activityId} of ${t.businessKey} belongs to no claim of this test`);
          continue;
        }
        const p = plans[index];
        const o = outcomes[index];
        if (t.activityId === 'Task_ManualReview' && !p.decision) fail(`claim #${index} (${p.shape}) was not meant to be reviewed`);
        else if (t.activityId === 'Task_ManualReview') await work('adjuster', t.businessKey, t.activityId, () => reviewForm(decisionFor(p, o)));
        else if (t.activityId === 'Task_Survey') await work('surveyor', t.businessKey, t.activityId, () => surveyForm());
        else fail(`unexpected open task ${t.activityId} of ${t.businessKey}`);
      }
      const counts = await Promise.all(
        ['/api/tasks?processKey=claims', '/api/jobs?type=retry', '/api/process-instances?key=claims&status=active', '/api/process-instances?key=claims&status=incident'].map(async (path) => (await send('admin', 'GET', path)).reply?.json?.total),
      );
      settled = counts.every((n) => n === 0);
      if (!settled) await sleep(100);
    }
    const stop = await cluster.server.kill('SIGTERM');
    if (stop !== 0) problems.push(`graceful shutdown exited ${stop}: ${cluster.server.output().slice(-1000)}`);
  } finally {
    if (cluster.restarting) await cluster.restarting.catch(() => undefined);
    if (cluster.server) await cluster.server.kill('SIGKILL');
  }

  const db = await openDb({ url: fresh.url });
  let violations: Awaited<ReturnType<typeof findClaimViolations>> = [];
  try {
    const instances: any[] = await db('process_instances').where({ process_key: 'claims' }).select('id', 'status', 'business_key');
    const byId = new Map(instances.map((i) => [i.id as string, i]));
    const claims: any[] = await db('claims').select('claim_no', 'process_instance_id', 'status');
    const claimByNo = new Map(claims.map((c) => [c.claim_no as string, c]));
    if (instances.length > CLAIMS) problems.push(`${instances.length} claims instances for ${CLAIMS} reports`);

    // nothing acknowledged is lost
    for (const [index, o] of outcomes.entries()) {
      if (o.report !== 'acked') continue;
      const inst = byId.get(o.instanceId!);
      const claim = claimByNo.get(o.claimNo!);
      if (!inst) problems.push(`acknowledged claim #${index} ${o.claimNo}: instance ${o.instanceId} is missing`);
      else if (inst.status !== 'completed') problems.push(`acknowledged claim #${index} ${o.claimNo}: instance is ${inst.status}, not finished`);
      if (!claim || claim.process_instance_id !== o.instanceId) problems.push(`acknowledged claim #${index} ${o.claimNo}: claims row missing or of another instance`);
      if (o.ackedReview) {
        const path = await reviewPathOf(db, o.instanceId!);
        if (path !== o.ackedReview) problems.push(`claim #${index} ${o.claimNo}: the adjuster was told "${o.ackedReview}" was recorded, the history took ${path ?? 'no single review path'}`);
        const expected = o.ackedReview === 'reject' ? 'rejected' : 'closed';
        if (claim && claim.status !== expected) problems.push(`claim #${index} ${o.claimNo}: acknowledged "${o.ackedReview}" but the claim is ${claim.status}`);
      }
      if (o.ackedSurvey) {
        const survey = await db('user_tasks').where({ process_instance_id: o.instanceId, activity_id: 'Task_Survey', status: 'completed' }).first('id');
        if (!survey) problems.push(`claim #${index} ${o.claimNo}: the acknowledged survey report is not recorded`);
      }
    }
    for (const i of instances) if (i.status !== 'completed') problems.push(`instance ${i.id} (${i.business_key}) is ${i.status}: not finished`);

    // nothing paid twice
    const payouts: any[] = await db('payments').where({ direction: 'payout' }).select('claim_no', 'process_instance_id');
    for (const key of ['claim_no', 'process_instance_id']) {
      const n = new Map<string, number>();
      for (const p of payouts) if (p[key] !== null) n.set(p[key], (n.get(p[key]) ?? 0) + 1);
      for (const [k, count] of n) if (count > 1) problems.push(`${key} ${k} was paid ${count} times`);
    }

    // no orphan claims, no records contradicting their path, every chain verifies
    violations = await findClaimViolations(db);
  } finally {
    await db.destroy();
  }
  const summary = `${cluster.acks} answered requests, ${cluster.kills} kills, ${outcomes.filter((o) => o.report === 'acked').length} reports acknowledged, ${outcomes.filter((o) => o.report === 'unknown').length} unknown, ${outcomes.reduce((n, o) => n + o.reviewAttempts, 0)} review answers lost`;
  const report = [summary, ...problems, ...(violations.length ? [`claims invariants violated: ${JSON.stringify(countByKind(violations))}`, describeViolations(violations)] : [])].join('\n');
  assert.ok(problems.length === 0 && violations.length === 0, report);
}

const TWO_SECONDS = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_Two" targetNamespace="http://insureflow.test">
  <bpmn:process id="two-seconds" name="Two-second deadline" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Answer" />
    <bpmn:userTask id="Task_Answer" name="Answer" camunda:candidateGroups="ops" />
    <bpmn:boundaryEvent id="Timer_Deadline" attachedToRef="Task_Answer">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT2S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Answer" targetRef="End_Answered" />
    <bpmn:sequenceFlow id="F3" sourceRef="Timer_Deadline" targetRef="Task_Late" />
    <bpmn:serviceTask id="Task_Late" name="Record lateness" camunda:type="external" camunda:topic="ledgerRemind" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Late" targetRef="End_Late" />
    <bpmn:endEvent id="End_Answered" />
    <bpmn:endEvent id="End_Late" />
  </bpmn:process>
</bpmn:definitions>`;

test('a 2-second boundary timer deployed over HTTP fires once after the server was killed before it was due', async () => {
  const fresh = await freshDatabase();
  const env = {
    DATABASE_URL: fresh.url,
    INSUREFLOW_PROCESSES_DIR: join(here, 'fixtures', 'crash'), // an explicitly set empty folder is refused at start-up
    INSUREFLOW_ADMIN_TOKEN: TOKEN,
    INSUREFLOW_HANDLERS: join(here, 'fixtures', 'crash', 'handlers.ts'),
  };
  const call = async (base: string, method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await request(base, TOKEN, method, path, body);
    assert.ok(res, `${method} ${path}: no answer`);
    return res!;
  };
  let id = '';
  try {
    const first = await startServer(env);
    try {
      const dep = await fetch(`${first.base}/api/deployments?name=two-seconds.bpmn`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/xml' }, body: TWO_SECONDS });
      assert.is(dep.status, 201);
      const started = await call(first.base, 'POST', '/api/process-definitions/two-seconds/start', {});
      assert.is(started.status, 201);
      id = started.json.id;
    } finally {
      await first.kill('SIGKILL'); // well before the timer is due
    }
    const killedAt = Date.now();
    await sleep(Math.max(0, 2500 - (Date.now() - killedAt)));
    const second = await startServer(env);
    try {
      let inst: any = null;
      for (let i = 0; i < 100; i++) {
        inst = (await call(second.base, 'GET', `/api/process-instances/${id}`)).json;
        if (inst.status === 'completed') break;
        await sleep(100);
      }
      assert.is(inst.status, 'completed', JSON.stringify(inst));
      const hist = (await call(second.base, 'GET', `/api/process-instances/${id}/history`)).json as any[];
      assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1, 'fired exactly once');
      assert.is(hist.filter((h) => h.type === 'activity.completed' && h.activityId === 'End_Late').length, 1, 'the timer path is taken once');
      assert.ok(hist.some((h) => h.type === 'task.cancelled' && h.activityId === 'Task_Answer'));
      await sleep(600); // further scheduler ticks change nothing
      const again = (await call(second.base, 'GET', `/api/process-instances/${id}/history`)).json as any[];
      assert.is(again.length, hist.length);
    } finally {
      await second.kill('SIGKILL');
    }
    const db = await openDb({ url: fresh.url });
    try {
      const calls = await db('test_calls').where({ kind: 'remind', process_instance_id: id });
      assert.is(calls.length, 1, 'the timer-path handler ran once');
    } finally {
      await db.destroy();
    }
  } finally {
    await fresh.drop();
  }
});

test.run();
