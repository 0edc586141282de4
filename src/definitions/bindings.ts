/**
 * What a BPMN element is bound to (handler, decision, form, assignment, retries, message), read the same way at
 * deploy time and at run time.
 *
 * Every function here accepts any of these shapes:
 * - a moddle element (from `ParsedBpmn.moddleContext.elementsById`), parsed with the dialect's descriptor:
 *   Camunda 7 attributes are properties named without prefix (`el.topic`, also `el.get('camunda:topic')`);
 *   when the descriptor was not loaded they sit in `el.$attrs['camunda:topic']`;
 * - the serialized "behaviour" object bpmn-elements exposes at run time (`activity.behaviour`): a plain spread of
 *   the moddle element, so Camunda 7 attributes are unprefixed (`behaviour.topic`, `behaviour.formKey`) and
 *   extension elements are under `behaviour.extensionElements.values[]`, each with `$type` such as
 *   'zeebe:TaskDefinition'. After a JSON round trip (a recovered source) these are plain objects as well;
 * - an object that wraps a behaviour (`{ id, type, behaviour }`): a bpmn-elements activity (`api.owner`), or an
 *   entry of a moddle-context-serializer context (`sourceContext.getActivityById(id)`).
 */

import { isExpressionValue, parseExpression } from '../engine/expression-syntax.ts';
import { parseRetryCycle } from '../engine/iso.ts';
import { formDataOf, type FormDataField } from '../engine/form-data.ts';

/** Anything from which bindings can be read: see the module comment. */
export type BpmnElementLike = unknown;

export type ExpressionKind = 'feel' | 'juel' | 'literal' | 'service';

export interface HandlerBinding {
  /**
   * - `zeebe-job`: `<zeebe:taskDefinition type="name"/>` (or the static FEEL string `="name"`)
   * - `external-topic`: `camunda:type="external" camunda:topic="name"`
   * - `delegate-expression`: `camunda:delegateExpression="${name}"` (or `#{name}`)
   * - `service-implementation`: bpmn-engine's own `implementation="${environment.services.name}"`
   * - `java-class`, `java-expression`, `connector`: Camunda 7 Java bindings, never supported (name is null)
   * - `dynamic`: the handler name is computed by an expression; not supported (name is null)
   */
  kind:
    | 'zeebe-job'
    | 'external-topic'
    | 'delegate-expression'
    | 'service-implementation'
    | 'java-class'
    | 'java-expression'
    | 'connector'
    | 'dynamic';
  /** the handler name for the supported kinds; null when the binding names no usable handler */
  name: string | null;
  /** the attribute value as written in the diagram */
  raw: string | null;
}

export interface DecisionRef {
  decisionId: string;
  resultVariable: string | null;
}

export interface UserTaskSpec {
  assignee?: string;
  candidateUsers?: string[] | string;
  candidateGroups?: string[] | string;
  formKey?: string;
  dueDate?: string;
  followUpDate?: string;
  priority?: string | number;
  /** Camunda 7 `camunda:formData` fields (src/engine/form-data.ts), validated on completion */
  formFields?: FormDataField[];
}

export interface RetrySpec {
  /**
   * How many times the handler is called in all, the first call included: R5/PT5M -> 5, zeebe retries="3" -> 3,
   * a list of n waits (`PT1M,PT5M,PT10M`) -> n + 1, so that each wait is used once
   */
  retries: number;
  /** the wait between attempts (ISO 8601 duration), or null when the diagram gives none; for a list, its first */
  backoff: string | null;
  /** Camunda 7 list form only (`PT1M,PT5M,PT10M`): the wait before each retry, in order (the last one repeats) */
  intervals?: string[];
}

export interface MessageSubscription {
  messageName: string | null;
  correlationKey: string | null;
}

export interface CalledElement {
  /** the called process id; null when the diagram names none or names it through an expression */
  processId: string | null;
  /** true when the called process is chosen by an expression at run time */
  dynamic: boolean;
  /** the value as written */
  raw: string | null;
  /** where it was found: the BPMN `calledElement` attribute or `<zeebe:calledElement processId>` */
  source: 'bpmn' | 'zeebe' | null;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* normalizing accessors                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */

/** The element's own data: a moddle element or a behaviour object as is; a wrapper's `behaviour`. */
export function unwrapElement(el: BpmnElementLike): any {
  if (!el || typeof el !== 'object') return null;
  const o = el as any;
  if (!('$type' in o) && o.behaviour && typeof o.behaviour === 'object') return o.behaviour;
  return o;
}

/** The BPMN type, e.g. 'bpmn:ServiceTask', of any accepted shape. */
export function elementTypeOf(el: BpmnElementLike): string | null {
  const b = unwrapElement(el);
  if (!b) return null;
  if (typeof b.$type === 'string') return b.$type;
  const o = el as any;
  return typeof o.type === 'string' && o.type.includes(':') ? o.type : null;
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/**
 * A Camunda 7 extension attribute (`camunda:<name>`) of any accepted shape: the unprefixed property (moddle with
 * the camunda descriptor, runtime behaviour), else the raw attribute (moddle without the descriptor).
 */
export function camundaAttr(el: BpmnElementLike, name: string): string | null {
  const b = unwrapElement(el);
  if (!b) return null;
  const direct = str(b[name]);
  if (direct !== null) return direct;
  const attrs = b.$attrs;
  if (attrs && typeof attrs === 'object') {
    const v = str(attrs[`camunda:${name}`]);
    if (v !== null) return v;
  }
  return null;
}

/** A plain BPMN attribute of any accepted shape. */
export function bpmnAttr(el: BpmnElementLike, name: string): string | null {
  const b = unwrapElement(el);
  return b ? str(b[name]) : null;
}

/**
 * The extension elements of a given type (e.g. 'zeebe:TaskDefinition'); the type is compared case-insensitively
 * so elements read without the descriptor ('zeebe:taskDefinition') are found too.
 */
export function extensionElementsOf(el: BpmnElementLike, type: string): any[] {
  const b = unwrapElement(el);
  const values = b?.extensionElements?.values;
  if (!Array.isArray(values)) return [];
  const wanted = type.toLowerCase();
  return values.filter((v: any) => v && typeof v.$type === 'string' && v.$type.toLowerCase() === wanted);
}

/** An attribute of an extension element (descriptor-defined property, or a raw attribute). */
export function extAttr(ext: any, name: string): string | null {
  if (!ext || typeof ext !== 'object') return null;
  const direct = str(ext[name]);
  if (direct !== null) return direct;
  return ext.$attrs && typeof ext.$attrs === 'object' ? str(ext.$attrs[name]) : null;
}

function firstExtAttr(el: BpmnElementLike, type: string, name: string): string | null {
  for (const ext of extensionElementsOf(el, type)) {
    const v = extAttr(ext, name);
    if (v !== null) return v;
  }
  return null;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* expressions                                                                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

/**
 * Classifies a raw attribute or body, through the parser the runtime uses (src/engine/expression-syntax.ts):
 * - `=expr` (Camunda 8) -> `{ kind: 'feel', body: 'expr' }`;
 * - `${expr}` or `#{expr}` wrapping the whole value (Camunda 7 style) -> `{ kind: 'juel', body: 'expr' }`;
 * - `${environment.services.name}` -> `{ kind: 'service', body: 'name' }` (a bpmn-engine service reference);
 * - anything else -> `{ kind: 'literal', body: raw }`: plain text, and also the forms the engine does not run
 *   (a template such as `${a} and ${b}`, `${environment.variables.x}`, an unclosed `${`), which
 *   `parseExpression` reports as `unsupported` and validation refuses.
 */
export function expressionBody(raw: string): { kind: ExpressionKind; body: string } {
  const text = String(raw ?? '');
  const e = parseExpression(text);
  if (e.kind === 'feel' || e.kind === 'juel') return { kind: e.kind, body: e.body };
  if (e.kind === 'service') return { kind: 'service', body: e.name };
  return { kind: 'literal', body: text };
}

/** True when the value is (or contains) an expression rather than a plain value. */
export { isExpressionValue };

/** `="text"` (a FEEL string literal and nothing else) -> 'text'; otherwise null. */
function staticFeelString(body: string): string | null {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(body.trim());
  if (!m) return null;
  return m[1].replace(/\\(["\\])/g, '$1');
}

/** `${'text'}` or `${"text"}` (a JUEL string literal and nothing else) -> 'text'; otherwise null. */
function staticJuelString(body: string): string | null {
  const m = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')$/.exec(body.trim());
  if (!m) return null;
  return (m[1] ?? m[2]).replace(/\\(["'\\])/g, '$1');
}

/**
 * A value that must be a name (handler type, decision id): a literal, or a FEEL expression that is only a
 * string literal. `dynamic` when an expression computes it.
 */
function staticName(raw: string): { name: string | null; dynamic: boolean } {
  const e = expressionBody(raw);
  if (e.kind === 'literal') {
    if (isExpressionValue(raw)) return { name: null, dynamic: true };
    const t = e.body.trim();
    return { name: t || null, dynamic: false };
  }
  if (e.kind === 'service') return { name: e.body, dynamic: false };
  const s = e.kind === 'juel' ? staticJuelString(e.body) : staticFeelString(e.body);
  return s !== null ? { name: s.trim() || null, dynamic: false } : { name: null, dynamic: true };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* bindings                                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

const HANDLER_NAME = /^[A-Za-z_$][\w$.:-]*$/;

/**
 * The handler binding of a service, send or business-rule task, or null when it has none. When several are
 * present the first of this order wins: zeebe:taskDefinition, camunda:topic (external), camunda:delegateExpression,
 * implementation="${environment.services.x}", camunda:class, camunda:expression, camunda:connector.
 */
export function handlerBindingOf(el: BpmnElementLike): HandlerBinding | null {
  const b = unwrapElement(el);
  if (!b) return null;

  const taskDefs = extensionElementsOf(b, 'zeebe:TaskDefinition');
  if (taskDefs.length) {
    const raw = extAttr(taskDefs[0], 'type');
    if (raw === null || !raw.trim()) return { kind: 'zeebe-job', name: null, raw };
    const { name, dynamic } = staticName(raw);
    return dynamic ? { kind: 'dynamic', name: null, raw } : { kind: 'zeebe-job', name, raw };
  }

  const camundaType = camundaAttr(b, 'type');
  const topic = camundaAttr(b, 'topic');
  if (camundaType === 'external' || (topic !== null && camundaType === null)) {
    if (topic === null || !topic.trim()) return { kind: 'external-topic', name: null, raw: topic };
    if (isExpressionValue(topic)) return { kind: 'dynamic', name: null, raw: topic };
    return { kind: 'external-topic', name: topic.trim(), raw: topic };
  }

  const delegate = camundaAttr(b, 'delegateExpression');
  if (delegate !== null) {
    const e = expressionBody(delegate);
    if (e.kind === 'service') return { kind: 'delegate-expression', name: e.body, raw: delegate };
    if ((e.kind === 'feel' || e.kind === 'juel') && HANDLER_NAME.test(e.body)) return { kind: 'delegate-expression', name: e.body, raw: delegate };
    if (e.kind === 'literal' && !isExpressionValue(delegate) && HANDLER_NAME.test(delegate.trim())) {
      return { kind: 'delegate-expression', name: delegate.trim(), raw: delegate };
    }
    return { kind: 'dynamic', name: null, raw: delegate };
  }

  const implementation = bpmnAttr(b, 'implementation');
  if (implementation !== null && isExpressionValue(implementation)) {
    const e = expressionBody(implementation);
    if (e.kind === 'service') return { kind: 'service-implementation', name: e.body, raw: implementation };
    return { kind: 'dynamic', name: null, raw: implementation };
  }

  const javaClass = camundaAttr(b, 'class');
  if (javaClass !== null) return { kind: 'java-class', name: null, raw: javaClass };
  const javaExpression = camundaAttr(b, 'expression');
  if (javaExpression !== null) return { kind: 'java-expression', name: null, raw: javaExpression };
  const connector = extensionElementsOf(b, 'camunda:Connector')[0];
  if (connector) return { kind: 'connector', name: null, raw: extAttr(connector, 'connectorId') };

  return null;
}

/**
 * The name of the handler a service, send or business-rule task calls, or null when it has no supported binding
 * (no binding, a Camunda 7 Java class/expression/connector, or a name computed by an expression).
 */
export function handlerNameOf(el: BpmnElementLike): string | null {
  const binding = handlerBindingOf(el);
  if (!binding) return null;
  switch (binding.kind) {
    case 'zeebe-job':
    case 'external-topic':
    case 'delegate-expression':
    case 'service-implementation':
      return binding.name;
    default:
      return null;
  }
}

/**
 * The elements of a parsed document (`moddleContext.elementsById`) bound to a topic or job type that no
 * registered handler serves: they run as external tasks, done by workers over /engine-rest/external-task.
 */
export function externalTopicsOf(elementsById: Record<string, unknown> | undefined, handlers: { has(name: string): boolean }): { element: string; topic: string }[] {
  const out: { element: string; topic: string }[] = [];
  for (const [id, el] of Object.entries(elementsById ?? {})) {
    const type = String((el as { $type?: unknown })?.$type ?? '');
    if (!/^bpmn:(ServiceTask|SendTask|BusinessRuleTask|IntermediateThrowEvent|EndEvent)$/.test(type)) continue;
    const b = handlerBindingOf(el);
    if (b && (b.kind === 'external-topic' || b.kind === 'zeebe-job') && b.name && !handlers.has(b.name)) out.push({ element: id, topic: b.name });
  }
  return out;
}

/**
 * The decision a business-rule task evaluates: `camunda:decisionRef` + `camunda:resultVariable`, or
 * `<zeebe:calledDecision decisionId resultVariable/>`. A zeebe decision id written as the static FEEL string
 * `="risk"` is returned as `risk`; any other expression is returned as written (the validator refuses it).
 */
export function decisionRefOf(el: BpmnElementLike): DecisionRef | null {
  const b = unwrapElement(el);
  if (!b) return null;
  const called = extensionElementsOf(b, 'zeebe:CalledDecision')[0];
  if (called) {
    const raw = extAttr(called, 'decisionId');
    if (raw !== null && raw.trim()) {
      const { name } = staticName(raw);
      return { decisionId: name ?? raw.trim(), resultVariable: extAttr(called, 'resultVariable') };
    }
  }
  const ref = camundaAttr(b, 'decisionRef');
  if (ref !== null && ref.trim()) {
    return { decisionId: ref.trim(), resultVariable: camundaAttr(b, 'resultVariable') };
  }
  return null;
}

function listValue(raw: string): string[] | string {
  if (isExpressionValue(raw)) return raw;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function priorityValue(raw: string): string | number {
  return /^\s*-?\d+\s*$/.test(raw) ? Number(raw.trim()) : raw;
}

/**
 * The standard BPMN resource roles of a task (interchange models): `bpmn:humanPerformer` is the assignee,
 * `bpmn:potentialOwner` the candidates, each read from its resourceAssignmentExpression's formal expression as
 * Camunda 7 reads it: a comma-separated list where `user(x)` is a user, `group(x)` and a plain name a group (a
 * humanPerformer's plain name is the assignee); an expression (`${...}`, `=...`) is kept whole. Roles without an
 * assignment expression (a resourceRef only) carry no assignment. The dialect's own attributes win
 * (userTaskSpecOf).
 */
export function resourceRolesOf(b: any): { assignee: string | null; candidateUsers: string[]; candidateGroups: string[] } {
  const out = { assignee: null as string | null, candidateUsers: [] as string[], candidateGroups: [] as string[] };
  for (const role of Array.isArray(b?.resources) ? b.resources : []) {
    const type = role?.$type;
    if (type !== 'bpmn:HumanPerformer' && type !== 'bpmn:PotentialOwner') continue;
    const raw = role.resourceAssignmentExpression?.expression?.body;
    if (typeof raw !== 'string' || !raw.trim()) continue;
    const parts = isExpressionValue(raw) ? [raw.trim()] : raw.split(',').map((x) => x.trim()).filter(Boolean);
    for (const part of parts) {
      const m = /^(user|group)\(\s*(.*?)\s*\)$/.exec(part);
      const kind = m ? m[1] : type === 'bpmn:HumanPerformer' ? 'user' : 'group';
      const name = m ? m[2] : part;
      if (!name) continue;
      if (type === 'bpmn:HumanPerformer' && kind === 'user' && out.assignee === null) out.assignee = name;
      else if (kind === 'user') out.candidateUsers.push(name);
      else out.candidateGroups.push(name);
    }
  }
  return out;
}

/**
 * Assignment, form and scheduling of a user task (or the form of a start event), as written: expressions stay
 * strings (`=...`, `${...}`); literal comma-separated lists are split and trimmed; a literal integer priority is
 * a number. Camunda 8 values win over Camunda 7 ones when both are somehow present. The form key is
 * `camunda:formKey` (else `camunda:formRef`), or `zeebe:formDefinition formKey` (else `formId`), kept verbatim
 * (prefixes such as `embedded:` or `camunda-forms:` are part of the key).
 */
export function userTaskSpecOf(el: BpmnElementLike): UserTaskSpec {
  const b = unwrapElement(el);
  const spec: UserTaskSpec = {};
  if (!b) return spec;

  const assignee = firstExtAttr(b, 'zeebe:AssignmentDefinition', 'assignee') ?? camundaAttr(b, 'assignee');
  const candidateUsers =
    firstExtAttr(b, 'zeebe:AssignmentDefinition', 'candidateUsers') ?? camundaAttr(b, 'candidateUsers');
  const candidateGroups =
    firstExtAttr(b, 'zeebe:AssignmentDefinition', 'candidateGroups') ?? camundaAttr(b, 'candidateGroups');
  const formKey =
    firstExtAttr(b, 'zeebe:FormDefinition', 'formKey') ??
    firstExtAttr(b, 'zeebe:FormDefinition', 'formId') ??
    camundaAttr(b, 'formKey') ??
    camundaAttr(b, 'formRef');
  const dueDate = firstExtAttr(b, 'zeebe:TaskSchedule', 'dueDate') ?? camundaAttr(b, 'dueDate');
  const followUpDate = firstExtAttr(b, 'zeebe:TaskSchedule', 'followUpDate') ?? camundaAttr(b, 'followUpDate');
  const priority = firstExtAttr(b, 'zeebe:PriorityDefinition', 'priority') ?? camundaAttr(b, 'priority');
  const roles = resourceRolesOf(b);

  if (assignee === null && roles.assignee) spec.assignee = roles.assignee;
  if (candidateUsers === null && roles.candidateUsers.length) spec.candidateUsers = roles.candidateUsers.length === 1 && isExpressionValue(roles.candidateUsers[0]) ? roles.candidateUsers[0] : roles.candidateUsers;
  if (candidateGroups === null && roles.candidateGroups.length) spec.candidateGroups = roles.candidateGroups.length === 1 && isExpressionValue(roles.candidateGroups[0]) ? roles.candidateGroups[0] : roles.candidateGroups;
  if (assignee !== null && assignee.trim()) spec.assignee = assignee.trim();
  if (candidateUsers !== null && candidateUsers.trim()) spec.candidateUsers = listValue(candidateUsers);
  if (candidateGroups !== null && candidateGroups.trim()) spec.candidateGroups = listValue(candidateGroups);
  if (formKey !== null && formKey.trim()) spec.formKey = formKey.trim();
  if (dueDate !== null && dueDate.trim()) spec.dueDate = dueDate.trim();
  if (followUpDate !== null && followUpDate.trim()) spec.followUpDate = followUpDate.trim();
  if (priority !== null && priority.trim()) spec.priority = priorityValue(priority);
  const formData = formDataOf(b);
  if (formData.fields) spec.formFields = formData.fields;
  return spec;
}

/**
 * Retries of a task: `<camunda:failedJobRetryTimeCycle>R5/PT5M</camunda:failedJobRetryTimeCycle>` ->
 * `{ retries: 5, backoff: 'PT5M' }`; the list form `PT1M,PT5M` -> `{ retries: 3, backoff: 'PT1M', intervals }`;
 * `<zeebe:taskDefinition retries="3"/>` (or the static `=3`) -> `{ retries: 3, backoff: null }`.
 * Null when the diagram sets none, or a cycle that is not valid (an expression, a malformed list: see
 * retryCycleProblemOf, which deployment reports). Parsed by src/engine/iso.ts parseRetryCycle.
 */
export function retryCycleOf(el: BpmnElementLike): RetrySpec | null {
  const b = unwrapElement(el);
  if (!b) return null;

  const text = retryCycleTextOf(b);
  if (text !== null) {
    const cycle = parseRetryCycle(text);
    if ('error' in cycle) return null;
    if (cycle.form === 'repeat') return { retries: cycle.retries, backoff: cycle.intervals[0] };
    return { retries: cycle.retries, backoff: cycle.intervals[0], intervals: cycle.intervals };
  }

  const taskDef = extensionElementsOf(b, 'zeebe:TaskDefinition')[0];
  if (taskDef) {
    const raw = extAttr(taskDef, 'retries');
    if (raw !== null) {
      const t = raw.trim().replace(/^=\s*/, '');
      if (/^\d+$/.test(t)) return { retries: Number(t), backoff: null };
    }
  }
  return null;
}

/** The text of `<camunda:failedJobRetryTimeCycle>` as written, or null when the element has none. */
function retryCycleTextOf(b: any): string | null {
  const cycle = extensionElementsOf(b, 'camunda:FailedJobRetryTimeCycle')[0];
  if (!cycle) return null;
  return extAttr(cycle, 'body') ?? extAttr(cycle, 'value') ?? '';
}

/**
 * Why the element's `camunda:failedJobRetryTimeCycle` cannot be used (a sentence fragment saying what to write),
 * or null when it has none or a valid one.
 */
export function retryCycleProblemOf(el: BpmnElementLike): string | null {
  const text = retryCycleTextOf(unwrapElement(el));
  if (text === null) return null;
  const cycle = parseRetryCycle(text);
  return 'error' in cycle ? cycle.error : null;
}

function isMessageDefinition(ed: any): boolean {
  if (!ed || typeof ed !== 'object') return false;
  return ed.$type === 'bpmn:MessageEventDefinition' || ed.type === 'bpmn:MessageEventDefinition';
}

/**
 * The message a catch/start/boundary event or receive task waits for (also send tasks and throw events, or a
 * bpmn:Message itself): its `name`, and the Camunda 8 correlation key
 * (`<bpmn:message><bpmn:extensionElements><zeebe:subscription correlationKey/>`). Null when the element has no
 * message definition at all.
 *
 * At run time the behaviour only carries `messageRef: { id, type, name }`, not the message's extension elements:
 * pass `lookupMessage` to find the correlation key there, e.g.
 * `(id) => activity.context.definitionContext.getActivityById(id)` (bpmn:Message entries are listed among a
 * serialized context's activities) or `(id) => parsed.moddleContext.elementsById[id]`.
 */
export function messageSubscriptionOf(
  el: BpmnElementLike,
  lookupMessage?: (messageId: string) => BpmnElementLike,
): MessageSubscription | null {
  const b = unwrapElement(el);
  if (!b) return null;

  let ref: any;
  if (b.$type === 'bpmn:Message') {
    ref = b;
  } else if (b.$type === 'bpmn:ReceiveTask' || b.$type === 'bpmn:SendTask') {
    ref = b.messageRef;
  } else {
    const defs: any[] = Array.isArray(b.eventDefinitions) ? b.eventDefinitions : [];
    const def = defs.find(isMessageDefinition);
    if (!def) return null;
    ref = def.messageRef ?? def.behaviour?.messageRef;
  }
  if (!ref || typeof ref !== 'object') return { messageName: null, correlationKey: null };

  let message = ref;
  if (!message.extensionElements && lookupMessage && typeof ref.id === 'string') {
    const found = unwrapElement(lookupMessage(ref.id));
    if (found) message = found;
  }
  const name = str(message.name) ?? str(ref.name);
  const correlationKey = firstExtAttr(message, 'zeebe:Subscription', 'correlationKey');
  return {
    messageName: name !== null && name.trim() ? name : null,
    correlationKey: correlationKey !== null && correlationKey.trim() ? correlationKey.trim() : null,
  };
}

/**
 * The process a call activity calls: the BPMN `calledElement` attribute (what bpmn-engine reads), else
 * `<zeebe:calledElement processId="..."/>` (Camunda 8; bpmn-engine does NOT read it by itself). A value computed
 * by an expression (`${...}`, `=expr`, `processIdExpression`) is `dynamic`; `="P"` counts as the literal `P`.
 */
export function calledElementOf(el: BpmnElementLike): CalledElement | null {
  const b = unwrapElement(el);
  if (!b) return null;
  const attr = bpmnAttr(b, 'calledElement');
  if (attr !== null && attr.trim()) {
    const { name, dynamic } = staticName(attr);
    return { processId: dynamic ? null : name, dynamic, raw: attr, source: 'bpmn' };
  }
  const zeebe = extensionElementsOf(b, 'zeebe:CalledElement')[0];
  if (zeebe) {
    const raw = extAttr(zeebe, 'processId');
    if (raw !== null && raw.trim()) {
      const { name, dynamic } = staticName(raw);
      return { processId: dynamic ? null : name, dynamic, raw, source: 'zeebe' };
    }
    const expr = extAttr(zeebe, 'processIdExpression');
    if (expr !== null && expr.trim()) return { processId: null, dynamic: true, raw: expr, source: 'zeebe' };
  }
  return null;
}

/**
 * An `extendFn` for moddle-context-serializer that copies what bpmn-engine needs but does not read from the
 * Camunda 8 extensions: today the called process of `<zeebe:calledElement processId="P"/>`, which otherwise
 * leaves a call activity waiting forever. Use it when serializing:
 * `serializer(parsed.moddleContext, TypeResolver(Elements), extendBehaviour)`. The serializer keeps the element's
 * own properties over the returned ones, so a BPMN `calledElement` attribute still wins.
 */
export function extendBehaviour(behaviour: BpmnElementLike): Record<string, unknown> {
  const b = unwrapElement(behaviour);
  if (!b || b.$type !== 'bpmn:CallActivity' || bpmnAttr(b, 'calledElement')) return {};
  const called = calledElementOf(b);
  return called?.processId && !called.dynamic ? { calledElement: called.processId } : {};
}

/* ------------------------------------------------------------------------------------------------------------ */
/* versioned bindings (which version of a decision, form or called process an element uses)                      */
/* ------------------------------------------------------------------------------------------------------------ */

/**
 * How an element picks the version of the resource it uses, as Camunda defines it:
 * - `latest` (the default): the latest version when it is used (evaluated, task created);
 * - `deployment`: the version deployed together with the process version (fixed at deploy time);
 * - `version`: the version number given (Camunda 7 `decisionRefVersion`, `formRefVersion`,
 *   `calledElementVersion`; fixed at deploy time);
 * - `versionTag`: the latest version carrying the given version tag when it is used.
 */
export type BindingType = 'latest' | 'deployment' | 'version' | 'versionTag';

export const BINDING_TYPES: readonly BindingType[] = ['latest', 'deployment', 'version', 'versionTag'];

export interface ResourceBinding {
  type: BindingType;
  /** for `version`: the version number (null when missing or not a positive whole number; see `problem`) */
  version: number | null;
  /** for `versionTag`: the tag */
  versionTag: string | null;
  /**
   * Why the binding as written cannot be used (an unknown binding type, a binding type the dialect does not
   * offer, a missing or non-numeric version, a missing tag), or null. The deploy-time validator reports it.
   */
  problem: string | null;
  /** where it was read from, for messages: e.g. 'camunda:decisionRefBinding' or 'zeebe:calledDecision bindingType' */
  source: string;
}

function makeBinding(
  source: string,
  rawType: string | null,
  rawVersion: string | null,
  rawTag: string | null,
  allowed: readonly BindingType[],
): ResourceBinding {
  const typeText = rawType === null || !rawType.trim() ? 'latest' : rawType.trim();
  const binding: ResourceBinding = { type: 'latest', version: null, versionTag: null, problem: null, source };
  if (!(BINDING_TYPES as readonly string[]).includes(typeText) || !allowed.includes(typeText as BindingType)) {
    binding.problem = `${source}="${typeText}" is not a binding type here; use ${allowed.map((a) => `"${a}"`).join(', ')}`;
    return binding;
  }
  binding.type = typeText as BindingType;
  if (binding.type === 'version') {
    const v = (rawVersion ?? '').trim();
    if (/^[1-9]\d*$/.test(v)) binding.version = Number(v);
    else binding.problem = v ? `the version "${v}" is not a positive whole number (expressions are not supported: the version is fixed at deployment)` : 'the binding is "version" but no version number is given';
  }
  if (binding.type === 'versionTag') {
    const t = (rawTag ?? '').trim();
    if (t && !isExpressionValue(t)) binding.versionTag = t;
    else binding.problem = t ? `the version tag "${t}" is an expression; name the tag literally` : 'the binding is "versionTag" but no version tag is given';
  }
  return binding;
}

const ZEEBE_BINDINGS: readonly BindingType[] = ['latest', 'deployment', 'versionTag'];

/**
 * The version binding of a business rule task's decision: Camunda 8 `<zeebe:calledDecision bindingType versionTag>`,
 * Camunda 7 `camunda:decisionRefBinding` (+ `camunda:decisionRefVersion` / `camunda:decisionRefVersionTag`).
 * Default `latest`.
 */
export function decisionBindingOf(el: BpmnElementLike): ResourceBinding {
  const b = unwrapElement(el);
  const called = extensionElementsOf(b, 'zeebe:CalledDecision')[0];
  if (called) return makeBinding('zeebe:calledDecision bindingType', extAttr(called, 'bindingType'), null, extAttr(called, 'versionTag'), ZEEBE_BINDINGS);
  return makeBinding(
    'camunda:decisionRefBinding',
    camundaAttr(b, 'decisionRefBinding'),
    camundaAttr(b, 'decisionRefVersion'),
    camundaAttr(b, 'decisionRefVersionTag'),
    BINDING_TYPES,
  );
}

/**
 * The version binding of a user task's (or start event's) form: Camunda 8 `<zeebe:formDefinition bindingType
 * versionTag>`, Camunda 7 `camunda:formRefBinding` (+ `camunda:formRefVersion`; Camunda 7 has no version tags for
 * forms). Default `latest`.
 */
export function formBindingOf(el: BpmnElementLike): ResourceBinding {
  const b = unwrapElement(el);
  const def = extensionElementsOf(b, 'zeebe:FormDefinition')[0];
  if (def) return makeBinding('zeebe:formDefinition bindingType', extAttr(def, 'bindingType'), null, extAttr(def, 'versionTag'), ZEEBE_BINDINGS);
  // camunda-forms:deployment:<file>.form names the form file of the same deployment (src/engine/form-js.ts)
  if (/^camunda-forms:deployment:/.test(camundaAttr(b, 'formKey') ?? '')) return makeBinding('camunda:formKey', 'deployment', null, null, ['deployment']);
  return makeBinding('camunda:formRefBinding', camundaAttr(b, 'formRefBinding'), camundaAttr(b, 'formRefVersion'), null, ['latest', 'deployment', 'version']);
}

/**
 * The version binding of a call activity: Camunda 8 `<zeebe:calledElement bindingType versionTag>`, Camunda 7
 * `camunda:calledElementBinding` (+ `camunda:calledElementVersion` / `camunda:calledElementVersionTag`).
 * Default `latest`.
 */
export function calledElementBindingOf(el: BpmnElementLike): ResourceBinding {
  const b = unwrapElement(el);
  const zeebe = extensionElementsOf(b, 'zeebe:CalledElement')[0];
  if (zeebe) return makeBinding('zeebe:calledElement bindingType', extAttr(zeebe, 'bindingType'), null, extAttr(zeebe, 'versionTag'), ZEEBE_BINDINGS);
  return makeBinding(
    'camunda:calledElementBinding',
    camundaAttr(b, 'calledElementBinding'),
    camundaAttr(b, 'calledElementVersion'),
    camundaAttr(b, 'calledElementVersionTag'),
    BINDING_TYPES,
  );
}

/** Camunda 7 binding attributes that camunda-bpmn-moddle does not describe (moddle warns about them). */
export const UNDESCRIBED_BINDING_ATTRIBUTES: ReadonlySet<string> = new Set(['camunda:decisionRefVersionTag']);
