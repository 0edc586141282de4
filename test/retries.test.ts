/**
 * Retry time cycles (`camunda:failedJobRetryTimeCycle`): a list `PT1M,PT5M,PT30M` waits each interval in turn
 * (one call more than waits; the last wait repeats if more calls follow); `R5/PT5M` stays 5 calls 5 minutes
 * apart; a malformed cycle is refused at deployment, naming the element. Parsing: src/engine/iso.ts and
 * src/definitions/bindings.ts; the wait: retryDelayMs in src/engine/runtime.ts. Driven by a ManualClock.
 */
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRetryCycle } from '../src/engine/iso.ts';
import { retryCycleOf, retryCycleProblemOf } from '../src/definitions/bindings.ts';
import { retryDelayMs } from '../src/engine/runtime.ts';
import { parseBpmn } from '../src/definitions/parse.ts';
import { validateBpmn } from '../src/definitions/validate.ts';
import { InsureflowError } from '../src/errors.ts';
import { testEngine, type TestEngine } from './helpers.ts';

const MIN = 60_000;

/** A process with one external-topic service task per given retry cycle (ids Task_0, Task_1...). */
function retryXml(processId: string, cycles: string[]): string {
  const esc = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const tasks = cycles
    .map(
      (c, i) =>
        `<bpmn:serviceTask id="Task_${i}" name="Pay ${i}" camunda:asyncBefore="true" camunda:type="external" camunda:topic="pay">` +
        `<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>${esc(c)}</camunda:failedJobRetryTimeCycle></bpmn:extensionElements></bpmn:serviceTask>`,
    )
    .join('\n');
  const flows = cycles.map((_, i) => `<bpmn:sequenceFlow id="F${i}" sourceRef="${i ? `Task_${i - 1}` : 'Start'}" targetRef="Task_${i}" />`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_${processId}" targetNamespace="http://insureflow.test">
  <bpmn:process id="${processId}" isExecutable="true">
    <bpmn:startEvent id="Start" />
    ${tasks}
    ${flows}
    <bpmn:sequenceFlow id="F_end" sourceRef="Task_${cycles.length - 1}" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;
}

test('parseRetryCycle: both forms, and what is refused', () => {
  assert.equal(parseRetryCycle('R5/PT5M'), { form: 'repeat', retries: 5, intervals: ['PT5M'] });
  assert.equal(parseRetryCycle(' PT1M, PT5M,PT30M '), { form: 'list', retries: 4, intervals: ['PT1M', 'PT5M', 'PT30M'] });
  assert.equal(parseRetryCycle('PT10M'), { form: 'list', retries: 2, intervals: ['PT10M'] });
  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['PT1M,,PT5M', /item 2 is empty/],
    ['PT1M,5M', /"5M" \(item 2\) is not an ISO 8601 duration/],
    ['PT1M;PT5M', /"PT1M;PT5M" \(item 1\)/],
    ['R5', /not a retry cycle/],
    ['R/PT5M', /not a retry cycle/],
    ['R5/2030-01-01T00:00:00Z/PT5M', /not a retry cycle/],
    ['R5/5M', /"5M" is not an ISO 8601 duration/],
    ['R0/PT5M', /not even one call/],
    ['${cycle}', /expressions are not supported/],
    ['=cycle', /expressions are not supported/],
  ];
  for (const [text, why] of refused) {
    const r = parseRetryCycle(text);
    assert.ok('error' in r, text);
    assert.match((r as { error: string }).error, why, text);
    assert.match((r as { error: string }).error, /R5\/PT5M.*PT1M,PT5M,PT30M/, `${text}: says what to write`);
  }
});

test('retryCycleOf: R5/PT5M unchanged; a list gives one call per wait plus the first', () => {
  const el = (body: string) => ({ $type: 'bpmn:ServiceTask', extensionElements: { values: [{ $type: 'camunda:FailedJobRetryTimeCycle', body }] } });
  assert.equal(retryCycleOf(el('R5/PT5M')), { retries: 5, backoff: 'PT5M' });
  assert.equal(retryCycleOf(el('PT1M,PT5M,PT30M')), { retries: 4, backoff: 'PT1M', intervals: ['PT1M', 'PT5M', 'PT30M'] });
  assert.is(retryCycleOf(el('PT1M,,PT5M')), null);
  assert.is(retryCycleProblemOf(el('PT1M,PT5M')), null);
  assert.match(retryCycleProblemOf(el('PT1M,,PT5M'))!, /item 2 is empty/);
  assert.is(retryCycleProblemOf({ $type: 'bpmn:ServiceTask' }), null);
});

test('retryDelayMs: each wait of a list in turn, the last one repeating; one duration for every retry; the default', () => {
  const list = ['PT1M', 'PT5M', 'PT30M'];
  assert.equal([1, 2, 3, 4, 5, 9].map((a) => retryDelayMs(list, a)), [1, 5, 30, 30, 30, 30].map((m) => m * MIN));
  assert.equal([1, 2, 4].map((a) => retryDelayMs('PT5M', a)), [5 * MIN, 5 * MIN, 5 * MIN]);
  assert.equal([1, 2, 3, 8].map((a) => retryDelayMs(null, a)), [10_000, 20_000, 40_000, 600_000]);
  assert.is(retryDelayMs([], 1), 10_000);
});

test('Deploy refuses a malformed retry cycle, naming the element', async () => {
  const xml = retryXml('retry-bad', ['R5/PT5M', 'PT1M,PT5M,PT30M', 'PT1M,,PT5M', 'PT1M,5M', '${cycle}']);
  const problems = validateBpmn(await parseBpmn(xml), { handlers: new Set(['pay']), forms: new Set(), decisions: new Set() });
  assert.equal(problems.map((p) => p.element), ['Task_2', 'Task_3', 'Task_4']);
  assert.match(problems[0].message, /"Pay 2".*retry time cycle \(camunda:failedJobRetryTimeCycle\) that cannot be used: item 2 is empty/);
  assert.match(problems[1].message, /"5M" \(item 2\) is not an ISO 8601 duration/);
  assert.match(problems[2].message, /expressions are not supported/);
});

const engine = suite<{ t: TestEngine; calls: Map<string, number[]> }>('retries on the engine (ManualClock)');
engine.before(async (ctx) => {
  ctx.t = await testEngine();
  ctx.calls = new Map();
  ctx.t.engine.registerHandler('pay', ({ instanceId, attempt }) => {
    ctx.calls.set(instanceId, [...(ctx.calls.get(instanceId) ?? []), attempt]);
    throw new Error(`bank unavailable (attempt ${attempt})`);
  });
  await ctx.t.engine.deploy([{ name: 'retry-list.bpmn', content: retryXml('retry-list', ['PT1M,PT5M,PT30M']) }]);
  await ctx.t.engine.deploy([{ name: 'retry-repeat.bpmn', content: retryXml('retry-repeat', ['R5/PT5M']) }]);
});
engine.after(async (ctx) => ctx.t.close());

/** The waits between failed attempts as the jobs say, advancing the clock to each retry. */
async function waitsUntilIncident(t: TestEngine, instanceId: string, maxSteps = 10): Promise<number[]> {
  const waits: number[] = [];
  for (let i = 0; i < maxSteps; i++) {
    const job = (await t.engine.listJobs({ processInstanceId: instanceId, type: 'retry' })).items[0];
    if (!job) return waits;
    const wait = Date.parse(job.dueAt) - t.clock.now();
    waits.push(wait);
    t.clock.advance(wait - 1);
    assert.is(await t.engine.runDueJobs(), 0, 'not due one millisecond early');
    t.clock.advance(1);
    await t.engine.runDueJobs();
  }
  assert.unreachable('no incident after many retries');
  return waits;
}

engine('Given PT1M,PT5M,PT30M, when the handler keeps failing, then it waits 1, 5 and 30 minutes, then opens an incident after 4 calls', async ({ t, calls }) => {
  const inst = await t.engine.startInstance('retry-list', {});
  assert.equal(await waitsUntilIncident(t, inst.id), [1 * MIN, 5 * MIN, 30 * MIN]);
  assert.equal(calls.get(inst.id), [1, 2, 3, 4]);
  assert.is((await t.engine.getInstance(inst.id)).status, 'incident');
  const incidents = await t.engine.listIncidents({ processInstanceId: inst.id });
  assert.is(incidents.items[0].attempts, 4);
});

engine('Given R5/PT5M, when the handler keeps failing, then it is called 5 times, 5 minutes apart', async ({ t, calls }) => {
  const inst = await t.engine.startInstance('retry-repeat', {});
  assert.equal(await waitsUntilIncident(t, inst.id), [5 * MIN, 5 * MIN, 5 * MIN, 5 * MIN]);
  assert.equal(calls.get(inst.id), [1, 2, 3, 4, 5]);
  assert.is((await t.engine.getInstance(inst.id)).status, 'incident');
});

engine('Deploying a malformed list through the engine is refused (BPMN_INVALID, HTTP 422) naming the element', async ({ t }) => {
  try {
    await t.engine.deploy([{ name: 'retry-bad.bpmn', content: retryXml('retry-bad', ['PT1M,PT5M', 'PT1M,,PT5M']) }]);
    assert.unreachable('deployment should fail');
  } catch (err) {
    assert.instance(err, InsureflowError);
    const e = err as InsureflowError;
    assert.is(e.code, 'BPMN_INVALID');
    assert.match(JSON.stringify(e.details), /Task_1/);
    assert.not.match(JSON.stringify(e.details), /Task_0/);
  }
});

test.run();
engine.run();
