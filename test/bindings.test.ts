/**
 * Versioned bindings, as Camunda has them: a business rule task evaluates, and a user task shows, the version
 * its binding names (`latest` by default, `deployment`, `version`, `versionTag`), in Camunda 7 attributes and
 * Camunda 8 `bindingType`. Instances started on v1 keep their binding after v2 is deployed; the history names
 * the version of every evaluation; replay re-evaluates that very version. A binding that does not resolve is
 * refused at deployment, naming the element, and nothing is stored. Runs on SQLite, or PostgreSQL with
 * DATABASE_URL.
 */
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FastifyInstance } from 'fastify';
import { fixture, testEngine, ops, admin, type TestEngine } from './helpers.ts';
import { buildApp } from '../src/http/app.ts';
import { replayInstance } from '../src/audit/replay.ts';
import { parseBpmn } from '../src/definitions/parse.ts';
import { calledElementBindingOf, decisionBindingOf, formBindingOf } from '../src/definitions/bindings.ts';
import type { Resource } from '../src/engine/service.ts';
import type { Knex } from 'knex';

const clerk = ops('clara', 'clerks');
const ROUTE_V1 = fixture('bindings/route-v1.dmn');
const ROUTE_V2 = fixture('bindings/route-v2.dmn');
const REVIEW_V1 = fixture('bindings/review-v1.schema.json');
const REVIEW_V2 = fixture('bindings/review-v2.schema.json');

const C7_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"';
const C8_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"';

/** Camunda 7: wait for the amount, route it with RouteClaim (binding attributes given), review with form "review". */
function c7(id: string, ruleAttrs: string, formAttrs = 'camunda:formRef="review"'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${C7_NS} id="Defs_${id}" targetNamespace="https://insureflow.example/test">
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Wait" />
    <bpmn:userTask id="Task_Wait" name="Enter the amount" camunda:candidateGroups="clerks" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Wait" targetRef="Task_Route" />
    <bpmn:businessRuleTask id="Task_Route" name="Route" camunda:decisionRef="RouteClaim" camunda:resultVariable="queue" ${ruleAttrs} />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_Route" targetRef="Task_Review" />
    <bpmn:userTask id="Task_Review" name="Review" camunda:candidateGroups="clerks" ${formAttrs} />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Review" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;
}

/** Camunda 8: the same flow with zeebe:calledDecision and zeebe:formDefinition. */
function c8(id: string, decisionBinding: string, formBinding: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${C8_NS} id="Defs_${id}" targetNamespace="https://insureflow.example/test">
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Wait" />
    <bpmn:userTask id="Task_Wait" name="Enter the amount">
      <bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="clerks" /></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Wait" targetRef="Task_Route" />
    <bpmn:businessRuleTask id="Task_Route" name="Route">
      <bpmn:extensionElements><zeebe:calledDecision decisionId="RouteClaim" resultVariable="queue" ${decisionBinding} /></bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Task_Route" targetRef="Task_Review" />
    <bpmn:userTask id="Task_Review" name="Review">
      <bpmn:extensionElements><zeebe:formDefinition formId="review" ${formBinding} /><zeebe:assignmentDefinition candidateGroups="clerks" /></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Review" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;
}

const bpmn = (name: string, content: string): Resource => ({ name: `${name}.bpmn`, content });
const route = (content: string): Resource => ({ name: 'decisions/route.dmn', content });
const review = (content: string): Resource => ({ name: 'forms/review.schema.json', content });

/** Every row of the tables a deployment writes, in primary-key order: equal dumps = nothing written. */
async function dump(db: Knex): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const [table, key] of [
    ['process_definitions', 'id'],
    ['decision_definitions', 'id'],
    ['form_schemas', 'id'],
    ['deployments', 'id'],
    ['resources', 'id'],
    ['history_events', 'id'],
    ['jobs', 'id'],
  ] as const) {
    out[table] = await db(table).orderBy(key).select('*');
  }
  return JSON.stringify(out);
}

async function openTask(t: TestEngine, instanceId: string, activityId: string) {
  const page = await t.engine.listTasks({ processInstanceId: instanceId }, admin);
  const task = page.items.find((x) => x.activityId === activityId);
  assert.ok(task, `an open task ${activityId} in ${instanceId}`);
  return task!;
}

// ------------------------------------------------------------------------------------------ reading bindings

test('binding attributes are read as Camunda 7 and 8 write them; default latest', async () => {
  const parsed7 = await parseBpmn(
    c7('p7', 'camunda:decisionRefBinding="version" camunda:decisionRefVersion="3"', 'camunda:formRef="review" camunda:formRefBinding="deployment"'),
  );
  const el = (p: any, id: string) => p.moddleContext.elementsById[id];
  assert.equal(decisionBindingOf(el(parsed7, 'Task_Route')), { type: 'version', version: 3, versionTag: null, problem: null, source: 'camunda:decisionRefBinding' });
  assert.is(formBindingOf(el(parsed7, 'Task_Review')).type, 'deployment');
  const plain = await parseBpmn(c7('p7b', ''));
  assert.is(decisionBindingOf(el(plain, 'Task_Route')).type, 'latest', 'no attribute: latest');
  assert.is(formBindingOf(el(plain, 'Task_Review')).type, 'latest');
  const tagged = await parseBpmn(c7('p7c', 'camunda:decisionRefBinding="versionTag" camunda:decisionRefVersionTag="2026.1"'));
  assert.equal([decisionBindingOf(el(tagged, 'Task_Route')).type, decisionBindingOf(el(tagged, 'Task_Route')).versionTag], ['versionTag', '2026.1']);

  const parsed8 = await parseBpmn(c8('p8', 'bindingType="versionTag" versionTag="2026.2"', 'bindingType="deployment"'));
  assert.equal(decisionBindingOf(el(parsed8, 'Task_Route')), { type: 'versionTag', version: null, versionTag: '2026.2', problem: null, source: 'zeebe:calledDecision bindingType' });
  assert.is(formBindingOf(el(parsed8, 'Task_Review')).type, 'deployment');
  const wrong8 = await parseBpmn(c8('p8b', 'bindingType="version"', ''));
  assert.match(decisionBindingOf(el(wrong8, 'Task_Route')).problem ?? '', 'not a binding type here', 'Camunda 8 has no "version" binding');
  const missing = await parseBpmn(c7('p7d', 'camunda:decisionRefBinding="version"'));
  assert.match(decisionBindingOf(el(missing, 'Task_Route')).problem ?? '', 'no version number');
});

test('call activities: calledElementBinding is read; a non-executable process of the file is deployed as its own definition and called as its own instance', async () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${C7_NS} id="D" targetNamespace="x">
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Call" />
    <bpmn:callActivity id="Call" calledElement="callee" camunda:calledElementBinding="deployment" />
    <bpmn:sequenceFlow id="f2" sourceRef="Call" targetRef="E" /><bpmn:endEvent id="E" />
  </bpmn:process>
  <bpmn:process id="callee" isExecutable="false"><bpmn:startEvent id="S2" /><bpmn:sequenceFlow id="g" sourceRef="S2" targetRef="E2" /><bpmn:endEvent id="E2" /></bpmn:process>
</bpmn:definitions>`;
  const parsed = await parseBpmn(xml);
  assert.is(calledElementBindingOf(parsed.moddleContext.elementsById.Call).type, 'deployment');
  const t = await testEngine();
  try {
    const res = await t.engine.deploy([{ name: 'caller.bpmn', content: xml }]);
    const callee = res.definitions.find((d) => d.key === 'callee');
    assert.ok(callee, 'the called process is a definition of its own');
    const def = await t.engine.getDefinition('caller');
    assert.equal(def.bindings.calledProcesses.Call, { key: 'callee', binding: 'deployment', version: 1, definitionId: callee!.id });
    const inst = await t.engine.startInstance('caller', {});
    assert.is(inst.status, 'completed');
    const child = (await t.engine.listInstances({ key: 'callee' })).items[0];
    assert.is(child.parentInstanceId, inst.id);
    assert.is(child.status, 'completed');
    const before = await dump(t.tdb.db);
    const pinned = xml.replace('camunda:calledElementBinding="deployment"', 'camunda:calledElementBinding="version" camunda:calledElementVersion="7"');
    try {
      await t.engine.deploy([{ name: 'caller.bpmn', content: pinned }]);
      assert.unreachable('a version binding that does not resolve is refused');
    } catch (err: any) {
      assert.is(err.code, 'BPMN_INVALID');
      assert.ok(err.details.some((p: any) => p.element === 'Call' && /version 7 of process "callee" is not deployed/.test(p.message)), JSON.stringify(err.details));
    }
    assert.is(await dump(t.tdb.db), before, 'nothing stored');
  } finally {
    await t.close();
  }
});

// ------------------------------------------------------------------------------------------ v1 and v2

interface Ctx {
  t: TestEngine;
  app: FastifyInstance;
  token: string;
  auditor: string;
  /** instance id by process key, started on v1 and waiting at Task_Wait */
  started: Record<string, string>;
}

const versions = suite<Ctx>('v1 then v2');

const PROCESSES: Record<string, string> = {
  'c7-deployment': c7('c7-deployment', 'camunda:decisionRefBinding="deployment"', 'camunda:formRef="review" camunda:formRefBinding="deployment"'),
  'c7-latest': c7('c7-latest', ''),
  'c7-version': c7('c7-version', 'camunda:decisionRefBinding="version" camunda:decisionRefVersion="1"', 'camunda:formRef="review" camunda:formRefBinding="version" camunda:formRefVersion="1"'),
  'c7-tag': c7('c7-tag', 'camunda:decisionRefBinding="versionTag" camunda:decisionRefVersionTag="2026.1"'),
  'c8-deployment': c8('c8-deployment', 'bindingType="deployment"', 'bindingType="deployment"'),
  'c8-latest': c8('c8-latest', '', ''),
  'c8-tag': c8('c8-tag', 'bindingType="versionTag" versionTag="2026.1"', 'bindingType="versionTag" versionTag="2026.1"'),
};

versions.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.app = await buildApp({ engine: ctx.t.engine });
  ctx.token = (await ctx.t.engine.users.add({ name: 'ana', roles: ['analyst'], groups: [] })).token;
  ctx.auditor = (await ctx.t.engine.users.add({ name: 'aud', roles: ['auditor'], groups: [] })).token;
  // Given every binding deployed with RouteClaim v1 and form review v1, and one instance of each waiting
  const first = await ctx.t.engine.deploy([...Object.entries(PROCESSES).map(([k, x]) => bpmn(k, x)), route(ROUTE_V1), review(REVIEW_V1)], { actor: admin, source: 'api' });
  assert.equal(first.decisions, [{ decisionKey: 'RouteClaim', version: 1, created: true }]);
  ctx.started = {};
  // the clerks start every process of these tests (a grant: src/engine/authorization.ts)
  await ctx.t.engine.grant({ group: 'clerks', resourceType: 'process-definition', resourceId: '*', permissions: ['start'] }, admin);
  for (const key of Object.keys(PROCESSES)) ctx.started[key] = (await ctx.t.engine.startInstance(key, { businessKey: key }, clerk)).id;
  // When RouteClaim v2 (tag 2026.2) and form review v2 are deployed, each alone
  ctx.t.clock.advance(60_000);
  const dmnOnly = await ctx.t.engine.deploy([route(ROUTE_V2)], { actor: admin, source: 'api' });
  assert.equal([dmnOnly.created, dmnOnly.definitions, dmnOnly.decisions], [true, [], [{ decisionKey: 'RouteClaim', version: 2, created: true }]], 'a DMN alone is a deployment: version 2');
  const formOnly = await ctx.t.engine.deploy([review(REVIEW_V2)], { actor: admin, source: 'api' });
  assert.equal(formOnly.forms, [{ formKey: 'review', version: 2, created: true }]);
  // and the waiting instances go on with amount 3000 (v1 routes it to "desk", v2 to "fast")
  for (const id of Object.values(ctx.started)) {
    const task = await openTask(ctx.t, id, 'Task_Wait');
    await ctx.t.engine.completeTask(task.id, { amount: 3000 }, clerk);
  }
});
versions.after(async (ctx) => {
  await ctx.app.close();
  await ctx.t.close();
});

const expected: Record<string, { version: number; queue: string; formVersion: number }> = {
  'c7-deployment': { version: 1, queue: 'desk', formVersion: 1 },
  'c7-latest': { version: 2, queue: 'fast', formVersion: 2 },
  'c7-version': { version: 1, queue: 'desk', formVersion: 1 },
  'c7-tag': { version: 1, queue: 'desk', formVersion: 2 },
  'c8-deployment': { version: 1, queue: 'desk', formVersion: 1 },
  'c8-latest': { version: 2, queue: 'fast', formVersion: 2 },
  'c8-tag': { version: 1, queue: 'desk', formVersion: 1 },
};

versions('each instance evaluated the version its binding names, and the history says which', async ({ t, started }) => {
  for (const [key, want] of Object.entries(expected)) {
    const inst = await t.engine.getInstance(started[key]);
    assert.is(inst.variables.queue, want.queue, `${key}: queue`);
    const evaluated = (await t.engine.history(started[key])).filter((e) => e.type === 'decision.evaluated');
    assert.is(evaluated.length, 1, key);
    const d = evaluated[0].data as any;
    assert.equal(
      { key: d.decisionKey, version: d.decisionVersion, rules: d.matchedRules, inputs: d.inputs, result: d.result },
      { key: 'RouteClaim', version: want.version, rules: [want.queue === 'fast' ? 'RouteClaim_Fast' : 'RouteClaim_Desk'], inputs: [{ id: 'RouteClaim_amount', label: 'Amount', value: 3000 }], result: want.queue },
      key,
    );
    assert.equal(d.outputs, [{ ruleId: want.queue === 'fast' ? 'RouteClaim_Fast' : 'RouteClaim_Desk', values: { queue: want.queue } }], key);
  }
});

versions('the process version records what it resolved at deploy time', async ({ t }) => {
  const dep = await t.engine.getDefinition('c7-deployment');
  assert.equal(dep.bindings.decisions.Task_Route, { key: 'RouteClaim', binding: 'deployment', version: 1 });
  assert.equal(dep.bindings.forms.Task_Review, { key: 'review', binding: 'deployment', version: 1 });
  const latest = await t.engine.getDefinition('c8-latest');
  assert.equal(latest.bindings.decisions.Task_Route, { key: 'RouteClaim', binding: 'latest', version: 1 }, 'latest: what it was at deploy time (run time looks again)');
  const tag = await t.engine.getDefinition('c8-tag');
  assert.equal(tag.bindings.decisions.Task_Route, { key: 'RouteClaim', binding: 'versionTag', version: 1, versionTag: '2026.1' });
});

versions('a new instance of a latest-bound process uses v2 at once; a deployment-bound one keeps v1', async ({ t }) => {
  for (const [key, version] of [['c7-latest', 2], ['c7-deployment', 1]] as const) {
    const inst = await t.engine.startInstance(key, {}, clerk);
    await t.engine.completeTask((await openTask(t, inst.id, 'Task_Wait')).id, { amount: 100 }, clerk);
    const d = (await t.engine.history(inst.id)).find((e) => e.type === 'decision.evaluated')!.data as any;
    assert.is(d.decisionVersion, version, key);
    assert.is(d.result, 'fast', key);
  }
});

versions('a user task keeps the form version it was created with: the task shows it, completion validates against it', async ({ t, started }) => {
  for (const [key, want] of Object.entries(expected)) {
    const task = await openTask(t, started[key], 'Task_Review');
    const detail = await t.engine.getTask(task.id, clerk);
    const required = (detail.formSchema as any).required;
    assert.equal(required, want.formVersion === 1 ? ['note'] : ['note', 'score'], `${key}: form v${want.formVersion}`);
    if (want.formVersion === 2) {
      try {
        await t.engine.completeTask(task.id, { note: 'fine' }, clerk);
        assert.unreachable(`${key}: v2 requires a score`);
      } catch (err: any) {
        assert.is(err.code, 'VALIDATION_FAILED', key);
      }
      await t.engine.completeTask(task.id, { note: 'fine', score: 4 }, clerk);
    } else {
      await t.engine.completeTask(task.id, { note: 'fine' }, clerk);
    }
    assert.is((await t.engine.getInstance(started[key])).status, 'completed', key);
  }
  // a task created with v1 keeps v1 even when another version is deployed while it is open
  const inst = await t.engine.startInstance('c7-deployment', {}, clerk);
  await t.engine.completeTask((await openTask(t, inst.id, 'Task_Wait')).id, { amount: 1 }, clerk);
  const pending = await openTask(t, inst.id, 'Task_Review');
  await t.engine.deploy([review(REVIEW_V1.replace('"minLength": 1', '"minLength": 3'))], { actor: admin });
  assert.equal((await t.engine.getTask(pending.id, clerk)).formSchema.properties.note.minLength, 1);
  await t.engine.completeTask(pending.id, { note: 'ok' }, clerk);
});

versions('GET /api/process-instances/:id/decisions lists every evaluation with its version; GET /api/decisions/:key lists the versions', async ({ app, token, auditor, started }) => {
  const headers = { authorization: `Bearer ${token}` };
  const list = await app.inject({ method: 'GET', url: `/api/process-instances/${started['c7-deployment']}/decisions`, headers });
  assert.is(list.statusCode, 200, list.body);
  const [e] = list.json();
  assert.equal([e.activityId, e.decisionKey, e.decisionVersion, e.binding, e.matchedRules, e.result], ['Task_Route', 'RouteClaim', 1, 'deployment', ['RouteClaim_Desk'], 'desk']);
  const latest = (await app.inject({ method: 'GET', url: `/api/process-instances/${started['c7-latest']}/decisions`, headers })).json();
  assert.is(latest[0].decisionVersion, 2);
  const decision = await app.inject({ method: 'GET', url: '/api/decisions/RouteClaim', headers });
  assert.is(decision.statusCode, 200);
  const body = decision.json();
  assert.equal(body.versions.map((v: any) => [v.version, v.versionTag]), [[1, '2026.1'], [2, '2026.2']]);
  assert.is(body.latestVersion, 2);
  assert.match(body.versions[0].xml, '&lt; 1000');
  const all = (await app.inject({ method: 'GET', url: '/api/decisions', headers })).json();
  assert.equal(all.map((d: any) => [d.key, d.latestVersion, d.versions]), [['RouteClaim', 2, 2]]);
  const def = (await app.inject({ method: 'GET', url: '/api/process-definitions/c7-deployment', headers })).json();
  assert.equal(def.bindings.decisions.Task_Route, { key: 'RouteClaim', binding: 'deployment', version: 1 }, 'the definition shows what it resolved');
  const form = (await app.inject({ method: 'GET', url: '/api/forms/review', headers })).json();
  assert.equal(form.versions.map((v: any) => v.version), [1, 2, 3]);
  assert.equal(form.versions[1].schema.required, ['note', 'score']);
  // the evaluations are part of the history query as well (auditors)
  const hist = await app.inject({ method: 'GET', url: `/api/history/events?type=decision.evaluated&processInstanceId=${started['c7-latest']}`, headers: { authorization: `Bearer ${auditor}` } });
  assert.is(hist.statusCode, 200, hist.body);
  assert.equal(hist.json().items.map((e: any) => [e.type, e.data.decisionKey, e.data.decisionVersion]), [['decision.evaluated', 'RouteClaim', 2]]);
});

versions('replay evaluates the recorded version: consistent for deployment- and latest-bound instances after v2', async ({ t, started }) => {
  for (const key of ['c7-deployment', 'c7-latest', 'c8-tag']) {
    const r = await replayInstance(t.tdb.db, started[key]);
    assert.ok(r.consistent, `${key}: ${JSON.stringify(r.divergence)}`);
    assert.equal(r.notes, [], `${key}: evaluated, not fed from the record`);
  }
  // a recorded result that the recorded version does not produce is a divergence
  const id = started['c7-deployment'];
  const ev = (await t.engine.history(id)).find((e) => e.type === 'decision.evaluated')!;
  const row = await t.tdb.db('history_events').where({ chain_id: id, seq: ev.seq }).first();
  const data = JSON.parse(row.data);
  await t.tdb.db('history_events').where({ id: row.id }).update({ data: JSON.stringify({ ...data, decisionVersion: 2 }) });
  const forged = await replayInstance(t.tdb.db, id);
  assert.is(forged.consistent, false);
  assert.is(forged.divergence?.seq, ev.seq);
});

// ------------------------------------------------------------------------------------------ refused

const refused = suite<{ t: TestEngine }>('bindings that do not resolve are refused');
refused.before(async (ctx) => {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy([route(ROUTE_V1), review(REVIEW_V1)], { actor: admin });
});
refused.after(async (ctx) => ctx.t.close());

async function refusal(t: TestEngine, resources: Resource[], element: string, message: RegExp) {
  const before = await dump(t.tdb.db);
  try {
    await t.engine.deploy(resources, { actor: admin, source: 'api' });
    assert.unreachable('refused');
  } catch (err: any) {
    assert.is(err.code, 'BPMN_INVALID', err.message);
    assert.ok(err.details.some((p: any) => p.element === element && message.test(p.message)), JSON.stringify(err.details));
  }
  assert.is(await dump(t.tdb.db), before, 'a refused deployment stores nothing');
}

refused('a pinned version that does not exist', async ({ t }) => {
  await refusal(t, [bpmn('p', c7('p', 'camunda:decisionRefBinding="version" camunda:decisionRefVersion="7"'))], 'Task_Route', /version 7 of decision "RouteClaim" is not deployed \(deployed versions: 1\)/);
});

refused('deployment binding without the decision in the deployment (a changed DMN in the same bundle is fine)', async ({ t }) => {
  await refusal(t, [bpmn('p', c7('p', 'camunda:decisionRefBinding="deployment"'))], 'Task_Route', /holds no DMN file defining decision "RouteClaim"/);
  await refusal(t, [bpmn('p', c8('p', 'bindingType="latest"', 'bindingType="deployment"'))], 'Task_Review', /holds no form schema "review"/);
});

refused('a version tag no version carries, a malformed binding, an unknown binding type', async ({ t }) => {
  await refusal(t, [bpmn('p', c8('p', 'bindingType="versionTag" versionTag="1999"', ''))], 'Task_Route', /no version of decision "RouteClaim" has the version tag "1999" \(tags: 2026.1\)/);
  await refusal(t, [bpmn('p', c7('p', 'camunda:decisionRefBinding="version" camunda:decisionRefVersion="${v}"'))], 'Task_Route', /is not a positive whole number/);
  await refusal(t, [bpmn('p', c7('p', 'camunda:decisionRefBinding="sometimes"'))], 'Task_Route', /"sometimes" is not a binding type/);
});

refused('the refusal lists every problem and stores nothing, not even the valid DMN of the bundle', async ({ t }) => {
  const before = await dump(t.tdb.db);
  try {
    await t.engine.deploy([route(ROUTE_V2), bpmn('p', c7('p', 'camunda:decisionRefBinding="version" camunda:decisionRefVersion="9"', 'camunda:formRef="nope"'))], { actor: admin });
    assert.unreachable();
  } catch (err: any) {
    assert.equal(err.details.map((p: any) => p.element).sort(), ['Task_Review', 'Task_Route']);
  }
  assert.is(await dump(t.tdb.db), before);
  // the same DMN alone is fine: version 2
  const ok = await t.engine.deploy([route(ROUTE_V2)]);
  assert.equal(ok.decisions, [{ decisionKey: 'RouteClaim', version: 2, created: true }]);
});

test.run();
versions.run();
refused.run();
