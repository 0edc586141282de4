/**
 * Local variable scopes of a process instance (BPMN 2.0 data scoping, as Camunda 7 and 8 define it): an
 * activity execution may hold variables of its own (its input mappings, a multi-instance iteration's element and
 * loopCounter, a multi-instance body's counters and output collection, a call activity's mapped child outputs).
 * What an activity sees is the process variables overlaid by the locals of every enclosing scope, outermost
 * first, its own last. A variable written from inside (a handler's result, form data, an output mapping) is
 * propagated: it updates the innermost enclosing scope that already holds that name, else the process.
 *
 * bpmn-engine has no such scopes (a sub-process gets a copy of the variables, a task none), so they live here,
 * keyed by executionId, in the instance's ExecMeta (`scopes`): committed with the state, dropped when the
 * activity ends. The chain of an execution comes from the bpmn-elements message content (`executionId`,
 * `parent.executionId`, `parent.path[]`); a multi-instance iteration also sees its body (`body`).
 */
import type { Variables } from '../runtime.ts';
import { clone, type EngineObject, type RunContext } from './context.ts';
import { mergeVariables, RESERVED_VARIABLES } from './variables.ts';

/** One local scope, stored in ExecMeta.scopes by executionId. */
export interface ScopeRecord {
  /** the activity the execution belongs to */
  activityId: string;
  /** the local variables */
  vars: Variables;
  /** the executionIds of the enclosing executions, outermost first (as known when the scope opened) */
  parents: string[];
  /** a multi-instance iteration: the executionId of its body, which is also a scope of it */
  body?: string;
}

type Content = { executionId?: string; parent?: { executionId?: string; path?: { executionId?: string }[] } } | undefined | null;

function records(ctx: RunContext): Record<string, ScopeRecord> {
  return (ctx.meta.scopes ??= {});
}

/**
 * The enclosing executions of every activity execution seen in this run, outermost first, by executionId. Only
 * the events that bubble up to the engine's listener carry the executionIds of the enclosing sub-process and
 * process executions (an activity's own execution messages name its parent by id only), so they are noted here
 * (trackExecutionPaths) when an activity enters, starts or waits, before its execution starts.
 */
const runPaths = new WeakMap<RunContext, Map<string, string[]>>();

function pathsOf(ctx: RunContext): Map<string, string[]> {
  let m = runPaths.get(ctx);
  if (!m) runPaths.set(ctx, (m = new Map()));
  return m;
}

/** Notes the enclosing executions of the activity executions whose events reach the run's listener. */
export function trackExecutionPaths(ctx: RunContext, listener: { on(event: string, fn: (api: EngineObject) => void): unknown }): void {
  const note = (api: EngineObject) => {
    const c = api?.content;
    if (!c?.executionId || !c.parent?.executionId) return;
    pathsOf(ctx).set(c.executionId, rawPath(c).slice(0, -1));
  };
  for (const event of ['activity.enter', 'activity.start', 'activity.wait', 'activity.call', 'activity.timer']) listener.on(event, note);
}

function rawPath(content: Content): string[] {
  if (!content) return [];
  const ids: string[] = [];
  const path = content.parent?.path ?? [];
  for (let i = path.length - 1; i >= 0; i--) if (path[i]?.executionId) ids.push(path[i].executionId as string);
  if (content.parent?.executionId) ids.push(content.parent.executionId);
  if (content.executionId) ids.push(content.executionId);
  return ids;
}

/**
 * The executionIds of a message content's execution and its enclosing executions, outermost first: from the
 * content when it names them, else as noted for this execution in this run (see trackExecutionPaths).
 */
export function executionPath(content: Content, ctx?: RunContext): string[] {
  const own = rawPath(content);
  const id = content?.executionId;
  if (!ctx || !id) return own;
  const known = pathsOf(ctx).get(id);
  return known && known.length >= own.length - 1 ? [...known, id] : own;
}

/**
 * The executionIds of the scopes that hold variables for this content (or executionId), outermost first. A
 * recorded scope's own parents are used when the content does not name them (an execution addressed by id).
 */
export function scopeChain(ctx: RunContext, content: Content | string): string[] {
  const all = records(ctx);
  const path = typeof content === 'string' ? [...(all[content]?.parents ?? pathsOf(ctx).get(content) ?? []), content] : executionPath(content, ctx);
  const out: string[] = [];
  const add = (id: string) => {
    const rec = all[id];
    if (!rec || out.includes(id)) return;
    if (rec.body && !out.includes(rec.body) && all[rec.body]) {
      for (const p of all[rec.body].parents) if (all[p] && !out.includes(p)) out.push(p);
      out.push(rec.body);
    }
    out.push(id);
  };
  for (const id of path) {
    const rec = all[id];
    if (rec) for (const p of rec.parents) add(p);
    add(id);
  }
  return out;
}

/** The local variables visible to a content's execution (every enclosing scope's, innermost winning). */
export function visibleLocals(ctx: RunContext, content: Content | string): Variables {
  const all = records(ctx);
  const out: Variables = {};
  for (const id of scopeChain(ctx, content)) Object.assign(out, all[id].vars);
  return out;
}

/** Process variables without bpmn-engine's run message (`fields`, `content`, `properties`). */
export function withoutInternals(vars: Variables | undefined | null): Variables {
  const out: Variables = {};
  for (const [k, v] of Object.entries(vars ?? {})) if (!RESERVED_VARIABLES.has(k)) out[k] = v;
  return out;
}

/**
 * What an execution sees: `base` (the process variables as its bpmn-engine environment holds them) without
 * engine internals, overlaid by its visible locals. A copy: changing it changes nothing.
 *
 * A process variable holding an object or array is copied when it is first read, not before: a handler of a
 * multi-instance iteration over a collection of 100,000 items reads its element, and copying the collection for
 * every iteration made the run quadratic (seconds per thousand iterations). Process variables are never changed
 * in place (a result replaces a variable's value, see variables.ts mergeVariables), so the copy made later holds
 * what the execution saw. Locals are copied at once (a multi-instance output collection changes in place).
 */
export function visibleVariables(ctx: RunContext, content: Content | string, base: Variables | undefined | null): Variables {
  const locals = clone(visibleLocals(ctx, content));
  const out: Variables = {};
  for (const [k, v] of Object.entries(withoutInternals(base))) {
    if (k in locals) continue;
    if (v === null || typeof v !== 'object') out[k] = v;
    else lazyCopy(out, k, v);
  }
  return Object.assign(out, locals);
}

/** Defines `key` on `target` as a copy of `value` made on first read (a getter that replaces itself by the copy). */
function lazyCopy(target: Variables, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      const copy = clone(value);
      // still configurable unless the object was frozen meanwhile: then the getter stays and copies on every read
      if (Object.isExtensible(target)) Object.defineProperty(target, key, { value: copy, enumerable: true, configurable: true, writable: true });
      return copy;
    },
    set(v: unknown) {
      Object.defineProperty(target, key, { value: v, enumerable: true, configurable: true, writable: true });
    },
  });
}

/** Opens (or replaces) the local scope of an execution. */
export function openScope(ctx: RunContext, executionId: string, activityId: string, parentsFrom: Content | string[], vars: Variables, body?: string): ScopeRecord {
  const parents = Array.isArray(parentsFrom) ? parentsFrom : executionPath(parentsFrom, ctx).filter((id) => id !== executionId);
  const rec: ScopeRecord = { activityId, vars: clone(vars), parents, ...(body ? { body } : {}) };
  records(ctx)[executionId] = rec;
  return rec;
}

export function scopeOf(ctx: RunContext, executionId: string): ScopeRecord | undefined {
  return ctx.meta.scopes?.[executionId];
}

/** Drops the local scope of an execution (and the scopes whose body it is). */
export function closeScope(ctx: RunContext, executionId: string): void {
  const all = ctx.meta.scopes;
  if (!all) return;
  delete all[executionId];
  for (const [id, rec] of Object.entries(all)) if (rec.body === executionId) delete all[id];
}

/**
 * Writes variables from inside an execution: each one updates the innermost scope of `chain` (executionIds,
 * outermost first) that already holds it; the others go to the process (every bpmn-engine environment of the
 * run that must see them, see mergeVariables). Keys starting with '_' are never written.
 */
export function propagate(ctx: RunContext, activity: EngineObject, chain: string[], vars: Variables): void {
  const all = records(ctx);
  const toProcess: Variables = {};
  for (const [k, v] of Object.entries(vars)) {
    if (k.startsWith('_')) continue;
    let holder: ScopeRecord | undefined;
    for (let i = chain.length - 1; i >= 0; i--) {
      const rec = all[chain[i]];
      if (rec && Object.prototype.hasOwnProperty.call(rec.vars, k)) {
        holder = rec;
        break;
      }
    }
    if (holder) holder.vars[k] = clone(v);
    else toProcess[k] = v;
  }
  if (Object.keys(toProcess).length) mergeVariables(ctx, activity, toProcess);
}

/**
 * The variables an expression evaluated by bpmn-engine sees (the `from` of its resolver: `{ environment,
 * content, ... }`): the environment's variables without internals, overlaid by the locals of the content's scopes.
 */
export function expressionScope(ctx: RunContext, from: EngineObject): Variables {
  const base = withoutInternals(from?.environment?.variables);
  if (!ctx.meta.scopes || !from?.content) return base;
  return { ...base, ...visibleLocals(ctx, from.content) };
}
