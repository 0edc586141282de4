/**
 * Auditors, part 4: the acceptance walk-through on the seed claims flow (processes/claims.bpmn with its real
 * handlers, decisions, forms and ledger). Claims go down every path of the flow; each is reconstructed and
 * replayed against its pinned version; one claim with a survey and an SLA breach is exported as CSV,
 * verified, reconstructed at the moment of its survey and replayed, then one of its rows is edited in the
 * database and verify names that row. Runs on SQLite, or PostgreSQL with DATABASE_URL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { FastifyInstance } from 'fastify';
import { domain, DAY, HOUR, type Domain } from './insurance.ts';
import type { PaymentGateway } from '../src/processes/claims/handlers.ts';
import { buildApp } from '../src/http/app.ts';
import { auditVerify } from '../src/audit/cli.ts';
import { readExport } from '../src/audit/export.ts';
import { reconstructState } from '../src/audit/reconstruct.ts';
import { replayInstance } from '../src/audit/replay.ts';
import { editEventData } from './audit-support.ts';

class Bank implements PaymentGateway {
  loseNextAnswer = false;
  private readonly done = new Set<string>();
  async transfer(req: { idempotencyKey: string; amount: number }) {
    this.done.add(req.idempotencyKey);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new Error('connection reset after the transfer was accepted');
    }
    return { reference: `BANK-${this.done.size}` };
  }
}

type Live = { at: number; instance: any };
type Ctx = { d: Domain; bank: Bank; audit: FastifyInstance; auditor: string; paths: Record<string, string>; surveyMoment: Live; surveyed: string };
const flow = suite<Ctx>('claims flow');

const daysAgo = (d: Domain, n: number) => new Date(d.t.clock.now() - n * DAY).toISOString().slice(0, 10);

/** Reports a claim on its own copy of the policy named (claims of several paths on one policy would be duplicates or too frequent). */
async function report(d: Domain, body: Record<string, unknown>): Promise<string> {
  const policyNo = await d.policyLike(String(body.policyNo));
  const res = await d.call('cs', 'POST', '/api/claims', { channel: 'phone', lossDate: daysAgo(d, 2), description: 'Damage reported by phone', ...body, policyNo });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return (res.body as { processInstanceId: string }).processInstanceId;
}

flow.before(async (ctx) => {
  ctx.bank = new Bank();
  ctx.d = await domain({ payments: ctx.bank });
  const d = ctx.d;
  ctx.auditor = (await d.t.engine.users.add({ name: 'auditor', roles: ['auditor'], groups: [] })).token;
  ctx.audit = await buildApp({ engine: d.t.engine });
  const policy = d.demo.policies.map((p) => p.policyNo);
  const paths: Record<string, string> = {};

  paths.simple = await report(d, { policyNo: policy[0], channel: 'online', peril: 'glass', claimedAmount: 3000 });
  paths.notCovered = await report(d, { policyNo: policy[1], peril: 'theft', claimedAmount: 4000 });
  paths.approved = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 12000 });
  await d.complete('adjuster', paths.approved, 'Task_ManualReview', { reviewDecision: 'approve', reviewNotes: 'Plumber invoice checks out' });
  paths.partial = await report(d, { policyNo: policy[1], peril: 'water', claimedAmount: 12000 });
  await d.complete('adjuster', paths.partial, 'Task_ManualReview', { reviewDecision: 'partial', approvedAmount: 8000, reviewNotes: 'Old damage excluded' });
  paths.supervisorRejects = await report(d, { policyNo: policy[0], peril: 'storm', claimedAmount: 45000 });
  await d.complete('adjuster', paths.supervisorRejects, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', paths.supervisorRejects, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 40000, surveyFindings: 'Roof torn off', surveyPhotoRefs: ['photo://c3/1'] });
  await d.complete('supervisor', paths.supervisorRejects, 'Task_SupervisorApproval', { supervisorDecision: 'reject', rejectionReason: 'The roof damage predates the policy.' });
  paths.fraud = await report(d, { policyNo: policy[2], peril: 'fire', claimedAmount: 1_900_000, lossDate: daysAgo(d, 1) });
  await d.complete('siu', paths.fraud, 'Task_Investigate', { investigationOutcome: 'fraud-confirmed', investigationFindings: 'Stock moved out the day before', rejectionReason: 'The goods declared were not on the premises.' });
  paths.documentsArrive = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 14000 });
  await d.complete('adjuster', paths.documentsArrive, 'Task_ManualReview', { reviewDecision: 'request-documents', missingDocuments: ['repair invoice'] });
  await d.advance(3 * DAY);
  const claimNo = (await d.instance(paths.documentsArrive)).businessKey;
  assert.is((await d.call('cs', 'POST', `/api/claims/${claimNo}/documents`, { documents: ['invoice-4711.pdf'] })).status, 200);
  await d.complete('adjuster', paths.documentsArrive, 'Task_ManualReview', { reviewDecision: 'approve' });
  paths.documentsOverdue = await report(d, { policyNo: policy[0], peril: 'water', claimedAmount: 14000 });
  await d.complete('adjuster', paths.documentsOverdue, 'Task_ManualReview', { reviewDecision: 'request-documents', missingDocuments: ['police report'] });
  await d.advance(15 * DAY);
  await d.complete('adjuster', paths.documentsOverdue, 'Task_ManualReview', { reviewDecision: 'reject', rejectionReason: 'Without the police report the theft cannot be established.' });
  ctx.bank.loseNextAnswer = true;
  paths.paymentRetried = await report(d, { policyNo: policy[0], peril: 'glass', claimedAmount: 2000 });
  await d.advance(5 * 60_000);

  // survey, then the settlement SLA breaks: the claim an auditor asks about
  const surveyed = await report(d, { policyNo: policy[0], peril: 'fire', claimedAmount: 35000 });
  await d.complete('adjuster', surveyed, 'Task_ManualReview', { reviewDecision: 'approve' });
  d.t.clock.advance(2 * HOUR);
  ctx.surveyMoment = { at: d.t.clock.now(), instance: await d.instance(surveyed) };
  d.t.clock.advance(HOUR);
  await d.complete('surveyor', surveyed, 'Task_Survey', { surveyDate: daysAgo(d, 0), surveyLossEstimate: 30000, surveyFindings: 'Kitchen fire', surveyPhotoRefs: ['photo://c9/1'] });
  await d.advance(73 * HOUR);
  await d.complete('supervisor', surveyed, 'Task_SupervisorApproval', { supervisorDecision: 'approve' });
  paths.surveyAndSlaBreach = surveyed;
  ctx.surveyed = surveyed;
  ctx.paths = paths;
});
flow.after(async (ctx) => {
  await ctx.audit.close();
  await ctx.d.close();
});

flow('every path of the claims flow: reconstruction equals the live instance, and replay is consistent', async ({ d, paths }) => {
  for (const [path, id] of Object.entries(paths)) {
    const live = await d.instance(id);
    assert.equal(live.incidents, [], `${path}: ${JSON.stringify(live.incidents)}`);
    const rebuilt = await reconstructState(d.t.engine.db, id);
    assert.is(rebuilt.status, live.status, path);
    assert.equal(rebuilt.activeActivities, live.activeActivities, path);
    assert.equal(rebuilt.variables, live.variables, path);
    assert.equal(rebuilt.openTasks.map((x) => [x.id, x.assignee]), live.openTasks.map((x: any) => [x.id, x.assignee]), path);
    const r = await replayInstance(d.t.engine.db, id);
    assert.ok(r.consistent, `${path}: ${JSON.stringify(r.divergence)}`);
    assert.ok(r.steps >= 1, path);
  }
  const statuses = new Set(await Promise.all(Object.values(paths).map(async (id) => (await d.instance(id)).status)));
  assert.ok(statuses.has('completed'));
});

flow('acceptance: export as CSV, verify, reconstruct at the survey, replay; then an edited row is named by verify', async ({ d, audit, auditor, surveyed, surveyMoment }) => {
  const get = (url: string, method: 'GET' | 'POST' = 'GET') => audit.inject({ method, url, headers: { authorization: `Bearer ${auditor}` } });

  const csv = await get(`/api/history/export?format=csv&processInstanceId=${surveyed}`);
  assert.is(csv.statusCode, 200);
  const exported = readExport(csv.body, 'csv');
  assert.ok(exported.length > 50, `${exported.length} events`);
  assert.ok(exported.some((e) => e.type === 'timer.fired'), 'the SLA timer is in the record');
  assert.ok(exported.some((e) => e.type === 'decision.evaluated'), 'so are the DMN decisions');

  const verify = (await get(`/api/history/verify?processInstanceId=${surveyed}`)).json();
  assert.equal([verify.consistent, verify.checked], [true, exported.length]);

  const at = (await get(`/api/process-instances/${surveyed}/state?at=${new Date(surveyMoment.at).toISOString()}`)).json();
  const then = surveyMoment.instance;
  assert.is(at.status, then.status);
  assert.equal(at.activeActivities, then.activeActivities);
  assert.equal(at.variables, then.variables);
  assert.equal(at.openTasks.map((x: any) => x.activityId), then.openTasks.map((x: any) => x.activityId));
  assert.ok(at.openTasks.some((x: any) => x.activityId === 'Task_Survey'), 'the survey was open at that moment');

  const replay = (await get(`/api/process-instances/${surveyed}/replay`, 'POST')).json();
  assert.ok(replay.consistent, JSON.stringify(replay.divergence));
  assert.is(replay.mode, 'pinned');

  const surveyDone = exported.find((e) => e.type === 'task.completed' && e.activityId === 'Task_Survey')!;
  await editEventData(d.t.engine.db, surveyed, surveyDone.seq, (data) => ({ ...data, form: { ...data.form, surveyLossEstimate: 3000 } }));
  const broken = (await get(`/api/history/verify?processInstanceId=${surveyed}`)).json();
  assert.is(broken.consistent, false);
  assert.equal([broken.firstBroken.seq, broken.firstBroken.kind], [surveyDone.seq, 'edited']);
  let out = '';
  assert.is(await auditVerify(['--instance', surveyed], { write: (s: string) => ((out += s), true) }, { db: d.t.engine.db, stderr: { write: () => true } }), 1);
  assert.match(out, new RegExp(`seq ${surveyDone.seq} \\(edited\\)`));
  const diverged = (await get(`/api/process-instances/${surveyed}/replay`, 'POST')).json();
  assert.is(diverged.consistent, false, 'the edited survey estimate also changes what the model computes');
});

flow.run();
