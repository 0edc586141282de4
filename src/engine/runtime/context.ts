/**
 * The state one transition run shares between the runtime's modules (listeners, service calls, timers, event
 * sub-processes, variables, actions): what the run has collected so far (history drafts, waits, timers, parked
 * calls), the per-instance bookkeeping (ExecMeta) and the live bpmn-engine objects once they exist. Created
 * once per runTransition call and dropped with it.
 */
import type { ActivityInfo, CachedDefinition, TimerEventSubProcess } from '../definitions.ts';
import type { ExecMeta, FailureItem, HistoryDraft, RunInput, RuntimeDeps, TimerItem, WaitItem } from '../runtime.ts';
import { DurableTimers } from './timers.ts';
import type { StepBudget } from './limits.ts';

/** bpmn-engine / bpmn-elements objects (Engine, execution, activity and process apis) are untyped upstream. */
export type EngineObject = any;

export interface RunContext {
  readonly deps: RuntimeDeps;
  readonly input: RunInput;
  readonly def: CachedDefinition;
  /** history drafts, in order */
  readonly events: HistoryDraft[];
  /** wait states by executionId */
  readonly waits: Map<string, WaitItem>;
  /**
   * the engine apis of the activities waiting in this run (any depth: nested sub-processes, multi-instance
   * iterations, event sub-processes), by executionId; a signal action is delivered through these
   */
  readonly waitApis: Map<string, EngineObject>;
  /** armed timers by executionId */
  readonly timers: Map<string, TimerItem>;
  readonly failures: FailureItem[];
  /** executionIds of handler calls that succeeded or were abandoned in this run */
  readonly settled: string[];
  /** handler / decision calls not yet settled (stable() waits for them) */
  readonly inflight: Set<Promise<unknown>>;
  readonly durableTimers: DurableTimers;
  readonly meta: ExecMeta;
  /** timer event sub-processes by the id of their start event */
  readonly espByStart: Map<string, TimerEventSubProcess>;
  /** event sub-processes that fired in this run */
  readonly firedHere: Set<string>;
  /** event sub-processes whose interruption was done in this run */
  readonly interruptedBy: Set<string>;
  /** event sub-processes that only wait for their start timer (not reported as active activities) */
  readonly armedOnly: Set<string>;
  /** joins whose completion waits for the run to be quiescent (runtime/joins.ts), with their decision */
  readonly heldJoins: Map<EngineObject, () => void>;
  /**
   * other work that waits for the run to be quiescent, in order: errors and escalations thrown by events, boundary
   * events started again, compensation steps (runtime/bpmn-events.ts, compensation.ts), executions deferred to give
   * the event loop a turn (runtime/limits.ts); quiescence makes their order with handler results the same in every
   * run of the transition (replay compares it)
   */
  readonly whenQuiet: (() => void)[];
  /** activity executions of this run and why it stopped holding them (runtime/limits.ts) */
  readonly budget: StepBudget;
  /** the bpmn-engine Engine (set once constructed) */
  engine: EngineObject;
  /** the engine's execution (set once executed / resumed) */
  execution: EngineObject;
  ended: 'completed' | 'cancelled' | null;
  engineError: unknown;
  /** records a history draft at the clock's now, by the run's actor unless the draft names one */
  push(e: Omit<HistoryDraft, 'at'>): void;
  infoOf(id: string): ActivityInfo | undefined;
}

export function createRunContext(deps: RuntimeDeps, input: RunInput): RunContext {
  const def = input.definition;
  const events: HistoryDraft[] = [];
  const actor = input.actor;
  return {
    deps,
    input,
    def,
    events,
    waits: new Map(),
    waitApis: new Map(),
    timers: new Map(),
    failures: [],
    settled: [],
    inflight: new Set(),
    durableTimers: new DurableTimers(),
    meta: clone(input.meta ?? { counters: {}, keys: {} }),
    espByStart: new Map((def.timerEventSubProcesses ?? []).map((esp) => [esp.startId, esp])),
    firedHere: new Set(),
    interruptedBy: new Set(),
    armedOnly: new Set(),
    heldJoins: new Map(),
    whenQuiet: [],
    budget: { steps: 0, sinceYield: 0, startedAt: deps.clock.now(), stopped: null },
    engine: null,
    execution: null,
    ended: null,
    engineError: null,
    push: (e) => events.push({ at: deps.clock.now(), actor: e.actor ?? actor ?? 'system', ...e }),
    infoOf: (id) => def.activities.get(id),
  };
}

/**
 * Waits until the engine has nothing queued and no handler or decision call is in flight; joins held for a
 * decision at quiescence (runtime/joins.ts) are decided then, and the wait goes on if they moved anything.
 */
export async function stable(ctx: RunContext): Promise<void> {
  for (;;) {
    await new Promise((r) => setImmediate(r));
    if (!ctx.inflight.size) {
      await new Promise((r) => setImmediate(r));
      if (!ctx.inflight.size) {
        if (!ctx.heldJoins.size && !ctx.whenQuiet.length) return;
        const decisions = [...ctx.heldJoins.values()];
        ctx.heldJoins.clear();
        for (const decide of decisions) decide();
        for (const work of ctx.whenQuiet.splice(0)) work();
        continue;
      }
    }
    await Promise.allSettled([...ctx.inflight]);
  }
}

/**
 * Tracks a continuation of the run made after an asynchronous call (a handler's or decision's result, an external
 * task's answer): `stable()` waits for it. The engine continues inside it, so an error thrown there (the next
 * activity's input mapping names a variable that is not set) fails the run like one thrown while it executes
 * (runTransition reports ctx.engineError): the transition is refused or its job fails, and the process never
 * sees an unhandled rejection.
 */
export function trackContinuation(ctx: RunContext, p: Promise<unknown>): void {
  const guarded = p.catch((err: unknown) => {
    ctx.engineError ??= err;
  });
  ctx.inflight.add(guarded);
  void guarded.finally(() => ctx.inflight.delete(guarded));
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** A deep copy through JSON (variables and states are JSON). */
export function clone<T>(v: T): T {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}
