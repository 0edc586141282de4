/** The HTTP API: auth, the role matrix, errors, deployment, the task list, and one test over a real socket. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { FastifyInstance } from 'fastify';
import { fixture, testEngine, type TestEngine } from './helpers.ts';
import { buildApp } from '../src/http/app.ts';
import { ErrorCodes } from '../src/errors.ts';

interface Ctx {
  t: TestEngine;
  app: FastifyInstance;
  tok: Record<string, string>;
}

const api = suite<Ctx>('http');

api.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.t.engine.registerHandler('score', ({ variables }) => ({ severity: (variables.amount as number) > 5000 ? 4 : 2 }));
  ctx.t.engine.registerHandler('approve', () => ({ approved: true }));
  ctx.app = await buildApp({ engine: ctx.t.engine });
  ctx.tok = {};
  const people: [string, any[], string[]][] = [
    ['root', ['admin'], []],
    ['ana', ['analyst'], []],
    ['olga', ['ops'], ['adjusters']],
    ['sam', ['ops'], ['sales']],
    ['aud', ['auditor'], []],
    ['gone', ['ops'], ['adjusters']],
  ];
  for (const [name, roles, groups] of people) ctx.tok[name] = (await ctx.t.engine.users.add({ name, roles, groups })).token;
  // ops users act on what their group is granted (src/engine/authorization.ts): adjusters start both test
  // processes and read the history of gateway-test instances (also those they have no task of)
  const root = { name: 'root', roles: ['admin' as const], groups: [] };
  await ctx.t.engine.grant({ group: 'adjusters', resourceType: 'process-definition', resourceId: 'form-test', permissions: ['start'] }, root);
  await ctx.t.engine.grant({ group: 'adjusters', resourceType: 'process-definition', resourceId: 'gateway-test', permissions: ['start', 'read-history'] }, root);
});
api.after(async (ctx) => {
  await ctx.app.close();
  await ctx.t.close();
});

function req(ctx: Ctx, who: string | null, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { ...headers };
  if (who) h.authorization = `Bearer ${ctx.tok[who]}`;
  return ctx.app.inject({ method: method as any, url, headers: h, ...(body === undefined ? {} : typeof body === 'string' ? { payload: body } : { payload: body as any }) });
}

const SCRIPT_AND_UNKNOWN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="x">
  <bpmn:process id="bad-process" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Unknown" />
    <bpmn:serviceTask id="Task_Unknown" name="Call mainframe" camunda:delegateExpression="#{mainframeCall}" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Unknown" targetRef="Task_Script" />
    <bpmn:scriptTask id="Task_Script" name="Compute" scriptFormat="javascript"><bpmn:script>next(null, 1)</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Task_Script" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

api('error codes are unique and map to their status', () => {
  for (const [code, status] of Object.entries(ErrorCodes)) {
    assert.ok(/^[A-Z_]+$/.test(code), code);
    assert.ok(status >= 400 && status < 600, code);
  }
});

api('health is open; the API needs a valid token', async (ctx) => {
  const h = await req(ctx, null, 'GET', '/health');
  assert.is(h.statusCode, 200);
  const none = await req(ctx, null, 'GET', '/api/tasks');
  assert.is(none.statusCode, 401);
  assert.is(none.json().code, 'UNAUTHENTICATED');
  const bad = await ctx.app.inject({ method: 'GET', url: '/api/tasks', headers: { authorization: 'Bearer nope' } });
  assert.is(bad.statusCode, 401);
  const docs = await ctx.app.inject({ method: 'GET', url: '/docs/json' });
  assert.is(docs.statusCode, 200);
  assert.ok(docs.json().paths['/api/tasks/{id}/complete'], 'OpenAPI lists the routes');
});

api('deploy: 201, then 200 when unchanged; 422 names every bad element', async (ctx) => {
  const first = await req(ctx, 'ana', 'POST', '/api/deployments?name=gateway.bpmn', fixture('gateway.bpmn'), { 'content-type': 'application/xml' });
  assert.is(first.statusCode, 201, first.body);
  assert.equal(first.json().definitions.map((d: any) => [d.key, d.version]), [['gateway-test', 1]]);
  const again = await req(ctx, 'ana', 'POST', '/api/deployments?name=gateway.bpmn', fixture('gateway.bpmn'), { 'content-type': 'application/xml' });
  assert.is(again.statusCode, 200);
  assert.is(again.json().created, false);
  const bad = await req(ctx, 'ana', 'POST', '/api/deployments', SCRIPT_AND_UNKNOWN, { 'content-type': 'application/xml' });
  assert.is(bad.statusCode, 422);
  const body = bad.json();
  assert.is(body.code, 'BPMN_INVALID');
  const elements = body.details.map((d: any) => d.element);
  assert.ok(elements.includes('Task_Unknown'), JSON.stringify(body.details));
  assert.ok(elements.includes('Task_Script'), JSON.stringify(body.details));
  const notXml = await req(ctx, 'ana', 'POST', '/api/deployments', '<<not xml', { 'content-type': 'application/xml' });
  assert.is(notXml.statusCode, 422);
  const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol2;</bpmn:definitions>`;
  const b = await req(ctx, 'ana', 'POST', '/api/deployments', bomb, { 'content-type': 'application/xml' });
  assert.is(b.statusCode, 422);
  const json = await req(ctx, 'ana', 'POST', '/api/deployments', { x: 1 });
  assert.is(json.statusCode, 415);
});

api('multipart deployment with BPMN and a form schema', async (ctx) => {
  const boundary = '----insureflow';
  const part = (name: string, content: string) => `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n${content}\r\n`;
  const payload = part('form.bpmn', fixture('form.bpmn')) + part('claim-review.schema.json', fixture('forms/claim-review.schema.json')) + `--${boundary}--\r\n`;
  const res = await req(ctx, 'ana', 'POST', '/api/deployments', payload, { 'content-type': `multipart/form-data; boundary=${boundary}` });
  assert.is(res.statusCode, 201, res.body);
  assert.equal(res.json().definitions.map((d: any) => d.key), ['form-test']);
  const defs = await req(ctx, 'aud', 'GET', '/api/process-definitions');
  assert.ok(defs.json().some((d: any) => d.key === 'form-test'));
  const xml = await req(ctx, 'olga', 'GET', '/api/process-definitions/form-test/xml');
  assert.is(xml.statusCode, 200);
  assert.match(xml.body, /Review claim/);
  const missing = await req(ctx, 'ana', 'GET', '/api/process-definitions/nope');
  assert.is(missing.statusCode, 404);
  assert.is(missing.json().code, 'DEFINITION_NOT_FOUND');
});

api('the ops journey: start, list, claim, complete with validation, 409 on the second completion, 403 outside the group', async (ctx) => {
  const start = await req(ctx, 'olga', 'POST', '/api/process-definitions/form-test/start', { businessKey: 'CLM-77', variables: { reviewGroup: 'adjusters' } });
  assert.is(start.statusCode, 201, start.body);
  const inst = start.json();
  const list = await req(ctx, 'olga', 'GET', '/api/tasks?candidateGroup=adjusters&businessKey=CLM-77');
  assert.is(list.statusCode, 200);
  assert.is(list.json().total, 1);
  const task = list.json().items[0];
  for (const k of ['id', 'name', 'activityId', 'processInstanceId', 'processKey', 'businessKey', 'status', 'assignee', 'candidateGroups', 'candidateUsers', 'formKey', 'dueAt', 'priority', 'createdAt']) assert.ok(k in task, k);
  const other = await req(ctx, 'sam', 'GET', '/api/tasks?businessKey=CLM-77');
  assert.is(other.json().total, 0, 'sales does not see adjusters tasks');
  const forbidden = await req(ctx, 'sam', 'POST', `/api/tasks/${task.id}/claim`);
  assert.is(forbidden.statusCode, 403);
  assert.is(forbidden.json().code, 'FORBIDDEN');
  const detail = await req(ctx, 'olga', 'GET', `/api/tasks/${task.id}`);
  assert.is(detail.json().formSchema.title, 'Claim review');
  assert.is(detail.json().variables.reviewGroup, 'adjusters');
  const claim = await req(ctx, 'olga', 'POST', `/api/tasks/${task.id}/claim`);
  assert.is(claim.statusCode, 200);
  assert.is(claim.json().assignee, 'olga');
  const invalid = await req(ctx, 'olga', 'POST', `/api/tasks/${task.id}/complete`, { variables: { decision: 'perhaps' } });
  assert.is(invalid.statusCode, 400);
  assert.is(invalid.json().code, 'VALIDATION_FAILED');
  const fields = invalid.json().details.map((d: any) => d.field).sort();
  assert.equal(fields, ['approvedAmount', 'decision']);
  const ok = await req(ctx, 'olga', 'POST', `/api/tasks/${task.id}/complete`, { variables: { decision: 'approve', approvedAmount: 900 } });
  assert.is(ok.statusCode, 200, ok.body);
  const second = await req(ctx, 'olga', 'POST', `/api/tasks/${task.id}/complete`, { variables: { decision: 'approve', approvedAmount: 900 } });
  assert.is(second.statusCode, 409);
  assert.is(second.json().code, 'TASK_NOT_OPEN');
  const done = await req(ctx, 'aud', 'GET', `/api/process-instances/${inst.id}`);
  assert.is(done.json().status, 'completed');
  const hist = await req(ctx, 'aud', 'GET', `/api/process-instances/${inst.id}/history`);
  const events = hist.json();
  assert.ok(events.some((e: any) => e.type === 'task.completed' && e.actor === 'olga'));
  assert.ok(events.some((e: any) => e.type === 'task.claimed' && e.actor === 'olga'));
  assert.is(events[0].actor, 'olga');
  const verify = await req(ctx, 'aud', 'GET', `/api/process-instances/${inst.id}/history/verify`);
  assert.equal(verify.json(), { consistent: true, checked: events.length });
});

api('role matrix: each role reaches its endpoints and gets 403 elsewhere', async (ctx) => {
  const inst = (await req(ctx, 'root', 'POST', '/api/process-definitions/gateway-test/start', { variables: { amount: 3000 } })).json();
  const cases: [string, string, string, unknown, Record<string, number>][] = [
    ['POST', '/api/deployments', fixture('gateway.bpmn'), undefined, { root: 200, ana: 200, olga: 403, aud: 403 }],
    ['GET', '/api/process-definitions', '', undefined, { root: 200, ana: 200, olga: 200, aud: 200 }],
    ['POST', '/api/process-definitions/gateway-test/start', '', { variables: { amount: 1 } }, { root: 201, ana: 403, olga: 201, aud: 403 }],
    ['GET', '/api/process-instances', '', undefined, { root: 200, ana: 200, olga: 200, aud: 200 }],
    // olga's group may read-history of gateway-test (granted above)
    ['GET', `/api/process-instances/${inst.id}/history`, '', undefined, { root: 200, ana: 403, olga: 200, aud: 200 }],
    ['GET', '/api/tasks', '', undefined, { root: 200, ana: 403, olga: 200, aud: 403 }],
    ['GET', '/api/jobs', '', undefined, { root: 200, ana: 403, olga: 403, aud: 403 }],
    ['GET', '/api/incidents', '', undefined, { root: 200, ana: 403, olga: 200, aud: 403 }],
    ['GET', '/api/users', '', undefined, { root: 200, ana: 403, olga: 403, aud: 403 }],
    // ops correlate only the messages granted to them (none here)
    ['POST', '/api/messages', '', { name: 'nobody-waits' }, { root: 404, ana: 403, olga: 403, aud: 403 }],
    // what is deployed: analysts, auditors and admins read it; ops the decisions granted to them (none here)
    ['GET', '/api/decisions', '', undefined, { root: 200, ana: 200, olga: 200, aud: 200 }],
    ['GET', '/api/decisions/NotDeployed', '', undefined, { root: 404, ana: 404, olga: 403, aud: 404 }],
    ['GET', '/api/forms/not/deployed', '', undefined, { root: 404, ana: 404, olga: 403, aud: 404 }],
    // an instance's decisions: with read-history on its process (olga's group has it for gateway-test)
    ['GET', `/api/process-instances/${inst.id}/decisions`, '', undefined, { root: 200, ana: 200, olga: 200, aud: 200 }],
  ];
  assert.equal((await req(ctx, 'olga', 'GET', '/api/decisions')).json(), [], 'no decision is granted to olga');
  for (const [method, url, xml, body, expect] of cases) {
    for (const [who, status] of Object.entries(expect)) {
      const res = xml ? await req(ctx, who, method, url, xml, { 'content-type': 'application/xml' }) : await req(ctx, who, method, url, body);
      assert.is(res.statusCode, status, `${who} ${method} ${url}: ${res.body.slice(0, 200)}`);
    }
  }
  const cancelOps = await req(ctx, 'olga', 'POST', `/api/process-instances/${inst.id}/cancel`, {});
  assert.is(cancelOps.statusCode, 403);
  const cancel = await req(ctx, 'root', 'POST', `/api/process-instances/${inst.id}/cancel`, { reason: 'test' });
  assert.is(cancel.statusCode, 200);
  assert.is(cancel.json().status, 'cancelled');
});

api('bad input: 400 with per-field errors, 404, 413, malformed JSON; never a 500', async (ctx) => {
  const badQuery = await req(ctx, 'olga', 'GET', '/api/tasks?sort=sideways&limit=0');
  assert.is(badQuery.statusCode, 400);
  assert.is(badQuery.json().code, 'VALIDATION_FAILED');
  assert.ok(badQuery.json().details.length >= 2);
  const badBody = await req(ctx, 'olga', 'POST', '/api/process-definitions/gateway-test/start', { variables: 'x', extra: true });
  assert.is(badBody.statusCode, 400);
  const malformed = await req(ctx, 'olga', 'POST', '/api/process-definitions/gateway-test/start', '{"variables":', { 'content-type': 'application/json' });
  assert.is(malformed.statusCode, 400);
  assert.is(malformed.json().code, 'BAD_REQUEST');
  const huge = await req(ctx, 'olga', 'POST', '/api/process-definitions/gateway-test/start', { variables: { blob: 'x'.repeat(1_100_000) } });
  assert.is(huge.statusCode, 413);
  assert.is(huge.json().code, 'PAYLOAD_TOO_LARGE');
  const noTask = await req(ctx, 'olga', 'GET', '/api/tasks/does-not-exist');
  assert.is(noTask.statusCode, 404);
  assert.is(noTask.json().code, 'TASK_NOT_FOUND');
  const noRoute = await req(ctx, 'olga', 'GET', '/api/nothing-here');
  assert.is(noRoute.statusCode, 404);
  const badDue = await req(ctx, 'root', 'PUT', '/api/jobs/x/due', { dueAt: 'tomorrow' });
  assert.is(badDue.statusCode, 400);
  for (const r of [badQuery, badBody, malformed, huge, noTask]) {
    assert.not.match(r.body, /at .*\.ts:\d+|select |insert into/i, 'no stack traces or SQL in responses');
  }
});

api('a removed or disabled user cannot use their token; changes take effect at once', async (ctx) => {
  assert.is((await req(ctx, 'gone', 'GET', '/api/tasks')).statusCode, 200);
  const dis = await req(ctx, 'root', 'PATCH', '/api/users/gone', { disabled: true });
  assert.is(dis.statusCode, 200);
  assert.is((await req(ctx, 'gone', 'GET', '/api/tasks')).statusCode, 401);
  await req(ctx, 'root', 'PATCH', '/api/users/gone', { disabled: false });
  assert.is((await req(ctx, 'gone', 'GET', '/api/tasks')).statusCode, 200);
  const del = await req(ctx, 'root', 'DELETE', '/api/users/gone');
  assert.is(del.statusCode, 204);
  assert.is((await req(ctx, 'gone', 'GET', '/api/tasks')).statusCode, 401);
  const created = await req(ctx, 'root', 'POST', '/api/users', { name: 'newbie', roles: ['ops'], groups: ['adjusters'] });
  assert.is(created.statusCode, 201);
  const t = created.json().token;
  const use = await ctx.app.inject({ method: 'GET', url: '/api/tasks', headers: { authorization: `Bearer ${t}` } });
  assert.is(use.statusCode, 200);
  const dup = await req(ctx, 'root', 'POST', '/api/users', { name: 'newbie', roles: ['ops'] });
  assert.is(dup.statusCode, 409);
  const badRole = await req(ctx, 'root', 'POST', '/api/users', { name: 'x', roles: ['superuser'] });
  assert.is(badRole.statusCode, 400);
});

api('over a real socket', async (ctx) => {
  const app = await buildApp({ engine: ctx.t.engine });
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const addr = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${addr.port}`;
    const start = await fetch(`${base}/api/process-definitions/gateway-test/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.tok.olga}`, 'content-type': 'application/json' },
      body: JSON.stringify({ businessKey: 'SOCK-1', variables: { amount: 3000 } }),
    });
    assert.is(start.status, 201);
    const inst = await start.json();
    const task = inst.openTasks[0];
    const done = await fetch(`${base}/api/tasks/${task.id}/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.tok.olga}`, 'content-type': 'application/json' },
      body: JSON.stringify({ variables: { ok: true } }),
    });
    assert.is(done.status, 200);
    const after = await (await fetch(`${base}/api/process-instances/${inst.id}`, { headers: { authorization: `Bearer ${ctx.tok.olga}` } })).json();
    assert.is(after.status, 'completed');
  } finally {
    await app.close();
  }
});

api.run();
