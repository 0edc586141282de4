/**
 * Feature: the support table (src/definitions/support.ts) is what deploys (issue 9, section 8). Every element
 * type, event definition per kind of event, and Camunda 7 / 8 extension bpmn-moddle and its extensions know has a
 * row; for every row a small generated diagram either deploys and runs to completion or to its wait state
 * (`runs`), or is refused at deploy naming the element with the row's reason (`refused`; a few are refused
 * first by a specific check of validate.ts / event-rules.ts, whose message the test names). Rows that need a
 * deployed decision or a registered form are exercised by the test file named in COVERED_BY. The README's
 * coverage section is the table's. Runs on the suite's database (SQLite, or PostgreSQL with DATABASE_URL).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testEngine, type TestEngine } from './helpers.ts';
import { InsureflowError } from '../src/errors.ts';
import { SUPPORT, withCoverage, type SupportRow } from '../src/definitions/support.ts';
import { Given, When, Then } from './feature/gwt.ts';

const require = createRequire(import.meta.url);
const NS: Record<'camunda' | 'zeebe', string> = { camunda: 'http://camunda.org/schema/1.0/bpmn', zeebe: 'http://camunda.org/schema/zeebe/1.0' };
const ROOTS = '<message id="Msg" name="m"/><signal id="Sig" name="s"/><error id="Err" errorCode="E1"/><escalation id="Esc" escalationCode="X1"/>';
const H = 'camunda:type="external" camunda:topic="h"';

type Sample = { body: string; dialect?: 'camunda' | 'zeebe'; extra?: string; start?: boolean; roots?: string };

function xml(s: Sample): string {
  const dialect = s.dialect ?? 'camunda';
  return `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:${dialect}="${NS[dialect]}" id="D" targetNamespace="t">
  ${ROOTS}${s.roots ?? ''}
  <process id="P" isExecutable="true" ${s.extra ?? ''}>${s.body}</process>
</definitions>`;
}

/** start -> element E -> end */
const inFlow = (el: string): string =>
  `<startEvent id="S"/><sequenceFlow id="f1" sourceRef="S" targetRef="E"/>${el}<sequenceFlow id="f2" sourceRef="E" targetRef="End"/><endEvent id="End"/>`;
const tag = (type: string) => type.slice(5, 6).toLowerCase() + type.slice(6);

const DEFS: Record<string, string> = {
  none: '',
  'bpmn:MessageEventDefinition': '<messageEventDefinition messageRef="Msg"/>',
  'bpmn:TimerEventDefinition': '<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>',
  'bpmn:SignalEventDefinition': '<signalEventDefinition signalRef="Sig"/>',
  'bpmn:ConditionalEventDefinition': '<conditionalEventDefinition><condition xsi:type="tFormalExpression">=x &gt; 1</condition></conditionalEventDefinition>',
  'bpmn:ErrorEventDefinition': '<errorEventDefinition errorRef="Err"/>',
  'bpmn:EscalationEventDefinition': '<escalationEventDefinition escalationRef="Esc"/>',
  'bpmn:CompensateEventDefinition': '<compensateEventDefinition/>',
  'bpmn:CancelEventDefinition': '<cancelEventDefinition/>',
  'bpmn:LinkEventDefinition': '<linkEventDefinition name="L"/>',
  'bpmn:TerminateEventDefinition': '<terminateEventDefinition/>',
};

function eventSample(row: SupportRow): Sample {
  const [event, def] = row.key.split('+');
  let d = DEFS[def];
  if (def === 'bpmn:MessageEventDefinition' && (event === 'bpmn:IntermediateThrowEvent' || event === 'bpmn:EndEvent')) d = `<messageEventDefinition messageRef="Msg" ${H}/>`;
  if (def === 'bpmn:TimerEventDefinition' && event === 'bpmn:StartEvent') d = '<timerEventDefinition><timeDate>2030-01-01T09:00:00Z</timeDate></timerEventDefinition>';
  const wait = '<userTask id="Wait"/><sequenceFlow id="w1" sourceRef="S" targetRef="Wait"/><sequenceFlow id="w2" sourceRef="Wait" targetRef="End"/><startEvent id="S"/><endEvent id="End"/>';
  switch (event) {
    case 'bpmn:StartEvent':
      if (row.status === 'runs' && ['bpmn:ErrorEventDefinition', 'bpmn:EscalationEventDefinition'].includes(def)) {
        return { body: `${wait}<subProcess id="Esp" triggeredByEvent="true"><startEvent id="E">${d}</startEvent><sequenceFlow id="e1" sourceRef="E" targetRef="EE"/><endEvent id="EE"/></subProcess>` };
      }
      return { body: `<startEvent id="E">${d}</startEvent><sequenceFlow id="f" sourceRef="E" targetRef="End"/><endEvent id="End"/>`, start: def === 'none' };
    case 'bpmn:IntermediateCatchEvent':
    case 'bpmn:IntermediateThrowEvent':
      return { body: inFlow(`<${tag(event)} id="E">${d}</${tag(event)}>`) };
    case 'bpmn:EndEvent':
      if (def === 'bpmn:ErrorEventDefinition') {
        // thrown inside a sub-process whose error boundary catches it
        return { body: `<startEvent id="S"/><sequenceFlow id="f" sourceRef="S" targetRef="Sub"/><subProcess id="Sub"><startEvent id="ss"/><sequenceFlow id="sf" sourceRef="ss" targetRef="E"/><endEvent id="E">${d}</endEvent></subProcess><sequenceFlow id="g" sourceRef="Sub" targetRef="End"/><endEvent id="End"/><boundaryEvent id="B" attachedToRef="Sub"><errorEventDefinition errorRef="Err"/></boundaryEvent><sequenceFlow id="b" sourceRef="B" targetRef="End"/>` };
      }
      return { body: `<startEvent id="S"/><sequenceFlow id="f" sourceRef="S" targetRef="E"/><endEvent id="E">${d}</endEvent>` };
    default: {
      // a boundary event on a waiting user task; compensation: with its handler
      const comp = def === 'bpmn:CompensateEventDefinition';
      const after = comp ? `<serviceTask id="Undo" isForCompensation="true" ${H}/><association id="a" associationDirection="One" sourceRef="E" targetRef="Undo"/>` : '<sequenceFlow id="b1" sourceRef="E" targetRef="End2"/><endEvent id="End2"/>';
      const task = comp ? `<serviceTask id="T" ${H}/><sequenceFlow id="t1" sourceRef="T" targetRef="Wait"/><userTask id="Wait"/><sequenceFlow id="t2" sourceRef="Wait" targetRef="End"/>` : '<userTask id="T"/><sequenceFlow id="t1" sourceRef="T" targetRef="End"/>';
      return { body: `<startEvent id="S"/><sequenceFlow id="f" sourceRef="S" targetRef="T"/>${task}<endEvent id="End"/><boundaryEvent id="E" attachedToRef="T">${d}</boundaryEvent>${after}` };
    }
  }
}

const EMPTY_SUB = '<startEvent id="ss"/><sequenceFlow id="sf" sourceRef="ss" targetRef="se"/><endEvent id="se"/>';
const ELEMENTS: Record<string, Sample> = {
  'bpmn:Task': { body: inFlow('<task id="E"/>') },
  'bpmn:ManualTask': { body: inFlow('<manualTask id="E"/>') },
  'bpmn:UserTask': { body: inFlow('<userTask id="E"/>') },
  'bpmn:ServiceTask': { body: inFlow(`<serviceTask id="E" ${H}/>`) },
  'bpmn:SendTask': { body: inFlow(`<sendTask id="E" ${H}/>`) },
  'bpmn:BusinessRuleTask': { body: inFlow(`<businessRuleTask id="E" ${H}/>`) },
  'bpmn:ReceiveTask': { body: inFlow('<receiveTask id="E" messageRef="Msg"/>') },
  'bpmn:CallActivity': { body: inFlow('<callActivity id="E" calledElement="Child"/>'), roots: `<process id="Child" isExecutable="false">${EMPTY_SUB}</process>` },
  'bpmn:SubProcess': { body: inFlow(`<subProcess id="E">${EMPTY_SUB}</subProcess>`) },
  'bpmn:ExclusiveGateway': { body: inFlow('<exclusiveGateway id="E"/>') },
  'bpmn:ParallelGateway': { body: inFlow('<parallelGateway id="E"/>') },
  'bpmn:InclusiveGateway': { body: inFlow('<inclusiveGateway id="E"/>') },
  'bpmn:EventBasedGateway': { body: '<startEvent id="S"/><sequenceFlow id="f1" sourceRef="S" targetRef="E"/><eventBasedGateway id="E"/><sequenceFlow id="f2" sourceRef="E" targetRef="C"/><intermediateCatchEvent id="C"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent><sequenceFlow id="f3" sourceRef="C" targetRef="End"/><endEvent id="End"/>' },
  'bpmn:SequenceFlow': { body: inFlow('<task id="E"/>') },
  'bpmn:Process': { body: inFlow('<task id="E"/>') },
  'bpmn:StartEvent': { body: inFlow('<task id="E"/>') },
  'bpmn:EndEvent': { body: inFlow('<task id="E"/>') },
  'bpmn:IntermediateCatchEvent': { body: inFlow('<intermediateCatchEvent id="E"><signalEventDefinition signalRef="Sig"/></intermediateCatchEvent>') },
  'bpmn:IntermediateThrowEvent': { body: inFlow('<intermediateThrowEvent id="E"/>') },
  'bpmn:BoundaryEvent': eventSample({ key: 'bpmn:BoundaryEvent+bpmn:TimerEventDefinition', group: 'event', status: 'runs' }),
  'bpmn:DataObject': { body: inFlow('<task id="E"/><dataObject id="DO"/><dataObjectReference id="DOR" dataObjectRef="DO"/><dataStoreReference id="DS"/>') },
  'bpmn:DataObjectReference': { body: inFlow('<task id="E"/><dataObject id="DO"/><dataObjectReference id="DOR" dataObjectRef="DO"/>') },
  'bpmn:DataStoreReference': { body: inFlow('<task id="E"/><dataStoreReference id="DS"/>') },
  'bpmn:TextAnnotation': { body: inFlow('<task id="E"/><textAnnotation id="N"><text>note</text></textAnnotation><association id="A" sourceRef="E" targetRef="N"/>') },
  'bpmn:Association': { body: inFlow('<task id="E"/><textAnnotation id="N"/><association id="A" sourceRef="E" targetRef="N"/>') },
  'bpmn:Group': { body: inFlow('<task id="E"/><group id="G"/>') },
  'bpmn:Lane': { body: `<laneSet id="LS"><lane id="L"><flowNodeRef>S</flowNodeRef><flowNodeRef>E</flowNodeRef><flowNodeRef>End</flowNodeRef></lane></laneSet>${inFlow('<task id="E"/>')}` },
  'bpmn:Participant': { body: inFlow('<task id="E"/>'), roots: '<collaboration id="C"><participant id="Pa" processRef="P"/><participant id="Pb" processRef="Partner"/><messageFlow id="MF" sourceRef="PT" targetRef="E"/></collaboration><process id="Partner" isExecutable="false"><task id="PT"/></process>' },
};
// interchange models (issue 11): root and supporting elements that carry no behaviour; standard resource roles
const DOCUMENTATION: Sample = {
  body: inFlow('<task id="E"><ioSpecification id="Io"><dataInput id="DI"/><inputSet id="IS"><dataInputRefs>DI</dataInputRefs></inputSet><outputSet id="OS"/></ioSpecification><dataInputAssociation id="DIA"><sourceRef>DOR</sourceRef><targetRef>DI</targetRef></dataInputAssociation><dataOutputAssociation id="DOA"><targetRef>DSR</targetRef></dataOutputAssociation></task><dataObject id="DO" itemSubjectRef="Item"/><dataObjectReference id="DOR" dataObjectRef="DO"/><dataStoreReference id="DSR" dataStoreRef="Store"/>'),
  roots: '<itemDefinition id="Item" structureRef="Claim"/><message id="Msg2" name="m2" itemRef="Item"/><signal id="Sig2" name="s2"/><error id="Err2" errorCode="E2"/><escalation id="Esc2" escalationCode="X2"/><resource id="Res" name="Adjuster"/><interface id="If" name="Claims"><operation id="Op" name="assess"><inMessageRef>Msg2</inMessageRef></operation></interface><endPoint id="EP"/><partnerEntity id="PE" name="Broker"/><partnerRole id="PR" name="Broker"/><correlationProperty id="CP" name="claimId" type="Item"/><dataStore id="Store" name="Policies"/><category id="Cat"><categoryValue id="CV" value="Intake"/></category>',
};
for (const key of ['bpmn:ItemDefinition', 'bpmn:Resource', 'bpmn:Interface', 'bpmn:Operation', 'bpmn:EndPoint', 'bpmn:PartnerEntity', 'bpmn:PartnerRole', 'bpmn:CorrelationProperty', 'bpmn:DataStore', 'bpmn:Message', 'bpmn:Signal', 'bpmn:Error', 'bpmn:Escalation', 'bpmn:Category', 'bpmn:DataInputAssociation', 'bpmn:DataOutputAssociation']) ELEMENTS[key] = DOCUMENTATION;
const role = (tagName: string, body: string) => inFlow(`<userTask id="E"><${tagName}><resourceAssignmentExpression><formalExpression>${body}</formalExpression></resourceAssignmentExpression></${tagName}></userTask>`);
ELEMENTS['bpmn:HumanPerformer'] = { body: role('humanPerformer', 'ann') };
ELEMENTS['bpmn:PotentialOwner'] = { body: role('potentialOwner', 'group(adjusters), user(ann)') };
ELEMENTS['bpmn:LaneSet'] = ELEMENTS['bpmn:Lane'];
ELEMENTS['bpmn:Collaboration'] = ELEMENTS['bpmn:Participant'];
ELEMENTS['bpmn:MessageFlow'] = ELEMENTS['bpmn:Participant'];

/** Hosts of extension rows (attribute or extension element on the element E; P: on the process). */
const EXT: Record<string, Sample> = {};
const ut = (attrs: string, ext = '', dialect: 'camunda' | 'zeebe' = 'camunda'): Sample => ({ body: inFlow(`<userTask id="E" ${attrs}>${ext ? `<extensionElements>${ext}</extensionElements>` : ''}</userTask>`), dialect });
const st = (attrs: string, ext = ''): Sample => ({ body: inFlow(`<serviceTask id="E" ${H} ${attrs}>${ext ? `<extensionElements>${ext}</extensionElements>` : ''}</serviceTask>`) });
const zt = (ext: string, el = 'serviceTask'): Sample => ({ body: inFlow(`<${el} id="E"><extensionElements><zeebe:taskDefinition type="h"/>${ext}</extensionElements></${el}>`), dialect: 'zeebe' });
Object.assign(EXT, {
  'camunda:type': st(''), 'camunda:topic': st(''),
  'camunda:asyncBefore': st('camunda:asyncBefore="true"'), 'camunda:async': st('camunda:async="true"'), 'camunda:exclusive': st('camunda:asyncBefore="true" camunda:exclusive="false"'),
  'camunda:assignee': ut('camunda:assignee="ann"'), 'camunda:candidateUsers': ut('camunda:candidateUsers="ann"'), 'camunda:candidateGroups': ut('camunda:candidateGroups="adjusters"'),
  'camunda:dueDate': ut('camunda:dueDate="P1D"'), 'camunda:followUpDate': ut('camunda:followUpDate="P1D"'), 'camunda:priority': ut('camunda:priority="5"'),
  'camunda:delegateExpression': { body: inFlow('<serviceTask id="E" camunda:delegateExpression="${h}"/>') },
  'camunda:collection': { body: inFlow(`<serviceTask id="E" ${H}><multiInstanceLoopCharacteristics camunda:collection="=[1,2]" camunda:elementVariable="x"/></serviceTask>`) },
  'camunda:calledElementBinding': { body: inFlow('<callActivity id="E" calledElement="Child" camunda:calledElementBinding="latest"/>'), roots: `<process id="Child" isExecutable="false">${EMPTY_SUB}</process>` },
  'camunda:errorCodeVariable': { body: `<startEvent id="S"/><sequenceFlow id="f" sourceRef="S" targetRef="T"/><serviceTask id="T" ${H}/><sequenceFlow id="t" sourceRef="T" targetRef="End"/><endEvent id="End"/><boundaryEvent id="E" attachedToRef="T"><errorEventDefinition errorRef="Err" camunda:errorCodeVariable="code" camunda:errorMessageVariable="msg"/></boundaryEvent><sequenceFlow id="b" sourceRef="E" targetRef="End"/>` },
  'camunda:escalationCodeVariable': { body: `<startEvent id="S"/><sequenceFlow id="f" sourceRef="S" targetRef="T"/><userTask id="T"/><sequenceFlow id="t" sourceRef="T" targetRef="End"/><endEvent id="End"/><boundaryEvent id="E" attachedToRef="T" cancelActivity="false"><escalationEventDefinition escalationRef="Esc" camunda:escalationCodeVariable="code"/></boundaryEvent><sequenceFlow id="b" sourceRef="E" targetRef="End2"/><endEvent id="End2"/>` },
  'camunda:historyTimeToLive': { body: inFlow('<task id="E"/>'), extra: 'camunda:historyTimeToLive="180" camunda:isStartableInTasklist="true" camunda:versionTag="1.0"' },
  'camunda:modelerTemplate': { body: inFlow('<task id="E" camunda:modelerTemplate="t" camunda:modelerTemplateVersion="1"/>') },
  'camunda:InputOutput': st('', '<camunda:inputOutput><camunda:inputParameter name="a">=1</camunda:inputParameter><camunda:inputParameter name="l"><camunda:list><camunda:value>1</camunda:value></camunda:list></camunda:inputParameter><camunda:inputParameter name="m"><camunda:map><camunda:entry key="k">v</camunda:entry></camunda:map></camunda:inputParameter><camunda:outputParameter name="b">=a</camunda:outputParameter></camunda:inputOutput>'),
  'camunda:In': { body: inFlow('<callActivity id="E" calledElement="Child"><extensionElements><camunda:in variables="all"/><camunda:out variables="all"/></extensionElements></callActivity>'), roots: `<process id="Child" isExecutable="false">${EMPTY_SUB}</process>` },
  'camunda:FailedJobRetryTimeCycle': st('', '<camunda:failedJobRetryTimeCycle>R3/PT5M</camunda:failedJobRetryTimeCycle>'),
  'camunda:Properties': st('', '<camunda:properties><camunda:property name="a" value="b"/></camunda:properties>'),
  'zeebe:TaskDefinition': zt(''),
  'zeebe:IoMapping': zt('<zeebe:ioMapping><zeebe:input source="=1" target="a"/><zeebe:output source="=a" target="b"/></zeebe:ioMapping>'),
  'zeebe:Subscription': { body: inFlow('<receiveTask id="E" messageRef="ZMsg"/>'), dialect: 'zeebe', roots: '<message id="ZMsg" name="z"><extensionElements><zeebe:subscription correlationKey="=&quot;k&quot;"/></extensionElements></message>' },
  'zeebe:LoopCharacteristics': { body: inFlow('<serviceTask id="E"><extensionElements><zeebe:taskDefinition type="h"/></extensionElements><multiInstanceLoopCharacteristics><extensionElements><zeebe:loopCharacteristics inputCollection="=[1,2]" inputElement="x"/></extensionElements></multiInstanceLoopCharacteristics></serviceTask>'), dialect: 'zeebe' },
  'zeebe:CalledElement': { body: inFlow('<callActivity id="E"><extensionElements><zeebe:calledElement processId="Child" propagateAllChildVariables="false"/></extensionElements></callActivity>'), dialect: 'zeebe', roots: `<process id="Child" isExecutable="false">${EMPTY_SUB}</process>` },
  'zeebe:UserTask': ut('', '<zeebe:userTask/><zeebe:assignmentDefinition assignee="ann" candidateGroups="adjusters"/><zeebe:priorityDefinition priority="5"/><zeebe:taskSchedule dueDate="=&quot;2030-01-01T09:00:00Z&quot;"/>', 'zeebe'),
  'zeebe:Properties': zt('<zeebe:properties><zeebe:property name="a" value="b"/></zeebe:properties>'),
  'zeebe:VersionTag': { body: inFlow('<task id="E" zeebe:modelerTemplate="t" zeebe:modelerTemplateVersion="1" zeebe:modelerTemplateIcon="i"/>'), dialect: 'zeebe', extra: '><extensionElements><zeebe:versionTag value="1.0"/></extensionElements' },
  // refused
  'camunda:class': { body: inFlow('<serviceTask id="E" camunda:class="com.x.Y"/>') }, 'camunda:expression': { body: inFlow('<serviceTask id="E" camunda:expression="${x.y()}"/>') },
  'camunda:Connector': { body: inFlow('<serviceTask id="E"><extensionElements><camunda:connector><camunda:connectorId>http-connector</camunda:connectorId></camunda:connector></extensionElements></serviceTask>') },
  'camunda:Field': st('', '<camunda:field name="a" stringValue="b"/>'),
  'camunda:ExecutionListener': st('', '<camunda:executionListener event="start" class="X"/>'),
  'camunda:TaskListener': ut('', '<camunda:taskListener event="create" class="X"/>'),
  'camunda:FormData': ut('', '<camunda:formData><camunda:formField id="a" type="string"/></camunda:formData>'),
  'camunda:FormProperty': ut('', '<camunda:formProperty id="a"/>'),
  'camunda:formHandlerClass': ut('camunda:formHandlerClass="X"'),
  'camunda:PotentialStarter': { body: inFlow('<task id="E"/>'), extra: '><extensionElements><camunda:potentialStarter><resourceAssignmentExpression><formalExpression>group1</formalExpression></resourceAssignmentExpression></camunda:potentialStarter></extensionElements' },
  'camunda:candidateStarterGroups': { body: inFlow('<task id="E"/>'), extra: 'camunda:candidateStarterGroups="a"' },
  'camunda:candidateStarterUsers': { body: inFlow('<task id="E"/>'), extra: 'camunda:candidateStarterUsers="a"' },
  'camunda:initiator': { body: '<startEvent id="E" camunda:initiator="me"/><sequenceFlow id="f" sourceRef="E" targetRef="End"/><endEvent id="End"/>' },
  'camunda:asyncAfter': st('camunda:asyncAfter="true"'),
  'camunda:jobPriority': st('camunda:asyncBefore="true" camunda:jobPriority="5"'),
  'camunda:taskPriority': st('camunda:taskPriority="5"'),
  'camunda:calledElementTenantId': { body: inFlow('<callActivity id="E" calledElement="Child" camunda:calledElementTenantId="t"/>'), roots: `<process id="Child" isExecutable="false">${EMPTY_SUB}</process>` },
  'camunda:variableEvents': { body: inFlow('<intermediateCatchEvent id="E"><conditionalEventDefinition camunda:variableName="x" camunda:variableEvents="create"><condition xsi:type="tFormalExpression">=x &gt; 1</condition></conditionalEventDefinition></intermediateCatchEvent>') },
  'zeebe:TaskHeaders': zt('<zeebe:taskHeaders><zeebe:header key="a" value="b"/></zeebe:taskHeaders>'),
  'zeebe:ExecutionListeners': zt('<zeebe:executionListeners><zeebe:executionListener eventType="start" type="h"/></zeebe:executionListeners>'),
  'zeebe:TaskListeners': ut('', '<zeebe:userTask/><zeebe:taskListeners><zeebe:taskListener eventType="creating" type="h"/></zeebe:taskListeners>', 'zeebe'),
  'zeebe:LinkedResources': zt('<zeebe:linkedResources><zeebe:linkedResource resourceId="r" linkName="l"/></zeebe:linkedResources>'),
  'zeebe:JobPriorityDefinition': zt('<zeebe:jobPriorityDefinition priority="5"/>'),
  'zeebe:retryCounter': { body: inFlow('<serviceTask id="E" zeebe:retryCounter="r"><extensionElements><zeebe:taskDefinition type="h"/></extensionElements></serviceTask>'), dialect: 'zeebe' },
});

/** Rows whose host needs a registered form or a deployed decision: exercised by these test files. */
const COVERED_BY: Record<string, string> = {
  'camunda:formKey': 'test/definitions.test.ts', 'camunda:formRef': 'test/bindings.test.ts', 'camunda:formRefBinding': 'test/bindings.test.ts', 'camunda:formRefVersion': 'test/bindings.test.ts',
  'camunda:decisionRef': 'test/decisions.test.ts', 'camunda:decisionRefBinding': 'test/bindings.test.ts', 'camunda:decisionRefVersion': 'test/bindings.test.ts', 'camunda:decisionRefVersionTag': 'test/bindings.test.ts',
  'camunda:resultVariable': 'test/decisions.test.ts', 'zeebe:CalledDecision': 'test/decisions.test.ts', 'zeebe:FormDefinition': 'test/definitions.test.ts', 'zeebe:bindingType': 'test/bindings.test.ts', 'zeebe:versionTag': 'test/bindings.test.ts',
};
/** Same host as another row (the sample sets both). */
const SAME: Record<string, string> = {
  'camunda:elementVariable': 'camunda:collection', 'camunda:calledElementVersion': 'camunda:calledElementBinding', 'camunda:errorMessageVariable': 'camunda:errorCodeVariable',
  'camunda:errorMessage': 'camunda:errorCodeVariable', 'camunda:isStartableInTasklist': 'camunda:historyTimeToLive', 'camunda:versionTag': 'camunda:historyTimeToLive',
  'camunda:modelerTemplateVersion': 'camunda:modelerTemplate', 'camunda:diagramRelationId': 'camunda:modelerTemplate', 'camunda:InputOutputParameter': 'camunda:InputOutput',
  'camunda:InputParameter': 'camunda:InputOutput', 'camunda:OutputParameter': 'camunda:InputOutput', 'camunda:List': 'camunda:InputOutput', 'camunda:Map': 'camunda:InputOutput',
  'camunda:Entry': 'camunda:InputOutput', 'camunda:Value': 'camunda:InputOutput', 'camunda:Out': 'camunda:In', 'camunda:Property': 'camunda:Properties', 
  'zeebe:Input': 'zeebe:IoMapping', 'zeebe:Output': 'zeebe:IoMapping', 'zeebe:InputOutputParameter': 'zeebe:IoMapping', 'zeebe:AssignmentDefinition': 'zeebe:UserTask',
  'zeebe:PriorityDefinition': 'zeebe:UserTask', 'zeebe:TaskSchedule': 'zeebe:UserTask', 'zeebe:Property': 'zeebe:Properties', 'zeebe:modelerTemplate': 'zeebe:VersionTag',
  'zeebe:modelerTemplateVersion': 'zeebe:VersionTag', 'zeebe:modelerTemplateIcon': 'zeebe:VersionTag', 'zeebe:modelerConfigurationTemplate': 'zeebe:Properties', 'zeebe:modelerConfigurationName': 'zeebe:Properties',
  'camunda:FormField': 'camunda:FormData', 'camunda:Validation': 'camunda:FormData', 'camunda:Constraint': 'camunda:FormData', 'camunda:variableName': 'camunda:variableEvents',
  'zeebe:ExecutionListener': 'zeebe:ExecutionListeners', 'zeebe:TaskListener': 'zeebe:TaskListeners', 'zeebe:LinkedResource': 'zeebe:LinkedResources', 'zeebe:Header': 'zeebe:TaskHeaders',
};
/** Refused first by a specific check (its message), in agreement with the row. */
const SPECIFIC: Record<string, RegExp> = {
  'bpmn:ScriptTask': /Diagrams never run code/,
  'bpmn:IntermediateCatchEvent+bpmn:ErrorEventDefinition': /waits for an error in the flow/,
  'bpmn:IntermediateCatchEvent+bpmn:EscalationEventDefinition': /waits for an escalation in the flow/,
  'camunda:class': /Java delegates cannot run/,
  'camunda:expression': /Java expressions cannot run/,
  'camunda:Connector': /Camunda connector/,
  'camunda:calledElementTenantId': /tenant/i,
};
/** Refused rows without a generated sample: the element cannot be placed where the test places things. */
const NOT_PLACEABLE = new Set(['camunda:Script', 'camunda:resource', 'zeebe:Script', 'camunda:ErrorEventDefinition', 'camunda:calledElementVersionTag', 'camunda:decisionRefTenantId', 'camunda:caseRef', 'camunda:caseBinding', 'camunda:caseVersion', 'camunda:caseTenantId', 'camunda:variableMappingClass', 'camunda:variableMappingDelegateExpression', 'camunda:mapDecisionResult', 'zeebe:UserTaskForm', 'zeebe:AdHoc', 'zeebe:ConditionalFilter', 'zeebe:AgentDefinition']);

function sampleOf(row: SupportRow): Sample | undefined {
  if (row.group === 'event') return eventSample(row);
  if (row.group === 'element') return ELEMENTS[row.key] ?? (row.status === 'refused' ? { body: inFlow(`<${tag(row.key)} id="E"/>`) } : undefined);
  return EXT[row.key] ?? (SAME[row.key] ? EXT[SAME[row.key]] : undefined);
}

test('every element type, event definition and Camunda 7 / 8 extension the moddle descriptors know has a row', () => {
  const keys = new Set(SUPPORT.map((r) => r.key));
  const bpmn = require('bpmn-moddle/resources/bpmn/json/bpmn.json') as { types: { name: string; isAbstract?: boolean; superClass?: string[] }[] };
  const byName = new Map(bpmn.types.map((t) => [t.name, t]));
  const ancestors = (n: string): string[] => (byName.get(n)?.superClass ?? []).flatMap((s) => [s, ...ancestors(s)]);
  const placeable = bpmn.types.filter((t) => !t.isAbstract && ['FlowElement', 'Artifact'].some((a) => ancestors(t.name).includes(a)));
  const missing = placeable.map((t) => `bpmn:${t.name}`).filter((k) => !keys.has(k) && !k.endsWith('EventDefinition'));
  for (const [prefix, file] of [['camunda', 'camunda-bpmn-moddle/resources/camunda.json'], ['zeebe', 'zeebe-bpmn-moddle/resources/zeebe.json']] as const) {
    const d = require(file) as { types: { name: string; isAbstract?: boolean; extends?: string[]; properties?: { name: string; isReference?: boolean }[] }[] };
    for (const t of d.types) {
      if (t.extends) for (const p of t.properties ?? []) missing.push(...[`${prefix}:${p.name.replace(/^\w+:/, '')}`].filter((k) => !keys.has(k)));
      else if (!t.isAbstract && !keys.has(`${prefix}:${t.name}`)) missing.push(`${prefix}:${t.name}`);
    }
  }
  assert.equal(missing, []);
});

test('the README coverage section is the table (npm run docs:coverage)', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  assert.ok(withCoverage(readme) === readme, 'README.md is stale: run npm run docs:coverage');
  for (const r of SUPPORT) assert.ok(readme.includes(`| \`${r.key}\` | ${r.status} |`), r.key);
});

test('every row: a generated diagram runs to completion or its wait state, or is refused with the row\'s reason', async () => {
  const t: TestEngine = await Given('an engine with the handler h', async () => {
    const te = await testEngine();
    te.engine.registerHandler('h', () => ({}));
    return te;
  });
  try {
    let n = 0;
    const failures: string[] = [];
    for (const row of SUPPORT) {
      if (COVERED_BY[row.key]) {
        assert.ok(readFileSync(new URL(`../${COVERED_BY[row.key]}`, import.meta.url), 'utf8').length > 0, row.key);
        continue;
      }
      const sample = sampleOf(row);
      if (!sample) {
        assert.ok(row.status === 'refused' && NOT_PLACEABLE.has(row.key), `${row.key}: no sample`);
        continue;
      }
      n += 1;
      if (process.env.ROWS_TRACE) console.log(row.key);
      const key = 'P'; // each row deploys a new version of P; the instance starts the latest
      const content = xml(sample);
      try {
      if (row.status === 'refused') {
        const err = await When(`${row.key}: deployed`, async () => {
          try {
            await t.engine.deploy([{ name: `row${n}.bpmn`, content }]);
          } catch (e) {
            return e;
          }
          throw new Error(`${row.key}: the deployment was accepted`);
        });
        await Then(`${row.key}: refused naming the element, with the row's reason`, () => {
          assert.ok(err instanceof InsureflowError, String(err));
          const details = ((err as InsureflowError).details ?? []) as { element: string | null; message: string }[];
          const mine = details.filter((p) => p.element === 'E' || p.element === key);
          const expected = SPECIFIC[row.key];
          assert.ok(mine.some((p) => (expected ? expected.test(p.message) : p.message.includes(row.reason))), `${row.key}: ${JSON.stringify(details)}`);
        });
      } else {
        await When(`${row.key}: deployed and started`, async () => {
          await t.engine.deploy([{ name: `row${n}.bpmn`, content }]);
          if (sample.start === false) return;
          const inst = await t.engine.startInstance(key, { variables: {} });
          const now = await t.engine.getInstance(inst.id);
          assert.ok(['completed', 'active'].includes(now.status), `${row.key}: ${now.status}`);
        });
      }
      } catch (e) {
        failures.push(String((e as Error)?.message ?? e).slice(0, 600));
      }
    }
    assert.equal(failures, []);
  } finally {
    await t.close();
  }
});

test.run();
