/**
 * Two adjusters decide the same claim review at the same moment, one rejecting and one approving. On
 * PostgreSQL they reach two server processes on one database (the real server, as in multinode.test.ts); on
 * SQLite, which one process serves, two concurrent requests reach that server. For each of 12 claims both
 * completions are fired together (neither waits for the other's answer): exactly one wins with 200, the other
 * gets 409, and afterwards the claim's records follow the winner's path only: its review decision in the
 * history, no rejection letter on a paid claim, no payout or settlement figures on a rejected one
 * (support/claims-invariants.ts), every history chain verifies. Nothing here asserts on timing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { onPostgres } from './helpers.ts';
import { startServer, type ServerProcess } from './support/server.ts';
import { openDb } from '../src/persistence/db.ts';
import { findClaimViolations, describeViolations, countByKind, type ClaimViolation } from './support/claims-invariants.ts';
import { PROCESSES_DIR, claimReport, createStaff, freshDatabase, request, reviewForm, reviewPathOf, type FreshDatabase, type Reply } from './support/claims-http.ts';

const N = 12;
const TOKEN = `race-admin-${randomBytes(8).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Decision = 'approve' | 'reject';

interface Race {
  claimNo: string;
  instanceId: string;
  taskId: string;
  replies: Record<Decision, Reply | null>;
}

test(`reject vs approve on one review task at once, ${N} claims, ${onPostgres ? 'two server processes on one PostgreSQL database' : 'two concurrent requests to the SQLite server'}: one 200, one 409, records of the winner's path only`, async () => {
  const fresh = await freshDatabase();
  try {
    await raceRun(fresh);
  } finally {
    await fresh.drop();
  }
});

async function raceRun(fresh: FreshDatabase): Promise<void> {
  const env = { DATABASE_URL: fresh.url, INSUREFLOW_PROCESSES_DIR: PROCESSES_DIR, INSUREFLOW_ADMIN_TOKEN: TOKEN, INSUREFLOW_JOB_POLL_MS: '50' };
  const nodes: ServerProcess[] = [];
  const problems: string[] = [];
  const races: Race[] = [];
  try {
    // one node per server process the configuration allows (started one after the other: each deploys processes/)
    nodes.push(await startServer(env));
    if (onPostgres) nodes.push(await startServer(env));
    const tokens = await createStaff(nodes[0].base, TOKEN);
    const call = async (node: ServerProcess, who: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> => {
      const res = await request(node.base, tokens[who], method, path, body);
      assert.ok(res, `${method} ${path} on ${node.base}: no answer (${node.output().slice(-500)})`);
      return res!;
    };

    // Given N claims waiting for an adjuster's review, reported on both nodes
    const reported = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const res = await call(nodes[i % nodes.length], 'cs', 'POST', '/api/claims', claimReport(fresh.demo, 'review', i));
        assert.is(res.status, 201, JSON.stringify(res.json));
        return res.json as { claimNo: string; processInstanceId: string };
      }),
    );
    for (const r of reported) {
      const tasks = await call(nodes[0], 'adjuster', 'GET', `/api/tasks?processKey=claims&businessKey=${r.claimNo}`);
      const review = (tasks.json.items as any[]).find((t) => t.activityId === 'Task_ManualReview');
      assert.ok(review, `claim ${r.claimNo} waits for its review: ${JSON.stringify(tasks.json)}`);
      races.push({ claimNo: r.claimNo, instanceId: r.processInstanceId, taskId: review.id, replies: { approve: null, reject: null } });
    }

    // When two adjusters complete each review at once, one rejecting and one approving (on different nodes)
    for (const [i, race] of races.entries()) {
      const rejectNode = nodes[i % nodes.length];
      const approveNode = nodes[(i + 1) % nodes.length];
      const complete = (node: ServerProcess, who: string, decision: Decision) => request(node.base, tokens[who], 'POST', `/api/tasks/${race.taskId}/complete`, { variables: reviewForm(decision) });
      const [rejected, approved] = await Promise.all([complete(rejectNode, 'adjuster', 'reject'), complete(approveNode, 'adjuster2', 'approve')]);
      race.replies = { reject: rejected, approve: approved };
    }

    // the approved claims are paid by the deferred payment step; wait until every claim is finished
    let settled = false;
    for (let round = 0; round < 300 && !settled; round++) {
      const counts = await Promise.all(
        ['/api/jobs?type=retry', '/api/process-instances?key=claims&status=active', '/api/process-instances?key=claims&status=incident'].map(async (path) => (await call(nodes[0], 'admin', 'GET', path)).json.total),
      );
      settled = counts.every((n) => n === 0);
      if (!settled) await sleep(100);
    }
    if (!settled) problems.push('the claims did not all finish (active or incident instances, or retry jobs, left)');
    for (const node of nodes) {
      const code = await node.kill('SIGTERM');
      if (code !== 0) problems.push(`graceful shutdown of ${node.base} exited ${code}: ${node.output().slice(-1000)}`);
    }
  } finally {
    for (const node of nodes) await node.kill('SIGKILL');
  }

  // Then exactly one completion won each race and the claim's records follow the winner only
  const db = await openDb({ url: fresh.url });
  let violations: ClaimViolation[] = [];
  const losers: string[] = [];
  try {
    for (const race of races) {
      const { approve, reject } = race.replies;
      const statuses = [approve?.status ?? 'no answer', reject?.status ?? 'no answer'];
      const winners = (['approve', 'reject'] as const).filter((d) => race.replies[d]?.status === 200);
      const loser = (['approve', 'reject'] as const).find((d) => race.replies[d]?.status === 409);
      if (winners.length !== 1 || !loser) {
        problems.push(`claim ${race.claimNo}: approve answered ${statuses[0]}, reject answered ${statuses[1]} (${JSON.stringify(approve?.json)} / ${JSON.stringify(reject?.json)}); expected one 200 and one 409`);
        continue;
      }
      const winner = winners[0];
      losers.push(`${loser}:${race.replies[loser]!.json?.code}`);
      const path = await reviewPathOf(db, race.instanceId);
      if (path !== winner) problems.push(`claim ${race.claimNo}: "${winner}" won (200) but the history took ${path ?? 'no single review path'}`);
      const completions = await db('history_events').where({ chain_id: race.instanceId, type: 'task.completed', activity_id: 'Task_ManualReview' }).count({ n: '*' }).first();
      if (Number((completions as any).n) !== 1) problems.push(`claim ${race.claimNo}: ${(completions as any).n} review completions in the history`);
      const task = await db('user_tasks').where({ id: race.taskId }).first('status', 'completed_by');
      const by = winner === 'approve' ? 'adjuster2' : 'adjuster';
      if (task?.status !== 'completed' || task.completed_by !== by) problems.push(`claim ${race.claimNo}: review task is ${task?.status} by ${task?.completed_by}, expected completed by ${by}`);
      const claim = await db('claims').where({ claim_no: race.claimNo }).first('status');
      const expected = winner === 'approve' ? 'closed' : 'rejected';
      if (claim?.status !== expected) problems.push(`claim ${race.claimNo}: "${winner}" won but the claim is ${claim?.status}, expected ${expected}`);
      const payouts = Number(((await db('payments').where({ claim_no: race.claimNo, direction: 'payout' }).count({ n: '*' }).first()) as any).n);
      if (payouts !== (winner === 'approve' ? 1 : 0)) problems.push(`claim ${race.claimNo}: "${winner}" won and ${payouts} payout(s) are in the ledger`);
      const topics = (await db('outbox').where({ business_ref: race.claimNo }).orderBy('id').select('topic')).map((r: any) => r.topic as string);
      const letter = winner === 'approve' ? 'claim-paid' : 'claim-rejected';
      if (topics.join() !== letter) problems.push(`claim ${race.claimNo}: "${winner}" won and the customer was sent ${JSON.stringify(topics)}, expected only ${letter}`);
    }
    violations = await findClaimViolations(db);
  } finally {
    await db.destroy();
  }
  const summary = `${races.length} races on ${onPostgres ? 'two nodes' : 'one node'}; losers: ${JSON.stringify(countBy(losers))}`;
  const report = [summary, ...problems, ...(violations.length ? [`claims invariants violated: ${JSON.stringify(countByKind(violations))}`, describeViolations(violations)] : [])].join('\n');
  assert.ok(races.length === N && problems.length === 0 && violations.length === 0, report);
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

test.run();
