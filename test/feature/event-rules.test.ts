/**
 * Feature: what the engine cannot run of errors, escalations, event sub-processes and compensation is refused at
 * deploy, naming the element and what to write instead (src/definitions/event-rules.ts), and nothing is stored;
 * what it runs deploys (the fixtures of the other feature tests of issue 9 section 3).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine } from '../helpers.ts';
import { parseBpmn } from '../../src/definitions/parse.ts';
import { validateBpmn } from '../../src/definitions/validate.ts';
import { InsureflowError } from '../../src/errors.ts';
import { Given, When, Then } from './gwt.ts';

const noRegistry = { handlers: new Set<string>(), forms: new Set<string>(), decisions: new Set<string>() };

test('every unsupported construct is refused, each with its element and what to write instead', async () => {
  const problems = await When('the diagram with one of each is validated', async () => validateBpmn(await parseBpmn(fixture('feature/events/refused-events.bpmn')), noRegistry));
  await Then('each element is named once with its reason', () => {
    const expected: [string, RegExp][] = [
      ['Boundary_ErrorNonInterrupting', /error always interrupts.*remove cancelActivity="false".*escalation/],
      ['Boundary_ExpressionCode', /code "=code", an expression.*written literally/],
      ['Catch_Escalation', /waits for an escalation in the flow.*boundary event.*event sub-process/],
      ['Comp_Pay', /multi-instance activity, which the engine does not compensate/],
      ['Comp_NoHandler', /0 associated handlers.*isForCompensation="true"/],
      ['Task_Orphan', /no compensation boundary event is associated with it, so it never runs/],
      ['Throw_NoWait', /waitForCompletion="false".*remove/],
      ['Throw_NoWait', /Task_Inner.*inside .*Sub.*from outside it: throw compensation inside that sub-process/],
      ['End_WrongRef', /compensates .*Task_Inner.*not an activity of its process with a compensation boundary event/],
      ['Esp_ErrorNonInterrupting_Start', /error always interrupts its scope.*escalation start event/],
      ['Esp_TwoStarts', /2 start events: it needs exactly one/],
      ['Esp_Conditional_Start', /on a condition, which the engine does not run/],
      ['Esp_None_Start', /without saying what starts it/],
      ['Esp_Compensation_Start', /on compensation, which the engine does not run/],
    ];
    assert.equal(problems.map((p) => p.element), expected.map(([id]) => id));
    problems.forEach((p, i) => assert.match(p.message, expected[i][1], `${p.element}: ${p.message}`));
  });
});

test('the engine refuses the deployment and stores nothing; the supported constructs deploy', async () => {
  const t = await Given('an engine with the handlers of the supported fixtures', async () => {
    const te = await testEngine();
    for (const h of ['checkPolicy', 'checkLimits', 'pay', 'reject', 'policyStatus', 'notifyLapse', 'assess', 'logNoCover', 'recordAssessment', 'logCall', 'flagStorm', 'closeClaim', 'settle', 'notifyLate', 'abortSurvey', 'cleanup', 'reserve', 'release', 'book', 'unbook', 'notifyWithdrawal', 'notify', 'verify', 'inform']) te.engine.registerHandler(h, () => ({}));
    return te;
  });
  try {
    const err = await When('the refused diagram is deployed', async () => {
      try {
        await t.engine.deploy([{ name: 'refused-events.bpmn', content: fixture('feature/events/refused-events.bpmn') }]);
      } catch (e) {
        return e;
      }
      throw new Error('the deployment was accepted');
    });
    await Then('it is BPMN_INVALID, lists the problems, and no version exists', async () => {
      assert.ok(err instanceof InsureflowError);
      assert.is((err as InsureflowError).code, 'BPMN_INVALID');
      assert.ok(((err as InsureflowError).details as unknown[]).length >= 14);
      assert.equal((await t.engine.listDefinitions()).filter((d: { key: string }) => d.key === 'refused-events'), []);
    });
    await Then('every supported fixture deploys', async () => {
      const names = ['error-subprocess-boundary', 'error-end-event', 'error-uncaught', 'error-event-subprocess', 'esp-message-signal', 'esp-message-scope', 'escalation-boundary', 'escalation-event-subprocess', 'escalation-event-subprocess-interrupting', 'terminate', 'compensation', 'compensation-subprocess', 'error-escalation-zeebe', 'esp-timer-and-messages'];
      await t.engine.deploy(names.map((n) => ({ name: `${n}.bpmn`, content: fixture(`feature/events/${n}.bpmn`) })));
      const keys = (await t.engine.listDefinitions()).map((d: { key: string }) => d.key);
      for (const n of names) assert.ok(keys.includes(n), n);
    });
  } finally {
    await t.close();
  }
});

test.run();
