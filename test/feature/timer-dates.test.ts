/**
 * Feature: a timer date is judged on the engine's clock, not the machine's. bpmn-elements measures time-outs
 * against the machine's time; with a clock behind it (a manual clock, as in every scenario here) a date between
 * the two fired at once (found by the sales premium work of issue 12). Runs without HTTP, with a ManualClock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testEngine } from '../helpers.ts';
import { Given, When, Then, And } from './gwt.ts';

const DAY = 86_400_000;

const diagram = (date: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_TimerDate" targetNamespace="http://insureflow.test">
  <bpmn:process id="timer_date" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait" />
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:timerEventDefinition><bpmn:timeDate>${date}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given a clock on 5 January 2026 (behind the machine), When an instance reaches a timer dated 1 February 2026, Then it waits until the engine clock reaches that date', async () => {
  const t = await testEngine('2026-01-05T09:00:00Z');
  try {
    assert.ok(Date.now() > Date.parse('2026-02-01T00:00:00Z'), 'this scenario needs a machine date after the timer date');
    await Given('the diagram', () => t.engine.deploy([{ name: 'timer-date.bpmn', content: diagram('2026-02-01T00:00:00Z') }]));
    const inst = await When('an instance starts', () => t.engine.startInstance('timer_date', {}));
    await Then('it waits at the timer', () => {
      assert.is(inst.status, 'active');
      assert.equal(inst.activeActivities, ['Wait']);
    });
    await And('nothing fires on 31 January', async () => {
      t.clock.advance(26 * DAY);
      await t.engine.runDueJobs();
      assert.is((await t.engine.getInstance(inst.id)).status, 'active');
    });
    await And('the timer fires on 1 February and the instance ends', async () => {
      t.clock.advance(DAY);
      await t.engine.runDueJobs();
      assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    });
  } finally {
    await t.close();
  }
});

test('Given a timer date already past on the engine clock, When an instance reaches it, Then it fires at once', async () => {
  const t = await testEngine('2026-03-01T00:00:00Z');
  try {
    await t.engine.deploy([{ name: 'timer-date.bpmn', content: diagram('2026-02-01T00:00:00Z') }]);
    const inst = await t.engine.startInstance('timer_date', {});
    await t.engine.runDueJobs();
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
  } finally {
    await t.close();
  }
});

test.run();
