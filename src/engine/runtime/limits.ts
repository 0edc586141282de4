/**
 * Run-time limits of one transition (the values and their reasons: src/engine/limits.ts).
 *
 * Every execution of an activity (an activity's run, a multi-instance iteration) is a step. The run's extension
 * wraps each activity's behaviour (bpmn-elements creates it from `activity.Behaviour` for every execution, and
 * again for an execution recovered on resume), so each execution passes through `gate` before the behaviour runs:
 * - every `yieldEverySteps` steps (a step nested in sub-processes weighs more, as it costs more) the execution is
 *   deferred to the run's next quiescent point (ctx.whenQuiet, run by stable() after an event-loop turn and once
 *   the handler calls in flight settled): HTTP requests are served in between and the call stack unwinds
 *   (bpmn-elements runs a chain of activities that complete at once as one synchronous recursion, which overflowed
 *   the stack after ~400 activities). Steps are counted, never timed, and deferred work waits for quiescence, so
 *   where a run yields and how its branches and handler results interleave are the same every time (audit replay
 *   compares the order);
 * - the step after `maxTransitionSteps`, or the first one after `maxTransitionMs` by the engine's clock, is held:
 *   its behaviour is not run, so the activity stays executing in the saved state (as a service task waits for its
 *   handler), and it becomes a handler failure without retry: an incident on that activity whose message says which
 *   limit stopped the transition and how to change it. Every later execution of the run is held too (parallel
 *   branches), without an incident of its own: they run when the instance is next resumed.
 *
 * All or nothing: the transition that stopped commits. Every activity before the held one ran completely (its
 * handler's writes are in the transition's unit of work, its result in the variables), the held one has not begun
 * executing, so the engine state, the handlers' writes, the history and the incident agree, and nothing done is
 * lost or done twice. Rolling the transition back would discard finished work and leave nothing to attach the
 * incident to when the transition started the instance; the same action would loop again the same way.
 *
 * Retrying the incident (or resolving it, which schedules a retry) resumes the instance: the held execution is
 * released (its incident resolves: a service task's once its handler succeeds) and the run has a fresh budget. The
 * held executions are remembered in ExecMeta.held, so a transition for something else (a timer, a message on
 * another branch) keeps them held.
 *
 * Boundary events, start events and intermediate catch events are never held or deferred: they subscribe to
 * what triggers them when they execute, and a cycle of sequence flows always passes through some other activity.
 *
 * Timer cycles shorter than limits.minTimerCycleMs (only an expression, or a definition deployed before the limit,
 * can still hold one) are handed to bpmn-elements with the minimum period: see guardTimerCycles.
 */
import type { ActivityInfo, CachedDefinition } from '../definitions.ts';
import { DEFAULT_LIMITS, LIMIT_ENV, count, type EngineLimits } from '../limits.ts';
import type { EngineObject, RunContext } from './context.ts';
import { durationMs, parseCycle } from '../iso.ts';

export type TransitionLimits = Pick<EngineLimits, 'maxTransitionSteps' | 'maxTransitionMs' | 'yieldEverySteps'>;

/** The step accounting of one run. */
export interface StepBudget {
  steps: number;
  sinceYield: number;
  /** clock.now() when the run began */
  startedAt: number;
  /** why the run stopped holding executions (null: it did not) */
  stopped: string | null;
}

const NEVER_GATED = new Set(['bpmn:BoundaryEvent', 'bpmn:StartEvent', 'bpmn:IntermediateCatchEvent']);
const kExec = Symbol.for('exec');
const kPostponed = Symbol.for('postponed');

export function transitionLimits(ctx: RunContext): TransitionLimits {
  const l = ctx.deps.limits ?? {};
  return {
    maxTransitionSteps: l.maxTransitionSteps ?? DEFAULT_LIMITS.maxTransitionSteps,
    maxTransitionMs: l.maxTransitionMs ?? DEFAULT_LIMITS.maxTransitionMs,
    yieldEverySteps: l.yieldEverySteps ?? DEFAULT_LIMITS.yieldEverySteps,
  };
}

/** The engine extension: routes every execution of a gated activity through `gate`. */
export function createLimitExtension(ctx: RunContext) {
  return (activity: EngineObject) => {
    guardTimerCycles(ctx, activity);
    if (NEVER_GATED.has(activity.type)) return;
    const Original = activity.Behaviour;
    if (typeof Original !== 'function') return;
    const depth = nestingDepth(ctx.def, activity.id);
    activity.Behaviour = function LimitedBehaviour(this: unknown, act: EngineObject, context: EngineObject) {
      const behaviour = new Original(act, context);
      const execute = behaviour.execute;
      if (typeof execute === 'function') behaviour.execute = (message: EngineObject) => gate(ctx, activity, depth, message, () => execute.call(behaviour, message));
      return behaviour;
    };
  };
}

function gate(ctx: RunContext, activity: EngineObject, depth: number, message: EngineObject, run: () => unknown): unknown {
  const executionId: string | undefined = message?.content?.executionId;
  if (!executionId) return run();
  const held = ctx.meta.held;
  if (message.fields?.redelivered) {
    // an execution recovered on resume: a held one stays held unless this transition retries it
    if (!held?.[executionId]) return run();
    const action = ctx.input.action;
    if (action.kind !== 'retry' || action.executionId !== executionId) return undefined;
    delete held[executionId];
    // a held service call resolves its incident when the call succeeds (service-calls.ts); anything else now
    if (!isCall(ctx.infoOf(activity.id))) ctx.settled.push(executionId);
    return run();
  }
  const budget = ctx.budget;
  if (budget.stopped) return undefined;
  const limits = transitionLimits(ctx);
  budget.steps++;
  const elapsed = ctx.deps.clock.now() - budget.startedAt;
  if (budget.steps > limits.maxTransitionSteps || elapsed > limits.maxTransitionMs) {
    hold(ctx, activity, executionId, budget.steps > limits.maxTransitionSteps ? stepsMessage(limits, activity) : timeMessage(limits, elapsed, activity));
    return undefined;
  }
  // a step deep in sub-processes costs more (bpmn-elements passes its events up through every enclosing scope:
  // measured ~2 ms for a step at the top, ~10 ms at 32 levels): it weighs more towards the next turn
  budget.sinceYield += 1 + depth / 4;
  if (budget.sinceYield < limits.yieldEverySteps) return run();
  budget.sinceYield = 0;
  // the rest of the run waits until the run is quiescent (runtime/context.ts stable(), which gives the event loop a
  // turn first): handler calls in flight settle before it goes on, so steps and handler results come in the same
  // order in every run of the transition, live or in replay, whatever the handlers' I/O takes
  ctx.whenQuiet.push(() => {
    // the execution may have been discarded meanwhile (an interrupting event, a terminate end event)
    if (stillExecuting(activity, executionId)) run();
  });
  return undefined;
}

const depths = new WeakMap<CachedDefinition, Map<string, number>>();

/** How many sub-processes enclose the activity (0 at the process level), from the compiled definition; cached. */
function nestingDepth(def: CachedDefinition, id: string): number {
  let known = depths.get(def);
  if (!known) depths.set(def, (known = new Map()));
  const have = known.get(id);
  if (have !== undefined) return have;
  const parent = def.sourceContext?.getActivityById?.(id)?.parent;
  const depth = parent?.id && parent.type !== 'bpmn:Process' ? nestingDepth(def, parent.id) + 1 : 0;
  known.set(id, depth);
  return depth;
}

function isCall(info: ActivityInfo | undefined): boolean {
  return Boolean(info?.handler || info?.decision);
}

/** Holds the execution with an incident: a failure without retry (runtime.ts FailureItem). */
function hold(ctx: RunContext, activity: EngineObject, executionId: string, why: string): void {
  ctx.budget.stopped = why;
  ctx.meta.held = { ...(ctx.meta.held ?? {}), [executionId]: activity.id };
  // a pending execution keeps a key in the meta (transition.ts reads the pending calls only then); a held service
  // call later runs with this very key, as service-calls.ts would have made it
  if (!ctx.meta.keys[executionId]) {
    const n = (ctx.meta.counters[activity.id] ?? 0) + 1;
    ctx.meta.counters[activity.id] = n;
    ctx.meta.keys[executionId] = `${ctx.input.instanceId}:${activity.id}:${n}`;
  }
  const info = ctx.infoOf(activity.id);
  const handler = info?.handler ?? (info?.decision ? `decision:${info.decision.decisionId}` : '');
  ctx.deps.logger?.warn({ instanceId: ctx.input.instanceId, activityId: activity.id, executionId }, why);
  ctx.failures.push({ executionId, activityId: activity.id, handler, attempt: 0, error: why, retryAt: null });
}

function stepsMessage(limits: TransitionLimits, activity: EngineObject): string {
  const n = count(limits.maxTransitionSteps);
  return (
    `the transition ran ${n} activity executions without reaching a wait state (limit ${LIMIT_ENV.maxTransitionSteps} = ${n}); ` +
    `${activity.id} was held before running again. A loop that never waits? Give it a wait state or a condition that ends it, ` +
    `then cancel or migrate the instance; retrying this incident runs another ${n}; raise ${LIMIT_ENV.maxTransitionSteps} if the work is legitimate.`
  );
}

function timeMessage(limits: TransitionLimits, elapsed: number, activity: EngineObject): string {
  const ms = count(limits.maxTransitionMs);
  return (
    `the transition ran for ${count(elapsed)} ms without reaching a wait state (limit ${LIMIT_ENV.maxTransitionMs} = ${ms} ms); ` +
    `${activity.id} was held before running. Slow handlers in a loop? Give the loop a wait state (e.g. camunda:asyncBefore) ` +
    `or a condition that ends it; retrying this incident continues for another ${ms} ms; raise ${LIMIT_ENV.maxTransitionMs} if the work is legitimate.`
  );
}

/** Whether the activity still has this execution (root or iteration) waiting to run. */
function stillExecuting(activity: EngineObject, executionId: string): boolean {
  const execution = activity[kExec]?.get('execution');
  if (!execution || execution.completed) return false;
  for (const m of execution[kPostponed] ?? []) if (m?.content?.executionId === executionId) return true;
  return false;
}

const kEventDefinitions = Symbol.for('eventDefinitions');

/**
 * A timer cycle shorter than the shortest period (an expression that gave R/PT0S, or a definition deployed before
 * the limit) must not reach bpmn-elements as it is: it computes the first firing by adding the period to the start
 * until it passes now, which never ends for a period of 0 (the server stopped answering), and a time-out of 0
 * fires the timer in place, again for every repetition. Such a cycle is handed over with the shortest period
 * instead (R/PT0S becomes R/PT1S), so the timer becomes a durable job like any other (listeners.ts).
 * (`_getTimers` is bpmn-elements' internal: pinned by the timer tests of test/feature/limits.test.ts.)
 */
function guardTimerCycles(ctx: RunContext, activity: EngineObject): void {
  for (const definition of activity[kEventDefinitions] ?? []) {
    const getTimers = definition?._getTimers;
    if (definition?.type !== 'bpmn:TimerEventDefinition' || typeof getTimers !== 'function') continue;
    definition._getTimers = function heldGetTimers(this: EngineObject, message: EngineObject) {
      const content = message?.content ?? {};
      const raw = 'timeCycle' in content ? content.timeCycle : this.timeCycle !== undefined ? this.environment.resolveExpression(this.timeCycle, message) : undefined;
      // at least 1 ms even when the limit is 0: a period of 0 is what never ends
      const held = typeof raw === 'string' ? cycleWithPeriodAtLeast(raw, Math.max(1, ctx.deps.limits?.minTimerCycleMs ?? DEFAULT_LIMITS.minTimerCycleMs)) : null;
      if (held === null) return onEngineClock(ctx, getTimers.call(this, message));
      ctx.deps.logger?.warn({ instanceId: ctx.input.instanceId, activityId: activity.id, cycle: raw, heldTo: held }, 'timer cycle shorter than the shortest period allowed: held to it');
      return getTimers.call(this, { ...message, content: { ...content, timeCycle: held } });
    };
  }
}

/**
 * bpmn-elements measures a timer's time-out against the machine's time (`new Date()`); the engine's clock may be
 * behind it (a manual clock in tests, a replay). A timeDate still ahead of the engine's clock but past on the
 * machine's would fire in place: it gets its time-out on the engine's clock instead, so it becomes a durable job
 * due at that date (listeners.ts). Nothing changes when both clocks agree.
 */
function onEngineClock(ctx: RunContext, result: EngineObject): EngineObject {
  if (result?.timerType !== 'timeDate' || !(result.expireAt instanceof Date) || !(result.timeout <= 0)) return result;
  const ahead = result.expireAt.getTime() - ctx.deps.clock.now();
  return ahead > 0 ? { ...result, timeout: ahead } : result;
}

/** The cycle with its period raised to `minMs` (`R/PT0S`, 1000 -> `R/PT1S`); null when it is not shorter (or not a cycle). */
export function cycleWithPeriodAtLeast(value: string, minMs: number): string | null {
  const cycle = parseCycle(value);
  if (!cycle) return null;
  const period = durationMs(cycle.duration, cycle.start ?? 0);
  if (period === null || period >= minMs) return null;
  return value.trim().replace(/[^/]+$/, `PT${minMs / 1000}S`);
}
