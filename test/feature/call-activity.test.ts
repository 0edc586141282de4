/**
 * Feature: call activities (issue 9, section 4). The caller waits for the called process and continues on its
 * outgoing flow; the child is its own instance (own history chain) linked to its caller; cancelling the caller
 * cancels its children; a child's incident shows on the caller; the child is found by process key in any
 * deployment, by the binding resolved at deploy (default latest); variables pass in and out as Camunda 7
 * (camunda:in / camunda:out) and Camunda 8 (propagateAll*, input / output mappings) define. Starting the child and
 * resuming the caller are durable jobs written in the transitions that cause them. Without HTTP, on the suite's
 * database, with a ManualClock and stub handlers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, admin, type TestEngine, refusal } from '../helpers.ts';
import { InsureflowEngine, createKnexStores } from '../../src/persistence/knex-engine.ts';
import { EngineCore } from '../../src/engine/service.ts';
import type { HandlerContext, Variables } from '../../src/engine/runtime.ts';
import { BpmnError } from '../../src/errors.ts';
import { replayInstance } from '../../src/audit/replay.ts';
import { Given, When, Then, And } from './gwt.ts';

const DAY = 86_400_000;
const dir = 'feature/call-activity/';
const file = (name: string, as = name) => ({ name: as, content: fixture(`${dir}${name}`) });
const adjuster = ops('ada', 'adjusters');

interface Ctx {
  t: TestEngine;
  seen: Map<string, Variables[]>;
}

const note = (ctx: Ctx, name: string, out: (v: Readonly<Variables>) => Variables) => ({ variables }: HandlerContext) => {
  ctx.seen.set(name, [...(ctx.seen.get(name) ?? []), { ...variables }]);
  return out(variables);
};

function withHandlers(ctx: Ctx, engine: InsureflowEngine): InsureflowEngine {
  return engine
    .registerHandler('rateRisk', note(ctx, 'rateRisk', () => ({ riskClass: 'B' })))
    .registerHandler('priceDamage', note(ctx, 'priceDamage', (v) => ({ price: Number(v.limit) / 4, internalNote: 'n/a' })))
    .registerHandler('checkClaimant', note(ctx, 'checkClaimant', (v) => ({ verdict: `${v.name}:${(v.claimant as { age: number }).age >= 18 ? 'adult' : 'minor'}`, scratch: 1 })));
}

const childrenOf = async (t: TestEngine, parentId: string) =>
  (await t.engine.listInstances({ limit: 100 })).items.filter((i) => i.parentInstanceId === parentId);

const calls = suite<Ctx>('call activities');
calls.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.seen = new Map();
  withHandlers(ctx, ctx.t.engine);
  await ctx.t.engine.deploy([file('call-zeebe-same-file.bpmn')]);
  await ctx.t.engine.deploy([file('assess-damage.bpmn')], { name: 'assessments' });
  await ctx.t.engine.deploy([file('call-camunda.bpmn')], { name: 'claims' });
  await ctx.t.engine.deploy([file('call-mi-zeebe.bpmn')]);
  ctx.t.engine.registerHandler('checkCover', () => ({}));
  await ctx.t.engine.deploy([file('call-error.bpmn')]);
  await ctx.t.engine.deploy([file('call-escalation.bpmn')]);
});
calls.after(async (ctx) => ctx.t.close());
calls.before.each((ctx) => ctx.seen.clear());

calls('Camunda 8, same file: the caller waits for the child, which sees its variables; the results come back and the caller goes on (case 19)', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an underwriting starts', () => t.engine.startInstance('underwrite', { businessKey: 'POL-1', variables: { policyNo: 'POL-TEST-1', sumInsured: 250000 } }));
  await Then('the called process saw the caller\'s variables', () => {
    const [seen] = ctx.seen.get('rateRisk') ?? [];
    assert.is(seen.policyNo, 'POL-TEST-1');
    assert.is(seen.sumInsured, 250000);
  });
  await And('the caller is active, waits at Decide with the child\'s result', () => {
    assert.is(inst.status, 'active');
    assert.equal(inst.activeActivities, ['Task_Decide']);
    assert.is(inst.variables.riskClass, 'B');
    assert.equal(inst.openTasks.map((x) => [x.activityId, x.candidateGroups]), [['Task_Decide', ['underwriters']]]);
  });
  const child = await And('the child is its own completed instance of "rate-risk", linked to its caller, with its own history', async () => {
    const [c] = await childrenOf(t, inst.id);
    assert.ok(c, 'a child instance exists');
    assert.is(c.processKey, 'rate-risk');
    assert.is(c.status, 'completed');
    const own = (await t.engine.history(c.id)).map((h) => h.type);
    assert.is(own[0], 'instance.started');
    assert.ok(own.includes('handler.completed'));
    assert.is(own[own.length - 1], 'instance.completed');
    assert.ok((await t.engine.verifyInstanceHistory(c.id)).consistent);
    return c;
  });
  await And('the caller\'s history names the child it started and the completion it received', async () => {
    const h = await t.engine.history(inst.id);
    const started = h.find((e) => e.type === 'call.started');
    const completed = h.find((e) => e.type === 'call.completed');
    assert.is((started?.data as { childInstanceId: string }).childInstanceId, child.id);
    assert.is((completed?.data as { childInstanceId: string }).childInstanceId, child.id);
    assert.not.ok(h.some((e) => e.type === 'handler.called'), 'the child\'s work is not in the caller\'s chain');
    assert.ok((await t.engine.verifyInstanceHistory(inst.id)).consistent);
  });
});

calls('Camunda 7, another deployment: camunda:in / camunda:out pass only what they name; the caller resumes when the child\'s task is done, after a restart', async (ctx) => {
  const { t } = ctx;
  const inst = await When('a claim starts (business key CLM-7)', () => t.engine.startInstance('claim-with-assessment', { businessKey: 'CLM-7', variables: { claimNo: 'C-7', amount: 1000, secret: 'not for the child' } }));
  const child = await Then('a child of assess-damage runs with claimRef, limit and the caller\'s business key, nothing else', async () => {
    const [seen] = ctx.seen.get('priceDamage') ?? [];
    assert.equal(Object.keys(seen).sort(), ['claimRef', 'limit']);
    assert.is(seen.claimRef, 'C-7');
    assert.is(seen.limit, 2000);
    const [c] = await childrenOf(t, inst.id);
    assert.is(c.businessKey, 'CLM-7');
    assert.is(c.status, 'active');
    return t.engine.getInstance(c.id);
  });
  await And('the caller waits at the call activity; its timer is armed', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.ok(now.activeActivities.includes('Call_Assess'), JSON.stringify(now.activeActivities));
    assert.equal(now.openTasks, []);
    const jobs = (await t.engine.listJobs({ processInstanceId: inst.id })).items;
    assert.equal(jobs.map((j) => j.activityId), ['Timer_TooLong'], JSON.stringify(jobs));
  });
  await When('an adjuster completes the child\'s task through an engine started afresh', async () => {
    const fresh = withHandlers(ctx, new InsureflowEngine({ db: t.tdb.db, clock: t.clock }));
    await fresh.completeTask(child.openTasks[0].id, { assessment: 'total loss', extra: 1 }, adjuster);
  });
  await Then('the child completed and the caller goes on to Settle with exactly the variables camunda:out and the output parameter name', async () => {
    const c = await t.engine.getInstance(child.id);
    assert.is(c.status, 'completed');
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Settle']);
    assert.is(now.variables.damageAssessment, 'total loss');
    assert.is(now.variables.pricedAt, 500);
    for (const k of ['assessment', 'extra', 'price', 'quotedPrice', 'claimRef', 'limit', 'internalNote']) assert.not.ok(k in now.variables, `${k} stays in the child`);
    assert.equal((await t.engine.listJobs({ processInstanceId: inst.id })).items, [], 'the boundary timer went with the call activity');
  });
});

calls('an interrupting timer on the call activity cancels the child; cancelling a caller cancels its children', async (ctx) => {
  const { t } = ctx;
  const late = await Given('a claim whose assessment is not done', () => t.engine.startInstance('claim-with-assessment', { variables: { claimNo: 'C-8', amount: 10 } }));
  const [lateChild] = await childrenOf(t, late.id);
  await When('ten days pass', async () => {
    t.clock.advance(10 * DAY);
    while ((await t.engine.runDueJobs()) > 0);
  });
  await Then('the caller took the timer path and the child is cancelled with its task', async () => {
    const now = await t.engine.getInstance(late.id);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Escalate']);
    const c = await t.engine.getInstance(lateChild.id);
    assert.is(c.status, 'cancelled');
    assert.equal(c.openTasks, []);
    const h = await t.engine.history(late.id);
    assert.ok(h.some((e) => e.type === 'call.cancelled' && (e.data as { childInstanceId: string }).childInstanceId === lateChild.id));
  });
  const other = await Given('another claim waiting for its assessment', () => t.engine.startInstance('claim-with-assessment', { variables: { claimNo: 'C-9', amount: 10 } }));
  const [otherChild] = await childrenOf(t, other.id);
  await When('an admin cancels the claim', () => t.engine.cancelInstance(other.id, admin, 'withdrawn'));
  await Then('its child is cancelled in the same transaction, its task too, and its history says why', async () => {
    const c = await t.engine.getInstance(otherChild.id);
    assert.is(c.status, 'cancelled');
    assert.equal(c.openTasks, []);
    const last = (await t.engine.history(otherChild.id)).at(-1)!;
    assert.is(last.type, 'instance.cancelled');
    assert.match(String((last.data as { reason: string }).reason), other.id);
    assert.equal((await t.engine.listTasks({ processInstanceId: otherChild.id }, admin)).items, []);
  });
});

calls('a child\'s incident shows on its caller', async (ctx) => {
  const { t } = ctx;
  t.engine.registerHandler('priceDamage', () => { throw new Error('pricing service down'); }, { retries: 1 });
  try {
    const inst = await When('a claim starts and the child\'s handler fails for good', () => t.engine.startInstance('claim-with-assessment', { variables: { claimNo: 'C-10', amount: 10 } }));
    await Then('the caller lists the child\'s incident, naming the child', async () => {
      const [c] = await childrenOf(t, inst.id);
      assert.is(c.status, 'incident');
      const now = await t.engine.getInstance(inst.id);
      assert.equal(now.incidents.map((i) => [i.processInstanceId, i.activityId]), [[c.id, 'A_Price']]);
    });
  } finally {
    withHandlers(ctx, t.engine);
  }
});

calls('Camunda 8 multi-instance call activity: one child per element; the outputs collected in input order, nothing else comes back', async (ctx) => {
  const { t } = ctx;
  const inst = await When('a check starts for two claimants', () => t.engine.startInstance('check-claimants', { variables: { claimants: [{ name: 'kim', age: 30 }, { name: 'lou', age: 12 }] } }));
  const children = await Then('two children run, each with its claimant and its input mapping', async () => {
    const seen = (ctx.seen.get('checkClaimant') ?? []).map((v) => [v.name, (v.claimant as { name: string }).name]);
    assert.equal(seen.sort(), [['kim', 'kim'], ['lou', 'lou']]);
    const cs = await childrenOf(t, inst.id);
    assert.is(cs.length, 2);
    return Promise.all(cs.map((c) => t.engine.getInstance(c.id)));
  });
  await When('lou\'s review is done before kim\'s', async () => {
    const byGroup = new Map(children.map((c) => [c.openTasks[0].candidateGroups[0], c.openTasks[0]]));
    await t.engine.completeTask(byGroup.get('checkers-lou')!.id, {}, admin);
    await t.engine.completeTask(byGroup.get('checkers-kim')!.id, {}, admin);
  });
  await Then('the verdicts are in input order; the children\'s other variables did not come back', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.equal(now.variables.verdicts, ['kim:adult', 'lou:minor']);
    assert.not.ok('scratch' in now.variables);
    assert.not.ok('name' in now.variables);
  });
});

calls('the called version follows the binding resolved at deploy: latest (the default), a fixed version, the deployment\'s', async (ctx) => {
  const { t } = ctx;
  await Given('rate-tariff v1 deployed, then the caller deployed with v2 of rate-tariff in the same deployment, then v3', async () => {
    await t.engine.deploy([file('rate-tariff-v1.bpmn', 'rate-tariff.bpmn')]);
    await t.engine.deploy([file('call-bindings.bpmn'), file('rate-tariff-v2.bpmn', 'rate-tariff.bpmn')]);
    await t.engine.deploy([{ name: 'rate-tariff.bpmn', content: fixture(`${dir}rate-tariff-v1.bpmn`).replace('Tariff v1', 'Tariff v3') }]);
  });
  const inst = await When('the caller starts', () => t.engine.startInstance('call-bindings', {}));
  await Then('latest ran v3, the fixed binding v1, the deployment binding v2', async () => {
    const byParent = new Map<string, number>();
    for (const c of await childrenOf(t, inst.id)) {
      const h = await t.engine.history(inst.id);
      const started = h.find((e) => e.type === 'call.started' && (e.data as { childInstanceId: string }).childInstanceId === c.id)!;
      byParent.set(String(started.activityId), c.processVersion);
    }
    assert.equal(Object.fromEntries(byParent), { Call_Latest: 3, Call_V1: 1, Call_Deployed: 2 });
  });
});

calls('an uncaught BPMN error in the child reaches the call activity\'s error boundary: from a handler, or from an error end event', async (ctx) => {
  const { t } = ctx;
  let answer: 'throw' | 'excluded' | 'other-code' | 'fine' = 'throw';
  t.engine.registerHandler('checkCover', () => {
    if (answer === 'throw') throw new BpmnError('NOT_COVERED', 'flood is excluded');
    if (answer === 'other-code') throw new BpmnError('PAYMENT_BLOCKED', 'blocked');
    return { excluded: answer === 'excluded' };
  });
  for (const how of ['throw', 'excluded'] as const) {
    answer = how;
    const inst = await When(`a cover check starts and the child ${how === 'throw' ? 'handler throws' : 'ends at its error end event with'} NOT_COVERED`, () => t.engine.startInstance('cover-check', { variables: { peril: 'flood' } }));
    await Then('the caller took its error boundary: Reject is open, Pay is not', () => {
      assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Reject']);
    });
    await And('the child is cancelled with its incident resolved, and the caller\'s history says what was caught', async () => {
      const [c] = await childrenOf(t, inst.id);
      const child = await t.engine.getInstance(c.id);
      assert.is(child.status, 'cancelled');
      assert.equal(child.incidents, []);
      const h = await t.engine.history(inst.id);
      assert.ok(h.some((e) => e.type === 'call.failed' && (e.data as { code: string }).code === 'NOT_COVERED'));
      assert.ok(h.some((e) => e.type === 'error.caught' && e.activityId === 'Boundary_NotCovered'));
    });
  }
  answer = 'other-code';
  const stuck = await When('the child throws a code nothing catches', () => t.engine.startInstance('cover-check', { variables: {} }));
  await Then('the caller keeps waiting and shows the child\'s incident naming the code', async () => {
    assert.equal(stuck.activeActivities.filter((a) => a === 'Call_Verify'), ['Call_Verify']);
    assert.is(stuck.incidents.length, 1);
    assert.match(stuck.incidents[0].errorMessage, /PAYMENT_BLOCKED/);
  });
  answer = 'fine';
  const fine = await When('the cover is fine', () => t.engine.startInstance('cover-check', { variables: {} }));
  await Then('the caller goes on to Pay with the child\'s variables (camunda:out variables="all")', () => {
    assert.equal(fine.openTasks.map((x) => x.activityId), ['Task_Pay']);
    assert.is(fine.variables.excluded, false);
  });
});

calls('an escalation the child does not catch reaches a non-interrupting escalation boundary of the call activity; the child goes on', async ({ t }) => {
  const inst = await When('a survey is called and escalates at once', () => t.engine.startInstance('survey-claim', {}));
  const [child] = await childrenOf(t, inst.id);
  await Then('the caller informs the customer and still waits for the survey', async () => {
    assert.equal(inst.openTasks.map((x) => x.activityId), ['Task_Inform']);
    assert.ok(inst.activeActivities.includes('Call_Survey'));
    const h = await t.engine.history(inst.id);
    assert.ok(h.some((e) => e.type === 'call.escalated' && (e.data as { code: string }).code === 'SURVEY_LATE'));
  });
  await When('the survey is done', async () => {
    const c = await t.engine.getInstance(child.id);
    await t.engine.completeTask(c.openTasks[0].id, {}, admin);
  });
  await Then('the child completed and only the inform task is left in the caller', async () => {
    assert.is((await t.engine.getInstance(child.id)).status, 'completed');
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Inform']);
    assert.not.ok(now.activeActivities.includes('Call_Survey'));
  });
});

calls('starting the child and resuming the caller are durable jobs: a process that dies right after a commit leaves them to the scheduler', async (ctx) => {
  const { t } = ctx;
  // an engine whose after-commit runs never get their job (as if the process died right after each commit)
  const stores = createKnexStores(t.tdb.db);
  const dying = withHandlers(ctx, new EngineCore({ clock: t.clock, stores: { ...stores, jobs: Object.assign(Object.create(stores.jobs), { lock: async () => null }) } }) as InsureflowEngine);
  const healthy = withHandlers(ctx, new InsureflowEngine({ db: t.tdb.db, clock: t.clock }));
  const inst = await When('an underwriting starts on the dying engine', () => dying.startInstance('underwrite', { variables: { policyNo: 'P-D', sumInsured: 1 } }));
  await Then('the caller committed, waiting at the call activity, with a call-start job and no child yet', async () => {
    assert.equal(inst.activeActivities, ['Call_Rate']);
    assert.equal((await t.engine.listJobs({ processInstanceId: inst.id })).items.map((j) => j.type), ['call-start']);
    assert.equal(await childrenOf(t, inst.id), []);
  });
  await When('the scheduler of another engine runs the due jobs (twice: a job runs once)', async () => {
    assert.is(await healthy.runDueJobs(), 1);
    assert.is(await healthy.runDueJobs(), 0);
  });
  await Then('one child ran and the caller waits at Decide with its result', async () => {
    assert.is((await childrenOf(t, inst.id)).length, 1);
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.activeActivities, ['Task_Decide']);
    assert.is(now.variables.riskClass, 'B');
  });
  const claim = await Given('a claim whose child waits for an adjuster (started on the healthy engine)', () => healthy.startInstance('claim-with-assessment', { variables: { claimNo: 'C-D', amount: 8 } }));
  const [child] = await childrenOf(t, claim.id);
  await When('the dying engine completes the child\'s task', async () => {
    const c = await t.engine.getInstance(child.id);
    await dying.completeTask(c.openTasks[0].id, { assessment: 'minor' }, adjuster);
  });
  await Then('the child completed; the caller still waits, its resumption is a job', async () => {
    assert.is((await t.engine.getInstance(child.id)).status, 'completed');
    assert.ok((await t.engine.getInstance(claim.id)).activeActivities.includes('Call_Assess'));
    assert.ok((await t.engine.listJobs({ processInstanceId: claim.id })).items.some((j) => j.type === 'call-complete'));
  });
  await When('the healthy engine\'s scheduler runs', () => healthy.runDueJobs());
  await Then('the caller went on to Settle with the child\'s assessment', async () => {
    const now = await t.engine.getInstance(claim.id);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Settle']);
    assert.is(now.variables.damageAssessment, 'minor');
  });
});

calls('the history of every caller and every child above replays consistently on its pinned version', async ({ t }) => {
  const all = (await t.engine.listInstances({ limit: 500 })).items;
  assert.ok(all.some((i) => i.parentInstanceId), 'there are children');
  for (const i of all) {
    const r = await replayInstance(t.tdb.db, i.id);
    assert.ok(r.consistent, `${i.processKey} ${i.id} (${i.status}): ${JSON.stringify(r.divergence)}`);
  }
});

calls('a non-executable process deployed because it is called is only ever started by its caller (not by its own timer start event)', async ({ t }) => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="x">
  <bpmn:process id="caller-only" isExecutable="true">
    <bpmn:startEvent id="S" /><bpmn:sequenceFlow id="a" sourceRef="S" targetRef="C" />
    <bpmn:callActivity id="C" calledElement="timed-callee" /><bpmn:sequenceFlow id="b" sourceRef="C" targetRef="E" /><bpmn:endEvent id="E" />
  </bpmn:process>
  <bpmn:process id="timed-callee" isExecutable="false">
    <bpmn:startEvent id="TS"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
    <bpmn:sequenceFlow id="c" sourceRef="TS" targetRef="TE" /><bpmn:endEvent id="TE" />
  </bpmn:process>
</bpmn:definitions>`;
  const res = await When('a caller whose called pool has a timer start event is deployed', () => t.engine.deploy([{ name: 'caller-only.bpmn', content: xml }]));
  await Then('both are definitions, and no timer starts the called one', async () => {
    assert.equal(res.definitions.map((d) => d.key).sort(), ['caller-only', 'timed-callee']);
    const starts = (await t.engine.listJobs({ type: 'timer-start', limit: 100 })).items;
    assert.not.ok(starts.some((j) => j.activityId === 'TS'), JSON.stringify(starts));
  });
});

calls('call activities the engine cannot run are refused at deploy, naming the element', async ({ t }) => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="x">
  <bpmn:process id="call-refused" isExecutable="true">
    <bpmn:startEvent id="S" /><bpmn:sequenceFlow id="a" sourceRef="S" targetRef="C_Unknown" />
    <bpmn:callActivity id="C_Unknown" calledElement="no-such-process" />
    <bpmn:sequenceFlow id="b" sourceRef="C_Unknown" targetRef="C_Tag" />
    <bpmn:callActivity id="C_Tag" calledElement="assess-damage" camunda:calledElementBinding="versionTag" camunda:calledElementVersionTag="v1" />
    <bpmn:sequenceFlow id="c" sourceRef="C_Tag" targetRef="C_Map" />
    <bpmn:callActivity id="C_Map" calledElement="assess-damage" camunda:variableMappingClass="com.example.Mapper">
      <bpmn:extensionElements><camunda:in source="x" /><camunda:out variables="some" /></bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="d" sourceRef="C_Map" targetRef="C_Version" />
    <bpmn:callActivity id="C_Version" calledElement="assess-damage" camunda:calledElementBinding="version" camunda:calledElementVersion="9" />
    <bpmn:sequenceFlow id="e" sourceRef="C_Version" targetRef="E" /><bpmn:endEvent id="E" />
  </bpmn:process>
</bpmn:definitions>`;
  const err = await When('a diagram calling an unknown process, by version tag, with a Java mapping, bad in/out and a missing version is deployed', () => refusal(t.engine.deploy([{ name: 'call-refused.bpmn', content: xml }])));
  await Then('each problem names its element and what to do', () => {
    const problems = err.details as { element: string; message: string }[];
    const about = (id: string, re: RegExp) => assert.ok(problems.some((p) => p.element === id && re.test(p.message)), `${id}: ${re} in ${JSON.stringify(problems, null, 1)}`);
    about('C_Unknown', /neither in this file nor deployed/);
    about('C_Tag', /no version tag/);
    about('C_Map', /variableMappingClass/);
    about('C_Map', /camunda:in without a target/);
    about('C_Map', /variables="some"/);
    about('C_Version', /version 9 of process "assess-damage" is not deployed/);
  });
  await And('nothing was deployed', async () => {
    assert.not.ok((await t.engine.listDefinitions()).some((d) => d.key === 'call-refused'));
  });
});

calls.run();
