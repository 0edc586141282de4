/**
 * Feature: limits that keep one diagram from stalling the service (issue 10, section 2; src/engine/limits.ts).
 * - Deploy time: timer cycles shorter than the minimum period, sub-processes nested deeper than the limit, processes
 *   with more flow elements than the limit are refused (422 BPMN_INVALID) naming the element and what to write.
 * - Run time: a transition that runs more activity executions, or longer by the engine's clock, than its limits
 *   stops with an incident on the activity it held; it gives the event loop a turn every few steps (counted here in
 *   event-loop turns, never in milliseconds); retrying the incident continues where it stopped.
 * - Timer-start cycles: firings missed while the engine was down fire once, then the cycle goes on from now; a
 *   cycle stored before the minimum existed fires at most that often; a new version replaces the old one's job.
 * Without HTTP (test/limits.test.ts drives the real server), on the suite's database, with a ManualClock. Big
 * diagrams are generated here.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { admin, testEngine, type TestEngine, refusal } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { InsureflowError } from '../../src/errors.ts';
import { DEFAULT_LIMITS, type EngineLimits } from '../../src/engine/limits.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import type { Variables } from '../../src/engine/runtime.ts';
import { Given, When, Then, And } from './gwt.ts';

const HOUR = 3_600_000;
const HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://insureflow.test/limits">`;
const doc = (processId: string, body: string) => `${HEAD}<bpmn:process id="${processId}" isExecutable="true">${body}</bpmn:process></bpmn:definitions>`;
const bpmn = (name: string, content: string) => [{ name: `${name}.bpmn`, content }];

// ------------------------------------------------------------------------------------------------ diagrams

/** A timer start event with a cycle, then a plain task. */
const timerStart = (id: string, cycle: string | null) =>
  doc(id, `${cycle ? `<bpmn:startEvent id="TimerStart"><bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>` : '<bpmn:startEvent id="TimerStart"/>'}
    <bpmn:sequenceFlow id="f0" sourceRef="TimerStart" targetRef="Work"/><bpmn:task id="Work"/><bpmn:sequenceFlow id="f1" sourceRef="Work" targetRef="End"/><bpmn:endEvent id="End"/>`);

/** A user task with a non-interrupting boundary timer cycle written as `cycle` (a value or an expression). */
const boundaryCycle = (id: string, cycle: string) =>
  doc(id, `<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Wait"/>
    <bpmn:userTask id="Wait"/><bpmn:sequenceFlow id="f1" sourceRef="Wait" targetRef="End"/><bpmn:endEvent id="End"/>
    <bpmn:boundaryEvent id="Remind" attachedToRef="Wait" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="Remind" targetRef="RemindEnd"/><bpmn:endEvent id="RemindEnd"/>`);

/** Sub-processes nested `depth` deep (each with a start and an end event); `inner` goes into the innermost one. */
function nested(id: string, depth: number, inner = '') {
  let body = `<bpmn:startEvent id="s${depth}"/><bpmn:sequenceFlow id="f${depth}" sourceRef="s${depth}" targetRef="e${depth}"/><bpmn:endEvent id="e${depth}"/>${inner}`;
  for (let d = depth - 1; d >= 0; d--) {
    body = `<bpmn:startEvent id="s${d}"/><bpmn:sequenceFlow id="fa${d}" sourceRef="s${d}" targetRef="sub${d}"/><bpmn:subProcess id="sub${d}">${body}</bpmn:subProcess><bpmn:sequenceFlow id="fb${d}" sourceRef="sub${d}" targetRef="e${d}"/><bpmn:endEvent id="e${d}"/>`;
  }
  return doc(id, body);
}

/** `n` plain tasks in a row: 2n + 3 flow elements. */
function chain(id: string, n: number) {
  const parts = ['<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t1"/>'];
  for (let i = 1; i <= n; i++) parts.push(`<bpmn:task id="t${i}"/><bpmn:sequenceFlow id="f${i}" sourceRef="t${i}" targetRef="${i === n ? 'end' : `t${i + 1}`}"/>`);
  parts.push('<bpmn:endEvent id="end"/>');
  return doc(id, parts.join(''));
}

/** A plain task whose only outgoing flow goes back to itself. */
const selfLoop = (id: string) => doc(id, '<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Spin"/><bpmn:task id="Spin"/><bpmn:sequenceFlow id="f1" sourceRef="Spin" targetRef="Spin"/>');

/** Service task -> exclusive gateway -> back to the task while =n >= 0 (always). */
const LOOP_BODY = `<bpmn:serviceTask id="Bump" camunda:type="external" camunda:topic="bump"/><bpmn:sequenceFlow id="l1" sourceRef="Bump" targetRef="Again"/>
  <bpmn:exclusiveGateway id="Again" default="l3"/><bpmn:sequenceFlow id="l2" sourceRef="Again" targetRef="Bump"><bpmn:conditionExpression>=n &gt;= 0</bpmn:conditionExpression></bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="l3" sourceRef="Again" targetRef="LoopEnd"/><bpmn:endEvent id="LoopEnd"/>`;
const serviceLoop = (id: string) => doc(id, `<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Bump"/>${LOOP_BODY}`);

/** The same loop inside a sub-process. */
const loopInSubProcess = (id: string) =>
  doc(id, `<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Sub"/>
    <bpmn:subProcess id="Sub"><bpmn:startEvent id="SubStart"/><bpmn:sequenceFlow id="f1" sourceRef="SubStart" targetRef="Bump"/>${LOOP_BODY}</bpmn:subProcess>
    <bpmn:sequenceFlow id="f2" sourceRef="Sub" targetRef="End"/><bpmn:endEvent id="End"/>`);

/** A parallel split: the endless loop on one branch, a user task on the other. */
const loopBesideTask = (id: string) =>
  doc(id, `<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Split"/><bpmn:parallelGateway id="Split"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Split" targetRef="Bump"/><bpmn:sequenceFlow id="f2" sourceRef="Split" targetRef="Review"/>
    <bpmn:userTask id="Review"/><bpmn:sequenceFlow id="f3" sourceRef="Review" targetRef="ReviewEnd"/><bpmn:endEvent id="ReviewEnd"/>${LOOP_BODY}`);

/** A multi-instance service task over the collection `items`, one handler call per item. */
const multiInstance = (id: string, sequential: boolean) =>
  doc(id, `<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Each"/>
    <bpmn:serviceTask id="Each" camunda:type="external" camunda:topic="each"><bpmn:multiInstanceLoopCharacteristics isSequential="${sequential}" camunda:collection="items" camunda:elementVariable="item"/></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="Each" targetRef="End"/><bpmn:endEvent id="End"/>`);

// ------------------------------------------------------------------------------------------------ helpers

type Problem = { resource: string; element: string | null; message: string };
const problemsOf = (err: InsureflowError) => err.details as Problem[];

/**
 * Counts event-loop turns: a setImmediate chain that adds one per turn. A piece of work that records `now()` at
 * each of its steps shows how many steps ran without the event loop getting a turn in between.
 */
function turnCounter() {
  let turn = 0;
  let on = true;
  const spin = () => {
    turn++;
    if (on) setImmediate(spin);
  };
  setImmediate(spin);
  return { now: () => turn, stop: () => (on = false) };
}

/** The largest number of entries recorded in one event-loop turn. */
function mostInOneTurn(turns: number[]): number {
  const per = new Map<number, number>();
  for (const t of turns) per.set(t, (per.get(t) ?? 0) + 1);
  return Math.max(0, ...per.values());
}

function withLimits(t: TestEngine, limits: Partial<EngineLimits>, clock: ManualClock = t.clock): InsureflowEngine {
  return new InsureflowEngine({ db: t.tdb.db, clock, limits });
}

/**
 * A clock that reads as its start plus the number of event-loop turns since it began counting: history events
 * carry the turn in which they were recorded, so a run that never gave the event loop a turn records them all at
 * one time.
 */
class TurnClock extends ManualClock {
  private turns = 0;
  private on = true;
  constructor(start: number) {
    super(start);
    const spin = () => {
      this.turns++;
      if (this.on) setImmediate(spin);
    };
    setImmediate(spin);
  }
  override now(): number {
    return super.now() + this.turns;
  }
  stop(): void {
    this.on = false;
  }
}

// ------------------------------------------------------------------------------------------------ deploy time

const deploy = suite<{ t: TestEngine }>('deploy-time limits');
deploy.before(async (ctx) => {
  ctx.t = await testEngine();
});
deploy.after(async (ctx) => ctx.t.close());

deploy('a timer cycle shorter than 1 s is refused naming the timer event and a cycle to write instead; 1 s is accepted', async ({ t }) => {
  const zero = await When('a timer start cycle R/PT0S is deployed', () => refusal(t.engine.deploy(bpmn('storm', timerStart('storm', 'R/PT0S')))));
  await Then('it is refused (BPMN_INVALID, 422) naming the timer start event, the limit and R/PT1S', () => {
    assert.is(zero.code, 'BPMN_INVALID');
    assert.is(zero.statusCode, 422);
    const [p] = problemsOf(zero);
    assert.equal([problemsOf(zero).length, p.element], [1, 'TimerStart']);
    assert.match(p.message, /R\/PT0S/);
    assert.match(p.message, /every 0 ms/);
    assert.match(p.message, /INSUREFLOW_MIN_TIMER_CYCLE_MS/);
    assert.match(p.message, /e\.g\. R\/PT1S/);
  });
  const tenth = await When('a boundary timer cycles R5/PT0.1S', () => refusal(t.engine.deploy(bpmn('tenth', boundaryCycle('tenth', 'R5/PT0.1S')))));
  await Then('it is refused naming the boundary event, with R5/PT1S to write instead', () => {
    const [p] = problemsOf(tenth);
    assert.is(p.element, 'Remind');
    assert.match(p.message, /every 100 ms/);
    assert.match(p.message, /R5\/PT1S/);
  });
  const dated = await When('a cycle with a start date fires every 500 ms', () => refusal(t.engine.deploy(bpmn('dated', timerStart('dated', 'R/2030-01-01T08:00:00Z/PT0.5S')))));
  await Then('it is refused too, and the suggestion keeps the start date', () => assert.match(problemsOf(dated)[0].message, /R\/2030-01-01T08:00:00Z\/PT1S/));
  const cron = await When('a cron expression is written as the cycle', () => refusal(t.engine.deploy(bpmn('cron', timerStart('cron', '0/1 * * * * ?')))));
  await Then('it is refused as cron (not supported), naming the event', () => {
    assert.is(problemsOf(cron)[0].element, 'TimerStart');
    assert.match(problemsOf(cron)[0].message, /Cron is not supported/);
  });
  await And('a cycle of exactly 1 s deploys', async () => {
    const res = await t.engine.deploy(bpmn('second', timerStart('second', 'R/PT1S')));
    assert.is(res.definitions[0].created, true);
  });
  await And('an engine configured with a 0 ms minimum accepts R/PT0S (the limit is an option)', async () => {
    const res = await withLimits(t, { minTimerCycleMs: 0 }).deploy(bpmn('storm-allowed', timerStart('storm-allowed', 'R/PT0S')));
    assert.is(res.definitions[0].key, 'storm-allowed');
  });
});

deploy('sub-processes nested deeper than 32 levels are refused naming the first one too deep; 32 levels deploy and run', async ({ t }) => {
  const deep = await When('3,000 nested sub-processes are deployed', () => refusal(t.engine.deploy(bpmn('deep', nested('deep', 3000)))));
  await Then('they are refused from the text, before parsing: the 33rd level and the size, nothing else', () => {
    const ps = problemsOf(deep);
    assert.equal(ps.map((p) => p.element), ['sub32', 'deep']);
    assert.match(ps[0].message, /nested 33 levels deep/);
    assert.match(ps[0].message, /the limit is 32 \(INSUREFLOW_MAX_NESTING_DEPTH\)/);
    assert.match(ps[0].message, /call activity/);
    assert.match(ps[1].message, /has 15,003 flow elements/);
  });
  const esp = await When('an event sub-process sits inside the 32nd level', () =>
    refusal(t.engine.deploy(bpmn('deep-esp', nested('deep-esp', 32, '<bpmn:subProcess id="Late" triggeredByEvent="true"><bpmn:startEvent id="LateStart"><bpmn:messageEventDefinition messageRef="Msg"/></bpmn:startEvent></bpmn:subProcess>')))),
  );
  await Then('the event sub-process is the 33rd level', () => assert.equal(problemsOf(esp).map((p) => p.element), ['Late']));
  const ok = await When('32 levels are deployed and started', async () => {
    await t.engine.deploy(bpmn('deep-ok', nested('deep-ok', 32)));
    return t.engine.startInstance('deep-ok', {});
  });
  await Then('the instance runs through every level to its end', () => assert.is(ok.status, 'completed'));
  await And('an engine configured for 2 levels refuses 3', async () => {
    const err = await refusal(withLimits(t, { maxNestingDepth: 2 }).deploy(bpmn('three', nested('three', 3))));
    assert.equal(problemsOf(err).map((p) => p.element), ['sub2']);
  });
});

deploy('a process of more than 1,000 flow elements is refused naming it; 10,000 tasks in a row too; 1,000 deploy and run', async ({ t }) => {
  const long = await When('10,000 tasks in a row are deployed', () => refusal(t.engine.deploy(bpmn('long', chain('long', 10_000)))));
  await Then('they are refused naming the process, its size and the limit, and how to split it', () => {
    const [p] = problemsOf(long);
    assert.equal([problemsOf(long).length, p.element], [1, 'long']);
    assert.match(p.message, /20,003 flow elements/);
    assert.match(p.message, /the limit is 1,000 \(INSUREFLOW_MAX_FLOW_ELEMENTS\)/);
    assert.match(p.message, /call activities/);
  });
  await And('1,001 flow elements are refused, 999 are not', async () => {
    assert.equal(problemsOf(await refusal(t.engine.deploy(bpmn('c499', chain('c499', 499))))).map((p) => p.message.match(/has ([\d,]+)/)?.[1]), ['1,001']);
    await t.engine.deploy(bpmn('c498', chain('c498', 498)));
  });
  const run = await When('the 498 tasks in a row run (a chain this long overflowed the stack before)', () => t.engine.startInstance('c498', {}));
  await Then('the instance completes', () => assert.is(run.status, 'completed'));
  await And('an engine configured for 10 elements refuses 11', async () => {
    const err = await refusal(withLimits(t, { maxFlowElements: 10 }).deploy(bpmn('c4', chain('c4', 4))));
    assert.match(problemsOf(err)[0].message, /has 11 flow elements .*; the limit is 10 \(/);
  });
});

// ------------------------------------------------------------------------------------------------ run time

interface RunCtx {
  t: TestEngine;
  /** an engine of the suite's database with the run-time limits of the test */
  engine: InsureflowEngine;
  calls: { name: string; variables: Variables; turn: number }[];
  turns: ReturnType<typeof turnCounter> | null;
  /** ms the handler `bump` moves the clock on */
  tick: number;
}

const STEPS = 200;
const run = suite<RunCtx>('run-time limits');
run.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.engine = withLimits(ctx.t, { maxTransitionSteps: STEPS });
  ctx.calls = [];
  ctx.turns = null;
  ctx.tick = 0;
  const note = (name: string) => ({ variables }: { variables: Readonly<Variables> }) => {
    ctx.calls.push({ name, variables: { n: variables.n, item: variables.item }, turn: ctx.turns?.now() ?? 0 });
    if (ctx.tick) ctx.t.clock.advance(ctx.tick);
    return name === 'bump' ? { n: Number(variables.n ?? 0) + 1 } : {};
  };
  ctx.engine.registerHandler('bump', note('bump')).registerHandler('each', note('each'));
  ctx.t.engine.registerHandler('bump', note('bump')).registerHandler('each', note('each'));
  await ctx.engine.deploy([
    ...bpmn('self-loop', selfLoop('self-loop')),
    ...bpmn('service-loop', serviceLoop('service-loop')),
    ...bpmn('loop-in-sub', loopInSubProcess('loop-in-sub')),
    ...bpmn('loop-beside-task', loopBesideTask('loop-beside-task')),
    ...bpmn('mi-seq', multiInstance('mi-seq', true)),
    ...bpmn('mi-par', multiInstance('mi-par', false)),
  ]);
});
run.after(async (ctx) => ctx.t.close());
run.before.each((ctx) => {
  ctx.calls = [];
  ctx.tick = 0;
  ctx.turns = turnCounter();
});
run.after.each((ctx) => {
  ctx.turns?.stop();
});

const startedOf = async (engine: InsureflowEngine, id: string, activityId: string) => (await engine.history(id)).filter((e) => e.type === 'activity.started' && e.activityId === activityId).length;

run('a plain task whose flow goes back to itself stops with an incident on it after the step limit, giving the event loop a turn every few steps; a retry runs the next batch', async ({ t }) => {
  const clock = new TurnClock(t.clock.now());
  const engine = withLimits(t, { maxTransitionSteps: STEPS }, clock);
  const inst = await When(`an instance of the self-loop starts (limit ${STEPS} steps)`, () => engine.startInstance('self-loop', {})).finally(() => clock.stop());
  const [incident] = await Then('it is in incident at the task, which ran exactly the limit', async () => {
    assert.is(inst.status, 'incident');
    assert.equal(inst.activeActivities, ['Spin']);
    assert.is(await startedOf(engine, inst.id, 'Spin'), STEPS + 1, 'the held run has started (entered) but not executed');
    const incidents = (await engine.listIncidents({ processInstanceId: inst.id })).items;
    assert.equal(incidents.map((i) => [i.activityId, i.attempts, i.status]), [['Spin', 0, 'open']]);
    assert.match(incidents[0].errorMessage, new RegExp(`ran ${STEPS} activity executions without reaching a wait state \\(limit INSUREFLOW_MAX_TRANSITION_STEPS = ${STEPS}\\)`));
    assert.match(incidents[0].errorMessage, /retrying this incident runs another/);
    return incidents;
  });
  await And(`the task ran at most two batches of ${DEFAULT_LIMITS.yieldEverySteps} steps between two event-loop turns (it does no I/O: without the turns it would run all at once)`, async () => {
    const started = (await engine.history(inst.id)).filter((e) => e.type === 'activity.started' && e.activityId === 'Spin');
    const most = mostInOneTurn(started.map((e) => Date.parse(e.at)));
    assert.ok(most <= 2 * DEFAULT_LIMITS.yieldEverySteps, `${most} runs in one turn`);
  });
  await When('the incident is retried', () => engine.retryIncident(incident.id, undefined, admin));
  await Then('the held run goes on for another batch and stops again with a new incident; the first one is resolved', async () => {
    const first = await engine.getIncident(incident.id);
    assert.is(first.status, 'resolved');
    const open = (await engine.listIncidents({ processInstanceId: inst.id })).items;
    assert.is(open.length, 1);
    assert.is.not(open[0].executionId, incident.executionId);
    assert.is(await startedOf(engine, inst.id, 'Spin'), 2 * (STEPS + 1), 'the released run, another batch, and the run held next');
    assert.is((await engine.getInstance(inst.id)).status, 'incident');
  });
});

run('a service task looping through an exclusive gateway stops with an incident, and gives the event loop a turn every few steps', async (ctx) => {
  const { engine } = ctx;
  const inst = await When('an instance of the service loop starts', () => engine.startInstance('service-loop', { variables: { n: 0 } }));
  await Then('it stops at the task after the limit: 100 handler calls for 200 steps (task, gateway, task...)', async () => {
    assert.is(inst.status, 'incident');
    assert.is(ctx.calls.length, STEPS / 2);
    assert.is(inst.variables.n, STEPS / 2, 'the work done before the stop is committed with it');
    const [inc] = (await engine.listIncidents({ processInstanceId: inst.id })).items;
    assert.equal([inc.activityId, inc.handler], ['Bump', 'bump']);
  });
  await And(`at most two batches of ${DEFAULT_LIMITS.yieldEverySteps} steps (${DEFAULT_LIMITS.yieldEverySteps} handler calls) ran between two event-loop turns`, () => {
    // a batch is cut by the run's own setImmediate; the counter's setImmediate of the same turn may run before or
    // after it, so one reading of the counter can see two batches, never more
    const most = mostInOneTurn(ctx.calls.map((c) => c.turn));
    assert.ok(most <= DEFAULT_LIMITS.yieldEverySteps, `${most} calls in one turn`);
    assert.ok(new Set(ctx.calls.map((c) => c.turn)).size >= STEPS / DEFAULT_LIMITS.yieldEverySteps, 'the calls are spread over many turns');
  });
  const [inc] = (await engine.listIncidents({ processInstanceId: inst.id })).items;
  await When('the incident is retried', () => engine.retryIncident(inc.id, undefined, admin));
  await Then('the held call is made, then another batch of steps runs (100 more calls), and the loop is held again', async () => {
    assert.is(ctx.calls[STEPS / 2].variables.n, STEPS / 2, 'the held call continues from n = 100');
    assert.is(ctx.calls.length, STEPS / 2 + 1 + STEPS / 2);
    assert.is((await engine.getIncident(inc.id)).status, 'resolved');
    const now = await engine.getInstance(inst.id);
    assert.equal([now.status, now.variables.n], ['incident', STEPS + 1]);
  });
});

run('the time limit, by the engine clock: handlers that take 1 s each stop the loop after 5 s', async (ctx) => {
  const engine = withLimits(ctx.t, { maxTransitionMs: 5_000 });
  engine.registerHandler('bump', ctx.engine.handlers.get('bump')!.fn);
  ctx.tick = 1_000;
  const inst = await When('an instance of the service loop starts and each call moves the clock on by 1 s', () => engine.startInstance('service-loop', { variables: { n: 0 } }));
  await Then('six calls ran; the gateway after the sixth is held with an incident naming the time limit', async () => {
    assert.is(ctx.calls.length, 6);
    const [inc] = (await engine.listIncidents({ processInstanceId: inst.id })).items;
    assert.is(inc.activityId, 'Again');
    assert.match(inc.errorMessage, /ran for 6,000 ms without reaching a wait state \(limit INSUREFLOW_MAX_TRANSITION_MS = 5,000 ms\)/);
    assert.is(inst.variables.n, 6);
  });
});

run('a held execution stays held while other transitions run on the instance; a loop inside a sub-process is held the same way', async (ctx) => {
  const { engine } = ctx;
  const inst = await When('the loop runs beside a user task', () => engine.startInstance('loop-beside-task', { variables: { n: 0 } }));
  const calls = await Then('the loop is held with an incident and the user task is open', async () => {
    assert.is(inst.status, 'incident');
    assert.equal(inst.openTasks.map((x) => x.activityId), ['Review']);
    return ctx.calls.length;
  });
  await When('the user task is completed (a transition of its own)', () => engine.completeTask(inst.openTasks[0].id, {}, admin));
  await Then('the loop did not move and its incident is still open', async () => {
    assert.is(ctx.calls.length, calls);
    const now = await engine.getInstance(inst.id);
    assert.is(now.status, 'incident');
    assert.equal((await engine.listIncidents({ processInstanceId: inst.id })).items.length, 1);
  });
  const sub = await When('the loop runs inside a sub-process', () => engine.startInstance('loop-in-sub', { variables: { n: 0 } }));
  await Then('it is held with an incident; a retry continues it inside the sub-process', async () => {
    assert.is(sub.status, 'incident');
    const [inc] = (await engine.listIncidents({ processInstanceId: sub.id })).items;
    const before = (await engine.getInstance(sub.id)).variables.n as number;
    await engine.retryIncident(inc.id, undefined, admin);
    const after = await engine.getInstance(sub.id);
    assert.ok((after.variables.n as number) > before);
    assert.equal(after.activeActivities, ['Sub']);
  });
});

for (const sequential of [true, false]) {
  const key = sequential ? 'mi-seq' : 'mi-par';
  run(`a ${sequential ? 'sequential' : 'parallel'} multi-instance service task over 100,000 items stops with an incident at the step limit, yielding throughout; a retry continues without repeating an item`, async (ctx) => {
    const engine = withLimits(ctx.t, { maxTransitionSteps: 1_000 });
    engine.registerHandler('each', ctx.engine.handlers.get('each')!.fn);
    const items = Array.from({ length: 100_000 }, (_, i) => i);
    const inst = await When('an instance starts with 100,000 items', () => engine.startInstance(key, { variables: { items } }));
    await Then('999 items were handled (the body is a step too), and the next iteration is held with an incident', async () => {
      assert.is(inst.status, 'incident');
      assert.is(ctx.calls.length, 999);
      const [inc] = (await engine.listIncidents({ processInstanceId: inst.id })).items;
      assert.is(inc.activityId, 'Each');
      assert.match(inc.errorMessage, /INSUREFLOW_MAX_TRANSITION_STEPS = 1,000/);
    });
    await And(`at most two batches of ${DEFAULT_LIMITS.yieldEverySteps} items were handled between two event-loop turns`, () => {
      const most = mostInOneTurn(ctx.calls.map((c) => c.turn));
      assert.ok(most <= 2 * DEFAULT_LIMITS.yieldEverySteps, `${most} items in one turn`);
    });
    const [inc] = (await engine.listIncidents({ processInstanceId: inst.id })).items;
    await When('the incident is retried', () => engine.retryIncident(inc.id, undefined, admin));
    await Then('the next batch is handled, no item twice, and the loop stops again', async () => {
      const seen = ctx.calls.map((c) => c.variables.item as number);
      assert.is(new Set(seen).size, seen.length, 'no item handled twice');
      assert.ok(seen.length >= 1_998, `${seen.length} items handled`);
      if (sequential) assert.equal(seen, Array.from({ length: seen.length }, (_, i) => i), 'in collection order');
      assert.is((await engine.getIncident(inc.id)).status, 'resolved');
      assert.is((await engine.getInstance(inst.id)).status, 'incident');
    });
  });
}

// ------------------------------------------------------------------------------------------------ timers

const timers = suite<{ t: TestEngine }>('timer cycles');
timers.before.each(async (ctx) => {
  ctx.t = await testEngine();
});
timers.after.each(async (ctx) => ctx.t.close());

const timerStarts = async (engine: InsureflowEngine) => (await engine.listJobs({ type: 'timer-start', limit: 100 })).items;
const instancesOf = async (engine: InsureflowEngine, key: string) => (await engine.listInstances({ key, limit: 100 } as any, admin)).items;

timers('firings missed while the engine was down fire once, then the cycle goes on from now (no burst)', async ({ t }) => {
  await Given('a timer start cycle R/PT1H deployed', () => t.engine.deploy(bpmn('hourly', timerStart('hourly', 'R/PT1H'))));
  await When('the engine is down for 10 hours and a minute, then runs its due jobs', async () => {
    t.clock.advance(10 * HOUR + 60_000);
    const fresh = new InsureflowEngine({ db: t.tdb.db, clock: t.clock });
    assert.is(await fresh.runDueJobs(), 1);
    assert.is(await fresh.runDueJobs(), 0, 'nothing else is due');
  });
  await Then('exactly one instance started, and the next firing is due an hour from now', async () => {
    assert.is((await instancesOf(t.engine, 'hourly')).length, 1);
    const [job] = await timerStarts(t.engine);
    assert.is(job.dueAt, new Date(t.clock.now() + HOUR).toISOString());
  });
  await And('an hour later it fires once more', async () => {
    t.clock.advance(HOUR);
    assert.is(await t.engine.runDueJobs(), 1);
    assert.is((await instancesOf(t.engine, 'hourly')).length, 2);
    assert.is((await timerStarts(t.engine))[0].dueAt, new Date(t.clock.now() + HOUR).toISOString());
  });
});

timers('a cycle firing on time keeps its schedule (the next firing counts from the due time, not from when it ran)', async ({ t }) => {
  await Given('a timer start cycle R3/PT1H deployed', () => t.engine.deploy(bpmn('three', timerStart('three', 'R3/PT1H'))));
  const due = (await timerStarts(t.engine))[0].dueAt;
  await When('the engine runs it 5 s late', async () => {
    t.clock.set(Date.parse(due) + 5_000);
    assert.is(await t.engine.runDueJobs(), 1);
  });
  await Then('the next firing is due an hour after the first was due', async () => assert.is((await timerStarts(t.engine))[0].dueAt, new Date(Date.parse(due) + HOUR).toISOString()));
});

timers('an R/PT0S timer start stored before the limit existed fires at most once per second', async ({ t }) => {
  await Given('R/PT0S deployed by an engine configured without a minimum', () => withLimits(t, { minTimerCycleMs: 0 }).deploy(bpmn('storm', timerStart('storm', 'R/PT0S'))));
  await When('an engine with the default limits (a restart) runs its due jobs again and again', async () => {
    const restarted = new InsureflowEngine({ db: t.tdb.db, clock: t.clock });
    assert.is(await restarted.runDueJobs(), 1);
    for (let i = 0; i < 5; i++) assert.is(await restarted.runDueJobs(), 0);
  });
  await Then('one instance started and the next firing is 1 s away', async () => {
    assert.is((await instancesOf(t.engine, 'storm')).length, 1);
    assert.is((await timerStarts(t.engine))[0].dueAt, new Date(t.clock.now() + 1_000).toISOString());
  });
});

timers('a cycle that only an expression decides is held to the minimum period at run time', async ({ t }) => {
  await Given('a user task with a non-interrupting boundary timer cycling =cycle', () => t.engine.deploy(bpmn('expr-cycle', boundaryCycle('expr-cycle', '=cycle'))));
  const inst = await When('an instance starts with cycle = "R/PT0S"', () => t.engine.startInstance('expr-cycle', { variables: { cycle: 'R/PT0S' } }));
  await Then('its timer job is due 1 s from now, not now', async () => {
    const jobs = (await t.engine.listJobs({ processInstanceId: inst.id })).items;
    assert.equal(jobs.map((j) => [j.activityId, j.dueAt]), [['Remind', new Date(t.clock.now() + 1_000).toISOString()]]);
  });
  await And('after it fires it is again 1 s away', async () => {
    t.clock.advance(1_000);
    assert.is(await t.engine.runDueJobs(), 1);
    assert.is(await t.engine.runDueJobs(), 0);
    const jobs = (await t.engine.listJobs({ processInstanceId: inst.id })).items;
    assert.equal(jobs.map((j) => j.dueAt), [new Date(t.clock.now() + 1_000).toISOString()]);
  });
});

timers('a new version replaces the timer-start job of the old one: a changed cycle replaces it, none removes it', async ({ t }) => {
  await Given('version 1 cycling R/PT1H', () => t.engine.deploy(bpmn('versions', timerStart('versions', 'R/PT1H'))));
  const v1 = await timerStarts(t.engine);
  await When('version 2 cycles R/PT2H', () => t.engine.deploy(bpmn('versions', timerStart('versions', 'R/PT2H'))));
  await Then('one job: version 2\'s, due in two hours', async () => {
    const jobs = await timerStarts(t.engine);
    assert.equal(jobs.map((j) => [j.payload.value, j.dueAt]), [['R/PT2H', new Date(t.clock.now() + 2 * HOUR).toISOString()]]);
    assert.is.not(jobs[0].id, v1[0].id);
  });
  await When('version 3 has no timer start event', () => t.engine.deploy(bpmn('versions', timerStart('versions', null))));
  await Then('no timer-start job is left: nothing starts the old versions any more', async () => {
    assert.equal(await timerStarts(t.engine), []);
    t.clock.advance(3 * HOUR);
    assert.is(await t.engine.runDueJobs(), 0);
    assert.equal(await instancesOf(t.engine, 'versions'), []);
  });
});

deploy.run();
run.run();
timers.run();
