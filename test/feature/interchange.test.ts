/**
 * Feature: diagrams saved by other tools (issue 11, section 1). Elements that carry no behaviour (item definitions,
 * messages, resources, interfaces, data objects and stores, annotations, groups, lanes, collaborations) are accepted
 * and ignored at run time; parser findings (a declared ISO-8859-1 encoding, attributes of foreign namespaces) come
 * back as warnings with the deployment; several executable processes of one file are one definition each, and the
 * pools of a collaboration talk through message correlation; a document declaring both Camunda namespaces is read
 * in the dialect its elements (or its modeler's executionPlatform) use, conflicts refused element by element; the
 * standard expressionLanguage / language attributes are honoured (FEEL bodies run as FEEL, XPath is refused naming
 * the element); potentialOwner / humanPerformer become candidates / assignee. Three public models of the OMG BPMN
 * MIWG test suite (test/fixtures/interchange/README.md) deploy and run, or are refused only for what cannot run
 * (XPath conditions, field injection into a Java delegate), naming each element.
 * Runs the engine on the suite's database (SQLite, or PostgreSQL with DATABASE_URL), with a manual clock; one
 * scenario goes through HTTP (the 201 and its warnings).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { buildApp } from '../../src/http/app.ts';
import type { DeploymentProblem } from '../../src/engine/deployment.ts';
import { Given, When, Then, And } from './gwt.ts';

const BPMN = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
const adjuster = ops('ann', 'adjusters');

/** The problems of a refused deployment (fails when it deploys). */
async function refusal(t: TestEngine, name: string, content: string): Promise<DeploymentProblem[]> {
  const err = await t.engine.deploy([{ name, content }]).then(
    () => null,
    (e) => e,
  );
  assert.ok(err, `${name} was deployed`);
  assert.is(err.code, 'BPMN_INVALID', String(err.message));
  return err.details as DeploymentProblem[];
}

async function withEngine(fn: (t: TestEngine) => Promise<void>): Promise<void> {
  const t = await testEngine();
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

const DOCUMENTATION = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${BPMN} id="Defs_Doc" targetNamespace="http://insureflow.test">
  <bpmn:itemDefinition id="Item_Claim" structureRef="Claim" />
  <bpmn:message id="Msg_Docs" name="documents" itemRef="Item_Claim" />
  <bpmn:signal id="Sig_Storm" name="storm" />
  <bpmn:error id="Err_NoCover" name="no cover" errorCode="NO_COVER" />
  <bpmn:escalation id="Esc_Late" name="late" escalationCode="LATE" />
  <bpmn:resource id="Res_Adjuster" name="Adjuster" />
  <bpmn:interface id="If_Claims" name="Claims service">
    <bpmn:operation id="Op_Assess" name="assess"><bpmn:inMessageRef>Msg_Docs</bpmn:inMessageRef></bpmn:operation>
  </bpmn:interface>
  <bpmn:dataStore id="Store_Policies" name="Policies" />
  <bpmn:category id="Cat_Stage"><bpmn:categoryValue id="Stage_Intake" value="Intake" /></bpmn:category>
  <bpmn:collaboration id="Collab">
    <bpmn:participant id="P_Insurer" name="Insurer" processRef="claim_docs" />
    <bpmn:participant id="P_Customer" name="Customer" processRef="customer_docs" />
    <bpmn:messageFlow id="MF_Documents" sourceRef="C_Send" targetRef="Task_Review" messageRef="Msg_Docs" />
  </bpmn:collaboration>
  <bpmn:process id="claim_docs" name="Claim documents" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_Intake" name="Intake"><bpmn:flowNodeRef>Start</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_Review</bpmn:flowNodeRef><bpmn:flowNodeRef>End</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:dataObject id="DO_Claim" itemSubjectRef="Item_Claim" />
    <bpmn:dataObjectReference id="DOR_Claim" name="Claim" dataObjectRef="DO_Claim" />
    <bpmn:dataStoreReference id="DSR_Policies" dataStoreRef="Store_Policies" />
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Review" />
    <bpmn:task id="Task_Review" name="Review documents">
      <bpmn:ioSpecification id="Io_Review">
        <bpmn:dataInput id="In_Claim" itemSubjectRef="Item_Claim" />
        <bpmn:inputSet id="InSet"><bpmn:dataInputRefs>In_Claim</bpmn:dataInputRefs></bpmn:inputSet>
        <bpmn:outputSet id="OutSet" />
      </bpmn:ioSpecification>
      <bpmn:dataInputAssociation id="DIA_Claim"><bpmn:sourceRef>DOR_Claim</bpmn:sourceRef><bpmn:targetRef>In_Claim</bpmn:targetRef></bpmn:dataInputAssociation>
      <bpmn:dataOutputAssociation id="DOA_Policies"><bpmn:targetRef>DSR_Policies</bpmn:targetRef></bpmn:dataOutputAssociation>
    </bpmn:task>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Review" targetRef="End" />
    <bpmn:endEvent id="End" />
    <bpmn:textAnnotation id="Note_1"><bpmn:text>Documents arrive by mail</bpmn:text></bpmn:textAnnotation>
    <bpmn:association id="Assoc_1" sourceRef="Task_Review" targetRef="Note_1" />
    <bpmn:group id="Group_Intake" categoryValueRef="Stage_Intake" />
  </bpmn:process>
  <bpmn:process id="customer_docs" name="Customer" isExecutable="false">
    <bpmn:startEvent id="C_Start" /><bpmn:sequenceFlow id="C1" sourceRef="C_Start" targetRef="C_Send" /><bpmn:sendTask id="C_Send" name="Send documents" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given item definitions, messages, resources, interfaces, data objects and stores, annotations, groups, lanes and a two-pool collaboration around one executable process, When deployed over HTTP, Then 201 and it runs to completion', async () => {
  await withEngine(async (t) => {
    const app = await buildApp({ engine: t.engine });
    try {
      const token = (await t.engine.users.add({ name: 'ana', roles: ['analyst'], groups: [] })).token;
      const res = await When('the analyst posts the diagram', () =>
        app.inject({ method: 'POST', url: '/api/deployments', payload: DOCUMENTATION, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' } }),
      );
      await Then('201 with the one executable process as a definition and no warning', () => {
        assert.is(res.statusCode, 201, res.body);
        const body = res.json();
        assert.equal(body.definitions.map((d: { key: string }) => d.key), ['claim_docs']);
        assert.equal(body.warnings, []);
      });
      const inst = await And('an instance runs through the documented task to its end', () => t.engine.startInstance('claim_docs', {}));
      assert.is(inst.status, 'completed');
      const history = await t.engine.history(inst.id);
      assert.ok(history.some((h) => h.type === 'activity.completed' && h.activityId === 'Task_Review'), JSON.stringify(history.map((h) => h.type)));
      assert.not.ok(history.some((h) => ['Note_1', 'Group_Intake', 'DOR_Claim', 'DSR_Policies', 'Lane_Intake'].includes(String(h.activityId))));
    } finally {
      await app.close();
    }
  });
});

test('Given a data input association that maps a value (an assignment), When deployed, Then 422 naming the task and saying to write an input parameter', async () => {
  await withEngine(async (t) => {
    const xml = DOCUMENTATION.replace(
      '<bpmn:targetRef>In_Claim</bpmn:targetRef></bpmn:dataInputAssociation>',
      '<bpmn:targetRef>In_Claim</bpmn:targetRef><bpmn:assignment id="Asg_1"><bpmn:from>=claim.amount</bpmn:from><bpmn:to>=amount</bpmn:to></bpmn:assignment></bpmn:dataInputAssociation>',
    );
    const problems = await When('deployed', () => refusal(t, 'mapping.bpmn', xml));
    await Then('the task is named, with what to write', () => {
      assert.equal(problems.map((p) => p.element), ['Task_Review']);
      assert.match(problems[0].message, /Task "Review documents" \(Task_Review\) maps data with the data input association DIA_Claim \(an assignment\), which the engine does not evaluate: write the mapping as input and output parameters/);
    });
  });
});

const ISO_AND_FOREIGN = `<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>
<bpmn:definitions ${BPMN} xmlns:signavio="http://www.signavio.com" id="Defs_Iso" targetNamespace="http://insureflow.test">
  <bpmn:process id="iso_claims" isExecutable="true" signavio:color="#ffffff">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Review" />
    <bpmn:userTask id="Review" name="Review" signavio:priority="high">
      <bpmn:extensionElements><signavio:signavioMetaData metaKey="bgcolor" metaValue="#ffffcc" /></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given an ISO-8859-1 declaration and Signavio attributes and metadata, When deployed, Then it deploys with a parser warning for each, naming the elements', async () => {
  await withEngine(async (t) => {
    const r = await When('deployed', () => t.engine.deploy([{ name: 'iso.bpmn', content: ISO_AND_FOREIGN }]));
    await Then('created, with the encoding warning and one warning for the Signavio namespace', () => {
      assert.ok(r.created);
      const parser = r.warnings.filter((w) => w.source === 'parser');
      assert.is(parser.length, 2, JSON.stringify(parser));
      assert.match(parser[0].message, /declares the encoding ISO-8859-1; files and HTTP uploads are decoded by it/);
      assert.is(parser[0].resource, 'iso.bpmn');
      assert.match(parser[1].message, /signavio:color, signavio:priority, <signavio:signavioMetaData> \(namespace http:\/\/www\.signavio\.com\) on iso_claims, Review: ignored/);
      assert.is(parser[1].element, 'iso_claims');
    });
    await And('it runs: the user task waits and completes', async () => {
      const inst = await t.engine.startInstance('iso_claims', {});
      assert.equal(inst.openTasks.map((x) => x.activityId), ['Review']);
    });
  });
});

const twoPools = (sender: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${BPMN} id="Defs_Pools" targetNamespace="http://insureflow.test">
  <bpmn:message id="Msg_Claim" name="claim-filed" />
  <bpmn:collaboration id="Collab">
    <bpmn:participant id="P_Customer" name="Customer" processRef="customer" />
    <bpmn:participant id="P_Insurer" name="Insurer" processRef="insurer" />
    <bpmn:messageFlow id="MF_Claim" sourceRef="Send_Claim" targetRef="Catch_Claim" messageRef="Msg_Claim" />
  </bpmn:collaboration>
  <bpmn:process id="customer" name="Customer" isExecutable="true">
    <bpmn:startEvent id="C_Start" />
    <bpmn:sequenceFlow id="C1" sourceRef="C_Start" targetRef="Send_Claim" />
    ${sender}
    <bpmn:sequenceFlow id="C2" sourceRef="Send_Claim" targetRef="C_End" />
    <bpmn:endEvent id="C_End" />
  </bpmn:process>
  <bpmn:process id="insurer" name="Insurer" isExecutable="true">
    <bpmn:startEvent id="I_Start" />
    <bpmn:sequenceFlow id="I1" sourceRef="I_Start" targetRef="Catch_Claim" />
    <bpmn:intermediateCatchEvent id="Catch_Claim"><bpmn:messageEventDefinition messageRef="Msg_Claim" /></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="I2" sourceRef="Catch_Claim" targetRef="I_End" />
    <bpmn:endEvent id="I_End" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given a collaboration with two executable pools, When deployed, Then each pool is a definition of its own, startable alone', async () => {
  await withEngine(async (t) => {
    t.engine.registerHandler('fileClaim', () => ({}));
    const r = await When('deployed', () => t.engine.deploy([{ name: 'pools.bpmn', content: twoPools('<bpmn:sendTask id="Send_Claim" implementation="${environment.services.fileClaim}" />') }]));
    await Then('two definitions, by process id, with their names', () => {
      assert.equal(r.definitions.map((d) => [d.key, d.name, d.version]), [['customer', 'Customer', 1], ['insurer', 'Insurer', 1]]);
    });
    await And('each starts its own process only: the insurer waits for the claim, the customer ends', async () => {
      const insurer = await t.engine.startInstance('insurer', {});
      assert.is(insurer.status, 'active');
      const history = await t.engine.history(insurer.id);
      assert.not.ok(history.some((h) => String(h.activityId).startsWith('C_')), 'the customer pool does not run in the insurer instance');
    });
    await And('a redeploy of the same file changes nothing', async () => {
      const again = await t.engine.deploy([{ name: 'pools.bpmn', content: twoPools('<bpmn:sendTask id="Send_Claim" implementation="${environment.services.fileClaim}" />') }]);
      assert.is(again.created, false);
    });
  });
});

test('Given two executable pools joined by a message flow, When the customer files a claim, Then the engine sends the message after the send task\'s commit and the insurer\'s catch event completes', async () => {
  await withEngine(async (t) => {
    const handled: (string | null)[] = [];
    await Given('the send task\'s handler does its own work only: it does not correlate anything', async () => {
      t.engine.registerHandler('fileClaim', (c) => {
        handled.push(c.businessKey ?? null);
        return {};
      });
      await t.engine.deploy([{ name: 'pools.bpmn', content: twoPools('<bpmn:sendTask id="Send_Claim" messageRef="Msg_Claim" implementation="${environment.services.fileClaim}" />') }]);
    });
    const other = await t.engine.startInstance('insurer', { businessKey: 'CLM-2' });
    const insurer = await t.engine.startInstance('insurer', { businessKey: 'CLM-1' });
    const customer = await When('the customer instance of the same business key runs', () => t.engine.startInstance('customer', { businessKey: 'CLM-1' }));
    await Then('both instances are completed, the insurer\'s by the message of the flow; the handler ran once', async () => {
      assert.is(customer.status, 'completed');
      assert.equal(handled, ['CLM-1']);
      assert.is((await t.engine.getInstance(insurer.id)).status, 'completed');
      assert.ok((await t.engine.history(insurer.id)).some((h) => h.activityId === 'Catch_Claim' && h.type === 'activity.completed'));
    });
    await And('the insurer instance of another business key still waits', async () => {
      assert.is((await t.engine.getInstance(other.id)).status, 'active');
    });
  });
});

test('Given a message end event whose message flow targets the other pool, When the customer ends, Then the message start event starts the insurer process with the customer\'s business key', async () => {
  await withEngine(async (t) => {
    const xml = twoPools('<bpmn:task id="Send_Claim" />')
      .replace('targetRef="Catch_Claim"', 'targetRef="P_Insurer"')
      .replace('sourceRef="Send_Claim" targetRef="P_Insurer"', 'sourceRef="C_End" targetRef="P_Insurer"')
      .replace('<bpmn:endEvent id="C_End" />', '<bpmn:endEvent id="C_End"><bpmn:messageEventDefinition messageRef="Msg_Claim" /></bpmn:endEvent>')
      .replace('<bpmn:startEvent id="I_Start" />', '<bpmn:startEvent id="I_Start"><bpmn:messageEventDefinition messageRef="Msg_Claim" /></bpmn:startEvent>')
      .replace('<bpmn:sequenceFlow id="I1" sourceRef="I_Start" targetRef="Catch_Claim" />', '<bpmn:sequenceFlow id="I1" sourceRef="I_Start" targetRef="I_End" />')
      .replace(/<bpmn:intermediateCatchEvent id="Catch_Claim">.*<\/bpmn:intermediateCatchEvent>\n\s*<bpmn:sequenceFlow id="I2"[^>]*>/, '');
    await Given('the collaboration is deployed', () => t.engine.deploy([{ name: 'pools-start.bpmn', content: xml }]));
    const customer = await When('a customer instance runs to its message end event', () => t.engine.startInstance('customer', { businessKey: 'CLM-9' }));
    await Then('an insurer instance of business key CLM-9 was started by the message and completed', async () => {
      assert.is(customer.status, 'completed');
      const started = await t.engine.listInstances({ key: 'insurer' });
      assert.equal(started.items.map((i) => [i.businessKey, i.status]), [['CLM-9', 'completed']]);
    });
  });
});

const dialects = (process: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${BPMN} xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Defs_Mixed" targetNamespace="http://insureflow.test">
  ${process}
</bpmn:definitions>`;

test('Given both Camunda namespaces declared, When the elements use Camunda 7 settings and Camunda 8 only for metadata, Then it deploys in Camunda 7 and the metadata is a warning', async () => {
  await withEngine(async (t) => {
    const xml = dialects(`<bpmn:process id="mixed_ok" isExecutable="true" camunda:historyTimeToLive="P30D">
    <bpmn:extensionElements><zeebe:properties><zeebe:property name="team" value="claims" /></zeebe:properties></bpmn:extensionElements>
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Review" />
    <bpmn:userTask id="Review" camunda:candidateGroups="adjusters" />
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);
    const r = await When('deployed', () => t.engine.deploy([{ name: 'mixed-ok.bpmn', content: xml }]));
    await Then('created; the zeebe properties are reported as not read', () => {
      assert.ok(r.created);
      assert.ok(r.warnings.some((w) => w.source === 'parser' && /<zeebe:properties>.*ignored/.test(w.message)), JSON.stringify(r.warnings));
    });
    await And('the Camunda 7 candidate group applies', async () => {
      const inst = await t.engine.startInstance('mixed_ok', {});
      assert.equal(inst.openTasks.map((x) => x.candidateGroups), [['adjusters']]);
      await t.engine.completeTask(inst.openTasks[0].id, {}, adjuster);
      assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    });
  });
});

test('Given both Camunda namespaces, When one task has camunda:assignee and zeebe:assignmentDefinition and another uses Camunda 8 while the rest use Camunda 7, Then 422 naming each of them', async () => {
  await withEngine(async (t) => {
    const xml = dialects(`<bpmn:process id="mixed_bad" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Review" />
    <bpmn:userTask id="Review" name="Review" camunda:assignee="zoe"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="kim" /></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="Approve" />
    <bpmn:userTask id="Approve" camunda:candidateGroups="managers" />
    <bpmn:sequenceFlow id="F3" sourceRef="Approve" targetRef="Check" />
    <bpmn:userTask id="Check" camunda:candidateGroups="auditors" />
    <bpmn:sequenceFlow id="F4" sourceRef="Check" targetRef="Pay" />
    <bpmn:serviceTask id="Pay"><bpmn:extensionElements><zeebe:taskDefinition type="pay" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="F5" sourceRef="Pay" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>`);
    const problems = await When('deployed', () => refusal(t, 'mixed-bad.bpmn', xml));
    await Then('the conflicting task and the odd one out are named, nothing else', () => {
      assert.equal(problems.map((p) => p.element), ['Review', 'Pay']);
      assert.match(problems[0].message, /User task "Review" \(Review\) uses both Camunda 7 \(camunda:assignee\) and Camunda 8 \(zeebe:assignmentDefinition\).*conflict/);
      assert.match(problems[1].message, /Service task Pay uses Camunda 8 settings \(zeebe:taskDefinition\) while the other elements of the diagram use Camunda 7 ones: write it with Camunda 7 settings/);
    });
  });
});

const FEEL_URIS = ['https://www.omg.org/spec/DMN/20191111/FEEL/', 'http://www.omg.org/spec/FEEL/20140401', 'https://www.omg.org/spec/DMN/20180521/FEEL/'];
const feelDiagram = (definitionsLanguage: string | null, flowLanguage: string | null, condition: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${BPMN} id="Defs_Feel" targetNamespace="http://insureflow.test"${definitionsLanguage ? ` expressionLanguage="${definitionsLanguage}"` : ''}>
  <bpmn:process id="feel_lang" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Gw" />
    <bpmn:exclusiveGateway id="Gw" default="Low" />
    <bpmn:sequenceFlow id="High" sourceRef="Gw" targetRef="Review"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"${flowLanguage ? ` language="${flowLanguage}"` : ''}>${condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Low" sourceRef="Gw" targetRef="End" />
    <bpmn:userTask id="Review" />
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="End" />
    <bpmn:endEvent id="Wait" /><bpmn:endEvent id="End" />
    <bpmn:boundaryEvent id="Reminder" attachedToRef="Review" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F3" sourceRef="Reminder" targetRef="Wait" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given the FEEL URIs of DMN 1.1-1.3 as expressionLanguage or as a condition\'s language, When deployed, Then the body runs as FEEL without "=", names with spaces included, and ISO timer literals stay literals', async () => {
  for (const [i, uri] of FEEL_URIS.entries()) {
    for (const where of ['definitions', 'expression'] as const) {
      await withEngine(async (t) => {
        const xml = feelDiagram(where === 'definitions' ? uri : null, where === 'expression' ? uri : null, 'claim amount &gt; 1000 and risk = "high"');
        const r = await When(`deployed with ${uri} on the ${where}`, () => t.engine.deploy([{ name: `feel-${i}.bpmn`, content: xml }]));
        assert.ok(r.created);
        await Then('a large risky claim takes the condition, a small one the default flow', async () => {
          const high = await t.engine.startInstance('feel_lang', { variables: { 'claim amount': 5000, risk: 'high' } });
          assert.equal(high.openTasks.map((x) => x.activityId), ['Review'], uri);
          const low = await t.engine.startInstance('feel_lang', { variables: { 'claim amount': 500, risk: 'high' } });
          assert.is(low.status, 'completed', uri);
        });
      });
    }
  }
});

test('Given a condition in XPath (its language, or a plain body under a declared XPath default) or in an unknown language, When deployed, Then 422 naming each flow and saying to write FEEL', async () => {
  await withEngine(async (t) => {
    const explicit = await When('a condition says language XPath', () => refusal(t, 'xpath.bpmn', feelDiagram(null, 'http://www.w3.org/1999/XPath', "getDataObject('claim')/amount &gt; 1000")));
    await Then('the flow is named, with the FEEL to write', () => {
      assert.equal(explicit.map((p) => p.element), ['High']);
      assert.match(explicit[0].message, /Sequence flow High has a condition "getDataObject\('claim'\)\/amount > 1000" in XPath, which this engine does not evaluate: write it in FEEL, either as =<expression> \(e\.g\. =amount > 1000\) or with language="https:\/\/www\.omg\.org\/spec\/DMN\/20191111\/FEEL\/"/);
    });
    const inherited = await When('the definitions declare XPath and the body is plain text', () => refusal(t, 'xpath-default.bpmn', feelDiagram('http://www.w3.org/1999/XPath', null, 'amount &gt; 1000')));
    assert.equal(inherited.map((p) => p.element), ['High']);
    assert.match(inherited[0].message, /in XPath/);
    const unknown = await When('a condition is in an unknown language', () => refusal(t, 'python.bpmn', feelDiagram(null, 'python', 'amount > 1000')));
    assert.equal(unknown.map((p) => p.element), ['High']);
    assert.match(unknown[0].message, /condition written in python\. Diagrams never run code.*write the condition in FEEL/);
    await And('an expression written as =... under the XPath default tools declare (and an ISO timer) deploys', async () => {
      const r = await t.engine.deploy([{ name: 'xpath-declared.bpmn', content: feelDiagram('http://www.w3.org/1999/XPath', null, '=amount &gt; 1000') }]);
      assert.ok(r.created);
      const high = await t.engine.startInstance('feel_lang', { variables: { amount: 5000 } });
      assert.equal(high.openTasks.map((x) => x.activityId), ['Review']);
    });
  });
});

const roles = (performer: string, owner: string, extra = '') => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${BPMN} xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_Roles" targetNamespace="http://insureflow.test">
  <bpmn:resource id="Res_Adjusters" name="Adjusters" />
  <bpmn:process id="roles" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Review" />
    <bpmn:userTask id="Review" ${extra}>
      <bpmn:performer id="Perf_1"><bpmn:resourceRef>Res_Adjusters</bpmn:resourceRef></bpmn:performer>
      <bpmn:humanPerformer id="HP_1"><bpmn:resourceAssignmentExpression id="RAE_1"><bpmn:formalExpression>${performer}</bpmn:formalExpression></bpmn:resourceAssignmentExpression></bpmn:humanPerformer>
      <bpmn:potentialOwner id="PO_1"><bpmn:resourceAssignmentExpression id="RAE_2"><bpmn:formalExpression>${owner}</bpmn:formalExpression></bpmn:resourceAssignmentExpression></bpmn:potentialOwner>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="End" /><bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given a user task with humanPerformer and potentialOwner resource assignment expressions, When it is created, Then they are its assignee and candidates (a resourceRef-only performer is documentation)', async () => {
  await withEngine(async (t) => {
    await Given('the interchange form: plain names, user(x) and group(x)', () => t.engine.deploy([{ name: 'roles.bpmn', content: roles('ann', 'group(adjusters), user(kim), fraud') }]));
    const inst = await When('an instance starts', () => t.engine.startInstance('roles', {}));
    await Then('ann is the assignee; adjusters and fraud are candidate groups, kim a candidate user', () => {
      const task = inst.openTasks[0];
      assert.equal([task.assignee, task.candidateGroups, task.candidateUsers], ['ann', ['adjusters', 'fraud'], ['kim']]);
    });
    await And('ann, an adjuster, completes it and the instance ends', async () => {
      await t.engine.completeTask(inst.openTasks[0].id, {}, adjuster);
      assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    });
    await And('expressions are evaluated, and the dialect\'s own attributes win', async () => {
      await t.engine.deploy([{ name: 'roles.bpmn', content: roles('=reviewer', '=teams', 'camunda:candidateGroups="managers"') }]);
      const second = await t.engine.startInstance('roles', { variables: { reviewer: 'zoe', teams: ['sales'] } });
      const task = second.openTasks[0];
      assert.equal([task.assignee, task.candidateGroups], ['zoe', ['managers']]);
    });
  });
});

test('Given a definitions-wide XPath expressionLanguage (some tools write it by default), When a user task names its owners as plain names, Then they are its candidates; an XPath condition is still refused', async () => {
  await withEngine(async (t) => {
    const xpathDefault = (xml: string) => xml.replace('id="Defs_Roles"', 'expressionLanguage="http://www.w3.org/1999/XPath" id="Defs_Roles"');
    await Given('plain names and group(x) under the XPath default', () => t.engine.deploy([{ name: 'roles.bpmn', content: xpathDefault(roles('ann', 'group(adjusters), fraud')) }]));
    const inst = await When('an instance starts', () => t.engine.startInstance('roles', {}));
    await Then('ann is the assignee; adjusters and fraud are candidate groups', () => {
      const task = inst.openTasks[0];
      assert.equal([task.assignee, task.candidateGroups], ['ann', ['adjusters', 'fraud']]);
    });
    await And('an owner list that says language XPath itself is refused, naming the element', async () => {
      const xml = xpathDefault(roles('ann', 'adjusters')).replace('<bpmn:formalExpression>adjusters', '<bpmn:formalExpression language="http://www.w3.org/1999/XPath">adjusters');
      const problems = await refusal(t, 'roles.bpmn', xml);
      assert.match(problems[0].message, 'in XPath, which this engine does not evaluate');
    });
  });
});

test('Given the MIWG reference C.9.1 (Camunda Web Modeler, both Camunda namespaces, executionPlatform Camunda Cloud), When deployed with a handler for its job type, Then it runs to completion by its message', async () => {
  await withEngine(async (t) => {
    const emails: string[] = [];
    t.engine.registerHandler('email', (c) => {
      emails.push(c.activityId);
      return {};
    });
    const r = await When('deployed', () => t.engine.deploy([{ name: 'C.9.1.bpmn', content: fixture('interchange/C.9.1.bpmn') }]));
    await Then('read as Camunda 8 (its executionPlatform): the Camunda 7 settings kept beside are a warning', () => {
      assert.equal(r.definitions.map((d) => d.key), ['requestDocument_en']);
      assert.ok(r.warnings.some((w) => w.source === 'parser' && /camunda:topic.*namespace http:\/\/camunda\.org\/schema\/1\.0\/bpmn.*ignored/.test(w.message)), JSON.stringify(r.warnings));
    });
    const inst = await When('a document is requested and the answer arrives by its correlation key', async () => {
      const started = await t.engine.startInstance('requestDocument_en', { variables: { documentReferenceId: 'DOC-7' } });
      assert.is(started.status, 'active');
      await t.engine.correlateMessage({ name: 'MESSAGE_documentReceived', correlationKey: 'DOC-7' });
      return t.engine.getInstance(started.id);
    });
    await Then('the e-mail was sent once and the instance completed at "Document received"', async () => {
      assert.equal(emails, ['SendTask_RequestDocument']);
      assert.is(inst.status, 'completed');
      assert.ok((await t.engine.history(inst.id)).some((h) => h.type === 'activity.completed' && h.activityId === 'EndEvent_GotDocument'));
    });
  });
});

test('Given the MIWG reference C.1.1 (the invoice model with XPath conditions, Activiti namespace), When deployed with its handler registered, Then it is refused only for its XPath conditions and its Java field injection, naming each element', async () => {
  await withEngine(async (t) => {
    t.engine.registerHandler('archiveService', () => ({}));
    const problems = await When('deployed', () => refusal(t, 'C.1.1.bpmn', fixture('interchange/C.1.1.bpmn')));
    await Then('five problems: the camunda:field injection of archiveInvoice and the four XPath conditions', () => {
      assert.equal(problems.map((p) => p.element).sort(), ['archiveInvoice', 'invoiceApproved', 'invoiceNotApproved', 'reviewNotSuccessful', 'reviewSuccessful']);
      assert.match(problems.find((p) => p.element === 'archiveInvoice')!.message, /<camunda:Field>: field injection feeds Java delegates, which cannot run/);
      for (const p of problems.filter((x) => x.element !== 'archiveInvoice')) {
        assert.match(p.message, /^Sequence flow "(yes|no)" \(\w+\) has a condition "[^"]*bpmn:getDataObject\('(approved|clarified)'\)[^"]*" in XPath, which this engine does not evaluate: write it in FEEL/);
      }
    });
  });
});

test('Given the MIWG reference C.1.0 (the Camunda 7 invoice in a two-pool collaboration, Activiti namespace), When deployed with its delegate registered, Then it is refused only for the field injection of its Java delegate; without it, an approved invoice runs to completion', async () => {
  await withEngine(async (t) => {
    const archived: string[] = [];
    t.engine.registerHandler('archiveService', (c) => {
      archived.push(c.instanceId);
      return {};
    });
    const problems = await When('deployed as published', () => refusal(t, 'C.1.0.bpmn', fixture('interchange/C.1.0.bpmn')));
    await Then('one problem: the camunda:field injection of archiveInvoice, with what to write instead', () => {
      assert.equal(problems.map((p) => p.element), ['archiveInvoice']);
      assert.match(problems[0].message, /uses <camunda:Field>: field injection feeds Java delegates, which cannot run\. Instead: pass the values as input parameters/);
    });
    // what the analyst does: the fields only fed the Java delegate (the handler gets the process variables)
    const withoutFields = fixture('interchange/C.1.0.bpmn').replace(/<camunda:field\b[\s\S]*?(?:\/>|<\/camunda:field>)/g, '');
    const r = await When('deployed without the field injection', () => t.engine.deploy([{ name: 'C.1.0.bpmn', content: withoutFields }]));
    await Then('one definition (the engine pool); the Activiti namespace is read as Camunda 7, the other tools\' metadata is a warning', () => {
      assert.equal(r.definitions.map((d) => d.key), ['bpmn-miwg-test-case-c.1.0']);
      assert.ok(r.warnings.some((w) => /Activiti's namespace/.test(w.message)), JSON.stringify(r.warnings));
      assert.ok(r.warnings.some((w) => /namespace http:\/\/www\.signavio\.com/.test(w.message)));
    });
    const demo = ops('demo', 'accounting');
    const id = await When('the invoice-received message starts it; demo assigns himself, approves, and accounting prepares the transfer', async () => {
      const started = await t.engine.correlateMessage({ name: 'invoice-received-C.1.0' });
      const instanceId = started.correlated[0].processInstanceId;
      const step = async (activityId: string, who: [string | null, string[]], variables: Record<string, unknown>) => {
        const now = await t.engine.getInstance(instanceId);
        assert.equal(now.openTasks.map((x) => [x.activityId, x.assignee, x.candidateGroups]), [[activityId, ...who]]);
        await t.engine.completeTask(now.openTasks[0].id, variables, demo);
      };
      await step('assignApprover', ['demo', []], { approver: 'demo' });
      await step('approveInvoice', ['demo', []], { approved: true });
      await step('prepareBankTransfer', [null, ['accounting']], {});
      return instanceId;
    });
    await Then('the invoice was archived and the instance completed', async () => {
      assert.equal(archived, [id]);
      assert.is((await t.engine.getInstance(id)).status, 'completed');
    });
  });
});

test.run();
