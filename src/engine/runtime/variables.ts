/**
 * Variables of a run: task outputs merged into the scopes that must see them (bpmn-engine writes nothing to
 * variables by itself), the process variables of a saved state, and the change set recorded in history.
 */
import type { Variables } from '../runtime.ts';
import { clone, type EngineObject, type RunContext } from './context.ts';

/** Keys bpmn-elements writes into a process environment's variables (the run message); not ours. */
export const RESERVED_VARIABLES = new Set(['fields', 'content', 'properties']);

/**
 * Task outputs become process variables. Activities inside an embedded sub-process have a scope of their
 * own; the output is written there (for the sub-process's gateways) and to the process scope as well.
 * Keys starting with '_' are never merged.
 */
export function mergeVariables(ctx: RunContext, activity: EngineObject, vars: Variables): void {
  const targets = new Set<Record<string, unknown>>([activity.environment.variables]);
  for (const d of ctx.engine?.execution?.definitions ?? []) {
    for (const p of d.getRunningProcesses?.() ?? []) if (p.environment?.variables) targets.add(p.environment.variables);
  }
  for (const target of targets) {
    for (const [k, v] of Object.entries(vars)) {
      if (k.startsWith('_')) continue;
      setOwn(target, k, clone(v));
    }
  }
}

/** The process variables of a saved state: the running process's environment, else the definition's. */
export function processVariables(state: EngineObject): Variables {
  const out: Variables = {};
  for (const d of state?.definitions ?? []) {
    assignOwn(out, d.environment?.variables);
    for (const p of d.execution?.processes ?? []) assignOwn(out, p.environment?.variables);
  }
  for (const k of RESERVED_VARIABLES) delete out[k];
  return clone(out);
}

/**
 * Variable names are data: a variable called toString, constructor or __proto__ is read and written as an own
 * property only (a plain `obj[name]` would read Object.prototype's member, and an assignment to __proto__ would
 * replace the object's prototype instead of setting a variable).
 */
export function ownValue(obj: Record<string, unknown> | null | undefined, k: string): unknown {
  return obj && Object.hasOwn(obj, k) ? obj[k] : undefined;
}

/** Set `k` as an own, enumerable property (also for '__proto__'). */
export function setOwn(obj: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/** Object.assign that copies own enumerable keys as own properties (Object.assign would set a prototype for '__proto__'). */
export function assignOwn(target: Record<string, unknown>, src: Record<string, unknown> | null | undefined): void {
  if (!src || typeof src !== 'object') return;
  for (const k of Object.keys(src)) setOwn(target, k, src[k]);
}

/** The variables whose JSON differs between two sets, with their old and new values (null when absent). */
export function changedVariables(before: Variables, after: Variables): Record<string, { old: unknown; new: unknown }> {
  const changed: Record<string, { old: unknown; new: unknown }> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = ownValue(before, k);
    const now = ownValue(after, k);
    if (JSON.stringify(was) !== JSON.stringify(now)) setOwn(changed, k, { old: was ?? null, new: now ?? null });
  }
  return changed;
}
