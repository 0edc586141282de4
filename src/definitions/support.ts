/**
 * The support table (issue 9, section 8): for each BPMN element type bpmn-moddle knows, each event definition on
 * each kind of event, and each Camunda 7 (`camunda:*`) and Camunda 8 (`zeebe:*`) attribute and extension element,
 * whether the engine runs it (`runs`) or refuses it at deploy (`refused`, with the reason and what to write
 * instead). Deploy validation (validate.ts) asks this table for every element it walks (supportProblems): anything
 * not marked `runs` is refused naming the element id and the row's reason; the specific checks of validate.ts,
 * validate-data.ts and event-rules.ts refine what a `runs` row accepts. The README's "BPMN coverage" section is
 * generated from this table (test/tools/docs-coverage.ts, npm run docs:coverage).
 *
 * Keys: an element `bpmn:UserTask`; an event with a definition `bpmn:StartEvent+bpmn:TimerEventDefinition` (an
 * event without one: `bpmn:StartEvent+none`); an extension attribute `camunda:asyncBefore` (lower-case local name);
 * an extension element `camunda:ExecutionListener` (upper-case, as its moddle type).
 */
import { describeElement } from './parse.ts';

export type SupportGroup = 'element' | 'event' | 'camunda' | 'zeebe';
export type SupportRow =
  | { key: string; group: SupportGroup; status: 'runs'; note?: string }
  | { key: string; group: SupportGroup; status: 'refused'; reason: string; instead: string };

const rows: SupportRow[] = [];

/**
 * Root and supporting elements of interchange models that carry no behaviour here: accepted at deploy and compiled
 * as bpmn-elements placeholders (Dummy), which a process never runs (src/engine/definitions.ts). Messages,
 * signals, errors, escalations, categories and data stores have their own bpmn-elements types.
 */
export const DOCUMENTATION_ROOTS: readonly string[] = ['bpmn:ItemDefinition', 'bpmn:Resource', 'bpmn:Interface', 'bpmn:Operation', 'bpmn:EndPoint', 'bpmn:PartnerEntity', 'bpmn:PartnerRole', 'bpmn:CorrelationProperty', 'bpmn:DataStore', 'bpmn:Message', 'bpmn:Signal', 'bpmn:Error', 'bpmn:Escalation', 'bpmn:Category'];
const runs = (group: SupportGroup, keys: string[], note?: string) => {
  for (const key of keys) rows.push(note ? { key, group, status: 'runs', note } : { key, group, status: 'runs' });
};
const refused = (group: SupportGroup, keys: string[], reason: string, instead: string) => {
  for (const key of keys) rows.push({ key, group, status: 'refused', reason, instead });
};

/* -- elements ----------------------------------------------------------------------------------------------- */
runs('element', ['bpmn:Task', 'bpmn:ManualTask'], 'passes through (nothing to do for the engine)');
runs('element', ['bpmn:UserTask'], 'a task row in the task list until completed');
runs('element', ['bpmn:ServiceTask', 'bpmn:SendTask'], 'calls a registered handler');
runs('element', ['bpmn:BusinessRuleTask'], 'evaluates a deployed DMN decision (or calls a handler)');
runs('element', ['bpmn:ReceiveTask'], 'waits for its message');
runs('element', ['bpmn:CallActivity'], 'starts the called process as a child instance');
runs('element', ['bpmn:SubProcess'], 'embedded sub-process and event sub-process; nested at most 32 deep by default (INSUREFLOW_MAX_NESTING_DEPTH)');
runs('element', ['bpmn:ExclusiveGateway', 'bpmn:ParallelGateway', 'bpmn:InclusiveGateway', 'bpmn:EventBasedGateway']);
runs('element', ['bpmn:StartEvent', 'bpmn:EndEvent', 'bpmn:IntermediateCatchEvent', 'bpmn:IntermediateThrowEvent', 'bpmn:BoundaryEvent'], 'see the event rows');
runs('element', ['bpmn:Process'], 'executable processes run; non-executable pools document a partner');
runs('element', ['bpmn:SequenceFlow'], 'conditions in FEEL (=...) or, Camunda 7, JUEL (${...}: a safe subset run by insureflow, no method calls or beans)');
runs('element', ['bpmn:DataObject', 'bpmn:DataObjectReference', 'bpmn:DataStoreReference', 'bpmn:TextAnnotation', 'bpmn:Association', 'bpmn:Group', 'bpmn:Lane', 'bpmn:LaneSet', 'bpmn:Participant', 'bpmn:Collaboration', 'bpmn:MessageFlow'], 'documentation only: accepted, no effect on the run');
runs('element', [...DOCUMENTATION_ROOTS], 'documentation only (interchange models): accepted, ignored at run time');
runs('element', ['bpmn:DataInputAssociation', 'bpmn:DataOutputAssociation'], 'documentation only while it maps nothing; an assignment or a transformation is refused (write input/output parameters)');
runs('element', ['bpmn:HumanPerformer'], 'the user task\'s assignee, from its resourceAssignmentExpression (a name, user(x), or an expression); camunda:assignee / zeebe:assignmentDefinition win');
runs('element', ['bpmn:PotentialOwner'], 'the user task\'s candidates, from its resourceAssignmentExpression: group(x) or a plain name is a candidate group, user(x) a candidate user (comma-separated, or an expression)');
refused('element', ['bpmn:ScriptTask'], 'runs a script, and diagrams never run code', 'move the logic into a registered handler (service task) or a decision (business rule task)');
refused('element', ['bpmn:Transaction'], 'transaction sub-processes (cancel and its compensation) are not built', 'use an embedded sub-process with compensation boundary events and an error boundary event');
refused('element', ['bpmn:AdHocSubProcess'], 'ad-hoc sub-processes are not built', 'model the optional tasks with an inclusive gateway, or as separate user tasks');
refused('element', ['bpmn:ComplexGateway'], 'complex gateways cannot run in this engine', 'use an inclusive gateway (it waits for every token that can still arrive) or an exclusive one');
refused('element', ['bpmn:ImplicitThrowEvent'], 'implicit throw events are not part of a process the engine runs', 'remove it');
refused('element', ['bpmn:ChoreographyTask', 'bpmn:SubChoreography', 'bpmn:CallChoreography'], 'choreographies describe partners and cannot run', 'model the process of one partner');

/* -- events x definitions ----------------------------------------------------------------------------------- */
const EVENT_NOTE: Record<string, string> = {
  'bpmn:StartEvent+none': 'starts the instance',
  'bpmn:StartEvent+bpmn:MessageEventDefinition': 'starts by message; in an event sub-process: a subscription while its scope runs',
  'bpmn:StartEvent+bpmn:TimerEventDefinition': 'ISO 8601 or FEEL date / cycle (cycles at least 1 s apart by default); in an event sub-process: at process level',
  'bpmn:StartEvent+bpmn:SignalEventDefinition': 'starts by signal',
  'bpmn:StartEvent+bpmn:ErrorEventDefinition': 'error event sub-process (interrupting)',
  'bpmn:StartEvent+bpmn:EscalationEventDefinition': 'escalation event sub-process',
  'bpmn:IntermediateCatchEvent+bpmn:MessageEventDefinition': 'waits for its message',
  'bpmn:IntermediateCatchEvent+bpmn:TimerEventDefinition': 'a timer job (cycles at least 1 s apart by default)',
  'bpmn:IntermediateCatchEvent+bpmn:SignalEventDefinition': 'waits for its signal',
  'bpmn:IntermediateThrowEvent+none': 'passes through',
  'bpmn:IntermediateThrowEvent+bpmn:MessageEventDefinition': 'calls a handler (like a send task)',
  'bpmn:IntermediateThrowEvent+bpmn:SignalEventDefinition': 'broadcasts the signal',
  'bpmn:IntermediateThrowEvent+bpmn:EscalationEventDefinition': 'throws the escalation',
  'bpmn:IntermediateThrowEvent+bpmn:CompensateEventDefinition': 'compensates its scope',
  'bpmn:EndEvent+none': 'ends its path',
  'bpmn:EndEvent+bpmn:MessageEventDefinition': 'calls a handler, then ends',
  'bpmn:EndEvent+bpmn:SignalEventDefinition': 'broadcasts the signal, then ends',
  'bpmn:EndEvent+bpmn:ErrorEventDefinition': 'throws the error',
  'bpmn:EndEvent+bpmn:EscalationEventDefinition': 'throws the escalation',
  'bpmn:EndEvent+bpmn:CompensateEventDefinition': 'compensates its scope',
  'bpmn:EndEvent+bpmn:TerminateEventDefinition': 'ends its scope',
  'bpmn:BoundaryEvent+bpmn:MessageEventDefinition': 'interrupting or not',
  'bpmn:BoundaryEvent+bpmn:TimerEventDefinition': 'interrupting or not (cycles at least 1 s apart by default)',
  'bpmn:BoundaryEvent+bpmn:SignalEventDefinition': 'interrupting or not',
  'bpmn:BoundaryEvent+bpmn:ErrorEventDefinition': 'interrupting',
  'bpmn:BoundaryEvent+bpmn:EscalationEventDefinition': 'interrupting or not',
  'bpmn:BoundaryEvent+bpmn:CompensateEventDefinition': 'associates a compensation handler',
};
const EVENTS = ['bpmn:StartEvent', 'bpmn:IntermediateCatchEvent', 'bpmn:IntermediateThrowEvent', 'bpmn:EndEvent', 'bpmn:BoundaryEvent'];
const DEFINITIONS = ['none', 'bpmn:MessageEventDefinition', 'bpmn:TimerEventDefinition', 'bpmn:SignalEventDefinition', 'bpmn:ConditionalEventDefinition', 'bpmn:ErrorEventDefinition', 'bpmn:EscalationEventDefinition', 'bpmn:CompensateEventDefinition', 'bpmn:CancelEventDefinition', 'bpmn:LinkEventDefinition', 'bpmn:TerminateEventDefinition'];
for (const event of EVENTS) {
  for (const def of DEFINITIONS) {
    const key = `${event}+${def}`;
    if (EVENT_NOTE[key]) runs('event', [key], EVENT_NOTE[key]);
    else if (def === 'bpmn:ConditionalEventDefinition') {
      refused('event', [key], 'conditional events are not re-evaluated when variables change, so it could wait forever', 'use an exclusive gateway with FEEL conditions, or a message event that the change sends');
    } else if (def === 'bpmn:CancelEventDefinition') {
      refused('event', [key], 'cancel events belong to transaction sub-processes, which are not built', 'use an error end event and an error boundary event');
    } else if (def === 'bpmn:LinkEventDefinition') {
      refused('event', [key], 'link events are not built', 'draw the sequence flow itself');
    } else if (def === 'none' && event === 'bpmn:BoundaryEvent') {
      refused('event', [key], 'a boundary event without a trigger never fires', 'choose what it catches (timer, message, signal, error, escalation)');
    } else if (def === 'none') {
      refused('event', [key], 'an intermediate catch event without a trigger would wait forever', 'choose what it waits for (timer, message, signal), or make it a throw event');
    } else {
      refused('event', [key], 'this event definition cannot be used on this kind of event', 'use one of the event definitions marked "runs" for it');
    }
  }
}
// more than one definition on one event (multiple / parallel multiple) is refused by supportProblems

/* -- Camunda 7 ----------------------------------------------------------------------------------------------- */
const C = (keys: string[]) => keys.map((k) => `camunda:${k}`);
runs('camunda', C(['type', 'topic']), 'external task: a handler registered under the topic runs it in-process, else workers fetch it over /engine-rest/external-task');
runs('camunda', C(['asyncBefore', 'async', 'exclusive']), 'a handler call runs in its own transition');
runs('camunda', C(['assignee', 'candidateUsers', 'candidateGroups', 'dueDate', 'followUpDate', 'priority']), 'a value, a JUEL ${...} expression (no method calls or beans: refused with the FEEL to write) or FEEL =...');
runs('camunda', C(['formKey', 'formRef', 'formRefBinding', 'formRefVersion']));
runs('camunda', C(['decisionRef', 'decisionRefBinding', 'decisionRefVersion', 'decisionRefVersionTag', 'resultVariable']));
runs('camunda', C(['calledElementBinding', 'calledElementVersion', 'elementVariable']));
runs('camunda', C(['collection']), 'a variable name, JUEL ${...} or FEEL =...');
runs('camunda', C(['errorCodeVariable', 'errorMessageVariable', 'escalationCodeVariable', 'errorMessage']));
runs('camunda', C(['historyTimeToLive', 'isStartableInTasklist', 'versionTag', 'modelerTemplate', 'modelerTemplateVersion', 'diagramRelationId']), 'modeler defaults and metadata: accepted, no effect (history retention is the service\'s)');
runs('camunda', C(['InputOutput', 'InputOutputParameter', 'InputParameter', 'OutputParameter', 'List', 'Map', 'Entry', 'Value', 'In', 'Out', 'FailedJobRetryTimeCycle']));
runs('camunda', C(['Properties', 'Property']), 'metadata: accepted, no effect');
runs('camunda', C(['delegateExpression']), '${name} names a registered handler (a Java bean is refused)');
refused('camunda', C(['class', 'expression']), 'Java delegates and expressions cannot run in this engine', 'camunda:type="external" camunda:topic="<registered handler>"');
refused('camunda', C(['Connector']), 'Camunda connectors are not supported', 'an external task bound to a registered handler');
refused('camunda', C(['Field']), 'field injection feeds Java delegates, which cannot run', 'pass the values as input parameters (camunda:inputOutput)');
refused('camunda', C(['ExecutionListener', 'TaskListener']), 'listeners run Java or scripts, which this engine does not run', 'a service task (or a handler) at that point of the flow');
runs('camunda', C(['FormData', 'FormField', 'Validation', 'Constraint']), 'generated task form: completion is validated against its fields (type, required, min/max, minlength/maxlength, enum values, readonly); custom types and validator classes are refused');
refused('camunda', C(['FormProperty', 'formHandlerClass']), 'form properties and form handler classes are not supported', 'camunda:formData with camunda:formField, a Camunda form (.form), or a JSON form schema, referenced with camunda:formKey');
refused('camunda', C(['PotentialStarter', 'candidateStarterGroups', 'candidateStarterUsers', 'initiator']), 'who may start a process is decided by the service\'s grants, not the diagram (it would be ignored)', 'remove it and grant the start permission on the process to the group or user (POST /api/authorizations, insureflow grant)');
refused('camunda', C(['asyncAfter']), 'asynchronous continuation after an activity is not built (it would be ignored)', 'set camunda:asyncBefore on the next activity');
refused('camunda', C(['jobPriority']), 'job priorities are not built (it would be ignored)', 'remove it');
runs('camunda', C(['taskPriority']), 'the priority of an external task (a literal integer): fetchAndLock with usePriority hands out higher ones first');
refused('camunda', C(['calledElementVersionTag', 'calledElementTenantId', 'decisionRefTenantId', 'caseRef', 'caseBinding', 'caseVersion', 'caseTenantId', 'variableMappingClass', 'variableMappingDelegateExpression', 'mapDecisionResult']), 'tenants, CMMN, version tags, Java mappings and decision result mappers are not built', 'remove it (bind by latest, version or deployment; map results with output parameters)');
refused('camunda', C(['resource', 'Script']), 'scripts (inline or as resources) are not run', 'write the value in FEEL, or move the logic into a handler');
refused('camunda', C(['variableName', 'variableEvents']), 'conditional events are not built', 'use a message event');
refused('camunda', C(['ErrorEventDefinition']), 'error definitions on external tasks are not built', 'throw a BpmnError from the handler and catch it with an error boundary event');

/* -- Camunda 8 ----------------------------------------------------------------------------------------------- */
const Z = (keys: string[]) => keys.map((k) => `zeebe:${k}`);
runs('zeebe', Z(['TaskDefinition']), 'the job type names the handler');
runs('zeebe', Z(['bindingType', 'versionTag']), 'version bindings of decisions and forms (a call activity bound by version tag is refused)');
runs('zeebe', Z(['modelerConfigurationTemplate', 'modelerConfigurationName']), 'modeler metadata: accepted, no effect');
runs('zeebe', Z(['IoMapping', 'InputOutputParameter', 'Input', 'Output', 'Subscription', 'LoopCharacteristics', 'CalledElement', 'CalledDecision', 'FormDefinition', 'UserTask', 'AssignmentDefinition', 'PriorityDefinition', 'TaskSchedule']));
runs('zeebe', Z(['Properties', 'Property', 'VersionTag', 'modelerTemplate', 'modelerTemplateVersion', 'modelerTemplateIcon']), 'metadata: accepted, no effect');
refused('zeebe', Z(['TaskHeaders', 'Header']), 'handlers do not receive task headers (they would be ignored)', 'pass the values as input mappings (zeebe:ioMapping)');
refused('zeebe', Z(['ExecutionListeners', 'ExecutionListener', 'TaskListeners', 'TaskListener']), 'listeners are not built (they would be ignored)', 'a service task at that point of the flow');
refused('zeebe', Z(['UserTaskForm']), 'embedded forms are not supported', 'register a JSON form schema and reference it with zeebe:formDefinition');
refused('zeebe', Z(['LinkedResources', 'LinkedResource', 'JobPriorityDefinition', 'AdHoc', 'ConditionalFilter', 'AgentDefinition', 'retryCounter']), 'not built (it would be ignored)', 'remove it');
refused('zeebe', Z(['Script']), 'script tasks are not run', 'a registered handler or a decision');

export const SUPPORT: readonly SupportRow[] = rows;
const byKey = new Map(rows.map((r) => [r.key, r]));

/** The row of a key (see the module comment), or undefined: a key without a row is refused. */
export function supportOf(key: string): SupportRow | undefined {
  return byKey.get(key);
}

/** Whether elements of this moddle type run (a type without a row does not). */
export function elementRuns(type: string): boolean {
  return byKey.get(type)?.status === 'runs';
}

const EXT = /^(camunda|zeebe)$/;
const refusal = (d: string, what: string, row: SupportRow | undefined): string =>
  row && row.status === 'refused'
    ? `${d} uses ${what}: ${row.reason}. Instead: ${row.instead}.`
    : `${d} uses ${what}, which the engine does not know: remove it.`;

/**
 * The table's refusals for one element (empty when every part of it runs): its type, its event definition(s) on
 * its kind of event, its `camunda:` / `zeebe:` attributes and its extension elements (top level). Each is one
 * sentence naming the element (its id is the problem's element).
 */
export function supportProblems(el: any): string[] {
  const out: string[] = [];
  const type: string = el?.$type ?? '';
  const d = describeElement(el);
  const row = byKey.get(type);
  if (row?.status !== 'runs') {
    out.push(row?.status === 'refused' ? `${d} is a kind of element the engine cannot run (${type}): ${row.reason}. Instead: ${row.instead}.` : `${d} is a kind of element the engine cannot run (${type}); remove it or replace it.`);
    return out;
  }
  if (EVENTS.includes(type)) {
    const defs: any[] = Array.isArray(el.eventDefinitions) ? el.eventDefinitions : [];
    if (defs.length > 1) {
      out.push(`${d} has ${defs.length} event definitions (a multiple event), which the engine does not run. Instead: one event per trigger, after an event-based gateway.`);
    } else {
      const key = `${type}+${defs[0]?.$type ?? 'none'}`;
      const r = byKey.get(key);
      if (r?.status !== 'runs') out.push(refusal(d, `${defs[0]?.$type ?? 'no event definition'} on ${type}`, r));
    }
  }
  for (const holder of [el, ...(Array.isArray(el.eventDefinitions) ? el.eventDefinitions : []), el.loopCharacteristics].filter(Boolean)) {
    for (const p of holder.$descriptor?.properties ?? []) {
      const prefix: string | undefined = p?.ns?.prefix;
      if (!prefix || !EXT.test(prefix) || !Object.hasOwn(holder, p.ns.localName)) continue;
      const key = `${prefix}:${p.ns.localName}`;
      const r = byKey.get(key);
      if (r?.status !== 'runs') out.push(refusal(d, key, r));
    }
  }
  const seen = new Set<string>();
  for (const ext of el.extensionElements?.values ?? []) {
    const key: string = ext?.$type ?? '';
    if (seen.has(key)) continue; // one sentence per kind of extension element
    seen.add(key);
    // other namespaces: reported by the unknown-element checks of parse.ts; a generic element is one of a namespace
    // the document was not read with (the other Camunda dialect's metadata: a parse warning, its settings: parse.ts)
    if (!/^(camunda|zeebe):/.test(key) || ext?.$descriptor?.isGeneric) continue;
    const r = byKey.get(key);
    if (r?.status !== 'runs') out.push(refusal(d, `<${key}>`, r));
  }
  return out;
}

/** The README section: one table per group, a line per row. */
export function coverageMarkdown(): string {
  const title: Record<SupportGroup, string> = { element: 'BPMN elements', event: 'Events by definition', camunda: 'Camunda 7 extensions (camunda:*)', zeebe: 'Camunda 8 extensions (zeebe:*)' };
  const parts: string[] = ['Generated from src/definitions/support.ts by `npm run docs:coverage`; deploy refuses every row marked refused, naming the element.', ''];
  for (const group of Object.keys(title) as SupportGroup[]) {
    parts.push(`#### ${title[group]}`, '', '| Element / extension | Status | Notes / what to write instead |', '| --- | --- | --- |');
    for (const r of rows.filter((x) => x.group === group)) {
      const text = r.status === 'runs' ? (r.note ?? '') : `${r.reason}; instead: ${r.instead}`;
      parts.push(`| \`${r.key}\` | ${r.status} | ${text.replace(/\|/g, '\\|')} |`);
    }
    parts.push('');
  }
  return parts.join('\n');
}

export const COVERAGE_BEGIN = '<!-- COVERAGE_BEGIN: generated by npm run docs:coverage, do not edit -->';
export const COVERAGE_END = '<!-- COVERAGE_END -->';

/** `readme` with the text between the coverage markers replaced by coverageMarkdown() (markers must exist). */
export function withCoverage(readme: string): string {
  const from = readme.indexOf(COVERAGE_BEGIN);
  const to = readme.indexOf(COVERAGE_END);
  if (from < 0 || to < from) throw new Error('README.md has no coverage markers');
  return `${readme.slice(0, from + COVERAGE_BEGIN.length)}\n${coverageMarkdown()}\n${readme.slice(to)}`;
}

/**
 * The elements of a parsed document whose kind the table refuses, each as a problem naming it: used when the
 * document cannot even be compiled for bpmn-engine (it throws "Unknown activity type" for them), so the deploy
 * error still names the element and the reason.
 */
export function refusedElementProblems(byId: Record<string, any> | undefined): { element: string; message: string }[] {
  const out: { element: string; message: string }[] = [];
  for (const el of Object.values(byId ?? {})) {
    const row = byKey.get(el?.$type);
    if (row?.group === 'element' && row.status === 'refused' && typeof el.id === 'string') for (const message of supportProblems(el)) out.push({ element: el.id, message });
  }
  return out;
}
