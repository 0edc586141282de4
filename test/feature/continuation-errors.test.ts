/**
 * Feature: an error thrown while the engine continues after an asynchronous step (a handler's result, a
 * decision) fails the transition like one thrown at once, instead of crashing the process with an unhandled
 * rejection. Found when the next activity's input mapping named a variable that was not set (a business rule
 * task after a service task): the whole server exited. Runs without HTTP, with a ManualClock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testEngine, admin, refusal, here } from '../helpers.ts';
import { Given, When, Then, And } from './gwt.ts';

const RISK_DMN = readFileSync(join(here, '..', 'processes', 'decisions', 'risk-assessment.dmn'), 'utf8');
const HOUR = 3_600_000;

/** start -> [timer] -> service task (handler h) -> business rule task whose input mapping reads ${missing} -> end */
const diagram = (withTimer: boolean) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_Continuation" targetNamespace="http://insureflow.test">
  <bpmn:process id="continuation" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="${withTimer ? 'Wait' : 'Prepare'}" />
    ${withTimer ? '<bpmn:intermediateCatchEvent id="Wait"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="F1" sourceRef="Wait" targetRef="Prepare" />' : ''}
    <bpmn:serviceTask id="Prepare" camunda:type="external" camunda:topic="prepare" />
    <bpmn:sequenceFlow id="F2" sourceRef="Prepare" targetRef="Rate" />
    <bpmn:businessRuleTask id="Rate" camunda:resultVariable="risk" camunda:decisionRef="RiskFactor">
      <bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="propertyType">\${missing}</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Rate" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given a handler followed by an input mapping that cannot be evaluated, When an instance starts, Then the start is refused with EXPRESSION_FAILED naming the activity, and nothing is stored', async () => {
  const t = await testEngine();
  try {
    t.engine.registerHandler('prepare', async () => ({ prepared: true }));
    await Given('the diagram and its decision', () => t.engine.deploy([{ name: 'continuation.bpmn', content: diagram(false) }, { name: 'risk.dmn', content: RISK_DMN }]));
    const err = await When('an instance starts', () => refusal(t.engine.startInstance('continuation', {}, admin)));
    await Then('EXPRESSION_FAILED at Rate, naming the variable', () => {
      assert.is(err.code, 'EXPRESSION_FAILED');
      assert.match(err.message, 'at Rate');
      assert.match(err.message, "'missing'");
    });
    await And('no instance was stored', async () => assert.equal((await t.engine.listInstances({ limit: 10 })).items, []));
  } finally {
    await t.close();
  }
});

test('Given the same steps after a timer, When the timer fires, Then the process keeps running and the timer job keeps the error for a retry', async () => {
  const t = await testEngine();
  try {
    t.engine.registerHandler('prepare', async () => ({ prepared: true }));
    await t.engine.deploy([{ name: 'continuation.bpmn', content: diagram(true) }, { name: 'risk.dmn', content: RISK_DMN }]);
    const inst = await t.engine.startInstance('continuation', {}, admin);
    t.clock.advance(HOUR);
    await When('the timer job runs', () => t.engine.runDueJobs());
    const after = await t.engine.getInstance(inst.id);
    await Then('the instance still waits at the timer, whose job keeps the error for a retry', async () => {
      assert.is(after.status, 'active');
      const jobs = await t.engine.listJobs({ processInstanceId: inst.id });
      const timer = jobs.items.find((j: any) => j.type === 'timer') as any;
      assert.ok(timer, JSON.stringify(jobs.items));
      assert.match(String(timer.lastError), 'could not continue at Rate');
    });
  } finally {
    await t.close();
  }
});

test.run();
