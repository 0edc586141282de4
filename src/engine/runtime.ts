/**
 * Runs one transition of one process instance: recover the engine from its saved state (or start it),
 * apply one action (complete a task, deliver a message, fire a timer, retry a handler), run until the
 * engine is stable again, and report what the persistence layer must commit: the new state, the waits
 * (user tasks, message subscriptions), the timers, the parked handler calls and the history events.
 * No I/O happens here except the handlers themselves; the engine is dropped after every run.
 */
import { EventEmitter } from 'node:events';
import { Engine } from 'bpmn-engine';
import type { Clock } from './clock.ts';
import { createEngineExpressions, resolveValue } from './expressions.ts';
import { BpmnError } from '../errors.ts';
import type { UnitOfWork } from './unit-of-work.ts';
import type { CachedDefinition } from './definitions.ts';
import { type ActivityInfo, type TimerEventSubProcess } from './definitions.ts';
import { cycleRepeats, durationMs, timerDueAt } from './iso.ts';

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
  | { kind: 'signal'; executionId: string; variables?: Variables; event: 'task.completed' | 'message.received' | 'signal.received'; data?: Variables }
  | { kind: 'timer'; executionId: string }
  | { kind: 'retry'; executionId: string; variables?: Variables }
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
  kind: 'userTask' | 'message' | 'signal' | 'receive';
  activityId: string;
  executionId: string;
  name: string | null;
  /** message or signal name for subscriptions */
  eventName?: string | null;
  isNew: boolean;
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
}

export interface RuntimeDeps {
  clock: Clock;
  handlers: Map<string, RegisteredHandler>;
  decisions: DecisionEvaluator;
  logger?: { warn(obj: unknown, msg?: string): void };
}

const quietLogger = () => ({ debug() {}, error() {}, warn() {} });

/** A timer registry that never arms anything in memory: the scheduler fires timers from job rows. */
class DurableTimers {
  readonly callbacks = new Map<string, () => void>();
  executing: unknown[] = [];
  register(owner: { executionId?: string }) {
    return {
      setTimeout: (cb: (...a: unknown[]) => void, _delay: number, ...args: unknown[]) => {
        const ref = { owner, cb, args };
        if (owner?.executionId) this.callbacks.set(owner.executionId, () => cb(...args));
        return ref;
      },
      clearTimeout: (ref: any) => {
        if (ref?.owner?.executionId) this.callbacks.delete(ref.owner.executionId);
      },
    };
  }
  setTimeout(_cb: unknown, _delay: number) {
    // bpmn-elements only uses unregistered timeouts for activity timeouts we do not use; never arm.
    return { unarmed: true };
  }
  clearTimeout(ref: any) {
    if (ref?.owner?.executionId) this.callbacks.delete(ref.owner.executionId);
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function clone<T>(v: T): T {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/**
 * The wait (ms) after failed attempt `attempt` (1 = the first call) before the next one. `backoff` is the
 * diagram's (ActivityInfo.retryBackoff): one ISO 8601 duration for every retry (R5/PT5M), or a list used in turn
 * whose last wait repeats (camunda:failedJobRetryTimeCycle PT1M,PT5M,PT30M). Without one (or with an unreadable
 * one): 10 s, 20 s, 40 s ... capped at 10 minutes.
 */
export function retryDelayMs(backoff: string | readonly string[] | null, attempt: number): number {
  const waits = typeof backoff === 'string' ? [backoff] : (backoff ?? []);
  if (waits.length) {
    const ms = durationMs(waits[Math.min(Math.max(1, Math.floor(attempt)), waits.length) - 1]);
    if (ms !== null) return ms;
  }
  // default back-off: 10 s, 20 s, 40 s ... capped at 10 minutes
  return Math.min(10_000 * 2 ** Math.max(0, attempt - 1), 600_000);
}

export async function runTransition(deps: RuntimeDeps, input: RunInput): Promise<RunOutput> {
  const { clock } = deps;
  const def = input.definition;
  const events: HistoryDraft[] = [];
  const waits = new Map<string, WaitItem>();
  const timers = new Map<string, TimerItem>();
  const failures: FailureItem[] = [];
  const settled: string[] = [];
  const inflight = new Set<Promise<unknown>>();
  const durableTimers = new DurableTimers();
  let ended: 'completed' | 'cancelled' | null = null;
  let engineError: unknown = null;
  const actor = input.actor;
  const push = (e: Omit<HistoryDraft, 'at'>) => events.push({ at: clock.now(), actor: e.actor ?? actor ?? 'system', ...e });
  const infoOf = (id: string): ActivityInfo | undefined => def.activities.get(id);

  let envVariables: Variables | null = null;

  const expressions = createEngineExpressions((expr, warnings) =>
    deps.logger?.warn({ instanceId: input.instanceId, expression: expr, warnings }, 'FEEL warnings'),
  );

  // One extension hooks every activity: handler-bound tasks get our Service implementation; every task's
  // output is merged into the process variables when it ends (bpmn-engine does not do this by itself).
  const extension = (activity: any) => {
    const info = infoOf(activity.id);
    if (!info) return;
    if (info.handler || info.decision) {
      activity.behaviour.Service = function InsureflowService() {
        return {
          type: 'insureflow:service',
          execute: (executionMessage: any, callback: (err: unknown, out?: unknown) => void) =>
            executeService(activity, info, executionMessage, callback),
        };
      };
    }
    return {
      activate() {
        activity.on('end', (api: any) => {
          const out = api.content?.output;
          if (info.kind === 'userTask' || info.kind === 'receiveTask' || info.kind === 'catchEvent') {
            if (out && typeof out === 'object' && !Array.isArray(out)) mergeVariables(activity, out);
          }
        }, { consumerTag: '_insureflow-output' });
      },
      deactivate() {
        activity.broker.cancel('_insureflow-output');
      },
    };
  };

  /**
   * Task outputs become process variables. Activities inside an embedded sub-process have a scope of their
   * own; the output is written there (for the sub-process's gateways) and to the process scope as well.
   */
  function mergeVariables(activity: any, vars: Variables) {
    const targets = new Set<Record<string, unknown>>([activity.environment.variables]);
    for (const d of (engine as any).execution?.definitions ?? []) {
      for (const p of d.getRunningProcesses?.() ?? []) if (p.environment?.variables) targets.add(p.environment.variables);
    }
    for (const target of targets) {
      for (const [k, v] of Object.entries(vars)) {
        if (k.startsWith('_')) continue;
        target[k] = clone(v);
      }
    }
  }

  function executeService(activity: any, info: ActivityInfo, msg: any, callback: (err: unknown, out?: unknown) => void) {
    const executionId: string = msg.content.executionId;
    const pending = input.pending.get(executionId);
    const isTargeted = input.action.kind === 'retry' && input.action.executionId === executionId;
    if (pending && !isTargeted) return; // parked: waits for its retry job or an operator
    let idempotencyKey = meta.keys[executionId];
    if (!idempotencyKey) {
      const n = (meta.counters[activity.id] ?? 0) + 1;
      meta.counters[activity.id] = n;
      idempotencyKey = meta.keys[executionId] = `${input.instanceId}:${activity.id}:${n}`;
    }
    if (info.asyncBefore && !info.decision && !isTargeted) {
      // camunda:asyncBefore: park behind a job due now; the caller commits first, then runs the job
      failures.push({ executionId, activityId: activity.id, handler: info.handler as string, attempt: 0, error: '', retryAt: clock.now(), deferred: true });
      return;
    }
    const variables = Object.freeze(clone({ ...activity.environment.variables }));

    if (info.decision) {
      const decision = info.decision;
      const bound = def.bindings?.decisions?.[activity.id];
      const binding = decision.binding?.type ?? 'latest';
      const call: DecisionCall = {
        decisionKey: decision.decisionId,
        binding,
        version: binding === 'deployment' || binding === 'version' ? (bound?.version ?? decision.binding?.version ?? null) : null,
        versionTag: binding === 'versionTag' ? (decision.binding?.versionTag ?? null) : null,
        definitionId: def.id,
        activityId: activity.id,
        unitOfWork: input.unitOfWork,
      };
      const resultVariable = decision.resultVariable ?? decision.decisionId;
      const attempt = (pending?.attempts ?? 0) + 1;
      const p = Promise.resolve()
        .then(() => deps.decisions.evaluate(call, variables))
        .then(
          (out) => {
            const result = clone(out.result);
            push({
              type: 'decision.evaluated',
              activityId: activity.id,
              activityType: activity.type,
              actor: 'system',
              data: { decisionId: decision.decisionId, decisionKey: out.decisionKey, decisionVersion: out.version, binding, inputs: clone(out.inputs), matchedRules: out.matchedRules, outputs: clone(out.outputs), result: result as any },
            });
            mergeVariables(activity, { [resultVariable]: result });
            settled.push(executionId);
            callback(null, { [resultVariable]: result });
          },
          (err) => {
            // a decision that cannot be evaluated fails the same way every time: open an incident at once
            const message = `decision ${decision.decisionId} failed: ${errorText(err)}`;
            push({ type: 'handler.failed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { decision: decision.decisionId, attempt, error: message, incident: true } });
            failures.push({ executionId, activityId: activity.id, handler: `decision:${decision.decisionId}`, attempt, error: message, retryAt: null });
          },
        );
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      return;
    }

    const handlerName = info.handler as string;
    const registered = deps.handlers.get(handlerName);
    const attempt = (pending?.attempts ?? 0) + 1;
    if (!registered) return fail(new Error(`handler "${handlerName}" is not registered`), attempt, handlerName);
    const timeoutMs = registered.options.timeoutMs ?? 30_000;
    push({ type: 'handler.called', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: handlerName, attempt } });
    const p = oneAtATime(() => callHandler(registered, timeoutMs, (unitOfWork, signal) => ({
      instanceId: input.instanceId,
      businessKey: input.businessKey,
      activityId: activity.id,
      executionId,
      attempt,
      variables,
      idempotencyKey,
      signal,
      unitOfWork,
    }))).then(
      (out) => {
        const output = out && typeof out === 'object' ? clone(out as Variables) : {};
        push({ type: 'handler.completed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: handlerName, attempt, output } });
        mergeVariables(activity, output);
        settled.push(executionId);
        callback(null, output);
      },
      (err) => fail(err, attempt, handlerName),
    );
    inflight.add(p);
    p.finally(() => inflight.delete(p));

    function fail(err: unknown, att: number, name: string) {
      if (err instanceof BpmnError || (err as any)?.name === 'BpmnError') {
        const e = err as BpmnError;
        push({ type: 'handler.failed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: name, attempt: att, bpmnError: e.code, error: e.message } });
        if (info.catches.includes(String(e.code)) || info.catches.includes('*')) {
          if (e.variables) mergeVariables(activity, e.variables);
          settled.push(executionId);
          return callback(Object.assign(new Error(e.message), { code: String(e.code), name: 'BpmnError', type: 'BpmnError' }));
        }
        // no boundary event catches this code: an operator must look at it
        failures.push({ executionId, activityId: activity.id, handler: name, attempt: att, error: `business error ${e.code} (${e.message}) is not caught by any boundary event`, retryAt: null });
        return;
      }
      const retries = info.retries ?? deps.handlers.get(name)?.options.retries ?? 3;
      const retryAt = att < retries ? clock.now() + retryDelayMs(info.retryBackoff ?? null, att) : null;
      push({ type: 'handler.failed', activityId: activity.id, activityType: activity.type, actor: 'system', data: { handler: name, attempt: att, error: errorText(err), retryAt: retryAt === null ? null : new Date(retryAt).toISOString(), incident: retryAt === null } });
      failures.push({ executionId, activityId: activity.id, handler: name, attempt: att, error: errorText(err), retryAt });
      // no callback: the call stays pending in the saved state and is made again by the retry job
    }
  }

  /**
   * Handlers of one transition run one after the other (they share the transition's database connection), each
   * in a savepoint of the transition's unit of work: a technical failure or a timeout drops the handler's
   * writes, a success or a BPMN error (a business outcome the diagram routes, as in Camunda) keeps them.
   */
  let handlerQueue: Promise<unknown> = Promise.resolve();
  function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = handlerQueue.then(fn, fn);
    handlerQueue = run.catch(() => undefined);
    return run;
  }

  async function callHandler(registered: RegisteredHandler, timeoutMs: number, context: (uow: UnitOfWork, signal: AbortSignal) => HandlerContext): Promise<unknown> {
    const unit = await input.unitOfWork.begin();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const out = await Promise.race([
        Promise.resolve().then(() => registered.fn(context(unit, controller.signal))),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            controller.abort();
            reject(new Error(`handler "${registered.name}" timed out after ${timeoutMs} ms`));
          }, timeoutMs);
        }),
      ]);
      await unit.commit();
      return out;
    } catch (err) {
      if (err instanceof BpmnError || (err as any)?.name === 'BpmnError') await unit.commit();
      else await unit.rollback();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  const meta: ExecMeta = clone(input.meta ?? { counters: {}, keys: {} });
  const espByStart = new Map<string, TimerEventSubProcess>((def.timerEventSubProcesses ?? []).map((esp) => [esp.startId, esp]));
  /** event sub-processes that fired in this run / whose interruption was done in this run */
  const firedHere = new Set<string>();
  const interruptedBy = new Set<string>();
  /** event sub-processes that only wait for their start timer (not reported as active activities) */
  const armedOnly = new Set<string>();
  const listener = new EventEmitter();
  const entered = new Set<string>();
  const isReplay = (api: any) => Boolean(api?.fields?.redelivered || api?.content?.isRecovered || api?.content?.isResumed);

  listener.on('process.start', (api: any) => {
    if (input.state) return;
    const startVariables = input.action.kind === 'start' ? clone(input.action.variables) : {};
    push({ type: 'instance.started', activityId: api.id, activityType: 'bpmn:Process', data: { definitionId: def.id, version: def.version, variables: startVariables } });
  });
  listener.on('activity.enter', (api: any) => {
    entered.add(api.executionId);
  });
  listener.on('activity.start', (api: any) => {
    entered.add(api.executionId);
    if (isReplay(api)) return;
    push({ type: 'activity.started', activityId: api.id, activityType: api.type, data: { name: api.name ?? null, executionId: api.executionId } });
  });
  listener.on('activity.end', (api: any) => {
    push({ type: 'activity.completed', activityId: api.id, activityType: api.type, data: { name: api.name ?? null, executionId: api.executionId } });
    waits.delete(api.executionId);
  });
  listener.on('activity.leave', (api: any) => {
    for (const [execId, w] of waits) if (w.activityId === api.id && execId.startsWith(api.id)) waits.delete(execId);
    // a timer event that left (fired, or discarded with the activity it was attached to) has no job any more
    for (const [execId, t] of timers) if (t.activityId === api.id) timers.delete(execId);
  });
  listener.on('activity.discard', (api: any) => {
    if (!entered.has(api.executionId) && !waits.has(api.executionId)) return; // a path not taken
    push({ type: 'activity.cancelled', activityId: api.id, activityType: api.type, data: { name: api.name ?? null, executionId: api.executionId } });
    waits.delete(api.executionId);
  });
  listener.on('flow.take', (api: any) => {
    push({ type: 'flow.taken', activityId: api.id, activityType: api.type, data: { sourceId: api.content?.sourceId ?? null, targetId: api.content?.targetId ?? null } });
  });
  listener.on('activity.timer', (api: any) => {
    const c = api.content;
    const execId: string = c.executionId;
    const timerType: string = c.timerType ?? 'timeDuration';
    const value = String(c[timerType] ?? '');
    const resumed = Boolean(c.isResumed || api.fields?.redelivered);
    const item: TimerItem = { activityId: api.id, executionId: execId, timerType, value };
    if (!resumed) {
      const nowEngine = Date.now();
      const expireAt = c.expireAt ? new Date(c.expireAt).getTime() : nowEngine;
      item.dueAt = timerDueAt(timerType, value, clock.now()) ?? (timerType === 'timeDate' ? expireAt : clock.now() + Math.max(0, expireAt - nowEngine));
      // the next cycle of a timer event sub-process counts from the previous firing, not from the re-arming
      const previous = espByStart.has(api.id) ? meta.eventSubs?.[espByStart.get(api.id)!.id] : undefined;
      if (previous && timerType === 'timeCycle') item.dueAt = Math.max(clock.now(), timerDueAt(timerType, value, previous.firedAt) ?? item.dueAt);
      if (timerType === 'timeCycle') item.repeat = cycleRepeats(value) ?? undefined;
      push({ type: 'timer.scheduled', activityId: api.id, activityType: api.type, actor: 'system', data: { timerType, value, dueAt: new Date(item.dueAt).toISOString(), executionId: execId } });
    }
    timers.set(execId, item);
  });
  listener.on('activity.timeout', (api: any) => {
    const execId = api.content?.executionId;
    timers.delete(execId);
    if (api.content?.state === 'timeout') push({ type: 'timer.fired', activityId: api.id, activityType: api.type, actor: 'system', data: { executionId: execId } });
    const esp = espByStart.get(api.id);
    if (esp && api.content?.state === 'timeout' && !api.fields?.redelivered) eventSubFired(esp, api.content);
  });
  listener.on('activity.wait', (api: any) => {
    const info = infoOf(api.id);
    if (!info) return;
    const c = api.content ?? {};
    let kind: WaitItem['kind'] | null = null;
    let eventName: string | null = null;
    if (info.kind === 'userTask') kind = 'userTask';
    else if (info.kind === 'receiveTask') { kind = 'receive'; eventName = info.messageName ?? null; }
    else if (info.message) { kind = 'message'; eventName = info.messageName ?? null; }
    else if (info.signal) { kind = 'signal'; eventName = info.signalName ?? null; }
    if (!kind) return;
    if (info.kind === 'userTask' && c.executionId !== api.executionId) return;
    const executionId: string = kind === 'userTask' ? api.executionId : api.executionId;
    waits.set(executionId, { kind, activityId: api.id, executionId, name: info.name, eventName, isNew: !c.isRecovered && !api.fields?.redelivered });
  });
  listener.on('process.end', () => {
    ended = 'completed';
  });

  const engine = new Engine({
    name: input.instanceId,
    sourceContext: def.sourceContext,
    moddleOptions: def.moddleOptions,
    expressions,
    extensions: { insureflow: extension },
    timers: durableTimers,
    // not strict: technical failures never reach the engine (they are parked for retry), so an error
    // boundary only ever sees business errors, matched by code
    settings: { strict: false, enableDummyService: false },
    Logger: quietLogger,
  } as any);

  let previousVars: Variables = {};
  let execution: any;
  const settledPromise = new Promise<void>((resolve) => {
    engine.once('end', () => resolve());
    engine.once('stop', () => resolve());
    engine.once('error', (err: unknown) => {
      engineError = err;
      resolve();
    });
  });
  void settledPromise;

  if (!input.state) {
    if (input.action.kind !== 'start') throw new Error('only a start action can run without state');
    previousVars = {};
    execution = await engine.execute({ listener, variables: clone(input.action.variables) } as any);
  } else {
    engine.recover(clone(input.state));
    previousVars = processVariables(input.state);
    execution = await engine.resume({ listener } as any);
  }

  await stable();

  let actionMissed = false;
  const action = input.action;
  if (!ended && !engineError) {
    if (action.kind === 'signal') {
      const target = execution.getPostponed().find((a: any) => a.executionId === action.executionId)
        ?? findByExecution(execution, action.executionId);
      if (!target) actionMissed = true;
      else {
        push({ type: action.event, activityId: target.id, activityType: target.type, data: action.data ?? { variables: action.variables ?? {} } });
        target.signal(clone(action.variables ?? {}));
      }
    } else if (action.kind === 'timer') {
      const fire = durableTimers.callbacks.get(action.executionId);
      const esp = espByStart.get(timers.get(action.executionId)?.activityId ?? '');
      if (fire && esp?.interrupting) {
        // an interrupting event sub-process ends the rest of the process before its own flow starts
        interruptedBy.add(esp.id);
        interruptOthers(esp.id);
        await stable();
      }
      if (fire) fire();
      else actionMissed = !timers.has(action.executionId) ? true : false;
    } else if (action.kind === 'retry') {
      // the pending call was already re-made by resume (executeService lets the targeted call through)
      if (action.variables) for (const d of execution.definitions) Object.assign(d.environment.variables, clone(action.variables));
    }
    await stable();
  }

  if (!ended && !engineError) await driveEventSubProcesses();

  if (engineError) {
    const err = engineError as any;
    const failingId = err?.source?.content?.id ?? err?.activityId ?? null;
    throw Object.assign(new Error(`process failed: ${errorText(err)}`), { activityId: failingId, cause: err });
  }

  const state = await engine.getState();
  for (const d of state.definitions ?? []) delete d.source;
  const variables = processVariables(state);

  const changed: Record<string, { old: unknown; new: unknown }> = {};
  for (const k of new Set([...Object.keys(previousVars), ...Object.keys(variables)])) {
    if (JSON.stringify(previousVars[k]) !== JSON.stringify(variables[k])) changed[k] = { old: previousVars[k] ?? null, new: variables[k] ?? null };
  }
  if (Object.keys(changed).length) push({ type: 'variables.changed', data: { changes: changed } });
  if (ended === 'completed') push({ type: 'instance.completed', actor: 'system' });

  return {
    state,
    status: ended ?? 'active',
    variables,
    waits: ended ? [] : [...waits.values()],
    timers: ended ? [] : [...timers.values()],
    failures,
    settled,
    events,
    actionMissed,
    activeActivities: ended ? [] : [...new Set<string>(execution.getPostponed().map((a: any) => a.id as string))].filter((id) => def.activities.has(id) && !armedOnly.has(id)),
    meta: {
      ...(meta.eventSubs && !ended && { eventSubs: meta.eventSubs }),
      counters: meta.counters,
      keys: ended ? {} : Object.fromEntries(Object.entries(meta.keys).filter(([execId]) => !settled.includes(execId) && (failures.some((f) => f.executionId === execId) || input.pending.has(execId)))),
    },
  };

  /**
   * Timer event sub-processes. bpmn-elements only starts an event sub-process when a message, signal or error
   * is delegated to the process; a timer start event inside one is never run. We run the sub-process activity
   * ourselves while the process has work going on, so its start event publishes activity.timer (a durable job,
   * like any timer) and waits; the saved state then holds the armed sub-process, so it is armed once and comes
   * back on resume. When the timer fires, bpmn-elements runs the sub-process's flow; the rest is done here:
   *  - interrupting: the other activities of the process are discarded first (see the timer action);
   *  - non-interrupting cycle: one run of the sub-process at a time (an activity cannot run twice at once), so
   *    the next cycle is armed when the previous run has finished, due one period after the previous firing;
   *  - a sub-process that only waits for its start timer does not keep the process alive: when nothing else
   *    is going on it is discarded and the process completes.
   */
  async function driveEventSubProcesses() {
    if (!def.timerEventSubProcesses?.length) return;
    for (let round = 0; round < 10 && !ended && !engineError; round++) {
      let changed = false;
      for (const proc of runningProcesses()) {
        const own = def.timerEventSubProcesses.filter((esp) => proc.getActivityById(esp.id));
        if (!own.length) continue;
        // an interrupting sub-process that fired without our timer action (due at once when armed)
        for (const esp of own) {
          if (esp.interrupting && meta.eventSubs?.[esp.id]?.fired && !interruptedBy.has(esp.id) && firedHere.has(esp.id)) {
            interruptedBy.add(esp.id);
            interruptOthers(esp.id);
            changed = true;
          }
        }
        const interrupted = own.some((esp) => esp.interrupting && (meta.eventSubs?.[esp.id]?.fired ?? 0) > 0);
        const postponed: any[] = proc.getPostponed().filter((a: any) => def.activities.has(a.id));
        const busy = postponed.some((a: any) => !isArmedOnly(proc, a.id));
        if (!busy) {
          // only armed start timers left: the process is done
          for (const a of postponed) a.discard();
          if (postponed.length) changed = true;
          continue;
        }
        if (interrupted) continue;
        for (const esp of own) {
          const activity = proc.getActivityById(esp.id);
          if (activity.isRunning || meta.eventSubs?.[esp.id]?.done) continue;
          activity.run();
          changed = true;
        }
      }
      if (!changed) break;
      await stable();
    }
    armedOnly.clear();
    for (const proc of runningProcesses()) {
      for (const esp of def.timerEventSubProcesses) if (proc.getActivityById(esp.id) && isArmedOnly(proc, esp.id)) armedOnly.add(esp.id);
    }
  }

  function runningProcesses(): any[] {
    return (execution?.definitions ?? []).flatMap((d: any) => d.getRunningProcesses?.() ?? []);
  }

  /** The event sub-process is running and only its timer start event is waiting (its flow has not started). */
  function isArmedOnly(proc: any, id: string): boolean {
    const esp = def.timerEventSubProcesses.find((e) => e.id === id);
    if (!esp) return false;
    const activity = proc.getActivityById(id);
    if (!activity?.isRunning) return false;
    const inner = (activity.execution?.getPostponed?.() ?? []).filter((a: any) => a.id !== id);
    return inner.length > 0 && inner.every((a: any) => a.id === esp.startId);
  }

  /** Discard every other activity of the process the event sub-process is in (boundary events go with theirs). */
  function interruptOthers(espId: string) {
    for (const proc of runningProcesses()) {
      if (!proc.getActivityById(espId)) continue;
      const postponed: any[] = proc.getPostponed().filter((a: any) => a.id !== espId && def.activities.has(a.id));
      const ids = new Set(postponed.map((a) => a.id as string));
      for (const a of postponed) {
        const attachedTo = infoOf(a.id)?.attachedTo;
        if (attachedTo && ids.has(attachedTo)) continue;
        a.discard();
      }
    }
  }

  function eventSubFired(esp: TimerEventSubProcess, content: any) {
    const subs = (meta.eventSubs ??= {});
    const rec = (subs[esp.id] ??= { fired: 0, firedAt: 0, done: false });
    rec.fired++;
    rec.firedAt = clock.now();
    const repeats = !esp.interrupting && content.timerType === 'timeCycle' ? (cycleRepeats(String(content.timeCycle ?? '')) ?? 1) : 1;
    rec.done = repeats !== -1 && rec.fired >= repeats;
    firedHere.add(esp.id);
  }

  async function stable() {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (!inflight.size) {
        await new Promise((r) => setImmediate(r));
        if (!inflight.size) return;
      }
      await Promise.allSettled([...inflight]);
    }
  }
}

/** Keys bpmn-elements writes into a process environment's variables (the run message); not ours. */
export const RESERVED_VARIABLES = new Set(['fields', 'content', 'properties']);

/** The process variables of a saved state: the running process's environment, else the definition's. */
export function processVariables(state: any): Variables {
  const out: Variables = {};
  for (const d of state?.definitions ?? []) {
    Object.assign(out, d.environment?.variables ?? {});
    for (const p of d.execution?.processes ?? []) Object.assign(out, p.environment?.variables ?? {});
  }
  for (const k of RESERVED_VARIABLES) delete out[k];
  return clone(out);
}

function findByExecution(execution: any, executionId: string): any {
  for (const d of execution.definitions ?? []) {
    for (const p of d.getPostponed?.() ?? []) {
      if (p.executionId === executionId) return p;
      for (const c of p.getPostponed?.() ?? []) if (c.executionId === executionId) return c;
    }
  }
  return null;
}

export { resolveValue };
