/**
 * What deploys, runs: a JUEL method call parses as FEEL (a call on a path) but evaluates to null, so a gateway
 * routed wrong and an assignee stayed empty. It is refused at deploy, naming the element and what to write.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testEngine } from '../helpers.ts';

const diagram = (condition: string, assignee: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="http://insureflow.test">
  <bpmn:process id="juel-calls" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Gw" />
    <bpmn:exclusiveGateway id="Gw" default="Low" />
    <bpmn:sequenceFlow id="High" sourceRef="Gw" targetRef="Review"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Low" sourceRef="Gw" targetRef="End" />
    <bpmn:userTask id="Review" camunda:assignee="${assignee}" />
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given JUEL method calls in a condition and an assignee, When deployed, Then both are refused naming their elements, and the FEEL forms run', async () => {
  const t = await testEngine();
  try {
    const refused = await t.engine.deploy([{ name: 'juel.bpmn', content: diagram('${amount.compareTo(5) &gt; 0}', '${execution.getVariable(&quot;reviewer&quot;)}') }]).then(
      () => null,
      (err) => err,
    );
    assert.ok(refused, 'refused');
    assert.is(refused.code, 'BPMN_INVALID');
    const details = refused.details as { element: string | null; message: string }[];
    const high = details.find((d) => d.element === 'High');
    const review = details.find((d) => d.element === 'Review');
    assert.ok(high && /amount\.compareTo/.test(high.message) && /FEEL/.test(high.message), JSON.stringify(details));
    assert.ok(review && /execution\.getVariable/.test(review.message) && /variable name/.test(review.message), JSON.stringify(details));
    assert.is(Number(((await t.tdb.db('process_definitions').count({ n: '*' }).first()) as { n: number }).n), 0, 'nothing stored');

    await t.engine.deploy([{ name: 'feel.bpmn', content: diagram('=amount &gt; 5', '=reviewer') }]);
    const high2 = await t.engine.startInstance('juel-calls', { variables: { amount: 50, reviewer: 'zoe' } });
    assert.equal(high2.openTasks.map((x) => [x.activityId, x.assignee]), [['Review', 'zoe']]);
    const low = await t.engine.startInstance('juel-calls', { variables: { amount: 3, reviewer: 'zoe' } });
    assert.is(low.status, 'completed');
  } finally {
    await t.close();
  }
});

test.run();
