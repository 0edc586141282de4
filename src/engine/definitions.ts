/**
 * Compiles a deployed BPMN version once: parse (safe XML, dialect chosen by namespace), serialize the moddle
 * context for bpmn-engine, and index what the runtime needs per activity (handler binding, decision, user-task
 * assignment, messages, retries). Instances never carry the source; they are recovered from this cache.
 */
import * as Elements from 'bpmn-elements';
import serializer, { TypeResolver } from 'moddle-context-serializer';
import { parseBpmn, moddleOptionsFor, type ParsedBpmn } from '../definitions/parse.ts';
import {
  handlerNameOf,
  decisionRefOf,
  userTaskSpecOf,
  retryCycleOf,
  messageSubscriptionOf,
  extendBehaviour,
  type UserTaskSpec,
} from '../definitions/bindings.ts';

export type { UserTaskSpec };

export type ActivityKind =
  | 'userTask'
  | 'serviceTask'
  | 'receiveTask'
  | 'catchEvent'
  | 'startEvent'
  | 'boundaryEvent'
  | 'gateway'
  | 'endEvent'
  | 'other';

export interface ActivityInfo {
  id: string;
  type: string;
  kind: ActivityKind;
  name: string | null;
  handler: string | null;
  decision: { decisionId: string; resultVariable: string | null } | null;
  retries: number | null;
  /**
   * The wait before each retry: one ISO 8601 duration for every retry (R5/PT5M), or the waits in order, the last
   * one repeating (camunda:failedJobRetryTimeCycle PT1M,PT5M,PT30M); null for the default back-off
   */
  retryBackoff: string | readonly string[] | null;
  userTask: UserTaskSpec | null;
  message: boolean;
  messageName: string | null;
  correlationKey: string | null;
  signal: boolean;
  signalName: string | null;
  timer: boolean;
  /** the raw timer value (literal or FEEL) of a timer event */
  timerSpec: { type: 'timeDuration' | 'timeDate' | 'timeCycle'; value: string } | null;
  attachedTo: string | null;
  /** error codes caught by error boundary events attached to this activity ('*' = any) */
  catches: string[];
  /** camunda:asyncBefore: the transition commits before the handler runs (a transaction boundary) */
  asyncBefore: boolean;
}

export interface CachedDefinition {
  id: string;
  key: string;
  version: number;
  name: string | null;
  dialect: ParsedBpmn['dialect'];
  moddleOptions: Record<string, unknown>;
  sourceContext: any;
  activities: Map<string, ActivityInfo>;
  /** the start form key of the process (its start event's formKey), if any */
  startFormKey: string | null;
  /** message start events: message name -> start activity id */
  messageStarts: Map<string, string>;
  timerStarts: string[];
  /** timer-started event sub-processes directly in a process: bpmn-elements never arms them, the runtime does */
  timerEventSubProcesses: TimerEventSubProcess[];
}

export interface TimerEventSubProcess {
  /** the event sub-process (bpmn:SubProcess triggeredByEvent="true") */
  id: string;
  /** its timer start event */
  startId: string;
  /** isInterrupting on the start event (BPMN default: true) */
  interrupting: boolean;
}

const typeResolver = TypeResolver(Elements as any);

function kindOf(type: string): ActivityKind {
  switch (type) {
    case 'bpmn:UserTask':
      return 'userTask';
    case 'bpmn:ServiceTask':
    case 'bpmn:SendTask':
    case 'bpmn:BusinessRuleTask':
      return 'serviceTask';
    case 'bpmn:ReceiveTask':
      return 'receiveTask';
    case 'bpmn:IntermediateCatchEvent':
      return 'catchEvent';
    case 'bpmn:StartEvent':
      return 'startEvent';
    case 'bpmn:BoundaryEvent':
      return 'boundaryEvent';
    case 'bpmn:EndEvent':
      return 'endEvent';
    default:
      return type.endsWith('Gateway') ? 'gateway' : 'other';
  }
}

function timerSpecOf(timerDef: any): ActivityInfo['timerSpec'] {
  if (!timerDef) return null;
  for (const type of ['timeDuration', 'timeDate', 'timeCycle'] as const) {
    const body = timerDef[type]?.body;
    if (typeof body === 'string' && body.trim()) return { type, value: body.trim() };
  }
  return null;
}

/** Build the runtime index from an already parsed document for one process of it. */
export function compileDefinition(
  parsed: ParsedBpmn,
  meta: { id: string; key: string; version: number; name: string | null },
): CachedDefinition {
  const sourceContext: any = serializer(parsed.moddleContext, typeResolver, extendBehaviour as any);
  const byId: Record<string, any> = parsed.moddleContext.elementsById ?? {};
  const activities = new Map<string, ActivityInfo>();
  const messageStarts = new Map<string, string>();
  const timerStarts: string[] = [];
  const timerEventSubProcesses: TimerEventSubProcess[] = [];
  let startFormKey: string | null = null;

  for (const a of sourceContext.getActivities() as any[]) {
    const el = byId[a.id];
    const eventDefs: any[] = el?.eventDefinitions ?? [];
    const msgDef = eventDefs.find((d) => d.$type === 'bpmn:MessageEventDefinition');
    const sigDef = eventDefs.find((d) => d.$type === 'bpmn:SignalEventDefinition');
    const timerDef = eventDefs.find((d) => d.$type === 'bpmn:TimerEventDefinition');
    const kind = kindOf(a.type);
    const isRule = a.type === 'bpmn:BusinessRuleTask';
    const decision = isRule && el ? decisionRefOf(el) : null;
    const handler = kind === 'serviceTask' && el && !decision ? handlerNameOf(el) : null;
    const retry = kind === 'serviceTask' && el ? retryCycleOf(el) : null;
    const sub = (msgDef || a.type === 'bpmn:ReceiveTask') && el ? messageSubscriptionOf(el) : null;
    const info: ActivityInfo = {
      id: a.id,
      type: a.type,
      kind,
      name: a.name ?? null,
      handler,
      decision,
      retries: retry?.retries ?? null,
      retryBackoff: retry?.intervals ?? retry?.backoff ?? null,
      userTask: kind === 'userTask' && el ? userTaskSpecOf(el) : null,
      message: Boolean(msgDef) || a.type === 'bpmn:ReceiveTask',
      messageName: sub?.messageName ?? null,
      correlationKey: sub?.correlationKey ?? null,
      signal: Boolean(sigDef),
      signalName: sigDef?.signalRef?.name ?? null,
      timer: Boolean(timerDef),
      timerSpec: timerSpecOf(timerDef),
      attachedTo: el?.attachedToRef?.id ?? null,
      catches: [],
      asyncBefore: Boolean(el && (el.asyncBefore || el.async || el.get?.('camunda:asyncBefore') === true)),
    };
    activities.set(a.id, info);
    if (kind === 'startEvent') {
      const parentIsProcess = el?.$parent?.$type === 'bpmn:Process';
      if (parentIsProcess && msgDef && info.messageName) messageStarts.set(info.messageName, a.id);
      if (parentIsProcess && timerDef) timerStarts.push(a.id);
      const scope = el?.$parent;
      if (timerDef && scope?.$type === 'bpmn:SubProcess' && scope.triggeredByEvent && scope.$parent?.$type === 'bpmn:Process') {
        timerEventSubProcesses.push({ id: scope.id, startId: a.id, interrupting: el.isInterrupting !== false });
      }
      if (parentIsProcess && !startFormKey && el) startFormKey = userTaskSpecOf(el).formKey ?? null;
    }
  }

  for (const info of activities.values()) {
    if (info.kind !== 'boundaryEvent' || !info.attachedTo) continue;
    const el = byId[info.id];
    for (const d of el?.eventDefinitions ?? []) {
      if (d.$type !== 'bpmn:ErrorEventDefinition') continue;
      const code = d.errorRef?.errorCode;
      activities.get(info.attachedTo)?.catches.push(code === undefined || code === null || code === '' ? '*' : String(code));
    }
  }

  return {
    ...meta,
    dialect: parsed.dialect,
    moddleOptions: moddleOptionsFor(parsed.dialect),
    sourceContext: withoutSerialization(sourceContext),
    activities,
    startFormKey,
    messageStarts,
    timerStarts,
    timerEventSubProcesses,
  };
}

/**
 * bpmn-engine's getState() serializes the whole source into every state (~4.5x the XML). We store the state
 * without it, so the serialization is skipped altogether; recovery finds the source by definition id.
 */
function withoutSerialization(sourceContext: any): any {
  const wrapped = Object.create(sourceContext);
  wrapped.serialize = () => undefined;
  return wrapped;
}

/** Parses and compiles the given XML; a cache keyed by definition id keeps each version compiled once. */
export class DefinitionCache {
  private readonly cache = new Map<string, Promise<CachedDefinition>>();

  get(
    meta: { id: string; key: string; version: number; name: string | null },
    loadXml: () => Promise<string>,
  ): Promise<CachedDefinition> {
    let p = this.cache.get(meta.id);
    if (!p) {
      p = loadXml().then(async (xml) => compileDefinition(await parseBpmn(xml), meta));
      p.catch(() => this.cache.delete(meta.id));
      this.cache.set(meta.id, p);
    }
    return p;
  }

  put(def: CachedDefinition): void {
    this.cache.set(def.id, Promise.resolve(def));
  }
}
