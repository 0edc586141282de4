/**
 * Deploy-time rules for errors, escalations, event sub-processes and compensation (issue 9, section 3): what
 * src/engine/runtime/bpmn-events.ts, event-subprocesses.ts and compensation.ts run, and what they cannot, which is
 * refused with the element and what to write instead (never accepted and then ignored). Called by validate.ts
 * for every flow element of the processes it checks; each problem is one sentence for an analyst.
 *
 * Refused: an error boundary or error start event that does not interrupt (BPMN: errors always interrupt);
 * error / escalation catches on intermediate catch events (not BPMN); an error or escalation catch whose code
 * is an expression (catch codes are literals); event sub-processes without exactly one start event, or started
 * by a condition, by compensation, or by nothing; compensation the runtime does not run (see
 * compensationProblems: handlers not set up as BPMN says, multi-instance compensable activities, not waiting
 * for completion, compensating activities inside a sub-process from outside it).
 */
import { describeElement } from './parse.ts';

const EXPRESSION = /^\s*(=|\$\{|#\{)/;
const q = (v: string) => JSON.stringify(v);

function definitionsOf(el: any): any[] {
  return Array.isArray(el?.eventDefinitions) ? el.eventDefinitions : [];
}

function codeOf(ed: any): unknown {
  return ed?.$type === 'bpmn:ErrorEventDefinition' ? ed.errorRef?.errorCode : ed?.escalationRef?.escalationCode;
}

/** The problems of one flow element (empty when it is fine). */
export function eventProblems(el: any): string[] {
  const out: string[] = [];
  const d = describeElement(el);
  const defs = definitionsOf(el);
  const errorDef = defs.find((ed) => ed?.$type === 'bpmn:ErrorEventDefinition');
  const escalationDef = defs.find((ed) => ed?.$type === 'bpmn:EscalationEventDefinition');

  if (el?.$type === 'bpmn:BoundaryEvent' && errorDef && el.cancelActivity === false) {
    out.push(`${d} catches an error without interrupting (cancelActivity="false"), but an error always interrupts the activity it is attached to: remove cancelActivity="false" (make it interrupting), or throw an escalation for a notice that lets the activity go on.`);
  }
  if (el?.$type === 'bpmn:StartEvent' && errorDef && el.isInterrupting === false && el.$parent?.triggeredByEvent) {
    out.push(`${d} starts its event sub-process on an error without interrupting (isInterrupting="false"), but an error always interrupts its scope: make the start event interrupting, or use an escalation start event for a non-interrupting one.`);
  }
  if (el?.$type === 'bpmn:IntermediateCatchEvent' && (errorDef || escalationDef)) {
    out.push(`${d} waits for ${errorDef ? 'an error' : 'an escalation'} in the flow, which BPMN does not allow: catch it with a boundary event on the sub-process (or task) it comes from, or with an event sub-process.`);
  }
  const catching = el?.$type === 'bpmn:BoundaryEvent' || el?.$type === 'bpmn:StartEvent';
  for (const ed of [errorDef, escalationDef]) {
    const code = codeOf(ed);
    if (catching && ed && typeof code === 'string' && EXPRESSION.test(code)) {
      out.push(`${d} catches the ${ed === errorDef ? 'error' : 'escalation'} code ${q(code)}, an expression: a catch event's code must be written literally (only a throw event may compute its code). Write the code itself, or leave the code empty to catch every code.`);
    }
  }
  if (el?.triggeredByEvent) out.push(...eventSubProcessProblems(el));
  if (el?.$type === 'bpmn:StartEvent' && el.$parent?.triggeredByEvent) out.push(...eventSubProcessStartProblems(el));
  out.push(...compensationProblems(el));
  return out;
}

const SUB_PROCESSES = new Set(['bpmn:SubProcess', 'bpmn:Transaction', 'bpmn:AdHocSubProcess']);
const flowElementsOf = (container: any): any[] => (Array.isArray(container?.flowElements) ? container.flowElements : []);
const artifactsOf = (container: any): any[] => (Array.isArray(container?.artifacts) ? container.artifacts : []);
const isCompensationBoundary = (el: any) => el?.$type === 'bpmn:BoundaryEvent' && definitionsOf(el).some((ed) => ed?.$type === 'bpmn:CompensateEventDefinition');

/** The compensation boundary events attached to activities of `container` (not deeper). */
function compensationBoundariesIn(container: any): any[] {
  return flowElementsOf(container).filter(isCompensationBoundary);
}

/**
 * Compensation as src/engine/runtime/compensation.ts runs it: a compensation boundary event has exactly one
 * handler (an isForCompensation activity of the same scope, associated with it, without sequence flows), is not
 * on a multi-instance activity; a compensation throw waits for its handlers and compensates the activities of its
 * own scope (one in an event sub-process: the scope that sub-process is in), not those inside its sub-processes.
 */
function compensationProblems(el: any): string[] {
  const out: string[] = [];
  const d = describeElement(el);
  const container = el?.$parent;
  if (isCompensationBoundary(el)) {
    const handlers = artifactsOf(container).filter((a) => a?.$type === 'bpmn:Association' && a.sourceRef === el).map((a) => a.targetRef).filter(Boolean);
    if (handlers.length !== 1) {
      out.push(`${d} is a compensation boundary event with ${handlers.length} associated handlers: associate it with exactly one activity marked "for compensation" (isForCompensation="true") in the same ${container?.$type === 'bpmn:Process' ? 'process' : 'sub-process'}, which undoes what the activity did.`);
    } else if (!handlers[0].isForCompensation) {
      out.push(`${d} is associated with ${describeElement(handlers[0])}, which is not marked for compensation: set isForCompensation="true" on it (it then has no sequence flows and runs only to compensate).`);
    }
    if (el.attachedToRef?.loopCharacteristics) {
      out.push(`${d} compensates ${describeElement(el.attachedToRef)}, a loop or multi-instance activity, which the engine does not compensate: put the activity and its compensation in a sub-process that is the loop, or compensate it another way.`);
    }
  }
  if (el?.isForCompensation) {
    const flows = flowElementsOf(container).filter((f) => f?.$type === 'bpmn:SequenceFlow' && (f.sourceRef === el || f.targetRef === el));
    if (flows.length) out.push(`${d} is marked for compensation but has sequence flows (${flows.map((f) => f.id).join(', ')}): a compensation handler only runs when compensation is thrown; remove its sequence flows, or unmark it.`);
    const associated = artifactsOf(container).some((a) => a?.$type === 'bpmn:Association' && a.targetRef === el && isCompensationBoundary(a.sourceRef));
    if (!associated) out.push(`${d} is marked for compensation but no compensation boundary event is associated with it, so it never runs: associate it with the compensation boundary event of the activity it undoes.`);
  }
  const compensate = (el?.$type === 'bpmn:IntermediateThrowEvent' || el?.$type === 'bpmn:EndEvent') ? definitionsOf(el).find((ed) => ed?.$type === 'bpmn:CompensateEventDefinition') : null;
  if (compensate) {
    if (compensate.waitForCompletion === false) {
      out.push(`${d} throws compensation without waiting for it (waitForCompletion="false"), which the engine does not do: remove waitForCompletion="false"; the flow then goes on once every handler has completed.`);
    }
    const scope = container?.triggeredByEvent ? container.$parent : container;
    const scopeText = scope?.$type === 'bpmn:Process' ? 'its process' : describeElement(scope);
    const ref = compensate.activityRef;
    if (ref && !compensationBoundariesIn(scope).some((b: any) => b.attachedToRef === ref)) {
      out.push(`${d} compensates ${describeElement(ref)}, which is not an activity of ${scopeText} with a compensation boundary event: name an activity of the same scope that has one, or leave activityRef empty to compensate every completed activity of the scope.`);
    }
    const nested: { boundary: any; sub: any }[] = [];
    const visit = (c: any, top: any) => {
      for (const f of flowElementsOf(c)) {
        if (!SUB_PROCESSES.has(f.$type) || f.triggeredByEvent) continue;
        for (const b of compensationBoundariesIn(f)) nested.push({ boundary: b, sub: top ?? f });
        visit(f, top ?? f);
      }
    };
    if (!ref) visit(scope, null);
    for (const { boundary, sub } of nested) {
      out.push(`${d} compensates the completed activities of ${scopeText}, but ${describeElement(boundary.attachedToRef)} is inside ${describeElement(sub)}, and the engine does not compensate activities inside a sub-process from outside it: throw compensation inside that sub-process (for example from an event sub-process of it), or move the activity out of it.`);
    }
  }
  return out;
}

/** An event sub-process: exactly one start event. */
function eventSubProcessProblems(esp: any): string[] {
  const d = describeElement(esp);
  const starts = (Array.isArray(esp.flowElements) ? esp.flowElements : []).filter((f: any) => f?.$type === 'bpmn:StartEvent');
  if (starts.length === 1) return [];
  // a timer start's own check (validate.ts checkTimer) already says it for timer event sub-processes
  if (starts.length > 1 && starts.some((s: any) => definitionsOf(s).some((ed) => ed?.$type === 'bpmn:TimerEventDefinition'))) return [];
  return [`${d} is an event sub-process with ${starts.length} start events: it needs exactly one, saying what starts it (a message, signal, timer, error or escalation). Use one event sub-process per trigger.`];
}

/** The start event of an event sub-process: started by a message, signal, timer, error or escalation. */
function eventSubProcessStartProblems(start: any): string[] {
  const esp = start.$parent;
  const defs = definitionsOf(start);
  const sd = describeElement(start);
  if (!defs.length) {
    return [`${sd} starts event sub-process ${esp.id} without saying what starts it: an event sub-process needs a message, signal, timer, error or escalation start event.`];
  }
  if (defs.length > 1) {
    return [`${sd} has ${defs.length} triggers; an event sub-process start event must have exactly one: use one event sub-process per trigger.`];
  }
  switch (defs[0]?.$type) {
    case 'bpmn:ConditionalEventDefinition':
      return [`${sd} starts event sub-process ${esp.id} on a condition, which the engine does not run: start it with a message, signal, timer, error or escalation instead.`];
    case 'bpmn:CompensateEventDefinition':
      return [`${sd} starts event sub-process ${esp.id} on compensation, which the engine does not run: attach a compensation boundary event with its handler to each activity to undo instead.`];
    default:
      return [];
  }
}
