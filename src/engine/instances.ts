/**
 * Process instances: start, list, read (with open tasks and incidents), cancel, and an instance's history
 * and its hash-chain verification.
 */
import type { NewHistoryEvent, TransitionTx } from './transition-store.ts';
import { randomUUID } from 'node:crypto';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import { getDefinitionRow, latestForm, validateForm } from './deployment.ts';
import { SYSTEM, type Actor, type Incident, type Page, type ProcessInstance, type UserTask } from './model.ts';
import type { ChainCheck, HistoryRecord, InstanceQuery, StoredInstance } from './ports.ts';
import type { Variables } from './runtime.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { assertTextValues } from './text-values.ts';
import { authorize, instanceScope, readableVariables, redactorFor, requireInstanceRead } from './authorization.ts';

export type { InstanceQuery };

/** An instance with its variables, active activities, open tasks and open incidents. */
export interface InstanceDetail extends ProcessInstance {
  variables: Variables;
  activeActivities: string[];
  openTasks: UserTask[];
  incidents: Incident[];
  /** true when the caller may read the instance but not its variables (`variables` is then empty; ./authorization.ts) */
  variablesWithheld?: boolean;
}

/** One event of an instance's history as the API returns it (`at` ISO 8601). */
export type InstanceHistoryEvent = Omit<HistoryRecord, 'at'> & { at: string; redacted?: boolean };

const notFound = (id: string) => new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${id} was not found`);

export async function startInstance(
  ctx: EngineContext,
  key: string,
  input: { businessKey?: string | null; variables?: Variables; version?: number; id?: string },
  actor: Actor = SYSTEM,
  inTx?: (tx: TransitionTx) => Promise<void>,
): Promise<InstanceDetail> {
  const row = await checkStart(ctx, key, input, actor);
  const variables = input.variables ?? {};
  const id = input.id ?? randomUUID();
  await withLock(ctx, id, async () => {
    const out = await transition(ctx, id, { kind: 'start', variables }, actor, { definitionId: row.id, businessKey: input.businessKey ?? null }, inTx && ((trx) => inTx(trx)));
    await continueDeferred(ctx, id, out);
  });
  return getInstance(ctx, id, actor, { check: false });
}

/**
 * What startInstance checks before it starts anything: the start permission, the text of the input, the
 * definition (version) and the start form. A domain route calls it before it spends anything on the start (a
 * claim number), so a refused start costs nothing. Returns the definition row the start would use.
 * @throws InsureflowError FORBIDDEN, VALIDATION_FAILED (per field), DEFINITION_NOT_FOUND
 */
export async function checkStart(ctx: EngineContext, key: string, input: { businessKey?: string | null; variables?: Variables; version?: number }, actor: Actor = SYSTEM) {
  await authorize(ctx, actor, 'start', 'process-definition', key);
  assertTextValues('start', { key, businessKey: input.businessKey, variables: input.variables });
  const row = await getDefinitionRow(ctx, key, input.version);
  const startForm = await latestForm(ctx, undefined, `${key}.start`);
  if (startForm) {
    validateForm(ctx, startForm.id, startForm.schema, input.variables ?? {}, `start variables of "${key}"`);
    for (const variant of startVariants(key, startForm.schema, input.variables ?? {})) await authorize(ctx, actor, 'start', 'process-definition', variant);
  }
  await ctx.startGuards.get(key)?.({ businessKey: input.businessKey ?? null, variables: input.variables ?? {} }, actor);
  return row;
}

/**
 * A domain check before an instance of a process starts (EngineCore.registerStartGuard): throws an InsureflowError
 * (e.g. VALIDATION_FAILED naming businessKey) to refuse the start; nothing has been written then.
 */
export type StartGuard = (start: { businessKey: string | null; variables: Variables }, actor: Actor) => Promise<void> | void;

/**
 * Start variants: a property of a JSON Schema start form marked `"x-start-grant": true` (a string enum) splits the
 * starts of the process by its value; starting with value `v` needs `start` on the process-definition resource
 * `<key>:<v>` as well as on `<key>` (e.g. policy-cancellation's cancelledBy: `policy-cancellation:insurer` for
 * underwriters, `policy-cancellation:customer` for customer service). A grant on `*` covers every variant.
 */
function startVariants(key: string, schema: string, variables: Variables): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(schema);
  } catch {
    return [];
  }
  const props = (doc as { properties?: Record<string, { 'x-start-grant'?: unknown }> } | null)?.properties;
  if (!props || typeof props !== 'object') return [];
  return Object.entries(props)
    .filter(([name, p]) => p?.['x-start-grant'] === true && typeof variables[name] === 'string')
    .map(([name]) => `${key}:${String(variables[name])}`);
}

/** Instances by process key, business key and status that the actor may read (./authorization.ts), newest first. */
export async function listInstances(ctx: EngineContext, q: InstanceQuery, actor: Actor = SYSTEM): Promise<Page<ProcessInstance>> {
  const scope = await instanceScope(ctx, actor, 'read-instances', true);
  return ctx.stores.instances.list(scope ? { ...q, scope } : q);
}

/**
 * The instance as the actor may see it (`check` false: only sensitive variables are redacted; ./authorization.ts).
 * @throws InsureflowError INSTANCE_NOT_FOUND, FORBIDDEN
 */
export async function getInstance(ctx: EngineContext, id: string, actor: Actor = SYSTEM, opts: { check?: boolean } = {}): Promise<InstanceDetail> {
  const inst = await ctx.stores.instances.get(id);
  if (!inst) throw notFound(id);
  const { variables, withheld } = await readableVariables(ctx, actor, inst, opts.check ?? true);
  const [openTasks, own, called] = await Promise.all([ctx.stores.tasks.listOpen(id), ctx.stores.incidents.listOpen(id), childIncidents(ctx, id)]);
  const { rev: _rev, ...instance } = inst;
  // an incident of a called process (at any depth) shows on its caller, with the called instance's id
  return { ...instance, variables, ...(withheld ? { variablesWithheld: true } : {}), openTasks, incidents: [...own, ...called] };
}

/**
 * Ends an active instance as cancelled: its open tasks cancelled, jobs and subscriptions removed, open
 * incidents resolved, and the history written, in one transaction guarded by the instance's revision.
 * @throws InsureflowError INSTANCE_NOT_FOUND, INSTANCE_NOT_ACTIVE, CONCURRENT_MODIFICATION
 */
export async function cancelInstance(ctx: EngineContext, id: string, actor: Actor, reason?: string, opts: { lockHeld?: boolean } = {}): Promise<InstanceDetail> {
  const { stores } = ctx;
  // lockHeld: the caller already holds the instance's lock (a called process cancelled from its own chain)
  const locked = (fn: () => Promise<void>) => (opts.lockHeld ? fn() : withLock(ctx, id, fn));
  await locked(async () => {
    const inst = await stores.instances.get(id);
    if (!inst) throw notFound(id);
    await authorize(ctx, actor, 'cancel', 'process-definition', inst.processKey);
    if (inst.status === 'completed' || inst.status === 'cancelled') throw new InsureflowError('INSTANCE_NOT_ACTIVE', `process instance ${id} is ${inst.status}`);
    const now = ctx.clock.now();
    await stores.transactions.run(async (tx) => {
      const cancelOne = async (one: StoredInstance, why: string | null): Promise<void> => {
        await stores.instances.markCancelled(tx, one.id, one.rev, now);
        const tasks = await stores.tasks.cancelOpen(tx, one.id, now);
        const external = await stores.externalTasks.cancelOpen(tx, one.id, now);
        await stores.jobs.deleteForInstance(tx, one.id);
        await stores.subscriptions.deleteForInstance(tx, one.id);
        await stores.incidents.resolveOpen(tx, one.id, actor.name, now);
        const base = { processInstanceId: one.id, processKey: one.processKey, processVersion: one.processVersion, businessKey: one.businessKey, at: now, activityType: null, actor: actor.name };
        const events: NewHistoryEvent[] = [
          ...tasks.map((t) => ({ ...base, type: 'task.cancelled', activityId: t.activityId, data: { taskId: t.id, name: t.name } })),
          ...external.map((t) => ({ ...base, type: 'externalTask.cancelled', activityId: t.activityId, data: { taskId: t.id, topic: t.topic } })),
          { ...base, type: 'instance.cancelled', activityId: null, data: { reason: why } },
        ];
        await stores.history.append(tx, one.id, events);
        // the processes its call activities called end with it, in the same transaction
        for (const child of await stores.instances.children(one.id, tx)) await cancelOne(child, `its caller ${one.id} was cancelled`);
      };
      await cancelOne(inst, reason ?? null);
    });
  });
  return getInstance(ctx, id, actor, { check: false });
}

/** The open incidents of the instances called by `id`'s call activities, at any depth. */
async function childIncidents(ctx: EngineContext, id: string): Promise<Incident[]> {
  const out: Incident[] = [];
  for (const child of await ctx.stores.instances.children(id)) {
    out.push(...(await ctx.stores.incidents.listOpen(child.id)), ...(await childIncidents(ctx, child.id)));
  }
  return out;
}

/**
 * The instance's history chain in order, as the actor may read it (read-history or a task of it; sensitive
 * variables REDACTED in event data, such events marked `redacted`: ./authorization.ts).
 * @throws InsureflowError INSTANCE_NOT_FOUND, FORBIDDEN
 */
export async function history(ctx: EngineContext, instanceId: string, actor: Actor = SYSTEM): Promise<InstanceHistoryEvent[]> {
  const head = await ctx.stores.instances.header(instanceId);
  if (!head) throw notFound(instanceId);
  await requireInstanceRead(ctx, actor, { id: instanceId, processKey: head.processKey }, 'read-history');
  const redactor = await redactorFor(ctx, actor);
  const records = await ctx.stores.history.list(instanceId);
  return records.map((e) => {
    const { value, redacted } = redactor.data(head.processKey, e.data);
    return { ...e, data: value, at: new Date(e.at).toISOString(), ...(redacted ? { redacted: true } : {}) };
  });
}

/** Recompute one instance's hash chain; names the first broken link and what happened to it. */
export async function verifyInstanceHistory(ctx: EngineContext, instanceId: string): Promise<ChainCheck> {
  const { consistent, checked, firstBroken } = await ctx.stores.history.verify(instanceId);
  return firstBroken ? { consistent, checked, firstBroken } : { consistent, checked };
}
