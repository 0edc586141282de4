/**
 * The limits that keep one diagram from stalling the service (issue 10): what deployment refuses, and how much
 * one transition may do before it stops with an incident. Engine options (EngineCoreOptions.limits), set from the
 * environment by src/config.ts (except yieldEverySteps); every value is a whole number >= 1 (the minimum period
 * may be 0: no minimum).
 *
 * Deploy time (src/definitions/limits.ts, src/definitions/validate.ts):
 * - `minTimerCycleMs`: a timer cycle whose period is shorter is refused (R/PT0S fired without end and started
 *   instances as fast as the database took them); a cycle that only an expression decides, and a timer-start job
 *   stored before the limit existed, are held to it at run time.
 * - `maxNestingDepth`: sub-processes (event sub-processes, transactions, ad-hoc sub-processes) nested deeper are
 *   refused. bpmn-elements re-publishes every event of an activity through each enclosing scope, so one step costs
 *   in proportion to its depth, a run through d levels about d^2, and one step cannot be split (measured on an idle
 *   machine before steps yielded: 30 levels 0.7 s, 100 levels 6 s, 150 levels overflowed the stack; on 2 cores
 *   under a load of 10, with yields: 32 levels 3 s with pauses under 200 ms, 64 levels 14 s with 0.5 s pauses).
 *   32 keeps the pauses of the deepest step within what /health must answer in, and is ten times the deepest
 *   shipped or test diagram (3): deeper structure belongs in called processes.
 * - `maxFlowElements`: a process (everything nested in it counted) with more flow elements is refused. bpmn-engine
 *   builds every activity of a process, each with its own message brokers, in one synchronous call whenever an
 *   instance starts or is recovered, so size is paid on every transition (measured on 2 busy cores: 1,000
 *   elements ~145 ms, 2,000 ~320 ms, 5,000 ~840 ms, 10,000 ~1.35 s and 1.1 GB of heap). 1,000 keeps that pause
 *   under the 200 ms /health must answer in and is nine times the largest shipped process (109).
 *   Both structural limits are checked on the XML text before bpmn-moddle reads it (src/definitions/limits.ts).
 *
 * Run time (src/engine/runtime/limits.ts):
 * - `maxTransitionSteps`: activity executions (a multi-instance iteration counts as one) one transition may run
 *   without reaching a wait state; the next one is held with an incident. A step costs ~1-2 ms and leaves ~3
 *   history events, so 5,000 steps is a transition of several seconds and ~15,000 events: a multi-instance
 *   activity over a few thousand items fits, an endless loop is stopped before it holds the instance (and, on
 *   SQLite, the database) for long. Work that is legitimately longer is split with camunda:asyncBefore (each
 *   asynchronous continuation is a transition of its own) or allowed by raising the limit.
 * - `maxTransitionMs`: the same, by the engine's clock: a transition that has run this long holds the next
 *   activity with an incident (it also bounds how long a transition keeps its database transaction open). The
 *   default, 30 s, is the default handler timeout: one slow handler never trips it, a loop of slow ones does.
 * - `yieldEverySteps`: a transition gives the event loop a turn after this many steps (steps deep in
 *   sub-processes weigh more), so HTTP requests (/health) are answered during a long one (8 steps: ~10-30 ms) and a
 *   long chain of activities does not deepen the stack without end (it overflowed after ~400 activities).
 */

export interface EngineLimits {
  /** shortest period of a timer cycle, ms (default 1,000) */
  minTimerCycleMs: number;
  /** deepest nesting of sub-processes (default 32) */
  maxNestingDepth: number;
  /** most flow elements in one process, nested ones included (default 1,000) */
  maxFlowElements: number;
  /** most activity executions in one transition (default 5,000) */
  maxTransitionSteps: number;
  /** longest run of one transition by the engine's clock, ms (default 30,000) */
  maxTransitionMs: number;
  /** steps between two turns given to the event loop (default 8) */
  yieldEverySteps: number;
}

export const DEFAULT_LIMITS: Readonly<EngineLimits> = Object.freeze({
  minTimerCycleMs: 1_000,
  maxNestingDepth: 32,
  maxFlowElements: 1_000,
  maxTransitionSteps: 5_000,
  maxTransitionMs: 30_000,
  yieldEverySteps: 8,
});

/**
 * How each limit is set from the environment (src/config.ts) and named in messages. `yieldEverySteps` is an engine
 * option only: it decides where parallel branches interleave, so the order of their history events, which audit
 * replay (run with the defaults) compares.
 */
export const LIMIT_ENV: Readonly<Record<Exclude<keyof EngineLimits, 'yieldEverySteps'>, string>> = Object.freeze({
  minTimerCycleMs: 'INSUREFLOW_MIN_TIMER_CYCLE_MS',
  maxNestingDepth: 'INSUREFLOW_MAX_NESTING_DEPTH',
  maxFlowElements: 'INSUREFLOW_MAX_FLOW_ELEMENTS',
  maxTransitionSteps: 'INSUREFLOW_MAX_TRANSITION_STEPS',
  maxTransitionMs: 'INSUREFLOW_MAX_TRANSITION_MS',
});

/**
 * The defaults overlaid by the given values (undefined ones ignored), frozen.
 * @throws RangeError naming the option when a value is not a whole number >= 1 (minTimerCycleMs may be 0)
 */
export function resolveLimits(given: Partial<EngineLimits> = {}): Readonly<EngineLimits> {
  const out: EngineLimits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof EngineLimits)[]) {
    const v = given[key];
    if (v === undefined) continue;
    const min = key === 'minTimerCycleMs' ? 0 : 1;
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`limits.${key} must be a whole number >= ${min}, got ${String(v)}`);
    out[key] = v;
  }
  return Object.freeze(out);
}

/** "10,000" */
export const count = (n: number): string => n.toLocaleString('en-US');
