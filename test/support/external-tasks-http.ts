/**
 * The shared set-up of the external task HTTP tests (test/external-tasks-http.test.ts, test/external-tasks-client.test.ts):
 * two processes with external tasks, users (an admin, two workers, an ops user) with their tokens, the fetch grant
 * of the payment workers, the app listening on a real socket.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { testEngine, admin, type TestEngine } from '../helpers.ts';
import { buildApp } from '../../src/http/app.ts';

export const C7 = (id: string, body: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_${id.replace(/-/g, '_')}" targetNamespace="http://insureflow.test">
  <bpmn:error id="Err_Declined" name="Declined" errorCode="DECLINED" />
  <bpmn:process id="${id}" isExecutable="true">${body}</bpmn:process>
</bpmn:definitions>`;

/** pay (topic http.pay) -> check (topic http.check, error boundary DECLINED -> Declined user task) -> Done user task */
export const PAYMENT = C7(
  'http-payment',
  `<bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Pay" />
  <bpmn:serviceTask id="Pay" camunda:type="external" camunda:topic="http.pay" /><bpmn:sequenceFlow id="F2" sourceRef="Pay" targetRef="Check" />
  <bpmn:serviceTask id="Check" camunda:type="external" camunda:topic="http.check" />
  <bpmn:boundaryEvent id="OnDeclined" attachedToRef="Check"><bpmn:errorEventDefinition errorRef="Err_Declined" /></bpmn:boundaryEvent>
  <bpmn:sequenceFlow id="F3" sourceRef="Check" targetRef="Done" /><bpmn:sequenceFlow id="F4" sourceRef="OnDeclined" targetRef="Declined" />
  <bpmn:userTask id="Done" camunda:candidateGroups="adjusters" /><bpmn:sequenceFlow id="F5" sourceRef="Done" targetRef="End" /><bpmn:endEvent id="End" />
  <bpmn:userTask id="Declined" camunda:candidateGroups="adjusters" /><bpmn:sequenceFlow id="F6" sourceRef="Declined" targetRef="End2" /><bpmn:endEvent id="End2" />`,
);
/** one task of topic http.flaky, then a user task */
export const FLAKY = C7(
  'http-flaky',
  `<bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Flaky" />
  <bpmn:serviceTask id="Flaky" camunda:type="external" camunda:topic="http.flaky" /><bpmn:sequenceFlow id="F2" sourceRef="Flaky" targetRef="After" />
  <bpmn:userTask id="After" camunda:candidateGroups="adjusters" /><bpmn:sequenceFlow id="F3" sourceRef="After" targetRef="End" /><bpmn:endEvent id="End" />`,
);

export interface Ctx {
  t: TestEngine;
  app: FastifyInstance;
  base: string;
  tokens: Record<string, string>;
}

export async function setup(ctx: Ctx) {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy([
    { name: 'payment.bpmn', content: PAYMENT },
    { name: 'flaky.bpmn', content: FLAKY },
  ]);
  ctx.tokens = {};
  for (const [name, roles, groups] of [
    ['root', ['admin'], []],
    ['wanda', ['worker'], ['payment-workers']],
    ['sam', ['worker'], ['other-workers']],
    ['olga', ['ops'], ['adjusters']],
  ] as const) {
    ctx.tokens[name] = (await ctx.t.engine.users.add({ name, roles: [...roles], groups: [...groups] })).token;
  }
  for (const topic of ['http.pay', 'http.check', 'http.flaky']) await ctx.t.engine.grant({ group: 'payment-workers', resourceType: 'topic', resourceId: topic, permissions: ['fetch'] }, admin);
  ctx.app = await buildApp({ engine: ctx.t.engine });
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  ctx.base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
}

export async function teardown(ctx: Ctx) {
  await ctx.app?.close();
  await ctx.t?.close();
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export async function call(ctx: Ctx, auth: string | null, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = auth ? { authorization: auth } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(ctx.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : null, text };
}

export const fetchBody = (workerId: string, topicName: string, businessKey: string, extra: Record<string, unknown> = {}) => ({ workerId, maxTasks: 5, topics: [{ topicName, lockDuration: 60_000, businessKey, ...extra }] });

