/**
 * The authorization matrix (issue 10, section 1): every route of the app, as Fastify registered it, times eight
 * callers (admin, analyst, ops in the group granted the route's permission, ops in another group, auditor,
 * worker, a disabled user, no token), over a real socket, with the shipped processes and their default grants.
 * The expected outcome of each cell is derived from the model (test/support/matrix-model.ts: config.roles,
 * ROUTE_ACCESS, ROLE_PERMISSIONS, the grants), never written by hand; a route without a row in ROUTE_ACCESS or
 * without a request builder here fails the suite. Filtered lists show nothing the model does not allow, and no
 * answer shows a sensitive variable to a caller outside its groups. Then the five attacks of the issue, by name.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { domain, type Domain } from './insurance.ts';
import { reporting } from './support/printable-errors.ts';
import { claimReport, reviewForm } from './support/claims-http.ts';
import { expectation, grantees, resourceIdOf, routeTable, shippedGrants, shippedSensitive, type Expected, type GrantRow, type Principal, type RouteRow, type Target } from './support/matrix-model.ts';
import { buildApp } from '../src/http/app.ts';
import { domainRoutes } from '../src/processes/index.ts';
import { ROUTE_ACCESS, type RouteAccess } from '../src/http/routes/authorizations.ts';
import type { Role } from '../src/engine/actor.ts';

const ACTORS = ['admin', 'analyst', 'ops-granted', 'ops-other', 'auditor', 'worker', 'disabled', 'no-token'] as const;
type ActorLabel = (typeof ACTORS)[number];

/** the group of the "ops in another group": no grant names it, no task is offered to it */
const OUTSIDERS = 'matrix-outsiders';
/** the group the setup grants what the shipped defaults grant nobody (cancel, decisions, the matrix processes) */
const GRANTED = 'matrix-granted';
/** grants the setup makes over POST /api/authorizations, on top of processes/authorizations.json */
const SETUP_GRANTS: GrantRow[] = [
  { group: GRANTED, resourceType: 'process-definition', resourceId: 'claims', permissions: ['cancel'] },
  { group: GRANTED, resourceType: 'process-definition', resourceId: 'matrix-boom', permissions: ['read-instances'] },
  { group: GRANTED, resourceType: 'decision', resourceId: 'ClaimClassification', permissions: ['read'] },
  { group: GRANTED, resourceType: 'signal', resourceId: 'matrix-signal', permissions: ['broadcast'] },
  // the worker of the matrix (m-worker, group customer-service) may fetch the external tasks of matrix.ext
  { group: 'customer-service', resourceType: 'topic', resourceId: 'matrix.ext', permissions: ['fetch'] },
];

const BPMN = (id: string, body: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_${id.replace(/-/g, '_')}" targetNamespace="http://insureflow.test">
  ${body.replace(/PROCESS/g, id)}
</bpmn:definitions>`;
/** an external task whose handler always fails (retries 1): an incident at once */
const BOOM = BPMN('matrix-boom', `<bpmn:process id="PROCESS" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Call" />
    <bpmn:serviceTask id="Task_Call" camunda:type="external" camunda:topic="matrix.boom" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Call" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>`);
/** an external task of topic matrix.ext (no handler: a worker does it over /engine-rest) */
const EXT = BPMN('matrix-ext', `<bpmn:process id="PROCESS" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Ext" />
    <bpmn:serviceTask id="Task_Ext" camunda:type="external" camunda:topic="matrix.ext" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Ext" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>`);
/** waits an hour on a timer (a job) */
const timerProcess = (id: string) =>
  BPMN(id, `<bpmn:process id="PROCESS" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait" />
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);
/** waits for the signal matrix-signal */
const SIGNAL_WAIT = BPMN('matrix-signal-wait', `<bpmn:signal id="Signal_M" name="matrix-signal" />
  <bpmn:process id="PROCESS" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait" />
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:signalEventDefinition signalRef="Signal_M" /></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);

interface Res {
  status: number;
  body: any;
  text: string;
}

interface Instance {
  id: string;
  processKey: string;
  participants: string[];
}
interface Task {
  id: string;
  candidateGroups: string[];
  candidateUsers: string[];
  assignee: string | null;
}
interface Claim {
  claimNo: string;
  instance: Instance;
}

interface Fx {
  d: Domain;
  app: FastifyInstance;
  base: string;
  routes: RouteRow[];
  /** shipped defaults and setup grants: the grants in force */
  grants: GrantRow[];
  users: Map<string, Principal & { token: string }>;
  /** an investigated claim waiting in manual review (its task offered to adjusters, unclaimed), with sensitive findings: read by the read routes */
  claim: Claim;
  task: Task;
  /** an instance of matrix-boom with its open incident */
  boom: { instance: Instance; incidentId: string };
  /** a timer job of matrix-timer */
  jobId: string;
  /** users who claimed or completed a task: participants of instances the model is not told about */
  taskHolders: Set<string>;
}

// ------------------------------------------------------------------------------ HTTP and fixtures

async function call(fx: Fx, token: string | null, method: string, path: string, body?: unknown, raw?: { type: string; payload: string }): Promise<Res> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  let payload: string | undefined;
  if (raw) {
    headers['content-type'] = raw.type;
    payload = raw.payload;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(fx.base + path, { method, headers, body: payload, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, text };
}

const tokenOf = (fx: Fx, name: string) => fx.users.get(name)!.token;

/** As `who` (a user name), expecting `status`: the body. */
async function ok(fx: Fx, who: string, method: string, path: string, status: number, body?: unknown, raw?: { type: string; payload: string }): Promise<any> {
  const res = await call(fx, tokenOf(fx, who), method, path, body, raw);
  assert.is(res.status, status, `${who} ${method} ${path}: ${res.text.slice(0, 400)}`);
  return res.body;
}

async function addUser(fx: Fx, name: string, roles: Role[], groups: string[]): Promise<void> {
  const { token } = await fx.d.t.engine.users.add({ name, roles, groups });
  fx.users.set(name, { name, roles, groups, token });
}

/** The ops user of a group (m-<group>, created on first use). */
async function opsIn(fx: Fx, group: string): Promise<Principal & { token: string }> {
  const name = `m-${group}`;
  if (!fx.users.has(name)) await addUser(fx, name, ['ops'], [group]);
  return fx.users.get(name)!;
}

/** A claim reported through the intake route by customer service (`review`: waits in manual review). */
let claimIndex = 0;
async function report(fx: Fx, shape: 'auto' | 'review'): Promise<Claim> {
  const body = claimReport(fx.d.demo, shape, ++claimIndex, fx.d.t.clock.now());
  const r = await ok(fx, 'cs', 'POST', '/api/claims', 201, { ...body, contactEmail: 'ann@example.com', contactPhone: '+86 10 5555 0101' });
  return { claimNo: r.claimNo, instance: { id: r.processInstanceId, processKey: 'claims', participants: [] } };
}

/** The open task of an instance, as an admin sees it. */
async function openTask(fx: Fx, instanceId: string): Promise<Task> {
  const items = (await ok(fx, 'admin', 'GET', `/api/tasks?processInstanceId=${instanceId}&status=open`, 200)).items;
  assert.is(items.length, 1, `one open task of ${instanceId}`);
  const t = items[0];
  return { id: t.id, candidateGroups: t.candidateGroups, candidateUsers: t.candidateUsers ?? [], assignee: t.assignee };
}

/** The investigation findings of the shared claim: a sensitive variable (processes/authorizations.json). */
const FINDINGS = 'Burst main confirmed by the utility';

/**
 * A claim of 1,850,000 (investigated first): special investigations clear it with FINDINGS, and it waits in
 * manual review, its task offered to adjusters; the investigator took part.
 */
async function investigated(fx: Fx): Promise<Claim> {
  const lossDate = new Date(fx.d.t.clock.now() - 86_400_000).toISOString().slice(0, 10);
  const r = await ok(fx, 'cs', 'POST', '/api/claims', 201, { policyNo: fx.d.demo.policies[2].policyNo, channel: 'phone', lossDate, peril: 'water', claimedAmount: 1_850_000, description: 'Flooded basement', contactEmail: 'ann@example.com', contactPhone: '+86 10 5555 0101' });
  const t = await openTask(fx, r.processInstanceId);
  assert.equal(t.candidateGroups, ['special-investigations']);
  await ok(fx, 'siu', 'POST', `/api/tasks/${t.id}/claim`, 200);
  fx.taskHolders.add('siu');
  await ok(fx, 'siu', 'POST', `/api/tasks/${t.id}/complete`, 200, { variables: { investigationOutcome: 'cleared', investigationFindings: FINDINGS } });
  return { claimNo: r.claimNo, instance: { id: r.processInstanceId, processKey: 'claims', participants: ['siu'] } };
}

/** Users of the groups a sensitive variable of a process is readable by (processes/authorizations.json), and admins. */
function readsSensitive(who: Principal, processKey: string, variable: string): boolean {
  const groups = shippedSensitive()[processKey]?.[variable] ?? [];
  return who.roles.includes('admin') || who.groups.some((g) => groups.includes(g));
}

/** A claim whose adjuster asked for documents: it waits for claim-documents-received (the adjuster took part). */
async function waitingForDocuments(fx: Fx): Promise<Claim> {
  const c = await report(fx, 'review');
  const t = await openTask(fx, c.instance.id);
  await ok(fx, 'adjuster', 'POST', `/api/tasks/${t.id}/claim`, 200);
  fx.taskHolders.add('adjuster');
  await ok(fx, 'adjuster', 'POST', `/api/tasks/${t.id}/complete`, 200, { variables: { reviewDecision: 'request-documents', missingDocuments: ['repair invoice'] } });
  return { ...c, instance: { ...c.instance, participants: ['adjuster'] } };
}

/** A new matrix-boom instance and its open incident. */
async function freshIncident(fx: Fx): Promise<{ instance: Instance; incidentId: string }> {
  const inst = await ok(fx, 'admin', 'POST', '/api/process-definitions/matrix-boom/start', 201, {});
  assert.is(inst.status, 'incident');
  const incidents = (await ok(fx, 'admin', 'GET', `/api/incidents?processInstanceId=${inst.id}`, 200)).items;
  assert.is(incidents.length, 1);
  return { instance: { id: inst.id, processKey: 'matrix-boom', participants: [] }, incidentId: incidents[0].id };
}

let userIndex = 0;
async function freshUser(fx: Fx, prefix: string): Promise<string> {
  const name = `${prefix}-${++userIndex}`;
  await addUser(fx, name, ['ops'], ['matrix-nobody']);
  return name;
}

// ------------------------------------------------------------------------------ request builders

/** A valid request for one route, and what it is about (the model's Target). */
interface Built extends Target {
  query?: string;
  raw?: { type: string; payload: string };
  /** the status of success when the caller is allowed (default 200) */
  status?: number;
  /** filtered lists: does the response show the target? */
  sees?: (body: any) => boolean;
  /** after a success: what the request changed in the suite's users */
  after?: (fx: Fx) => void;
  /** filtered lists: what each listed item is about (every one must be allowed to the caller) */
  items?: (body: any) => Promise<Target[]> | Target[];
}
type Builder = (fx: Fx, actor: ActorLabel) => Promise<Built> | Built;

/** The items of a page that must hold the whole list (the lists are read with limit=500). */
function whole(page: any): any[] {
  assert.ok(page.total <= page.items.length, `the list fits one page (${page.total} items)`);
  return page.items;
}
const onClaim = (fx: Fx): Built => ({ params: { id: fx.claim.instance.id }, instance: fx.claim.instance });
const openRoute = (status = 200): Builder => () => ({ params: {}, status });

/**
 * One builder per route ("METHOD url" as Fastify registered it). Routes that change or end what they act on
 * (start, cancel, claim, complete, messages, incidents, users, grants) get fresh resources for every caller, so
 * that no cell depends on the order of the others.
 */
const BUILDERS: Record<string, Builder> = {
  'GET /health': openRoute(),
  'GET /docs': openRoute(),
  'GET /docs/json': openRoute(),
  'GET /docs/yaml': openRoute(),
  'GET /docs/static/*': () => ({ params: { '*': 'index.css' } }),
  'GET /docs/static/index.html': openRoute(302),
  'GET /docs/static/swagger-initializer.js': openRoute(),

  'POST /api/deployments': (_fx, actor) => ({ params: {}, raw: { type: 'application/xml', payload: timerProcess(`matrix-deploy-${actor}`) }, status: 201 }),
  'GET /api/process-definitions': () => ({ params: {} }),
  'GET /api/process-definitions/:key': () => ({ params: { key: 'claims' } }),
  'GET /api/process-definitions/:key/xml': () => ({ params: { key: 'claims' } }),
  'POST /api/process-definitions/:key/start': (fx) => ({ params: { key: 'claims' }, body: { variables: claimReport(fx.d.demo, 'auto', ++claimIndex, fx.d.t.clock.now()) }, status: 201 }),
  'GET /api/process-instances': (fx) => ({
    params: {},
    query: '?limit=500',
    instance: fx.claim.instance,
    sees: (b) => b.items.some((i: any) => i.id === fx.claim.instance.id),
    items: (b) => whole(b).map((i: any) => ({ params: {}, instance: { id: i.id, processKey: i.processKey, participants: [] } })),
  }),
  'GET /api/process-instances/:id': onClaim,
  'POST /api/process-instances/:id/cancel': async (fx) => {
    const c = await report(fx, 'review');
    return { params: { id: c.instance.id }, instance: c.instance, body: { reason: 'the authorization matrix' } };
  },
  'GET /api/process-instances/:id/history': onClaim,
  'GET /api/process-instances/:id/history/verify': onClaim,
  'GET /api/process-instances/:id/state': onClaim,
  'POST /api/process-instances/:id/replay': (fx) => ({ ...onClaim(fx), body: {} }),
  'GET /api/process-instances/:id/decisions': onClaim,
  'GET /api/decisions': () => ({ params: {}, each: 'ClaimClassification', sees: (b) => b.some((d: any) => d.key === 'ClaimClassification'), items: (b) => b.map((d: any) => ({ params: {}, each: d.key })) }),
  'GET /api/decisions/:key': () => ({ params: { key: 'ClaimClassification' } }),
  'GET /api/forms/*': () => ({ params: { '*': 'claims-manual-review' } }),
  'GET /api/tasks': (fx) => ({
    params: {},
    query: '?limit=500',
    task: fx.task,
    sees: (b) => b.items.some((t: any) => t.id === fx.task.id),
    items: (b) => whole(b).map((t: any) => ({ params: {}, task: { candidateGroups: t.candidateGroups, candidateUsers: t.candidateUsers ?? [], assignee: t.assignee } })),
  }),
  'GET /api/tasks/:id': (fx) => ({ params: { id: fx.task.id }, task: fx.task }),
  'POST /api/tasks/:id/claim': async (fx) => {
    const t = await openTask(fx, (await report(fx, 'review')).instance.id);
    return { params: { id: t.id }, task: t };
  },
  'POST /api/tasks/:id/unclaim': async (fx) => {
    // claimed by an ops user of its candidate group: the assignee the route allows
    const t = await openTask(fx, (await report(fx, 'review')).instance.id);
    const assignee = await opsIn(fx, t.candidateGroups[0]);
    await ok(fx, assignee.name, 'POST', `/api/tasks/${t.id}/claim`, 200);
    fx.taskHolders.add(assignee.name);
    return { params: { id: t.id }, task: { ...t, assignee: assignee.name } };
  },
  'POST /api/tasks/:id/complete': async (fx) => {
    const t = await openTask(fx, (await report(fx, 'review')).instance.id);
    return { params: { id: t.id }, task: t, body: { variables: reviewForm('approve') } };
  },
  'POST /api/messages': async (fx) => {
    const c = await waitingForDocuments(fx);
    return { params: {}, instance: c.instance, body: { name: 'claim-documents-received', processInstanceId: c.instance.id, variables: { receivedDocuments: ['invoice-4711.pdf'] } } };
  },
  'POST /api/signals': () => ({ params: {}, body: { name: 'matrix-signal' } }),
  'GET /api/jobs': () => ({ params: {} }),
  'PUT /api/jobs/:id/due': (fx) => ({ params: { id: fx.jobId }, body: { dueAt: '2036-01-05T09:00:00.000Z' } }),
  'GET /api/incidents': (fx) => ({
    params: {},
    query: '?limit=500',
    instance: fx.boom.instance,
    sees: (b) => b.items.some((i: any) => i.id === fx.boom.incidentId),
    // an incident shows no process key: its instance's, as an admin reads it
    items: async (b) =>
      Promise.all(whole(b).map(async (i: any) => ({ params: {}, instance: { id: i.processInstanceId, processKey: (await ok(fx, 'admin', 'GET', `/api/process-instances/${i.processInstanceId}`, 200)).processKey, participants: [] } }))),
  }),
  'POST /api/incidents/:id/retry': async (fx) => {
    const b = await freshIncident(fx);
    return { params: { id: b.incidentId }, instance: b.instance, body: {} };
  },
  'POST /api/incidents/:id/resolve': async (fx) => {
    const b = await freshIncident(fx);
    return { params: { id: b.incidentId }, instance: b.instance, body: { note: 'fixed downstream' } };
  },
  'GET /api/users': () => ({ params: {} }),
  'POST /api/users': () => ({ params: {}, body: { name: `m-new-${++userIndex}`, roles: ['ops'], groups: ['matrix-nobody'] }, status: 201 }),
  'PATCH /api/users/:name': async (fx) => {
    const name = await freshUser(fx, 'm-patch');
    const groups = ['matrix-nobody', 'matrix-nobody-2'];
    return { params: { name }, body: { groups }, after: (f) => void (f.users.get(name)!.groups = groups) };
  },
  'DELETE /api/users/:name': async (fx) => {
    const name = await freshUser(fx, 'm-delete');
    return { params: { name }, status: 204, after: (f) => void f.users.delete(name) };
  },
  'GET /api/authorizations': () => ({ params: {} }),
  'POST /api/authorizations': (_fx, actor) => ({ params: {}, body: { group: 'matrix-nobody', resourceType: 'signal', resourceId: `matrix-grant-${actor}`, permissions: ['broadcast'] }, status: 201 }),
  'DELETE /api/authorizations/:id': async (fx, actor) => {
    const g = await ok(fx, 'admin', 'POST', '/api/authorizations', 201, { group: 'matrix-nobody', resourceType: 'signal', resourceId: `matrix-revoke-${actor}`, permissions: ['broadcast'] });
    return { params: { id: g.id }, status: 204 };
  },
  'GET /api/authorizations/sensitive-variables': () => ({ params: {} }),
  'GET /api/history/events': (fx) => ({ params: {}, query: `?processInstanceId=${fx.claim.instance.id}&limit=5` }),
  'GET /api/history/export': (fx) => ({ params: {}, query: `?format=ndjson&processInstanceId=${fx.claim.instance.id}` }),
  'GET /api/history/operations': () => ({ params: {}, query: '?limit=5' }),
  'GET /api/history/verify': (fx) => ({ params: {}, query: `?processInstanceId=${fx.claim.instance.id}` }),
  'GET /api/history/digests': () => ({ params: {} }),
  'POST /api/claims': (fx) => ({ params: {}, body: claimReport(fx.d.demo, 'auto', ++claimIndex, fx.d.t.clock.now()), status: 201 }),
  'GET /api/claims/:claimNo/status': (fx) => ({ params: { claimNo: fx.claim.claimNo }, instance: fx.claim.instance }),
  'GET /api/claims/:claimNo/notifications': (fx) => ({ params: { claimNo: fx.claim.claimNo } }),
  'POST /api/claims/:claimNo/documents': async (fx) => {
    const c = await waitingForDocuments(fx);
    return { params: { claimNo: c.claimNo }, body: { documents: ['invoice-4711.pdf'] } };
  },
  'POST /api/policies/:policyNo/changes': async (fx) => ({ params: { policyNo: await freshPolicy(fx) }, body: { effectiveDate: today(fx), changes: { propertyAddress: '1 Matrix Road, Hangzhou' } }, status: 201 }),
  'POST /api/policies/:policyNo/cancellations': async (fx) => ({ params: { policyNo: await freshPolicy(fx) }, body: { cancelledBy: 'customer', reason: 'request' }, status: 201 }),
  'GET /api/policies/:policyNo': (fx) => ({ params: { policyNo: fx.d.demo.policies[0].policyNo } }),
  'GET /api/reports/claims': () => ({ params: {}, query: '?from=2026-01-01&to=2026-12-31&channel=phone' }),
  'GET /api/reports/sales': () => ({ params: {}, query: '?from=2026-01-01&to=2026-12-31' }),
  'GET /metrics': () => ({ params: {} }),
  'POST /api/complaints': () => ({ params: {}, body: COMPLAINT, status: 201 }),
  'GET /api/complaints/:complaintNo': async (fx) => ({ params: { complaintNo: await once('complaint', async () => (await ok(fx, 'cs', 'POST', '/api/complaints', 201, COMPLAINT)).complaintNo) } }),
  'POST /api/consultations': () => ({ params: {}, body: CONSULTATION, status: 201 }),
  'GET /api/consultations/:consultationNo': async (fx) => ({ params: { consultationNo: await once('consultation', async () => (await ok(fx, 'cs', 'POST', '/api/consultations', 201, CONSULTATION)).consultationNo) } }),
  'POST /api/disputes': (fx) => ({ params: {}, body: disputeOf(fx), status: 201 }),
  'GET /api/disputes/:disputeNo': async (fx) => ({ params: { disputeNo: await once('dispute', async () => (await ok(fx, 'cs', 'POST', '/api/disputes', 201, disputeOf(fx))).disputeNo) } }),
  'GET /api/reports/complaints': () => ({ params: {}, query: '?from=2026-01-01&to=2026-12-31' }),
  'POST /engine-rest/external-task/fetchAndLock': () => ({ params: {}, topic: 'matrix.ext', body: { workerId: MATRIX_WORKER, maxTasks: 1, topics: [{ topicName: 'matrix.ext', lockDuration: 1000, businessKey: 'matrix-none' }] } }),
  'GET /engine-rest/external-task': () => ({ params: {}, topic: 'matrix.ext', query: '?topicName=matrix.ext' }),
  'GET /engine-rest/external-task/:id': async (fx) => ({ params: { id: await lockedExternal(fx) }, topic: 'matrix.ext' }),
  'POST /engine-rest/external-task/:id/complete': async (fx) => ({ params: { id: await lockedExternal(fx) }, topic: 'matrix.ext', body: { workerId: MATRIX_WORKER, variables: { ok: { type: 'Boolean', value: true } } }, status: 204 }),
  'POST /engine-rest/external-task/:id/failure': async (fx) => ({ params: { id: await lockedExternal(fx) }, topic: 'matrix.ext', body: { workerId: MATRIX_WORKER, errorMessage: 'down', retries: 2, retryTimeout: 1000 }, status: 204 }),
  'POST /engine-rest/external-task/:id/bpmnError': async (fx) => ({ params: { id: await lockedExternal(fx) }, topic: 'matrix.ext', body: { workerId: MATRIX_WORKER, errorCode: 'MATRIX_UNCAUGHT' }, status: 204 }),
  'POST /engine-rest/external-task/:id/extendLock': async (fx) => ({ params: { id: await lockedExternal(fx) }, topic: 'matrix.ext', body: { workerId: MATRIX_WORKER, newDuration: 60_000 }, status: 204 }),
  'POST /engine-rest/external-task/:id/unlock': async (fx) => ({ params: { id: await lockedExternal(fx) }, topic: 'matrix.ext', status: 204 }),
};

/** customer service (src/processes/customer-service/routes.ts): a complaint, a question, a dispute of the shared claim */
const COMPLAINT = { channel: 'phone', category: 'policy-service', complainantName: 'Ann Lee', summary: 'Nobody answered my letter about the policy.', contactEmail: 'ann@example.com' };
const CONSULTATION = { channel: 'phone', topic: 'coverage', question: 'Is my garden shed covered?', customerName: 'Ann Lee', contactEmail: 'ann@example.com' };
const disputeOf = (fx: Fx) => ({ subjectType: 'claim', claimNo: fx.claim.claimNo, contestedAction: 'claim-delay', grounds: 'The claim has been open for weeks without a decision.' });
const made = new Map<string, Promise<string>>();
/** One resource of a kind for the read routes, made on first use. */
const once = (kind: string, make: () => Promise<string>) => {
  if (!made.has(kind)) made.set(kind, make());
  return made.get(kind)!;
};
/** A new active policy of the demo customer (cover from 10 days ago for a year): a fresh target for policy servicing. */
let policyIndex = 0;
const today = (fx: Fx) => new Date(fx.d.t.clock.now()).toISOString().slice(0, 10);
async function freshPolicy(fx: Fx): Promise<string> {
  const now = fx.d.t.clock.now();
  const policyNo = `POL-MATRIX-2026-${String(++policyIndex).padStart(6, '0')}`;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  await fx.d.store.insertPolicy({ policyNo, customerId: 'CUST-000001', productCode: 'HOME', productVersion: 1, status: 'active', startDate: day(now - 10 * 86_400_000), endDate: day(now + 354 * 86_400_000), sumInsured: 500_000, deductible: 500, coinsurance: 1, perils: ['fire', 'water'], premium: 1250, coverChangedAt: null, quoteNo: null, schedule: {}, processInstanceId: null });
  return policyNo;
}

const MATRIX_WORKER = 'matrix-worker';
let externalIndex = 0;
/** A new instance of matrix-ext whose external task MATRIX_WORKER holds: its id. */
async function lockedExternal(fx: Fx): Promise<string> {
  const businessKey = `matrix-ext-${++externalIndex}`;
  await ok(fx, 'admin', 'POST', '/api/process-definitions/matrix-ext/start', 201, { businessKey });
  const [t] = await ok(fx, 'admin', 'POST', '/engine-rest/external-task/fetchAndLock', 200, { workerId: MATRIX_WORKER, maxTasks: 1, topics: [{ topicName: 'matrix.ext', lockDuration: 600_000, businessKey }] });
  return t.id;
}

/** The route's url with its parameters filled in (`*` the wildcard rest). */
function pathOf(route: RouteRow, params: Record<string, string>): string {
  return route.url
    .replace(/:([A-Za-z0-9_]+)/g, (_, n: string) => {
      if (params[n] === undefined) throw new Error(`${route.key}: the builder gave no path parameter ${n}`);
      return encodeURIComponent(params[n]);
    })
    .replace('*', () => params['*'] ?? '');
}

// ------------------------------------------------------------------------------ the callers

/**
 * The "ops in the granted group" of a route: for a task route an ops user of the task's candidate group (its
 * assignee where the route needs one); for a permission the first group or user the grants in force give it on
 * the request's resource (the shipped defaults first, then SETUP_GRANTS); else any ops user.
 */
async function grantedOps(fx: Fx, route: RouteRow, access: RouteAccess, t: Target): Promise<Principal> {
  if (access.task) {
    if (access.task === 'assignee') return fx.users.get(t.task!.assignee!)!;
    return opsIn(fx, t.task!.candidateGroups[0]);
  }
  if (access.permission && route.roles?.includes('ops')) {
    const { permission, resourceType } = access.permission;
    const id = resourceIdOf(access.permission.resourceId, t, route.key);
    const [first] = grantees(fx.grants, permission, resourceType, id);
    if (!first) throw new Error(`${route.key}: no group or user is granted ${permission} on ${resourceType}:${id}, so no ops user can be allowed: add a grant to SETUP_GRANTS`);
    if (first.user) return fx.users.get(first.user)!;
    return opsIn(fx, first.group!);
  }
  return opsIn(fx, GRANTED);
}

async function principalOf(fx: Fx, actor: ActorLabel, route: RouteRow, access: RouteAccess, t: Target): Promise<Principal | null> {
  switch (actor) {
    case 'no-token':
      return null;
    case 'ops-granted':
      return grantedOps(fx, route, access, t);
    case 'ops-other':
      return fx.users.get('m-outsider')!;
    default:
      return fx.users.get(`m-${actor}`) ?? fx.users.get(actor)!;
  }
}

function verdict(exp: Expected, res: Res, built: Built): boolean {
  if ('status' in exp) return res.status === exp.status && res.body?.code === (exp.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
  if ('sees' in exp) return res.status === 200 && built.sees!(res.body) === exp.sees;
  return res.status === (built.status ?? 200);
}

const shown = (exp: Expected) => ('status' in exp ? String(exp.status) : 'sees' in exp ? `200 ${exp.sees ? 'showing' : 'not showing'} the target` : 'allowed');

// ------------------------------------------------------------------------------ the suite

const matrix = reporting(suite<Fx>('authorization matrix: every route x admin, analyst, ops granted, ops other, auditor, worker, disabled, no token'));

matrix.before(async (fx) => {
  // claimReport gives each claim its own policy copy: claims on one policy would be duplicates or too frequent
  fx.d = await domain({}, undefined, { policyCopies: 400 });
  fx.d.t.engine.registerHandler(
    'matrix.boom',
    () => {
      throw new Error('downstream system down');
    },
    { retries: 1 },
  );
  const table = routeTable();
  fx.app = await buildApp({ engine: fx.d.t.engine, plugins: [domainRoutes], onRoute: table.collect });
  fx.routes = table.rows;
  await fx.app.listen({ port: 0, host: '127.0.0.1' });
  fx.base = `http://127.0.0.1:${(fx.app.server.address() as AddressInfo).port}`;
  fx.users = new Map();
  fx.taskHolders = new Set();
  for (const [name, token] of Object.entries(fx.d.tokens)) {
    const u = (await fx.d.t.engine.users.list()).find((x) => x.name === name)!;
    fx.users.set(name, { name, roles: u.roles, groups: u.groups, token });
  }
  await addUser(fx, 'm-auditor', ['auditor'], []);
  // a worker in a group with grants: the roles decide first
  await addUser(fx, 'm-worker', ['worker'], ['customer-service']);
  await addUser(fx, 'm-outsider', ['ops'], [OUTSIDERS]);
  // an admin, disabled over the API: its token no longer authenticates
  await addUser(fx, 'm-disabled', ['admin'], []);
  await ok(fx, 'admin', 'PATCH', '/api/users/m-disabled', 200, { disabled: true });
  fx.users.get('m-disabled')!.disabled = true;

  for (const xml of [BOOM, timerProcess('matrix-timer'), SIGNAL_WAIT, EXT]) await ok(fx, 'admin', 'POST', '/api/deployments', 201, undefined, { type: 'application/xml', payload: xml });
  for (const g of SETUP_GRANTS) await ok(fx, 'admin', 'POST', '/api/authorizations', 201, { ...g, description: 'the authorization matrix' });
  fx.grants = [...shippedGrants(), ...SETUP_GRANTS];
  // the grants in force are the model's, nothing else
  const stored = (await ok(fx, 'admin', 'GET', '/api/authorizations?limit=500', 200)).items;
  const norm = (g: GrantRow) => JSON.stringify([g.group ?? null, g.user ?? null, g.resourceType, g.resourceId, [...g.permissions].sort()]);
  assert.equal(stored.map(norm).sort(), fx.grants.map(norm).sort(), 'the grants in force are the shipped defaults and SETUP_GRANTS');
  assert.not.ok(fx.grants.some((g) => g.group === OUTSIDERS), 'no grant names the other group');

  fx.claim = await investigated(fx);
  fx.task = await openTask(fx, fx.claim.instance.id);
  assert.equal(fx.task.candidateGroups, ['adjusters']);
  assert.is((await ok(fx, 'admin', 'GET', `/api/process-instances/${fx.claim.instance.id}`, 200)).variables.investigationFindings, FINDINGS, 'the findings are there to leak');
  assert.not.ok(fx.task.candidateGroups.includes(OUTSIDERS));
  fx.boom = await freshIncident(fx);
  const timer = await ok(fx, 'admin', 'POST', '/api/process-definitions/matrix-timer/start', 201, {});
  fx.jobId = (await ok(fx, 'admin', 'GET', `/api/jobs?processInstanceId=${timer.id}`, 200)).items[0].id;
});

matrix.after(async (fx) => {
  await fx.app?.close();
  await fx.d?.close();
});

matrix('the route table: every route has a row in ROUTE_ACCESS (or is open, outside /api and /engine-rest) and a request builder', (fx) => {
  assert.ok(fx.routes.length > 40, `the route table was collected (${fx.routes.length} routes)`);
  const keys = fx.routes.map((r) => r.key);
  // the API: /api, and the Camunda-compatible worker API under /engine-rest
  const inApi = (r: RouteRow) => r.url.startsWith('/api/') || r.url.startsWith('/engine-rest/');
  assert.ok(fx.routes.some((r) => r.url.startsWith('/engine-rest/')), 'the /engine-rest routes are in the table');
  assert.equal(fx.routes.filter((r) => inApi(r) && !ROUTE_ACCESS[r.key]).map((r) => r.key), [], 'routes under /api or /engine-rest without a row in ROUTE_ACCESS');
  assert.equal(fx.routes.filter((r) => inApi(r) && !r.roles).map((r) => r.key), [], 'routes under /api or /engine-rest without config.roles (open to anyone)');
  assert.equal(fx.routes.filter((r) => !inApi(r) && r.roles && !ROUTE_ACCESS[r.key]).map((r) => r.key), [], 'routes outside /api and /engine-rest with roles: give them a ROUTE_ACCESS row');
  assert.equal(fx.routes.filter((r) => !r.roles && !/^\/(health|docs)(\/|$)/.test(r.url)).map((r) => r.key), [], 'open routes other than /health and the API documentation');
  assert.equal(keys.filter((k) => !BUILDERS[k]), [], 'routes without a request builder in BUILDERS (write one: a valid request on a real resource)');
  assert.equal(Object.keys(BUILDERS).filter((k) => !keys.includes(k)), [], 'builders of routes that do not exist');
});

matrix('every route x every caller answers what the model derives (roles, ROUTE_ACCESS, role permissions, grants, participation)', async (fx) => {
  const failures: string[] = [];
  let cells = 0;
  const counts: Record<string, number> = {};
  for (const route of fx.routes) {
    const access: RouteAccess = route.roles ? ROUTE_ACCESS[route.key] : {};
    const build = BUILDERS[route.key];
    if (!access || !build) continue; // the route-table test names them
    let last: Built | undefined;
    const outcome: Partial<Record<ActorLabel, Expected>> = {};
    for (const actor of ACTORS) {
      // a caller the token or the roles turn away never reaches the resource: it gets the last one built (spent or
      // not); a wrongful pass then still shows, as anything but the 401 or 403
      const gate = actor === 'ops-granted' ? { name: '', roles: ['ops' as Role], groups: [] } : await principalOf(fx, actor, route, access, { params: {} });
      const turnedAway = !!route.roles && (gate === null || !!gate.disabled || !gate.roles.some((r) => route.roles!.includes(r)));
      const built = turnedAway && last ? last : (last = await build(fx, actor));
      const who = await principalOf(fx, actor, route, access, built);
      const exp = (outcome[actor] = expectation(fx.grants, route, access, who, built));
      if ('sees' in exp && !built.sees) throw new Error(`${route.key}: a filtered list, and its builder gives no sees()`);
      const res = await call(fx, who === null ? null : tokenOf(fx, who.name), route.method, pathOf(route, built.params) + (built.query ?? ''), built.body, built.raw);
      cells++;
      const kind = 'status' in exp ? String(exp.status) : 'sees' in exp ? (exp.sees ? 'sees' : 'filtered out') : 'allowed';
      counts[kind] = (counts[kind] ?? 0) + 1;
      const cell = `${route.key} as ${actor}${who ? ` (${who.name}: ${who.roles.join(',')}; ${who.groups.join(',') || 'no group'})` : ''}`;
      if (!verdict(exp, res, built)) {
        failures.push(`${cell}: the model says ${shown(exp)} (${exp.why}); got ${res.status} ${res.text.slice(0, 240).replace(/\s+/g, ' ')}`);
      } else if ('sees' in exp && who && built.items && !(access.participation && fx.taskHolders.has(who.name))) {
        // a filtered list shows nothing the model does not allow (participation aside for those who hold tasks)
        for (const item of await built.items(res.body)) {
          const e = expectation(fx.grants, route, access, who, item);
          if (!('sees' in e && e.sees)) failures.push(`${cell}: lists ${JSON.stringify(item.instance ?? item.task ?? item.each)}, which the model does not allow (${e.why})`);
        }
      }
      if (res.status < 300) built.after?.(fx);
      // sensitive variables: whatever a route answers, the findings only to their groups (and admins)
      if (who && !readsSensitive(who, 'claims', 'investigationFindings') && res.text.includes(FINDINGS)) failures.push(`${cell}: shows the investigation findings, a sensitive variable of claims`);
      if (who && access.task && route.method !== 'GET' && res.status < 300) fx.taskHolders.add(who.name);
    }
    // the callers are what their names say: where ops pass the roles and a permission or a task decides, the
    // granted one is allowed and the other one is not
    if (route.roles?.includes('ops') && (access.permission || access.task)) {
      const [granted, other] = [outcome['ops-granted']!, outcome['ops-other']!];
      if (!('allowed' in granted || ('sees' in granted && granted.sees))) failures.push(`${route.key}: the model does not allow the "granted" ops caller (${granted.why})`);
      if (!(('status' in other && other.status === 403) || ('sees' in other && !other.sees))) failures.push(`${route.key}: the model allows the "other group" ops caller (${other.why})`);
    }
  }
  assert.is(cells, fx.routes.length * ACTORS.length, 'every cell ran');
  assert.equal(failures, [], `${failures.length} of ${cells} cells differ from the model:\n${failures.join('\n')}`);
  // every kind of outcome occurs: the matrix can fail in each direction
  for (const kind of ['401', '403', 'allowed', 'sees', 'filtered out']) assert.ok(counts[kind] > 0, `some cell is ${kind}: ${JSON.stringify(counts)}`);
  console.log(`  authorization matrix: ${fx.routes.length} routes x ${ACTORS.length} callers = ${cells} cells ${JSON.stringify(counts)}`);
});

// ------------------------------------------------------------------------------ the attacks of the issue

/** Every ops user of the suite (the staff of test/insurance.ts and the matrix's own). */
const opsUsers = (fx: Fx) => [...fx.users.values()].filter((u) => u.roles.includes('ops') && !u.disabled);

/** What the model says `who` gets on a route for a target. */
function modelSays(fx: Fx, key: string, who: Principal, t: Target): Expected {
  const route = fx.routes.find((r) => r.key === key);
  assert.ok(route, `route ${key}`);
  return expectation(fx.grants, route, ROUTE_ACCESS[key], who, t);
}
const denied = (e: Expected) => 'status' in e && e.status === 403;

matrix('attack: the claim-documents-received injection over /api/messages is 403 for every ops user without correlate, 400 naming the field for one with it; the claim pays 7,200', async (fx) => {
  const lossDate = new Date(fx.d.t.clock.now() - 2 * 86_400_000).toISOString().slice(0, 10);
  const r = await ok(fx, 'cs', 'POST', '/api/claims', 201, { policyNo: fx.d.demo.policies[1].policyNo, channel: 'phone', lossDate, peril: 'water', claimedAmount: 10000, description: 'Burst pipe' });
  const t = await openTask(fx, r.processInstanceId);
  await ok(fx, 'adjuster', 'POST', `/api/tasks/${t.id}/claim`, 200);
  await ok(fx, 'adjuster', 'POST', `/api/tasks/${t.id}/complete`, 200, { variables: { reviewDecision: 'request-documents', missingDocuments: ['repair invoice'] } });
  const injection = { name: 'claim-documents-received', processInstanceId: r.processInstanceId, variables: { deductible: 0, coinsurance: 1 } };
  const refused = opsUsers(fx).filter((u) => denied(modelSays(fx, 'POST /api/messages', u, { params: {}, body: injection })));
  assert.ok(refused.some((u) => u.name === 'surveyor') && refused.some((u) => u.name === 'm-outsider'), refused.map((u) => u.name).join());
  for (const u of refused) {
    const res = await call(fx, u.token, 'POST', '/api/messages', injection);
    assert.equal([res.status, res.body?.details?.permission, res.body?.details?.resourceId], [403, 'correlate', 'claim-documents-received'], `${u.name}: ${res.text.slice(0, 300)}`);
  }
  // customer service may send the message: the variables it may set are the schema's, nothing else
  const bad = await ok(fx, 'cs', 'POST', '/api/messages', 400, injection);
  assert.is(bad.code, 'VALIDATION_FAILED');
  assert.match(bad.message, /deductible/);
  await ok(fx, 'cs', 'POST', `/api/claims/${r.claimNo}/documents`, 200, { documents: ['invoice-4711.pdf'] });
  const review = await openTask(fx, r.processInstanceId);
  await ok(fx, 'adjuster', 'POST', `/api/tasks/${review.id}/claim`, 200);
  await ok(fx, 'adjuster', 'POST', `/api/tasks/${review.id}/complete`, 200, { variables: { reviewDecision: 'approve' } });
  const status = await ok(fx, 'cs', 'GET', `/api/claims/${r.claimNo}/status`, 200);
  assert.equal([status.status, status.payout], ['closed', 7200]);
});

matrix('attack: a signal broadcast by an ops user without broadcast is 403 and reaches no waiting instance; the grantee reaches it', async (fx) => {
  const waiting = await ok(fx, 'admin', 'POST', '/api/process-definitions/matrix-signal-wait/start', 201, {});
  const body = { name: 'matrix-signal', variables: {} };
  const refused = opsUsers(fx).filter((u) => denied(modelSays(fx, 'POST /api/signals', u, { params: {}, body })));
  assert.ok(refused.length >= 10 && refused.some((u) => u.name === 'm-outsider'), refused.map((u) => u.name).join());
  for (const u of refused) {
    const res = await call(fx, u.token, 'POST', '/api/signals', body);
    assert.equal([res.status, res.body?.details?.permission, res.body?.details?.resourceId], [403, 'broadcast', 'matrix-signal'], `${u.name}: ${res.text.slice(0, 300)}`);
  }
  assert.is((await ok(fx, 'admin', 'GET', `/api/process-instances/${waiting.id}`, 200)).status, 'active', 'still waiting for the signal');
  const granted = await opsIn(fx, GRANTED);
  const sent = await ok(fx, granted.name, 'POST', '/api/signals', 200, body);
  assert.ok(sent.processInstanceIds.includes(waiting.id), JSON.stringify(sent));
  assert.is((await ok(fx, 'admin', 'GET', `/api/process-instances/${waiting.id}`, 200)).status, 'completed');
});

matrix('attack: an ops user of another group reads no claim (instance, history, decisions: 403 without its contact details) and lists none', async (fx) => {
  const c = await report(fx, 'review');
  const on = { params: { id: c.instance.id }, instance: c.instance };
  let refusals = 0;
  for (const u of opsUsers(fx)) {
    for (const key of ['GET /api/process-instances/:id', 'GET /api/process-instances/:id/history', 'GET /api/process-instances/:id/decisions']) {
      const res = await call(fx, u.token, 'GET', key.replace(':id', c.instance.id).replace('GET ', ''));
      if (denied(modelSays(fx, key, u, on))) {
        refusals++;
        assert.is(res.status, 403, `${u.name} ${key}: ${res.text.slice(0, 300)}`);
        assert.not.match(res.text, /ann@example\.com|5555 0101/, `${u.name} ${key}: nothing of the claim's contact leaks`);
      } else assert.is(res.status, 200, `${u.name} ${key}: ${res.text.slice(0, 300)}`);
    }
    const listed = await ok(fx, u.name, 'GET', `/api/process-instances?businessKey=${c.claimNo}`, 200);
    const sees = modelSays(fx, 'GET /api/process-instances', u, on);
    assert.is(listed.total, 'sees' in sees && sees.sees ? 1 : 0, `${u.name} lists the claim iff the model allows it (${sees.why})`);
  }
  assert.ok(refusals >= 20, `refusals: ${refusals}`);
  assert.is((await ok(fx, 'm-outsider', 'GET', '/api/process-instances?limit=500', 200)).total, 0, 'the other group lists no instance at all');
});

matrix('attack: the incident list is narrowed to the definitions an ops user may read-instances; the other group lists none', async (fx) => {
  const b = await freshIncident(fx);
  for (const u of opsUsers(fx)) {
    const page = await ok(fx, u.name, 'GET', '/api/incidents?limit=500', 200);
    for (const inc of whole(page)) {
      const key = (await ok(fx, 'admin', 'GET', `/api/process-instances/${inc.processInstanceId}`, 200)).processKey;
      const e = modelSays(fx, 'GET /api/incidents', u, { params: {}, instance: { id: inc.processInstanceId, processKey: key, participants: [] } });
      assert.ok('sees' in e && e.sees, `${u.name} lists an incident of ${key} (${e.why})`);
    }
    const e = modelSays(fx, 'GET /api/incidents', u, { params: {}, instance: b.instance });
    assert.is(page.items.some((i: any) => i.id === b.incidentId), 'sees' in e && e.sees, `${u.name}: the incident of matrix-boom (${e.why})`);
  }
  assert.is((await ok(fx, 'm-outsider', 'GET', '/api/incidents?limit=500', 200)).total, 0);
  assert.ok((await ok(fx, `m-${GRANTED}`, 'GET', '/api/incidents?limit=500', 200)).items.some((i: any) => i.id === b.incidentId));
});

matrix('attack: a direct start of claims by an ops user without start is 403, also with the number of an open claim, and starts nothing', async (fx) => {
  const count = async () => (await ok(fx, 'admin', 'GET', '/api/process-instances?key=claims&limit=1', 200)).total as number;
  const before = await count();
  const variables = claimReport(fx.d.demo, 'auto', ++claimIndex, fx.d.t.clock.now());
  const target = { params: { key: 'claims' }, body: { businessKey: fx.claim.claimNo, variables } };
  const refused = opsUsers(fx).filter((u) => denied(modelSays(fx, 'POST /api/process-definitions/:key/start', u, target)));
  assert.ok(refused.some((u) => u.name === 'surveyor') && refused.some((u) => u.name === 'm-outsider'), refused.map((u) => u.name).join());
  for (const u of refused) {
    const direct = await call(fx, u.token, 'POST', '/api/process-definitions/claims/start', target.body);
    assert.equal([direct.status, direct.body?.details?.permission, direct.body?.details?.resourceId], [403, 'start', 'claims'], `${u.name}: ${direct.text.slice(0, 300)}`);
    assert.is((await call(fx, u.token, 'POST', '/api/claims', variables)).status, 403, `${u.name} through intake`);
  }
  assert.is(await count(), before, 'no claim was started');
  // who may start claims still cannot reuse the number of an open claim
  assert.is((await ok(fx, 'cs', 'POST', '/api/process-definitions/claims/start', 409, target.body)).code, 'BUSINESS_KEY_IN_USE');
});

matrix.run();
