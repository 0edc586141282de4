/**
 * Feature: multi-instance activities, parallel and sequential (issue 9, section 2): Camunda 7 loopCardinality,
 * camunda:collection + camunda:elementVariable, completionCondition; Camunda 8 zeebe:loopCharacteristics
 * inputCollection / inputElement / outputCollection / outputElement; on user, service, send and business rule tasks
 * and embedded sub-processes (call activities: call-activity.test.ts). Each iteration has its own element and
 * loopCounter, seen by handlers and every task expression; the counters are seen by the completion condition; the
 * output collection keeps input order; each iteration's task is completed by its own id. Without HTTP, on the
 * suite's database, with a ManualClock and stub handlers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, admin, type TestEngine } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import type { HandlerContext, Variables } from '../../src/engine/runtime.ts';
import { InsureflowError } from '../../src/errors.ts';
import { Given, When, Then, And } from './gwt.ts';

const DAY = 86_400_000;
const resources = (...names: string[]) => names.map((n) => ({ name: n.replace(/^feature\/multi-instance\//, ''), content: fixture(n) }));
const dir = 'feature/multi-instance/';

interface Ctx {
  t: TestEngine;
  calls: Map<string, Variables[]>;
}

const note = (ctx: Ctx, name: string, out: (v: Readonly<Variables>) => Variables | void) => ({ variables }: HandlerContext) => {
  ctx.calls.set(name, [...(ctx.calls.get(name) ?? []), { ...variables }]);
  return out(variables);
};

function withHandlers(ctx: Ctx, engine: InsureflowEngine): InsureflowEngine {
  return engine
    .registerHandler('notify', note(ctx, 'notify', () => ({ notified: true })))
    .registerHandler('count', note(ctx, 'count', (v) => ({ counted: Number(v.loopCounter) })))
    .registerHandler('price', note(ctx, 'price', (v) => ({ price: Number((v.item as { value: number }).value) * 2 })))
    .registerHandler('quotePart', note(ctx, 'quotePart', (v) => ({ quote: `${(v.part as { name: string }).name}:${Number(v.loopCounter) * 100}` })));
}

const mi = suite<Ctx>('multi-instance');
mi.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = new Map();
  withHandlers(ctx, ctx.t.engine);
  await ctx.t.engine.deploy([
    ...resources(`${dir}mi-assignee-c7.bpmn`, `${dir}mi-sequential-c7.bpmn`, `${dir}mi-quorum-c7.bpmn`, `${dir}mi-zeebe.bpmn`, `${dir}mi-subprocess-zeebe.bpmn`),
    { name: 'decisions/peril-weight.dmn', content: fixture(`${dir}decisions/peril-weight.dmn`) },
  ]);
});
mi.after(async (ctx) => ctx.t.close());
mi.before.each((ctx) => ctx.calls.clear());

mi('Camunda 7 parallel user task: one task per element, assigned to it, with its own group and due date; each completed by its own id (case 07)', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an instance starts with approvers alice and bob', () => t.engine.startInstance('mi-assignee-c7', { variables: { approvers: ['alice', 'bob'] } }));
  const [a, b] = await Then('two tasks are open, assigned to alice and bob, each with its iteration\'s group and due date', () => {
    assert.is(inst.openTasks.length, 2);
    const byAssignee = new Map(inst.openTasks.map((x) => [x.assignee, x]));
    assert.equal([...byAssignee.keys()].sort(), ['alice', 'bob']);
    const alice = byAssignee.get('alice')!;
    const bob = byAssignee.get('bob')!;
    assert.equal(alice.candidateGroups, ['approvers-0']);
    assert.equal(bob.candidateGroups, ['approvers-1']);
    assert.is(alice.dueAt, new Date(t.clock.now() + DAY).toISOString());
    assert.is(bob.dueAt, new Date(t.clock.now() + 2 * DAY).toISOString());
    assert.is.not(alice.id, bob.id);
    return [alice, bob];
  });
  await When('bob completes his task first, through an engine started afresh', async () => {
    const fresh = withHandlers(ctx, new InsureflowEngine({ db: t.tdb.db, clock: t.clock }));
    await fresh.completeTask(b.id, { ok: true }, ops('bob'));
  });
  await Then('alice\'s task is still open and the body waits', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.id), [a.id]);
    assert.equal(now.activeActivities, ['Task_Approve']);
    assert.not.ok('approver' in now.variables, 'the element is not a process variable');
  });
  await When('alice completes hers', () => t.engine.completeTask(a.id, { ok: true }, ops('alice')));
  await Then('the process goes on to payment', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Pay']);
    for (const k of ['approver', 'loopCounter', 'nrOfInstances']) assert.not.ok(k in now.variables, `${k} is not a process variable`);
  });
  await And('a task cannot be completed twice', async () => {
    try {
      await t.engine.completeTask(a.id, {}, ops('alice'));
      assert.unreachable('completed twice');
    } catch (err) {
      assert.instance(err, InsureflowError);
      assert.is((err as InsureflowError).code, 'TASK_NOT_OPEN');
    }
  });
});

mi('Camunda 7 send task over a collection, sequential cardinality service task, sequential user task stopped by its completion condition', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an instance starts with three reviewers and two rounds', () => t.engine.startInstance('mi-sequential-c7', { variables: { reviewers: ['rita', 'remy', 'rosa'], rounds: 2 } }));
  await Then('the send task\'s handler ran once per reviewer with its element and loopCounter from 0', () => {
    const calls = ctx.calls.get('notify') ?? [];
    assert.equal(calls.map((c) => [c.reviewer, c.loopCounter, c.nrOfInstances]), [['rita', 0, 3], ['remy', 1, 3], ['rosa', 2, 3]]);
  });
  await And('the cardinality loop ran twice in order, seeing the counters', () => {
    const calls = ctx.calls.get('count') ?? [];
    assert.equal(calls.map((c) => [c.loopCounter, c.nrOfInstances, c.nrOfCompletedInstances, c.nrOfActiveInstances]), [[0, 2, 0, 1], [1, 2, 1, 1]]);
    assert.is(inst.variables.counted, 1, 'results without a local of that name reach the process (the last one wins)');
  });
  const first = await And('one review task is open, for rita', () => {
    assert.equal(inst.openTasks.map((x) => x.assignee), ['rita']);
    return inst.openTasks[0];
  });
  await When('rita approves', () => t.engine.completeTask(first.id, { verdict: 'approve' }, ops('rita')));
  const second = await Then('the next task is remy\'s', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.assignee), ['remy']);
    return now.openTasks[0];
  });
  await When('remy rejects', () => t.engine.completeTask(second.id, { verdict: 'reject' }, ops('remy')));
  await Then('the completion condition ends the loop: rosa never gets a task and the instance completes', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.is(now.openTasks.length, 0);
    const created = (await t.engine.history(inst.id)).filter((h) => h.type === 'task.created').map((h) => (h.data as { assignee: string }).assignee);
    assert.equal(created, ['rita', 'remy']);
  });
});

mi('Camunda 7 parallel quorum: the completion condition sees nrOfCompletedInstances / nrOfInstances / nrOfActiveInstances; the open task left is cancelled', async ({ t }) => {
  const inst = await Given('a vote of three board members', () => t.engine.startInstance('mi-quorum-c7', { variables: { board: ['ann', 'ben', 'cyd'] } }));
  const byAssignee = new Map(inst.openTasks.map((x) => [x.assignee, x]));
  await When('ann votes', () => t.engine.completeTask(byAssignee.get('ann')!.id, { vote: 'yes' }, ops('ann')));
  await Then('one of three is not a quorum: two tasks stay open', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.assignee).sort(), ['ben', 'cyd']);
  });
  await When('cyd votes', () => t.engine.completeTask(byAssignee.get('cyd')!.id, { vote: 'no' }, ops('cyd')));
  await Then('two of three is: ben\'s task is cancelled and the decision is recorded next', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.equal(now.openTasks.map((x) => x.activityId), ['Task_Record']);
    const cancelled = (await t.engine.history(inst.id)).filter((h) => h.type === 'task.cancelled');
    assert.equal(cancelled.map((h) => h.activityId), ['Task_Vote']);
    assert.is(cancelled[0].data && (cancelled[0].data as { taskId: string }).taskId, byAssignee.get('ben')!.id);
  });
});

mi('Camunda 8: service and business rule tasks collect their outputs in input order; user tasks completed out of order still do', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an instance starts with three items, three perils and two reviewers', () =>
    t.engine.startInstance('mi-zeebe', { variables: { items: [{ value: 10 }, { value: 20 }, { value: 5 }], perils: ['water', 'fire', 'hail'], reviewers: ['vic', 'wes'] } }),
  );
  await Then('each pricing job saw its item and loopCounter from 1, and no other iteration\'s result', () => {
    const calls = ctx.calls.get('price') ?? [];
    assert.equal(calls.map((c) => [(c.item as { value: number }).value, c.loopCounter, c.price]), [[10, 1, null], [20, 2, null], [5, 3, null]]);
  });
  await And('prices and weights are in input order; the per-iteration results stay local', () => {
    assert.equal(inst.variables.prices, [20, 40, 10]);
    assert.equal(inst.variables.weights, [2, 3, 1]);
    for (const k of ['price', 'weight', 'item', 'peril', 'loopCounter', 'numberOfInstances']) assert.not.ok(k in inst.variables, `${k} stays local`);
  });
  const tasks = await And('each reviewer has a task with the round of the iteration', () => {
    const byAssignee = new Map(inst.openTasks.map((x) => [x.assignee, x]));
    assert.equal(byAssignee.get('vic')!.candidateGroups, ['round-1']);
    assert.equal(byAssignee.get('wes')!.candidateGroups, ['round-2']);
    return byAssignee;
  });
  await When('wes answers before vic', async () => {
    await t.engine.completeTask(tasks.get('wes')!.id, { verdict: 'no' }, ops('wes'));
    await t.engine.completeTask(tasks.get('vic')!.id, { verdict: 'yes' }, ops('vic'));
  });
  await Then('the verdicts follow the input order, each with its own reviewer', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.equal(now.variables.verdicts, [{ by: 'vic', verdict: 'yes' }, { by: 'wes', verdict: 'no' }]);
  });
  await And('every decision evaluation is in the history, one per peril', async () => {
    const evaluated = (await t.engine.history(inst.id)).filter((h) => h.type === 'decision.evaluated');
    assert.equal(evaluated.map((h) => (h.data as { result: unknown }).result), [2, 3, 1]);
  });
});

mi('Camunda 8 multi-instance sub-process: the element reaches the handler and the task inside; quotes collected in input order across restarts', async (ctx) => {
  const { t } = ctx;
  const inst = await When('an instance starts with two damaged parts', () =>
    t.engine.startInstance('mi-subprocess-zeebe', { variables: { parts: [{ name: 'door', owner: 'dan' }, { name: 'hood', owner: 'hal' }] } }),
  );
  await Then('each quote job saw its part and loopCounter', () => {
    const calls = ctx.calls.get('quotePart') ?? [];
    assert.equal(calls.map((c) => [(c.part as { name: string }).name, c.loopCounter]).sort(), [['door', 1], ['hood', 2]]);
  });
  const tasks = await And('each part\'s confirmation task is assigned to its owner', () => {
    assert.equal(inst.openTasks.map((x) => x.assignee).sort(), ['dan', 'hal']);
    return new Map(inst.openTasks.map((x) => [x.assignee, x]));
  });
  await When('hal confirms first, then dan, each through an engine started afresh', async () => {
    for (const who of ['hal', 'dan']) {
      const fresh = withHandlers(ctx, new InsureflowEngine({ db: t.tdb.db, clock: t.clock }));
      await fresh.completeTask(tasks.get(who)!.id, {}, ops(who));
    }
  });
  await Then('the quotes are in input order and nothing of the iterations is left in the process', async () => {
    const now = await t.engine.getInstance(inst.id);
    assert.is(now.status, 'completed');
    assert.equal(now.variables.quotes, ['door:100', 'hood:200']);
    for (const k of ['quote', 'part', 'loopCounter']) assert.not.ok(k in now.variables);
  });
});

mi('multi-instance characteristics the engine cannot run are refused at deploy, naming the element', async ({ t }) => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D" targetNamespace="x">
  <bpmn:process id="mi-refused" isExecutable="true">
    <bpmn:startEvent id="S" /><bpmn:sequenceFlow id="a" sourceRef="S" targetRef="T_None" />
    <bpmn:userTask id="T_None"><bpmn:multiInstanceLoopCharacteristics /></bpmn:userTask>
    <bpmn:sequenceFlow id="b" sourceRef="T_None" targetRef="T_Half" />
    <bpmn:userTask id="T_Half"><bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>
      <zeebe:loopCharacteristics inputCollection="=xs" inputElement="x" outputCollection="ys" />
    </bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>
    <bpmn:sequenceFlow id="c" sourceRef="T_Half" targetRef="E" /><bpmn:endEvent id="E" />
  </bpmn:process>
</bpmn:definitions>`;
  const err = await When('a diagram with an empty loop and an output collection without element is deployed', async () => {
    try {
      await t.engine.deploy([{ name: 'mi-refused.bpmn', content: xml }]);
    } catch (e) {
      return e as InsureflowError;
    }
    throw new Error('expected a refusal');
  });
  await Then('each is named with what to write instead', () => {
    const problems = err.details as { element: string; message: string }[];
    assert.ok(problems.some((p) => p.element === 'T_None' && /neither how many instances/.test(p.message)), JSON.stringify(problems));
    assert.ok(problems.some((p) => p.element === 'T_Half' && /output collection without an output element/.test(p.message)), JSON.stringify(problems));
  });
  await And('an admin sees nothing deployed', async () => {
    assert.not.ok((await t.engine.listDefinitions()).some((d) => d.key === 'mi-refused'));
    void admin;
  });
});

mi.run();
