/**
 * The scopes of a process and what catches in them, compiled once per process version from the parsed
 * document (pure, no engine objects): the parent scope of every flow node (embedded sub-process, event
 * sub-process, transaction or the process), the error / escalation / compensation boundary events by the
 * activity they are attached to, the event sub-processes of every scope with what starts them, the error and
 * escalation throw events, and the activities whose compensation handler is attached.
 *
 * `resolveCatcher` decides who catches a BPMN error or escalation (BPMN 2.0 §10.5.6, Camunda 7/8): starting at
 * the activity that threw, the scopes are visited from the innermost outwards; at each step the boundary events
 * attached to the activity (for an enclosing sub-process: attached to it) come first, then the event
 * sub-processes of the scope that activity is in. Within one step a catcher naming the code wins over a
 * catch-all (no reference, or a reference without a code). The live side (runtime/bpmn-events.ts) triggers it.
 * Compensation: the compensable activities with their handlers and the compensation throw events, for
 * runtime/compensation.ts.
 */
import { messageSubscriptionOf } from '../definitions/bindings.ts';

export type ThrowKind = 'error' | 'escalation';
export type EventSubProcessTrigger = 'message' | 'signal' | 'timer' | 'error' | 'escalation' | 'conditional' | 'compensate' | 'none';

/** An error or escalation boundary event, or the start event of an error / escalation event sub-process. */
export interface Catcher {
  kind: ThrowKind;
  /** the boundary event, or the event sub-process */
  id: string;
  via: 'boundary' | 'eventSubProcess';
  /** the boundary event itself, or the start event of the event sub-process */
  eventId: string;
  /** the code caught; null catches every code */
  code: string | null;
  /** the bpmn:Error / bpmn:Escalation referenced (bpmn-elements matches a catch by it); null when none */
  refId: string | null;
  /** cancelActivity of a boundary, isInterrupting of an event sub-process start (BPMN default: true) */
  interrupting: boolean;
  /** camunda:errorCodeVariable / camunda:escalationCodeVariable: receives the code when caught */
  codeVariable: string | null;
  /** camunda:errorMessageVariable: receives the error message when caught */
  messageVariable: string | null;
}

export interface EventSubProcessInfo {
  /** the event sub-process (bpmn:SubProcess triggeredByEvent="true") */
  id: string;
  /** the scope it is in: a sub-process id or the process id */
  scope: string;
  /** its start event (the first one when there are several; validation refuses more) */
  startId: string;
  trigger: EventSubProcessTrigger;
  interrupting: boolean;
  /** message or signal name (message: as written; may be FEEL) */
  eventName: string | null;
  /** error / escalation catchers: the catcher */
  catcher: Catcher | null;
}

export interface ThrowInfo {
  kind: ThrowKind;
  /** the code as written: a literal, or FEEL (=... / ${...}) evaluated when thrown; null: no reference */
  code: string | null;
  refId: string | null;
  /** the name of the referenced error / escalation */
  name: string | null;
  /** an end event (ends its path) or an intermediate throw event (continues) */
  end: boolean;
}

export interface EventScopes {
  /** the parent scope of every flow node (and of every scope): a sub-process id or the process id */
  parentOf: Map<string, string>;
  /** ids of the scopes that are sub-processes (embedded, event, transaction, ad-hoc) */
  subProcesses: Set<string>;
  /** error and escalation boundary events by the id of the activity they are attached to */
  boundaries: Map<string, Catcher[]>;
  /** event sub-processes by the id of the scope they are in */
  eventSubProcesses: Map<string, EventSubProcessInfo[]>;
  /** event sub-processes by their own id */
  eventSubProcessById: Map<string, EventSubProcessInfo>;
  /** error and escalation throw events (end and intermediate) by id */
  throws: Map<string, ThrowInfo>;
  /** activities with a compensation boundary event: activity id -> its compensation handler's id */
  compensable: Map<string, string>;
  /** compensation boundary events */
  compensationBoundaries: Set<string>;
  /** compensation handlers (isForCompensation activities associated with a compensation boundary) */
  compensationHandlers: Set<string>;
  /** compensation throw events (intermediate and end) by id: the one activity they compensate, or null for all */
  compensationThrows: Map<string, { activityRef: string | null }>;
}

const SCOPE_TYPES = new Set(['bpmn:SubProcess', 'bpmn:Transaction', 'bpmn:AdHocSubProcess']);

function codeOf(ref: any, kind: ThrowKind): string | null {
  const raw = kind === 'error' ? ref?.errorCode : ref?.escalationCode;
  if (raw === undefined || raw === null) return null;
  const s = String(raw).trim();
  return s === '' ? null : s;
}

function camundaAttr(el: any, name: string): string | null {
  const v = el?.[name] ?? el?.$attrs?.[`camunda:${name}`] ?? (typeof el?.get === 'function' ? safeGet(el, `camunda:${name}`) : undefined);
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}

function safeGet(el: any, name: string): unknown {
  try {
    return el.get(name);
  } catch {
    return undefined;
  }
}

function catcherOf(kind: ThrowKind, ed: any, base: { id: string; via: Catcher['via']; eventId: string; interrupting: boolean }): Catcher {
  const ref = kind === 'error' ? ed.errorRef : ed.escalationRef;
  return {
    kind,
    ...base,
    code: ref ? codeOf(ref, kind) : null,
    refId: typeof ref?.id === 'string' ? ref.id : null,
    codeVariable: camundaAttr(ed, kind === 'error' ? 'errorCodeVariable' : 'escalationCodeVariable'),
    messageVariable: kind === 'error' ? camundaAttr(ed, 'errorMessageVariable') : null,
  };
}

function throwKindOf(ed: any): ThrowKind | null {
  if (ed?.$type === 'bpmn:ErrorEventDefinition') return 'error';
  if (ed?.$type === 'bpmn:EscalationEventDefinition') return 'escalation';
  return null;
}

function triggerOf(ed: any): EventSubProcessTrigger {
  switch (ed?.$type) {
    case 'bpmn:MessageEventDefinition': return 'message';
    case 'bpmn:SignalEventDefinition': return 'signal';
    case 'bpmn:TimerEventDefinition': return 'timer';
    case 'bpmn:ErrorEventDefinition': return 'error';
    case 'bpmn:EscalationEventDefinition': return 'escalation';
    case 'bpmn:ConditionalEventDefinition': return 'conditional';
    case 'bpmn:CompensateEventDefinition': return 'compensate';
    default: return 'none';
  }
}

/** Compiles the scope index of every process of a parsed document (moddle root element). */
export function compileEventScopes(rootElement: any): EventScopes {
  const out: EventScopes = {
    parentOf: new Map(),
    subProcesses: new Set(),
    boundaries: new Map(),
    eventSubProcesses: new Map(),
    eventSubProcessById: new Map(),
    throws: new Map(),
    compensable: new Map(),
    compensationBoundaries: new Set(),
    compensationHandlers: new Set(),
    compensationThrows: new Map(),
  };
  const visit = (container: any) => {
    for (const a of container?.artifacts ?? []) {
      const source = a?.$type === 'bpmn:Association' ? a.sourceRef : null;
      const target = a?.targetRef;
      if (!source || !target?.isForCompensation || source.$type !== 'bpmn:BoundaryEvent' || !source.attachedToRef?.id) continue;
      if (!(source.eventDefinitions ?? []).some((ed: any) => ed?.$type === 'bpmn:CompensateEventDefinition')) continue;
      out.compensable.set(source.attachedToRef.id, target.id);
      out.compensationHandlers.add(target.id);
    }
    for (const el of container?.flowElements ?? []) {
      if (el.$type === 'bpmn:SequenceFlow') continue;
      out.parentOf.set(el.id, container.id);
      const defs: any[] = Array.isArray(el.eventDefinitions) ? el.eventDefinitions : [];
      if (el.$type === 'bpmn:BoundaryEvent' && defs.some((ed) => ed?.$type === 'bpmn:CompensateEventDefinition')) out.compensationBoundaries.add(el.id);
      if ((el.$type === 'bpmn:EndEvent' || el.$type === 'bpmn:IntermediateThrowEvent') && defs.some((ed) => ed?.$type === 'bpmn:CompensateEventDefinition')) {
        const ed = defs.find((x) => x?.$type === 'bpmn:CompensateEventDefinition');
        out.compensationThrows.set(el.id, { activityRef: typeof ed?.activityRef?.id === 'string' ? ed.activityRef.id : null });
      }
      if (el.$type === 'bpmn:BoundaryEvent' && el.attachedToRef?.id) {
        for (const ed of defs) {
          const kind = throwKindOf(ed);
          if (!kind) continue;
          const list = out.boundaries.get(el.attachedToRef.id) ?? [];
          list.push(catcherOf(kind, ed, { id: el.id, via: 'boundary', eventId: el.id, interrupting: el.cancelActivity !== false }));
          out.boundaries.set(el.attachedToRef.id, list);
        }
      }
      if (el.$type === 'bpmn:EndEvent' || el.$type === 'bpmn:IntermediateThrowEvent') {
        for (const ed of defs) {
          const kind = throwKindOf(ed);
          if (!kind) continue;
          const ref = kind === 'error' ? ed.errorRef : ed.escalationRef;
          out.throws.set(el.id, { kind, code: ref ? codeOf(ref, kind) : null, refId: typeof ref?.id === 'string' ? ref.id : null, name: typeof ref?.name === 'string' ? ref.name : null, end: el.$type === 'bpmn:EndEvent' });
        }
      }
      if (SCOPE_TYPES.has(el.$type)) {
        out.subProcesses.add(el.id);
        if (el.triggeredByEvent) {
          const start = (el.flowElements ?? []).find((f: any) => f.$type === 'bpmn:StartEvent');
          if (start) {
            const ed = (Array.isArray(start.eventDefinitions) ? start.eventDefinitions : [])[0];
            const trigger = triggerOf(ed);
            const interrupting = start.isInterrupting !== false;
            const kind = throwKindOf(ed);
            const info: EventSubProcessInfo = {
              id: el.id,
              scope: container.id,
              startId: start.id,
              trigger,
              interrupting,
              eventName: trigger === 'message' ? (messageSubscriptionOf(start)?.messageName ?? null) : trigger === 'signal' ? (ed?.signalRef?.name ?? null) : null,
              catcher: kind ? catcherOf(kind, ed, { id: el.id, via: 'eventSubProcess', eventId: start.id, interrupting }) : null,
            };
            out.eventSubProcesses.set(container.id, [...(out.eventSubProcesses.get(container.id) ?? []), info]);
            out.eventSubProcessById.set(el.id, info);
          }
        }
        visit(el);
      }
    }
  };
  for (const root of rootElement?.rootElements ?? []) if (root?.$type === 'bpmn:Process') visit(root);
  return out;
}

/** One place a BPMN error or escalation can be caught, found by resolveCatcher. */
export interface Resolution {
  catcher: Catcher;
  /**
   * boundary: the activity the boundary is attached to; event sub-process: the scope (sub-process or process)
   * the event sub-process is in, which an interrupting one cancels
   */
  scope: string;
}

/** Whether `catcher` catches `code` specifically (2), as a catch-all (1), or not (0). */
function matchRank(catcher: Catcher, kind: ThrowKind, code: string | null): 0 | 1 | 2 {
  if (catcher.kind !== kind) return 0;
  if (catcher.code === null) return 1;
  return code !== null && catcher.code === code ? 2 : 0;
}

function best(candidates: Catcher[], kind: ThrowKind, code: string | null): Catcher | null {
  let found: Catcher | null = null;
  let rank = 0;
  for (const c of candidates) {
    const r = matchRank(c, kind, code);
    if (r > rank) {
      found = c;
      rank = r;
    }
  }
  return found;
}

/**
 * Who catches `kind`/`code` thrown by `throwerId` (an activity whose handler threw, or a throw event), or null
 * when nothing in this process does. `isLive(resolution)` may reject a catcher that is not waiting (a
 * non-interrupting boundary that already fired): the search then goes on outwards.
 */
export function resolveCatcher(
  scopes: EventScopes,
  throwerId: string,
  kind: ThrowKind,
  code: string | null,
  isLive: (r: Resolution) => boolean = () => true,
): Resolution | null {
  let activity = throwerId;
  let cameFromEventSubProcess = false;
  for (let guard = 0; guard < 1000; guard++) {
    const here = activity;
    const boundary = best((scopes.boundaries.get(here) ?? []).filter((c) => isLive({ catcher: c, scope: here })), kind, code);
    if (boundary) return { catcher: boundary, scope: here };
    const scope = scopes.parentOf.get(activity);
    if (scope === undefined) return null;
    // an error or escalation from inside an event sub-process is not caught again by the event sub-processes of
    // the scope it belongs to: it goes to that scope's boundary events and further out
    if (!cameFromEventSubProcess) {
      const live = (scopes.eventSubProcesses.get(scope) ?? []).map((e) => e.catcher).filter((c): c is Catcher => c !== null && isLive({ catcher: c, scope }));
      const esp = best(live, kind, code);
      if (esp) return { catcher: esp, scope };
    }
    cameFromEventSubProcess = scopes.eventSubProcessById.has(scope);
    if (!scopes.subProcesses.has(scope)) return null; // the process: nothing further out
    activity = scope;
  }
  return null;
}

/** The scopes enclosing `activityId`, innermost first, ending with the process id. */
export function scopeChain(scopes: EventScopes, activityId: string): string[] {
  const chain: string[] = [];
  let current = scopes.parentOf.get(activityId);
  while (current !== undefined && chain.length < 1000) {
    chain.push(current);
    current = scopes.parentOf.get(current);
  }
  return chain;
}
