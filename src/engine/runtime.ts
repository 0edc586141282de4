/**
 * Runs one transition of one process instance: recover the engine from its saved state (or start it),
 * apply one action (complete a task, deliver a message, fire a timer, retry a handler), run until the
 * engine is stable again, and report what the persistence layer must commit: the new state, the waits
 * (user tasks, message subscriptions), the timers, the parked handler calls and the history events.
 * No I/O happens here except the handlers themselves; the engine is dropped after every run.
 *
 * This module holds the runtime's public types and the orchestration; the concerns live in ./runtime/:
 * context.ts (the run's shared state), listeners.ts (history, waits, timers from engine events),
 * service-calls.ts (handlers, decisions, retries, savepoints), timers.ts (durable timer registry),
 * event-subprocesses.ts (timer event sub-processes), variables.ts (scopes, process variables),
 * actions.ts (the transition's one action).
 */
import type { ScopeEventMeta } from './runtime/event-subprocesses.ts';
import { trackScopeExits } from './runtime/live-scopes.ts';
import { trackCompensation, type CompensationMeta } from './runtime/compensation.ts';
import { expressionScope, trackExecutionPaths, type ScopeRecord } from './runtime/local-scopes.ts';
import { callEffects, trackCalls, type CallEffects, type CallRecord } from './runtime/call-activities.ts';
import { Engine } from 'bpmn-engine';
import type { Clock } from './clock.ts';
import { createEngineExpressions, resolveValue } from './expressions.ts';
import type { UnitOfWork } from './unit-of-work.ts';
import type { CachedDefinition } from './definitions.ts';
import { applyAction } from './runtime/actions.ts';
import { createRunContext, errorText, clone, stable } from './runtime/context.ts';
import { driveEventSubProcesses } from './runtime/event-subprocesses.ts';
import { createListener } from './runtime/listeners.ts';
import { createExtension } from './runtime/service-calls.ts';
import { createJoinExtension } from './runtime/joins.ts';
import { changedVariables, processVariables } from './runtime/variables.ts';
import { createLimitExtension } from './runtime/limits.ts';
import type { EngineLimits } from './limits.ts';

export type Variables = Record<string, unknown>;

export interface HandlerContext {
  instanceId: string;
  businessKey: string | null;
  activityId: string;
  executionId: string;
  attempt: number;
  variables: Readonly<Variables>;
  idempotencyKey: string;
  signal: AbortSignal;
  /**
   * The user whose request runs this transition (who completed the task, correlated the message, started the
   * instance); 'system' for jobs (timers, retries, asynchronous continuations). Absent for embedders' own calls.
   */
  actor?: string | null;
  /**
   * The transition's unit of work: domain repositories are bound to it (their writes commit with the engine's
   * state, or not at all); effects outside the database are registered with `afterCommit`.
   */
  unitOfWork: UnitOfWork;
}

export type Handler = (ctx: HandlerContext) => Promise<Variables | void> | Variables | void;

export interface HandlerOptions {
  /** ms before the call counts as failed (default 30 s) */
  timeoutMs?: number;
  /** default retries when the diagram says nothing (default 3 attempts) */
  retries?: number;
}

export interface RegisteredHandler {
  name: string;
  fn: Handler;
  options: HandlerOptions;
}

/**
 * One evaluation a business rule task asks for: the decision key and how its version is chosen (the task's
 * binding, with the version resolved when the process version was deployed).
 */
export interface DecisionCall {
  /** the DMN decision id */
  decisionKey: string;
  /** latest (default) | deployment | version | versionTag, as the diagram says */
  binding: 'latest' | 'deployment' | 'version' | 'versionTag';
  /** deployment / version bindings: the version fixed at deploy time (null: not recorded, use latest) */
  version: number | null;
  /** versionTag binding: the tag (the latest version carrying it is used) */
  versionTag: string | null;
  definitionId: string;
  activityId: string;
  /** the transition's unit of work: version lookups read through it (on SQLite it holds the only connection) */
  unitOfWork?: UnitOfWork;
}

/** What was evaluated and what came out, as recorded in history (decision.evaluated). */
export interface DecisionOutcome {
  decisionKey: string;
  /** the decision version evaluated */
  version: number;
  result: unknown;
  /** ids of the matched rules (required decisions' rules first) */
  matchedRules: string[];
  /** the value of every input column of the decision */
  inputs: { id: string; label: string; value: unknown }[];
  /** the outputs of every matched rule of the decision, in result order */
  outputs: { ruleId: string; values: Record<string, unknown> }[];
}

/** Evaluates deployed decisions by binding; may read storage (asynchronous). Throws when it cannot. */
export interface DecisionEvaluator {
  evaluate(call: DecisionCall, context: Variables): Promise<DecisionOutcome> | DecisionOutcome;
}

/** What the persistence layer knows about a handler call still pending for an activity execution. */
export interface PendingCall {
  executionId: string;
  attempts: number;
  /** 'retry': waiting for its back-off job; 'incident': waiting for an operator */
  state: 'retry' | 'incident';
}

export type Action =
  | { kind: 'start'; variables: Variables; startActivityId?: string }
  | { kind: 'signal'; executionId: string; variables?: Variables; event: 'task.completed' | 'message.received' | 'signal.received' | 'call.completed' | 'call.failed'; data?: Variables }
  | { kind: 'timer'; executionId: string }
  | { kind: 'retry'; executionId: string; variables?: Variables }
  /** a worker's answer to an external task (runtime/external-tasks.ts); retryAt epoch ms */
  | { kind: 'external'; executionId: string; taskId: string; workerId: string; outcome: 'complete' | 'failure' | 'bpmnError'; variables?: Variables; localVariables?: Variables; errorCode?: string; errorMessage?: string | null; errorDetails?: string | null; retries?: number; retryAt?: number | null }
  | { kind: 'resume' };

export interface HistoryDraft {
  at: number;
  type: string;
  activityId?: string | null;
  activityType?: string | null;
  actor?: string | null;
  data?: Record<string, unknown>;
}

export interface WaitItem {
  kind: 'userTask' | 'message' | 'signal' | 'receive' | 'externalTask';
  activityId: string;
  executionId: string;
  name: string | null;
  /** message or signal name for subscriptions */
  eventName?: string | null;
  isNew: boolean;
  /**
   * the local variables the waiting execution sees (input mappings, a multi-instance element...): the task's
   * assignee, candidates, due date and a message's correlation key are evaluated over the process variables
   * overlaid by these
   */
  scope?: Variables;
  /** externalTask: its topic, camunda:taskPriority, and `reset` when an operator's retry makes it fetchable again */
  topic?: string;
  priority?: number;
  reset?: boolean;
}

export interface TimerItem {
  activityId: string;
  executionId: string;
  timerType: string;
  value: string;
  /** set when the timer was (re)armed in this run; undefined means keep the stored due time */
  dueAt?: number;
  repeat?: number;
}

export interface FailureItem {
  executionId: string;
  activityId: string;
  handler: string;
  attempt: number;
  error: string;
  /** next attempt time, or null when attempts are exhausted (incident) */
  retryAt: number | null;
  /** not a failure: a call parked so the instance is committed before the handler runs */
  deferred?: boolean;
  /**
   * an uncaught BPMN error (a handler's BpmnError or an error end event) that nothing in this instance catches:
   * a called child instance hands it to its call activity (runtime/bpmn-events.ts throwAt), else it is an incident
   */
  bpmnError?: { code: string | null; message: string | null };
}

export interface RunInput {
  instanceId: string;
  businessKey: string | null;
  definition: CachedDefinition;
  /** saved state (without source), or null to start */
  state: any | null;
  action: Action;
  actor: string | null;
  pending: Map<string, PendingCall>;
  /** committed execution bookkeeping (see ExecMeta) */
  meta?: ExecMeta;
  /** the transaction this transition commits in; handlers write through it */
  unitOfWork: UnitOfWork;
}

/**
 * Per-instance bookkeeping that makes idempotency keys survive a transition that is done again after a crash
 * or a lost race: bpmn-engine gives every new activity run a random execution id, so keys are built from the
 * committed occurrence count of the activity instead, and remembered for calls that stay pending.
 */
export interface ExecMeta {
  counters: Record<string, number>;
  keys: Record<string, string>;
  /** timer event sub-processes (by id): how often the start timer fired, when it last fired, whether it is used up */
  eventSubs?: Record<string, { fired: number; firedAt: number; done: boolean }>;
  /** local variable scopes by executionId: input mappings, multi-instance iterations and bodies (runtime/local-scopes.ts) */
  scopes?: Record<string, ScopeRecord>;
  /** call activities waiting for their child instance, by executionId (runtime/call-activities.ts) */
  calls?: Record<string, CallRecord>;
  /** event sub-processes per scope instance (by its executionId): interruption, queued occurrences (runtime/event-subprocesses.ts) */
  eventScopes?: Record<string, ScopeEventMeta>;
  /** completed compensable activities and compensations in progress (runtime/compensation.ts) */
  compensation?: CompensationMeta;
  /** executions held by a transition limit with an incident, executionId -> activityId (runtime/limits.ts) */
  held?: Record<string, string>;
}

export interface RunOutput {
  state: any;
  status: 'active' | 'completed' | 'cancelled';
  variables: Variables;
  waits: WaitItem[];
  timers: TimerItem[];
  failures: FailureItem[];
  /** executionIds of handler calls that succeeded or were abandoned in this run */
  settled: string[];
  events: HistoryDraft[];
  /** the action targeted an execution the engine no longer has */
  actionMissed: boolean;
  /** ids of the activities the instance is in after the run */
  activeActivities: string[];
  meta: ExecMeta;
  /** child instances to start and to cancel (call activities, runtime/call-activities.ts); absent: none */
  calls?: CallEffects;
}

export interface RuntimeDeps {
  clock: Clock;
  handlers: Map<string, RegisteredHandler>;
  decisions: DecisionEvaluator;
  logger?: { warn(obj: unknown, msg?: string): void };
  /** the run-time limits and the shortest timer cycle (src/engine/limits.ts); defaults where absent */
  limits?: Partial<EngineLimits>;
}

const quietLogger = () => ({ debug() {}, error() {}, warn() {} });

export async function runTransition(deps: RuntimeDeps, input: RunInput): Promise<RunOutput> {
  const ctx = createRunContext(deps, input);
  const def = input.definition;
  const expressions = createEngineExpressions(
    (expr, warnings) => deps.logger?.warn({ instanceId: input.instanceId, expression: expr, warnings }, 'FEEL warnings'),
    (from) => expressionScope(ctx, from),
  );
  const listener = createListener(ctx);
  trackExecutionPaths(ctx, listener);
  trackScopeExits(ctx, listener);
  trackCompensation(ctx, listener);
  trackCalls(ctx, listener);
  const engine = (ctx.engine = new Engine({
    name: input.instanceId,
    sourceContext: def.sourceContext,
    moddleOptions: def.moddleOptions,
    expressions,
    extensions: { insureflow: createExtension(ctx), insureflowJoins: createJoinExtension(ctx), insureflowLimits: createLimitExtension(ctx) },
    timers: ctx.durableTimers,
    // not strict: technical failures never reach the engine (they are parked for retry), so an error
    // boundary only ever sees business errors, matched by code
    settings: { strict: false, enableDummyService: false },
    Logger: quietLogger,
  } as any));
  engine.once('error', (err: unknown) => {
    ctx.engineError = err;
  });

  let previousVars: Variables = {};
  if (!input.state) {
    if (input.action.kind !== 'start') throw new Error('only a start action can run without state');
    ctx.execution = await engine.execute({ listener, variables: clone(input.action.variables) } as any);
  } else {
    engine.recover(clone(input.state));
    previousVars = processVariables(input.state);
    ctx.execution = await engine.resume({ listener } as any);
  }
  await stable(ctx);

  let actionMissed = false;
  if (!ctx.ended && !ctx.engineError) actionMissed = await applyAction(ctx, input.action);
  if (!ctx.ended && !ctx.engineError) await driveEventSubProcesses(ctx);

  if (ctx.engineError) {
    const err = ctx.engineError as any;
    const failingId = err?.source?.content?.id ?? err?.activityId ?? null;
    throw Object.assign(new Error(`process failed: ${errorText(err)}`), { activityId: failingId, cause: err });
  }

  const state = await engine.getState();
  for (const d of state.definitions ?? []) delete d.source;
  const variables = processVariables(state);
  const changed = changedVariables(previousVars, variables);
  if (Object.keys(changed).length) ctx.push({ type: 'variables.changed', data: { changes: changed } });
  const ended = ctx.ended;
  if (ended === 'completed') ctx.push({ type: 'instance.completed', actor: 'system' });

  const { meta, settled, failures } = ctx;
  const keys: Record<string, string> = ended ? {} : Object.fromEntries(Object.entries(meta.keys).filter(([execId]) => !settled.includes(execId) && (failures.some((f) => f.executionId === execId) || input.pending.has(execId))));
  // executions held by a limit stay held while their incident is pending (runtime/limits.ts)
  const held = Object.fromEntries(Object.entries(meta.held ?? {}).filter(([execId]) => execId in keys));
  return {
    state,
    status: ended ?? 'active',
    variables,
    waits: ended ? [] : [...ctx.waits.values()],
    timers: ended ? [] : [...ctx.timers.values()],
    failures,
    settled,
    events: ctx.events,
    actionMissed,
    ...(callEffects(ctx) && { calls: callEffects(ctx) }),
    activeActivities: ended ? [] : [...new Set<string>(ctx.execution.getPostponed().map((a: any) => a.id as string))].filter((id) => def.activities.has(id) && !ctx.armedOnly.has(id)),
    meta: {
      ...(meta.eventSubs && !ended && { eventSubs: meta.eventSubs }),
      ...(meta.eventScopes && !ended && { eventScopes: meta.eventScopes }),
      ...(meta.compensation && !ended && { compensation: meta.compensation }),
      ...(meta.scopes && !ended && Object.keys(meta.scopes).length > 0 && { scopes: meta.scopes }),
      ...(meta.calls && !ended && Object.keys(meta.calls).length > 0 && { calls: meta.calls }),
      ...(Object.keys(held).length > 0 && { held }),
      counters: meta.counters,
      keys,
    },
  };
}

export { RESERVED_VARIABLES, processVariables } from './runtime/variables.ts';
export { retryDelayMs } from './runtime/service-calls.ts';
export { resolveValue };
