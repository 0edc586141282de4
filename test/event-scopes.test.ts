/**
 * resolveCatcher (src/engine/event-scopes.ts): who catches a BPMN error or escalation, decided on the scope
 * index of a parsed diagram, without running anything: the thrower's own boundary events, then per enclosing
 * scope its event sub-processes and the boundary events of the sub-process; a code before a catch-all at each
 * step; an event sub-process's own scope's event sub-processes are skipped; a catcher that is not live is passed
 * over.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBpmn } from '../src/definitions/parse.ts';
import { compileEventScopes, resolveCatcher, scopeChain } from '../src/engine/event-scopes.ts';

const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="x">
  <bpmn:error id="E_A" errorCode="A" /><bpmn:error id="E_B" errorCode="B" /><bpmn:escalation id="X_A" escalationCode="A" />
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Outer" />
    <bpmn:subProcess id="Outer">
      <bpmn:startEvent id="O_Start" />
      <bpmn:sequenceFlow id="o0" sourceRef="O_Start" targetRef="Inner" />
      <bpmn:subProcess id="Inner">
        <bpmn:startEvent id="I_Start" />
        <bpmn:sequenceFlow id="i0" sourceRef="I_Start" targetRef="Task" />
        <bpmn:serviceTask id="Task" />
        <bpmn:boundaryEvent id="Task_B" attachedToRef="Task"><bpmn:errorEventDefinition errorRef="E_B" /></bpmn:boundaryEvent>
      </bpmn:subProcess>
      <bpmn:boundaryEvent id="Inner_Any" attachedToRef="Inner"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>
      <bpmn:boundaryEvent id="Inner_A" attachedToRef="Inner"><bpmn:errorEventDefinition errorRef="E_A" /></bpmn:boundaryEvent>
      <bpmn:subProcess id="Outer_Esp_A" triggeredByEvent="true">
        <bpmn:startEvent id="Outer_Esp_A_Start"><bpmn:errorEventDefinition errorRef="E_A" /></bpmn:startEvent>
        <bpmn:serviceTask id="Esp_Task" />
        <bpmn:sequenceFlow id="e0" sourceRef="Outer_Esp_A_Start" targetRef="Esp_Task" />
      </bpmn:subProcess>
      <bpmn:subProcess id="Outer_Esp_X" triggeredByEvent="true">
        <bpmn:startEvent id="Outer_Esp_X_Start" isInterrupting="false"><bpmn:escalationEventDefinition escalationRef="X_A" /></bpmn:startEvent>
      </bpmn:subProcess>
    </bpmn:subProcess>
    <bpmn:boundaryEvent id="Outer_A" attachedToRef="Outer"><bpmn:errorEventDefinition errorRef="E_A" /></bpmn:boundaryEvent>
    <bpmn:subProcess id="P_Esp_Any" triggeredByEvent="true">
      <bpmn:startEvent id="P_Esp_Any_Start"><bpmn:errorEventDefinition /></bpmn:startEvent>
    </bpmn:subProcess>
  </bpmn:process>
</bpmn:definitions>`;

test('resolveCatcher: own boundary, then the scope\'s event sub-processes, then the sub-process\'s boundaries, outwards', async () => {
  const parsed = await parseBpmn(xml);
  const scopes = compileEventScopes(parsed.moddleContext.rootElement);
  const who = (thrower: string, kind: 'error' | 'escalation', code: string | null, live?: (id: string) => boolean) =>
    resolveCatcher(scopes, thrower, kind, code, live ? (r) => live(r.catcher.id) : undefined)?.catcher.id ?? null;

  assert.equal(scopeChain(scopes, 'Task'), ['Inner', 'Outer', 'p']);
  assert.is(who('Task', 'error', 'B'), 'Task_B', 'the task\'s own boundary');
  assert.is(who('Task', 'error', 'A'), 'Inner_A', 'a code before the catch-all of the same sub-process');
  assert.is(who('Task', 'error', 'Z'), 'Inner_Any', 'the catch-all when no boundary names the code');
  assert.is(who('Task', 'error', 'A', (id) => id !== 'Inner_A'), 'Inner_Any', 'a catcher that is not live is passed over');
  assert.is(who('Inner', 'error', 'A', (id) => !id.startsWith('Inner_')), 'Outer_Esp_A', 'the event sub-process of the scope before the boundary of the sub-process');
  assert.is(who('Task', 'error', 'Z', (id) => id !== 'Inner_Any'), 'P_Esp_Any', 'the process\'s event sub-process last');
  assert.is(who('Esp_Task', 'error', 'A'), 'Outer_A', 'an error from inside an event sub-process skips the event sub-processes of its scope');
  assert.is(who('Task', 'escalation', 'A'), 'Outer_Esp_X', 'an escalation is only caught by escalation catchers');
  assert.is(who('Task', 'escalation', 'NOPE'), null, 'uncaught');
  assert.is(resolveCatcher(scopes, 'Task', 'escalation', 'A')?.catcher.interrupting, false);
  assert.equal(scopes.eventSubProcessById.get('Outer_Esp_A')?.scope, 'Outer');
});

test.run();
