/**
 * Compiles a deployed BPMN version once: parse (safe XML, dialect chosen by namespace), serialize the moddle
 * context for bpmn-engine, and index what the runtime needs per activity (handler binding, decision and its
 * version binding, user-task assignment and form binding, called process, messages, retries). Instances never
 * carry the source; they are recovered from this cache.
 *
 * A process version also carries the versions its decisions, forms and called processes were resolved to when
 * it was deployed (ResolvedBindings, stored with the version): the runtime honours them (binding `deployment`
 * and `version`), or looks up the latest (tagged) version when the binding says so.
 */
import * as Elements from 'bpmn-elements';
import serializer, { TypeResolver } from 'moddle-context-serializer';
import { parseBpmn, moddleOptionsFor, type ParsedBpmn } from '../definitions/parse.ts';
import { DOCUMENTATION_ROOTS } from '../definitions/support.ts';
import {
  handlerNameOf,
  decisionRefOf,
  decisionBindingOf,
  formBindingOf,
  calledElementOf,
  calledElementBindingOf,
  userTaskSpecOf,
  retryCycleOf,
  messageSubscriptionOf,
  extendBehaviour,
  type BindingType,
  type ResourceBinding,
  type UserTaskSpec,
} from '../definitions/bindings.ts';
import { compileEventScopes, type EventScopes } from './event-scopes.ts';
import { activityDataOf, adjustSerializedModel, type ActivityData } from './activity-data.ts';
import { messageFlowsOf } from './message-flows.ts';

export type { UserTaskSpec, BindingType, ResourceBinding };

/** One resolved binding of an activity, as stored with the process version (JSON). */
export interface ResolvedBinding {
  /** decision key, form key or called process id */
  key: string;
  binding: BindingType;
  /**
   * The version resolved at deploy time. For `deployment` and `version` it is the version used at run time; for
   * `latest` and `versionTag` it is what the binding pointed to when the process was deployed (the run time
   * looks again).
   */
  version: number;
  /** for `versionTag` */
  versionTag?: string;
}

/**
 * The bindings of one process version, by activity id: what each business rule task evaluates, what form each
 * user task (or the start event) shows, what each call activity calls. Stored as JSON on process_definitions.
 */
export interface ResolvedBindings {
  decisions: Record<string, ResolvedBinding>;
  forms: Record<string, ResolvedBinding>;
  /** call activities call a process of the same file: version is the caller's own version */
  calledProcesses: Record<string, ResolvedBinding & { definitionId: string }>;
}

export const NO_BINDINGS: ResolvedBindings = Object.freeze({ decisions: {}, forms: {}, calledProcesses: {} }) as ResolvedBindings;

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
  /** the decision a business rule task evaluates, and how its version is chosen */
  decision: { decisionId: string; resultVariable: string | null; binding: ResourceBinding } | null;
  /** the form of a user task (or start event) as written, and how its version is chosen; null without a form */
  form: { key: string; binding: ResourceBinding } | null;
  /** the process a call activity calls, and the binding written for it */
  calledElement: { processId: string | null; binding: ResourceBinding } | null;
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
  /** input/output mappings (src/engine/activity-data.ts); absent or null: none */
  io?: ActivityData['io'];
  /** multi-instance characteristics; absent or null: not multi-instance */
  loop?: ActivityData['loop'];
  /** a call activity's variable passing; absent or null: not a call activity */
  call?: ActivityData['call'];
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
  /** the versions resolved at deploy time (empty for versions deployed before bindings were recorded) */
  bindings: ResolvedBindings;
  /** scopes, boundary catchers, event sub-processes and throw events (src/engine/event-scopes.ts) */
  eventScopes: EventScopes;
  /** message flows to other executable pools of the file: source activity id -> target's message name (./message-flows.ts) */
  messageFlows?: Map<string, string>;
}

export interface TimerEventSubProcess {
  /** the event sub-process (bpmn:SubProcess triggeredByEvent="true") */
  id: string;
  /** its timer start event */
  startId: string;
  /** isInterrupting on the start event (BPMN default: true) */
  interrupting: boolean;
}

// documentation-only root elements without a bpmn-elements type (item definitions, resources, interfaces...) compile
// as placeholders, which no process runs (src/definitions/support.ts DOCUMENTATION_ROOTS)
const typeResolver = TypeResolver(Elements as any, (mapper: Record<string, unknown>) => {
  for (const type of DOCUMENTATION_ROOTS) if (!mapper[type] && !(type.slice(5) in Elements)) mapper[type] = (Elements as any).Dummy;
});

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

function formOf(kind: ActivityKind, el: any): ActivityInfo['form'] {
  if ((kind !== 'userTask' && kind !== 'startEvent') || !el) return null;
  const key = userTaskSpecOf(el).formKey;
  return key ? { key, binding: formBindingOf(el) } : null;
}

/** Build the runtime index from an already parsed document for one process of it. */
export function compileDefinition(
  parsed: ParsedBpmn,
  meta: { id: string; key: string; version: number; name: string | null; bindings?: ResolvedBindings },
): CachedDefinition {
  const sourceContext: any = serializer(parsed.moddleContext, typeResolver, extendBehaviour as any);
  const byId: Record<string, any> = parsed.moddleContext.elementsById ?? {};
  // the process this version runs: its key; a process of the file that is not executable runs when it is called
  // (deployed as its own definition, see calledProcessesInFile); start events of the other processes start nothing
  const ownProcess = parsed.processes.some((p) => p.id === meta.key) ? meta.key : null;
  // a process only ever called (not executable in its file) is never started by a message or a timer of its own
  const calledOnly = parsed.processes.some((p) => p.id === meta.key && !p.isExecutable);
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
    const ref = isRule && el ? decisionRefOf(el) : null;
    const decision = ref && el ? { ...ref, binding: decisionBindingOf(el) } : null;
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
      form: formOf(kind, el),
      calledElement: a.type === 'bpmn:CallActivity' && el ? { processId: calledElementOf(el)?.processId ?? null, binding: calledElementBindingOf(el) } : null,
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
      ...activityDataOf(el, parsed.dialect),
    };
    activities.set(a.id, info);
    if (kind === 'startEvent') {
      const parentIsProcess = el?.$parent?.$type === 'bpmn:Process' && (ownProcess === null || el.$parent.id === ownProcess) && !calledOnly;
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

  adjustSerializedModel(sourceContext, new Map([...activities].filter(([, i]) => i.io || i.loop || i.call).map(([id, i]) => [id, { io: i.io ?? null, loop: i.loop ?? null, call: i.call ?? null }])));

  const { bindings, ...ids } = meta;
  return {
    ...ids,
    bindings: bindings ?? NO_BINDINGS,
    dialect: parsed.dialect,
    moddleOptions: moddleOptionsFor(parsed.dialect),
    sourceContext: runningOnly(withoutSerialization(sourceContext), parsed, meta.key),
    activities,
    startFormKey,
    messageStarts,
    timerStarts,
    timerEventSubProcesses,
    eventScopes: compileEventScopes(parsed.moddleContext?.rootElement),
    messageFlows: messageFlowsOf(parsed.moddleContext?.rootElement, meta.key, new Set(parsed.processes.filter((p) => p.isExecutable).map((p) => p.id))),
  };
}

/**
 * A called process that is not executable in its file (a pool of the caller's file, deployed as its own definition
 * because a call activity calls it), or one of several executable processes of a file (each its own definition):
 * the engine is made to run that process, and only it.
 */
function runningOnly(sourceContext: any, parsed: ParsedBpmn, processId: string): any {
  const own = parsed.processes.find((p) => p.id === processId);
  if (!own || (own.isExecutable && parsed.processes.filter((p) => p.isExecutable).length === 1)) return sourceContext;
  const original = sourceContext.getProcessById(processId);
  if (!original) return sourceContext;
  const runnable = { ...original, behaviour: { ...original.behaviour, isExecutable: true } };
  const wrapped = Object.create(sourceContext);
  wrapped.getProcesses = () => [runnable];
  wrapped.getExecutableProcesses = () => [runnable];
  wrapped.getProcessById = (id: string) => (id === processId ? runnable : sourceContext.getProcessById(id));
  return wrapped;
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

/**
 * Parses and compiles a committed version once; keyed by the immutable definition id. `put` of an id already
 * there is a no-op (a version never changes), so filling the cache again after a retried deployment is harmless.
 */
export class DefinitionCache {
  private readonly cache = new Map<string, Promise<CachedDefinition>>();

  /** `load` reads the version's XML (and, when known, its resolved bindings) from the committed row. */
  get(
    meta: { id: string; key: string; version: number; name: string | null },
    load: () => Promise<string | { xml: string; bindings?: ResolvedBindings }>,
  ): Promise<CachedDefinition> {
    let p = this.cache.get(meta.id);
    if (!p) {
      p = load().then(async (row) => {
        const { xml, bindings } = typeof row === 'string' ? { xml: row, bindings: undefined } : row;
        return compileDefinition(await parseBpmn(xml), { ...meta, bindings });
      });
      p.catch(() => this.cache.delete(meta.id));
      this.cache.set(meta.id, p);
    }
    return p;
  }

  put(def: CachedDefinition): void {
    if (!this.cache.has(def.id)) this.cache.set(def.id, Promise.resolve(def));
  }
}
