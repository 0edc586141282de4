/**
 * Durable timers: the timer registry handed to bpmn-engine never arms anything in memory. A timer the engine
 * starts is reported (activity.timer, see listeners.ts) and stored as a job row; the scheduler fires it later by
 * a timer action, which calls back the engine through the callback kept here under the timer's executionId.
 */
import type { EngineObject } from './context.ts';

/** A timer registry that never arms anything in memory: the scheduler fires timers from job rows. */
export class DurableTimers {
  /** the engine's timer callbacks of this run, by the executionId of the timer's owner */
  readonly callbacks = new Map<string, () => void>();
  executing: unknown[] = [];
  register(owner: { executionId?: string }) {
    return {
      setTimeout: (cb: (...a: unknown[]) => void, _delay: number, ...args: unknown[]) => {
        const ref = { owner, cb, args };
        if (owner?.executionId) this.callbacks.set(owner.executionId, () => cb(...args));
        return ref;
      },
      clearTimeout: (ref: EngineObject) => {
        if (ref?.owner?.executionId) this.callbacks.delete(ref.owner.executionId);
      },
    };
  }
  setTimeout(_cb: unknown, _delay: number) {
    // bpmn-elements only uses unregistered timeouts for activity timeouts we do not use; never arm.
    return { unarmed: true };
  }
  clearTimeout(ref: EngineObject) {
    if (ref?.owner?.executionId) this.callbacks.delete(ref.owner.executionId);
  }
}
