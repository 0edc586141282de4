/**
 * GET /metrics (issue 12, section 5) scraped over a real socket and parsed as Prometheus text exposition: after a
 * fixed scenario (claims paid, waiting in review, past their SLA; an instance stopped by an incident; a refused
 * start) each metric has the value the scenario gives it. Who may scrape.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import { domain, HOUR, type Domain } from './insurance.ts';

type Ctx = { d: Domain; base: string; monitorToken: string };
const metrics = suite<Ctx>('prometheus metrics');

interface Exposition {
  /** `name{label="v",...}` (labels sorted) -> value */
  samples: Map<string, number>;
  /** metric name -> TYPE */
  types: Map<string, string>;
}

/** Parses the text exposition format 0.0.4 (the subset prom-client writes). */
function parse(text: string): Exposition {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      types.set(t[1], t[2]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: string[] = [];
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels.push(`${l[1]}="${l[2]}"`);
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `a number: ${line}`);
    samples.set(`${m[1]}{${labels.sort().join(',')}}`, value);
  }
  return { samples, types };
}

/** The sample `name` with `labels` (0 when absent: Prometheus has no sample for a label set never seen). */
function value(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const key = `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;
  return e.samples.get(key) ?? 0;
}

async function scrape(ctx: Ctx, token: string | null): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${ctx.base}/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function scraped(ctx: Ctx): Promise<Exposition> {
  const r = await scrape(ctx, ctx.monitorToken);
  assert.is(r.status, 200, r.text.slice(0, 300));
  assert.match(r.type ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(r.text);
}

/** An external task whose handler always fails (retries 1): an incident at once. */
const BOOM = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_metrics_boom" targetNamespace="http://insureflow.test">
  <bpmn:process id="metrics-boom" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Call" />
    <bpmn:serviceTask id="Task_Call" camunda:type="external" camunda:topic="metrics.boom" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Call" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

metrics.before(async (ctx) => {
  ctx.d = await domain({}, '2026-01-05T09:00:00Z', { socket: true });
  ctx.base = `http://127.0.0.1:${(ctx.d.app.server.address() as AddressInfo).port}`;
  // the Prometheus scraper: an ops user of the group monitoring (granted read on report metrics by the shipped defaults)
  ctx.monitorToken = (await ctx.d.t.engine.users.add({ name: 'prometheus', roles: ['ops'], groups: ['monitoring'] })).token;
  ctx.d.t.engine.registerHandler(
    'metrics.boom',
    () => {
      throw new Error('downstream system down');
    },
    { retries: 1 },
  );
  await ctx.d.t.engine.deploy([{ name: 'metrics-boom.bpmn', content: BOOM }]);
});
metrics.after(async (ctx) => ctx.d.close());

async function report(d: Domain, body: Record<string, unknown>): Promise<{ claimNo: string; processInstanceId: string }> {
  const res = await d.call('cs', 'POST', '/api/claims', { policyNo: d.demo.policies[0].policyNo, channel: 'phone', lossDate: '2026-01-03', description: 'Damage reported by phone', ...body });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

metrics('Given a fresh engine, when scraped, then every metric is declared with its type and nothing has happened yet', async (ctx) => {
  const e = await scraped(ctx);
  assert.equal(
    ['insureflow_process_instances_started_total', 'insureflow_process_instances_ended_total', 'insureflow_process_instances', 'insureflow_user_tasks_open', 'insureflow_jobs', 'insureflow_jobs_due', 'insureflow_jobs_failing', 'insureflow_incidents_open', 'insureflow_external_tasks_open', 'insureflow_claims', 'insureflow_claims_sla_breached_total', 'insureflow_http_request_duration_seconds'].map((n) => [n, e.types.get(n)]),
    [
      ['insureflow_process_instances_started_total', 'counter'],
      ['insureflow_process_instances_ended_total', 'counter'],
      ['insureflow_process_instances', 'gauge'],
      ['insureflow_user_tasks_open', 'gauge'],
      ['insureflow_jobs', 'gauge'],
      ['insureflow_jobs_due', 'gauge'],
      ['insureflow_jobs_failing', 'gauge'],
      ['insureflow_incidents_open', 'gauge'],
      ['insureflow_external_tasks_open', 'gauge'],
      ['insureflow_claims', 'gauge'],
      ['insureflow_claims_sla_breached_total', 'counter'],
      ['insureflow_http_request_duration_seconds', 'histogram'],
    ],
  );
  assert.is(value(e, 'insureflow_process_instances_started_total', { process: 'claims' }), 0);
  assert.is(value(e, 'insureflow_claims_sla_breached_total'), 0);
  assert.is(e.samples.has('insureflow_claims_sla_breached_total{}'), true, 'the counter is exposed at 0');
});

metrics('Given a fixed scenario, when scraped, then instances, tasks, jobs, incidents, claims, SLA breaches and HTTP latency counts are its figures', async (ctx) => {
  const { d } = ctx;
  // 1. a fire claim of 35,000: review, survey, then 73 hours without payment: the SLA is breached, supervisors chase it
  const late = await report(d, { peril: 'fire', claimedAmount: 35000 });
  await d.complete('adjuster', late.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.complete('surveyor', late.processInstanceId, 'Task_Survey', { surveyDate: '2026-01-05', surveyLossEstimate: 30000, surveyFindings: 'Kitchen fire', surveyPhotoRefs: ['photo://m/1'] });
  await d.advance(73 * HOUR);
  assert.is((await d.store.claim(late.claimNo))!.slaBreached, true);
  // 2. a glass claim paid and closed at once; 3. a water claim waiting in manual review (adjusters)
  const paid = await report(d, { peril: 'glass', claimedAmount: 3000, channel: 'online' });
  assert.is((await d.store.claim(paid.claimNo))!.status, 'closed');
  const review = await report(d, { peril: 'water', claimedAmount: 12000 });
  // 4. refused: a direct start with the number of an open claim (409), an intake with a negative amount (4xx); neither counts
  const dup = await d.call('cs', 'POST', '/api/process-definitions/claims/start', { businessKey: review.claimNo, variables: { policyNo: d.demo.policies[0].policyNo, channel: 'phone', lossDate: '2026-01-03', peril: 'water', claimedAmount: 100, description: 'Same number' } });
  assert.is(dup.status, 409, JSON.stringify(dup.body));
  const bad = await d.call('cs', 'POST', '/api/claims', { policyNo: d.demo.policies[0].policyNo, channel: 'phone', lossDate: '2026-01-03', peril: 'water', claimedAmount: -5, description: 'Negative amount' });
  assert.ok(bad.status >= 400 && bad.status < 500, `${bad.status} ${JSON.stringify(bad.body)}`);
  // 5. an instance stopped by an incident
  const boom = await d.call('admin', 'POST', '/api/process-definitions/metrics-boom/start', {});
  assert.equal([boom.status, boom.body.status], [201, 'incident']);

  const e = await scraped(ctx);
  const v = (name: string, labels: Record<string, string> = {}) => value(e, name, labels);
  // instances: three claims started (late, paid, review; the refused ones are not), one ended, two running
  assert.is(v('insureflow_process_instances_started_total', { process: 'claims' }), 3);
  assert.is(v('insureflow_process_instances_ended_total', { process: 'claims', state: 'completed' }), 1);
  assert.is(v('insureflow_process_instances_ended_total', { process: 'claims', state: 'cancelled' }), 0);
  assert.is(v('insureflow_process_instances', { process: 'claims', state: 'active' }), 2);
  assert.is(v('insureflow_process_instances_started_total', { process: 'metrics-boom' }), 1);
  assert.is(v('insureflow_process_instances', { process: 'metrics-boom', state: 'incident' }), 1);
  assert.is(v('insureflow_incidents_open', { process: 'metrics-boom' }), 1);
  assert.is(v('insureflow_incidents_open', { process: 'claims' }), 0);
  // claims: the paid one closed, two open; one breach
  assert.is(v('insureflow_claims', { status: 'closed' }), 1);
  assert.is(v('insureflow_claims', { status: 'open' }), 2);
  assert.is(v('insureflow_claims_sla_breached_total'), 1);
  // open tasks: the review with the adjusters; the late claim's approval and chase with the supervisors
  assert.is(v('insureflow_user_tasks_open', { group: 'adjusters' }), 1);
  const open = (await d.call<any>('admin', 'GET', '/api/tasks?status=open&limit=500')).body.items as { candidateGroups: string[]; activityId: string }[];
  const byGroup = new Map<string, number>();
  for (const t of open) for (const g of t.candidateGroups.length ? t.candidateGroups : ['']) byGroup.set(g, (byGroup.get(g) ?? 0) + 1);
  assert.ok((byGroup.get('claims-supervisors') ?? 0) >= 2, `supervisors hold the approval and the chase: ${JSON.stringify([...byGroup])}`);
  for (const [group, n] of byGroup) assert.is(v('insureflow_user_tasks_open', { group }), n, `open tasks of ${group}`);
  // jobs: what the job list shows, by type; nothing is overdue once advance has run what fell due
  const jobs = (await d.call<any>('admin', 'GET', '/api/jobs?limit=500')).body.items as { type: string; dueAt: string }[];
  const byType = new Map<string, number>();
  for (const j of jobs) byType.set(j.type, (byType.get(j.type) ?? 0) + 1);
  for (const [type, n] of byType) {
    assert.is(v('insureflow_jobs', { type }), n, `jobs of type ${type}`);
    assert.is(v('insureflow_jobs_due', { type }), jobs.filter((j) => j.type === type && Date.parse(j.dueAt) <= d.t.clock.now()).length);
  }
  assert.is([...e.samples].filter(([k]) => k.startsWith('insureflow_jobs{')).reduce((s, [, n]) => s + n, 0), jobs.length);
  // HTTP: three intakes answered 201, the refused start 409; each observation falls in the +Inf bucket
  const intake = { method: 'POST', route: '/api/claims', status_code: '201' };
  assert.is(v('insureflow_http_request_duration_seconds_count', intake), 3);
  assert.is(v('insureflow_http_request_duration_seconds_bucket', { ...intake, le: '+Inf' }), 3);
  assert.ok(v('insureflow_http_request_duration_seconds_sum', intake) >= 0);
  assert.is(v('insureflow_http_request_duration_seconds_count', { method: 'POST', route: '/api/process-definitions/:key/start', status_code: '409' }), 1);
  assert.is(v('insureflow_http_request_duration_seconds_count', { method: 'POST', route: '/api/claims', status_code: String(bad.status) }), 1);
});

metrics('Given a request to no route, when scraped, then it is counted under (unmatched) with its 404', async (ctx) => {
  const before = value(await scraped(ctx), 'insureflow_http_request_duration_seconds_count', { method: 'GET', route: '(unmatched)', status_code: '404' });
  assert.is((await fetch(`${ctx.base}/no/such/route`)).status, 404);
  assert.is((await fetch(`${ctx.base}/no/such/route/either`)).status, 404);
  const after = value(await scraped(ctx), 'insureflow_http_request_duration_seconds_count', { method: 'GET', route: '(unmatched)', status_code: '404' });
  assert.is(after - before, 2);
});

metrics('Given the callers, when they scrape, then no token is 401, a user without read on report metrics 403, admins and the monitoring group 200', async (ctx) => {
  const { d } = ctx;
  const anonymous = await scrape(ctx, null);
  assert.equal([anonymous.status, JSON.parse(anonymous.text).code], [401, 'UNAUTHENTICATED']);
  const cs = await scrape(ctx, d.tokens.cs);
  const body = JSON.parse(cs.text);
  assert.equal([cs.status, body.code, body.details?.resourceType, body.details?.resourceId, body.details?.permission], [403, 'FORBIDDEN', 'report', 'metrics', 'read']);
  assert.is((await scrape(ctx, d.tokens.analyst)).status, 403, 'analysts have no role on /metrics');
  assert.is((await scrape(ctx, d.tokens.admin)).status, 200);
  assert.is((await scrape(ctx, ctx.monitorToken)).status, 200);
  const auditor = (await d.t.engine.users.add({ name: 'metrics-auditor', roles: ['auditor'], groups: [] })).token;
  assert.is((await scrape(ctx, auditor)).status, 200);
});

metrics('Given two scrapes at once, when both answer, then each shows the figures once (no doubled counters)', async (ctx) => {
  const [a, b] = await Promise.all([scraped(ctx), scraped(ctx)]);
  for (const e of [a, b]) {
    assert.is(value(e, 'insureflow_process_instances_started_total', { process: 'claims' }), 3);
    assert.is(value(e, 'insureflow_claims_sla_breached_total'), 1);
  }
});

metrics.run();
