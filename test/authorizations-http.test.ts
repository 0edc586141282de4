/**
 * Authorizations over HTTP (issue 10, section 1), on a real socket, with the shipped processes, their default
 * grants (processes/authorizations.json) and the people of test/insurance.ts: the injection of the issue,
 * direct starts, cross-group reads, incidents, grants managed over HTTP and the CLI (operation log and chain),
 * sensitive variables in reads and exports (the chains still verify), the defaults file deployed over the API,
 * and the route table every route must have a row in.
 */
import { suite } from 'uvu';
import { reporting } from './support/printable-errors.ts';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { domain, DAY, type Domain } from './insurance.ts';
import { onPostgres, TEST_DB_URL } from './helpers.ts';
import { repoRoot } from './support/server.ts';
import { ROUTE_ACCESS } from '../src/http/routes/authorizations.ts';
import { readExport } from '../src/audit/export.ts';
import { verifyChainEvents } from '../src/audit/chain.ts';

interface Ctx {
  d: Domain;
  base: string;
  tok: Record<string, string>;
  policy: string[];
}

const http = reporting(suite<Ctx>('authorizations over HTTP'));
http.before(async (ctx) => {
  ctx.d = await domain();
  ctx.policy = ctx.d.demo.policies.map((p) => p.policyNo);
  ctx.tok = { ...ctx.d.tokens };
  ctx.tok.auditor = (await ctx.d.t.engine.users.add({ name: 'vera', roles: ['auditor'], groups: [] })).token;
  ctx.tok.worker = (await ctx.d.t.engine.users.add({ name: 'bot', roles: ['worker'], groups: ['robots'] })).token;
  await ctx.d.app.listen({ port: 0, host: '127.0.0.1' });
  ctx.base = `http://127.0.0.1:${(ctx.d.app.server.address() as AddressInfo).port}`;
});
http.after(async (ctx) => ctx.d.close());

interface Res {
  status: number;
  body: any;
  text: string;
}

async function call(ctx: Ctx, who: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(ctx.base + path, {
    method,
    headers: { authorization: `Bearer ${ctx.tok[who]}`, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, text };
}

function expect(res: Res, status: number, what = ''): any {
  assert.is(res.status, status, `${what} ${res.text.slice(0, 400)}`);
  return res.body;
}

const lossDate = (ctx: Ctx, days: number) => new Date(ctx.d.t.clock.now() - days * DAY).toISOString().slice(0, 10);

async function report(ctx: Ctx, body: Record<string, unknown>): Promise<{ claimNo: string; processInstanceId: string }> {
  return expect(await call(ctx, 'cs', 'POST', '/api/claims', { channel: 'phone', lossDate: lossDate(ctx, 2), description: 'Reported by phone', ...body }), 201, 'intake');
}

/** Claims and completes the open task at `activityId` of an instance as `who`, over HTTP. */
async function work(ctx: Ctx, who: string, instanceId: string, activityId: string, variables: Record<string, unknown>) {
  const list = expect(await call(ctx, who, 'GET', `/api/tasks?processInstanceId=${instanceId}`), 200);
  const task = list.items.find((x: any) => x.activityId === activityId);
  assert.ok(task, `${who} sees ${activityId}`);
  expect(await call(ctx, who, 'POST', `/api/tasks/${task.id}/claim`), 200, 'claim');
  expect(await call(ctx, who, 'POST', `/api/tasks/${task.id}/complete`, { variables }), 200, 'complete');
}

http('the injection of the issue: the surveyor is refused (403 naming the permission) and the claim pays 7,200', async (ctx) => {
  const claim = await report(ctx, { policyNo: ctx.policy[1], peril: 'water', claimedAmount: 10000 });
  await work(ctx, 'adjuster', claim.processInstanceId, 'Task_ManualReview', { reviewDecision: 'request-documents', missingDocuments: ['repair invoice'] });
  const injected = await call(ctx, 'surveyor', 'POST', '/api/messages', { name: 'claim-documents-received', processInstanceId: claim.processInstanceId, variables: { deductible: 0, coinsurance: 1 } });
  const err = expect(injected, 403);
  assert.is(err.code, 'FORBIDDEN');
  assert.equal([err.details.permission, err.details.resourceType, err.details.resourceId], ['correlate', 'message', 'claim-documents-received']);
  assert.match(err.message, /POST \/api\/authorizations/);
  expect(await call(ctx, 'surveyor', 'POST', `/api/claims/${claim.claimNo}/documents`, { documents: ['x.pdf'] }), 403, 'the domain route too');
  expect(await call(ctx, 'cs', 'POST', `/api/claims/${claim.claimNo}/documents`, { documents: ['invoice-4711.pdf'] }), 200);
  await work(ctx, 'adjuster', claim.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  const status = expect(await call(ctx, 'cs', 'GET', `/api/claims/${claim.claimNo}/status`), 200);
  assert.equal([status.status, status.payout], ['closed', 7200]);
});

http('a direct start of claims needs start on claims: a surveyor gets 403 (also with an existing claim number); intake works for customer service', async (ctx) => {
  const existing = await report(ctx, { policyNo: ctx.policy[0], peril: 'glass', claimedAmount: 900 });
  const direct = await call(ctx, 'surveyor', 'POST', '/api/process-definitions/claims/start', { businessKey: existing.claimNo, variables: { policyNo: ctx.policy[0], channel: 'phone', lossDate: lossDate(ctx, 1), peril: 'glass', claimedAmount: 900, description: 'Duplicate' } });
  assert.equal([direct.status, direct.body.details.permission, direct.body.details.resourceId], [403, 'start', 'claims']);
  expect(await call(ctx, 'surveyor', 'POST', '/api/claims', { policyNo: ctx.policy[0], channel: 'phone', lossDate: lossDate(ctx, 1), peril: 'glass', claimedAmount: 900, description: 'By a surveyor' }), 403);
  expect(await call(ctx, 'analyst', 'GET', `/api/claims/${existing.claimNo}/status`), 403);
  assert.equal(expect(await call(ctx, 'cs', 'GET', `/api/claims/${existing.claimNo}/status`), 200).status, 'closed');
});

http('reads: another group reads no instance, history or decisions and lists none; the adjuster reads the claim it worked', async (ctx) => {
  const claim = await report(ctx, { policyNo: ctx.policy[0], peril: 'water', claimedAmount: 12000, contactEmail: 'ann@example.com', contactPhone: '+86 10 5555 0101' });
  const id = claim.processInstanceId;
  for (const path of [`/api/process-instances/${id}`, `/api/process-instances/${id}/history`, `/api/process-instances/${id}/decisions`]) {
    const res = await call(ctx, 'agent', 'GET', path);
    assert.is(res.status, 403, path);
    assert.not.match(res.text, /ann@example\.com|5555/, 'nothing of the claim leaks in the refusal');
  }
  assert.is(expect(await call(ctx, 'agent', 'GET', '/api/process-instances?key=claims'), 200).total, 0);
  assert.is(expect(await call(ctx, 'adjuster', 'GET', `/api/process-instances?key=claims`), 200).items.filter((i: any) => i.id === id).length, 0, 'not before it holds a task');
  await work(ctx, 'adjuster', id, 'Task_ManualReview', { reviewDecision: 'approve' });
  assert.is(expect(await call(ctx, 'adjuster', 'GET', `/api/process-instances/${id}`), 200).variables.contactEmail, 'ann@example.com');
  assert.ok(expect(await call(ctx, 'adjuster', 'GET', `/api/process-instances/${id}/history`), 200).length > 10);
  assert.ok(expect(await call(ctx, 'adjuster', 'GET', `/api/process-instances/${id}/decisions`), 200).length >= 2);
  assert.ok(expect(await call(ctx, 'adjuster', 'GET', `/api/process-instances?key=claims`), 200).items.some((i: any) => i.id === id));
  const cs = expect(await call(ctx, 'cs', 'GET', `/api/process-instances/${id}`), 200);
  assert.equal([cs.variablesWithheld, cs.variables], [true, {}], 'customer service: read-instances without read-variables');

});

http('incidents are listed to admins and to the grantees of the definition', async (ctx) => {
  const e = ctx.d.t.engine;
  e.registerHandler('authz.http.boom', () => {
    throw new Error('downstream system down');
  }, { retries: 1 });
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://insureflow.test">
  <bpmn:process id="authz-http-boom" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Call" />
    <bpmn:serviceTask id="Task_Call" camunda:type="external" camunda:topic="authz.http.boom" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Call" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;
  expect(await call(ctx, 'admin', 'POST', '/api/deployments', xml, { 'content-type': 'application/xml' }), 201);
  const inst = expect(await call(ctx, 'admin', 'POST', '/api/process-definitions/authz-http-boom/start', {}), 201);
  assert.is(inst.status, 'incident');
  const byAdmin = expect(await call(ctx, 'admin', 'GET', `/api/incidents?processInstanceId=${inst.id}`), 200);
  assert.is(byAdmin.total, 1);
  assert.is(expect(await call(ctx, 'supervisor', 'GET', `/api/incidents?processInstanceId=${inst.id}`), 200).total, 0);
  const g = expect(await call(ctx, 'admin', 'POST', '/api/authorizations', { group: 'claims-supervisors', resourceType: 'process-definition', resourceId: 'authz-http-boom', permissions: ['read-instances'] }), 201);
  assert.equal(expect(await call(ctx, 'supervisor', 'GET', `/api/incidents?processInstanceId=${inst.id}`), 200).items.map((i: any) => i.id), [byAdmin.items[0].id]);
  expect(await call(ctx, 'admin', 'DELETE', `/api/authorizations/${g.id}`), 204);
  assert.is(expect(await call(ctx, 'supervisor', 'GET', `/api/incidents?processInstanceId=${inst.id}`), 200).total, 0);
});

http('admins grant and revoke over HTTP: validated, 409 on a duplicate, each change in the operation log and on the chain', async (ctx) => {
  const body = { group: 'surveyors', resourceType: 'signal', resourceId: 'storm-alert', permissions: ['broadcast'], description: 'storm season' };
  expect(await call(ctx, 'cs', 'POST', '/api/authorizations', body), 403);
  expect(await call(ctx, 'auditor', 'GET', '/api/authorizations'), 403);
  const bad = expect(await call(ctx, 'admin', 'POST', '/api/authorizations', { ...body, permissions: ['start'] }), 400);
  assert.is(bad.code, 'VALIDATION_FAILED');
  assert.match(bad.message, /start is not a permission of signal/);
  expect(await call(ctx, 'admin', 'POST', '/api/authorizations', { ...body, user: 'surveyor' }), 400, 'group and user');
  expect(await call(ctx, 'admin', 'POST', '/api/authorizations', { ...body, resourceType: 'tenant' }), 400);
  expect(await call(ctx, 'admin', 'POST', '/api/authorizations', { ...body, extra: 1 }), 400);
  const g = expect(await call(ctx, 'admin', 'POST', '/api/authorizations', body), 201);
  assert.equal([g.group, g.user, g.resourceType, g.resourceId, g.permissions, g.source, g.createdBy], ['surveyors', null, 'signal', 'storm-alert', ['broadcast'], 'admin', 'admin']);
  assert.is(expect(await call(ctx, 'admin', 'POST', '/api/authorizations', body), 409).code, 'AUTHORIZATION_EXISTS');
  const listed = expect(await call(ctx, 'admin', 'GET', '/api/authorizations?group=surveyors'), 200);
  assert.equal(listed.items.map((x: any) => x.id), [g.id]);
  const defaults = expect(await call(ctx, 'admin', 'GET', '/api/authorizations?source=defaults&limit=500'), 200);
  assert.ok(defaults.items.some((x: any) => x.group === 'customer-service' && x.resourceType === 'message' && x.resourceId === 'claim-documents-received'));
  expect(await call(ctx, 'surveyor', 'POST', '/api/signals', { name: 'storm-alert' }), 200, 'the grant works at once');
  expect(await call(ctx, 'admin', 'DELETE', `/api/authorizations/${g.id}`), 204);
  expect(await call(ctx, 'surveyor', 'POST', '/api/signals', { name: 'storm-alert' }), 403, 'the revocation works at once');
  assert.is(expect(await call(ctx, 'admin', 'DELETE', `/api/authorizations/${g.id}`), 404).code, 'AUTHORIZATION_NOT_FOUND');

  const ops = expect(await call(ctx, 'auditor', 'GET', '/api/history/operations?operation=grant,revoke&order=desc&limit=2'), 200).items;
  assert.equal(ops.map((o: any) => [o.operation, o.actor, o.target.kind, o.target.id, o.chainId]), [
    ['revoke', 'admin', 'authorization', g.id, 'authorizations'],
    ['grant', 'admin', 'authorization', g.id, 'authorizations'],
  ]);
  assert.equal(ops[1].after.permissions, ['broadcast']);
  const chain = expect(await call(ctx, 'auditor', 'GET', '/api/history/verify?chainId=authorizations'), 200);
  assert.is(chain.consistent, true);
});

function runCli(url: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'src', 'bin', 'insureflow.mjs'), ...args], { cwd: repoRoot, env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

http('the CLI: insureflow grant, grants and revoke, recorded as cli:<user> in the operation log and on the chain', async (ctx) => {
  const schema = ctx.d.t.tdb.schema;
  const url = onPostgres ? `${TEST_DB_URL}${TEST_DB_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}` : ctx.d.t.tdb.url;
  const bad = await runCli(url, ['grant', '--group', 'surveyors', 'start', 'message:x']);
  assert.is(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /VALIDATION_FAILED: .*start is not a permission of message/);
  const granted = await runCli(url, ['grant', '--group', 'surveyors', 'read-instances,read-history', 'process-definition:claims', '--description', 'audit of surveys']);
  assert.is(granted.code, 0, granted.stderr);
  const id = /authorization ([0-9a-f-]{36})/.exec(granted.stdout)![1];
  const g = expect(await call(ctx, 'admin', 'GET', '/api/authorizations?group=surveyors&resourceType=process-definition'), 200).items[0];
  assert.equal([g.id, g.permissions, g.description], [id, ['read-instances', 'read-history'], 'audit of surveys']);
  assert.match(g.createdBy, /^cli:/);
  const listed = await runCli(url, ['grants', '--group', 'surveyors']);
  assert.is(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`${id}\\tgroup:surveyors\\tprocess-definition:claims\\tread-instances,read-history\\tadmin`));
  // the surveyor now reads claims it has no task of
  const claim = await report(ctx, { policyNo: ctx.policy[0], peril: 'glass', claimedAmount: 700 });
  expect(await call(ctx, 'surveyor', 'GET', `/api/process-instances/${claim.processInstanceId}/history`), 200);
  const revoked = await runCli(url, ['revoke', id]);
  assert.is(revoked.code, 0, revoked.stderr);
  expect(await call(ctx, 'surveyor', 'GET', `/api/process-instances/${claim.processInstanceId}/history`), 403);
  assert.is((await runCli(url, ['revoke', id])).code, 1);
  const ops = expect(await call(ctx, 'admin', 'GET', '/api/history/operations?operation=grant,revoke&order=desc&limit=2'), 200).items;
  assert.equal(ops.map((o: any) => [o.operation, o.target.id]), [['revoke', id], ['grant', id]]);
  assert.ok(ops.every((o: any) => /^cli:/.test(o.actor)), JSON.stringify(ops.map((o: any) => o.actor)));
  assert.is(expect(await call(ctx, 'admin', 'GET', '/api/history/verify?chainId=authorizations'), 200).consistent, true);

  // insureflow deploy of a changed authorizations.json replaces the defaults (the engine deploys it as SYSTEM)
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-authz-'));
  const shipped = JSON.parse(readFileSync(join(repoRoot, 'processes', 'authorizations.json'), 'utf8'));
  shipped.grants.push({ group: 'surveyors', resourceType: 'process-definition', resourceId: 'claims', permissions: ['read-instances'] });
  writeFileSync(join(dir, 'authorizations.json'), JSON.stringify(shipped, null, 2));
  const deployed = await runCli(url, ['deploy', join(dir, 'authorizations.json')]);
  assert.is(deployed.code, 0, deployed.stderr);
  assert.match(deployed.stdout, new RegExp(`grants   .*authorizations\\.json replaced the default grants \\(${shipped.grants.length} grants, 2 sensitive variables\\)`));
  assert.is(expect(await call(ctx, 'surveyor', 'GET', `/api/process-instances/${claim.processInstanceId}`), 200).variablesWithheld, true);
  const again = await runCli(url, ['deploy', join(dir, 'authorizations.json')]);
  assert.match(again.stdout, /authorizations\.json unchanged/);
});

http('sensitive variables: redacted in instance, task, history, decisions and export reads for others; the chain verifies', async (ctx) => {
  const claim = await report(ctx, { policyNo: ctx.policy[2], peril: 'water', claimedAmount: 1_850_000, lossDate: lossDate(ctx, 1) });
  const id = claim.processInstanceId;
  await work(ctx, 'siu', id, 'Task_Investigate', { investigationOutcome: 'cleared', investigationFindings: 'Burst main confirmed by the utility' });
  const review = expect(await call(ctx, 'adjuster', 'GET', `/api/tasks?processInstanceId=${id}`), 200).items[0];
  expect(await call(ctx, 'adjuster', 'POST', `/api/tasks/${review.id}/claim`), 200);
  const secret = /confirmed by the utility/;
  for (const who of ['adjuster', 'auditor']) {
    const inst = expect(await call(ctx, who, 'GET', `/api/process-instances/${id}`), 200);
    assert.equal(inst.variables.investigationFindings, { $redacted: true }, who);
    const hist = await call(ctx, who, 'GET', `/api/process-instances/${id}/history`);
    assert.not.match(expect(hist, 200) && hist.text, secret, `${who} history`);
    assert.ok(hist.body.some((e: any) => e.redacted === true));
  }
  assert.equal(expect(await call(ctx, 'adjuster', 'GET', `/api/tasks/${review.id}`), 200).variables.investigationFindings, { $redacted: true });
  for (const path of [`/api/history/events?processInstanceId=${id}&limit=1000`, `/api/history/export?format=ndjson&processInstanceId=${id}`, `/api/history/export?format=csv&processInstanceId=${id}`, `/api/history/operations?processInstanceId=${id}`, `/api/process-instances/${id}/state`]) {
    const res = await call(ctx, 'auditor', 'GET', path);
    assert.is(res.status, 200, path);
    assert.not.match(res.text, secret, path);
  }
  assert.match((await call(ctx, 'siu', 'GET', `/api/process-instances/${id}/history`)).text, secret, 'investigators read the findings');
  assert.match((await call(ctx, 'supervisor', 'GET', `/api/process-instances/${id}`)).text, secret, 'supervisors too');
  // an auditor's export marks what it redacted; the admin's export is whole and verifies without the database
  const redactedExport = (await call(ctx, 'auditor', 'GET', `/api/history/export?format=ndjson&processInstanceId=${id}`)).text;
  assert.ok(redactedExport.split('\n').filter(Boolean).some((l) => JSON.parse(l).redacted === true));
  const whole = (await call(ctx, 'admin', 'GET', `/api/history/export?format=ndjson&processInstanceId=${id}`)).text;
  assert.match(whole, secret);
  assert.is(verifyChainEvents(readExport(whole, 'ndjson')).consistent, true);
  assert.is(expect(await call(ctx, 'auditor', 'GET', `/api/history/verify?processInstanceId=${id}`), 200).consistent, true);
  assert.is(expect(await call(ctx, 'auditor', 'GET', `/api/process-instances/${id}/history/verify`), 200).consistent, true);
  const declared = expect(await call(ctx, 'admin', 'GET', '/api/authorizations/sensitive-variables'), 200);
  assert.ok(declared.some((s: any) => s.processKey === 'claims' && s.variable === 'investigationFindings' && s.groups.includes('special-investigations')));
});

http('authorizations.json over POST /api/deployments: 403 for an analyst, 422 naming the entry, 201 for an admin', async (ctx) => {
  const boundary = '----authz';
  const multipart = (content: string) => ({ payload: `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="authorizations.json"\r\nContent-Type: application/json\r\n\r\n${content}\r\n--${boundary}--\r\n`, type: `multipart/form-data; boundary=${boundary}` });
  const good = multipart(JSON.stringify({ grants: [{ group: 'customer-service', resourceType: 'process-definition', resourceId: 'claims', permissions: ['start', 'read-instances'] }], sensitiveVariables: { claims: { investigationFindings: ['special-investigations'] } } }));
  const byAnalyst = await call(ctx, 'analyst', 'POST', '/api/deployments', good.payload, { 'content-type': good.type });
  assert.is(byAnalyst.status, 403, byAnalyst.text);
  const broken = multipart(JSON.stringify({ grants: [{ group: 'customer-service', resourceType: 'process-definition', resourceId: 'claims', permissions: ['correlate'] }] }));
  const refused = expect(await call(ctx, 'admin', 'POST', '/api/deployments', broken.payload, { 'content-type': broken.type }), 422);
  assert.equal([refused.details[0].resource, refused.details[0].element], ['authorizations.json', 'grants[0]']);
  assert.match(refused.details[0].message, /correlate is not a permission of process-definition/);
  const done = expect(await call(ctx, 'admin', 'POST', '/api/deployments', good.payload, { 'content-type': good.type }), 201);
  assert.equal(done.authorizations, { resource: 'authorizations.json', created: true, grants: 1, sensitiveVariables: 1 });
  // the shipped file's other grants are gone: customer service still starts claims, sales agents no longer start sales
  expect(await call(ctx, 'agent', 'POST', '/api/process-definitions/sales/start', { businessKey: 'LEAD-X', variables: { leadSource: 'branch', customerName: 'X', agent: 'agent', agentLevel: 'senior' } }), 403);
  await report(ctx, { policyNo: ctx.policy[0], peril: 'glass', claimedAmount: 600 });
});

/** Every (method, path) the app serves under /api, from Fastify's route tree. */
function routesOf(ctx: Ctx): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: { depth: number; path: string }[] = [];
  for (const line of ctx.d.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    while (stack.length && stack[stack.length - 1].depth >= depth) stack.pop();
    const path = (stack.length ? stack[stack.length - 1].path : '') + m[2];
    stack.push({ depth, path });
    for (const method of m[3].split(', ')) if (method !== 'HEAD') out.push({ method, url: path });
  }
  return out.filter((r) => r.url.startsWith('/api/'));
}

http('every route has a row in the route table; a worker authenticates and is refused on every route', async (ctx) => {
  const routes = routesOf(ctx);
  assert.ok(routes.length > 40, `the route tree was read (${routes.length})`);
  const keys = routes.map((r) => `${r.method} ${r.url}`);
  assert.equal(keys.filter((k) => !ROUTE_ACCESS[k]), [], 'routes without a row in ROUTE_ACCESS');
  // (the tree prints /api/forms/* as a bare "*": ask Fastify about every row instead)
  const missing = Object.keys(ROUTE_ACCESS).filter((k) => {
    const [method, url] = k.split(' ');
    return !ctx.d.app.hasRoute({ method: method as any, url });
  });
  assert.equal(missing, [], 'rows of ROUTE_ACCESS without a route');
  for (const r of [...routes, { method: 'GET', url: '/api/forms/*' }]) {
    const url = r.url.replace(/:(id|key|name|claimNo)/g, 'x').replace('*', 'x');
    const res = await call(ctx, 'worker', r.method, url, r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
    assert.is(res.status, 403, `worker ${r.method} ${r.url}: ${res.text.slice(0, 200)}`);
  }
});

http.run();
