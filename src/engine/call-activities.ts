/**
 * Call activities between process instances: a called process is its own instance (own state, tasks, jobs,
 * history chain) linked to its caller (process_instances.parent_instance_id / parent_execution_id /
 * parent_activity_id). Every hand-over is a durable job written in the unit of work of the transition that
 * causes it, run right after that transition commits (or by the scheduler after a crash), and consumed in the
 * transaction of the transition it runs, so it happens exactly when its cause committed and at most once:
 * - `call-start` (written by the caller's transition when a call activity starts): starts the child with its
 *   planned id, linked to the caller; the version is the one the call activity's binding names (latest at the
 *   start; `deployment` / `version`: the one resolved when the caller was deployed);
 * - `call-complete` (written by the child's last transition): signals the caller's call activity with the
 *   child's variables (`call.completed`), which then continues on its outgoing flow;
 * - `call-error` (written by a child's transition in which a BPMN error or an escalation was not caught): throws it
 *   from the caller's call activity (`call.failed`; uncaught there: nothing changes, the child keeps its incident);
 * - `call-cancel` (written by a caller's transition that left a call activity before its child completed, or by
 *   cancelling the caller): cancels the child (and its own children).
 * The runtime side (what is passed in and out, which child to start or cancel) is runtime/call-activities.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InsureflowError } from '../errors.ts';
import type { EngineContext } from './context.ts';
import type { CachedDefinition } from './definitions.ts';
import { definitionMeta, getDefinitionRow } from './deployment.ts';
import { SYSTEM } from './model.ts';
import type { StoredJob } from './ports.ts';
import type { RunOutput, Variables } from './runtime.ts';
import type { TransitionTx } from './transition-store.ts';
import { continueDeferred, transition, withLock } from './transition.ts';
import { cancelInstance } from './instances.ts';

export const CALL_START_JOB = 'call-start';
export const CALL_COMPLETE_JOB = 'call-complete';
export const CALL_CANCEL_JOB = 'call-cancel';
export const CALL_ERROR_JOB = 'call-error';
const CALL_JOBS = new Set([CALL_START_JOB, CALL_COMPLETE_JOB, CALL_CANCEL_JOB, CALL_ERROR_JOB]);

/** The caller of a child instance: its instance, and the call activity (execution) that waits for the child. */
export interface CallParent {
  instanceId: string;
  executionId: string;
  activityId: string;
}

interface StartPayload {
  processKey: string;
  /** set when the binding fixed the version at deploy time (`deployment`, `version`) */
  definitionId: string | null;
  businessKey: string | null;
  variables: Variables;
  parentExecutionId: string;
}

interface CompletePayload {
  childInstanceId: string;
  variables: Variables;
}

interface ErrorPayload {
  childInstanceId: string;
  /** an uncaught BPMN error, or an escalation nothing caught in the child */
  kind: 'error' | 'escalation';
  code: string | null;
  message: string | null;
}

interface CancelPayload {
  parentInstanceId: string;
  reason: string;
}

export const isCallJob = (type: string): boolean => CALL_JOBS.has(type);

/**
 * The instances whose in-process lock is held further up this chain of calls: a transition's after-commit effects
 * run while the caller still holds that instance's lock (transition.ts withLock), so a child started from them
 * that completes at once must resume its caller without waiting for that lock (it would wait for itself).
 */
const heldUpTheChain = new AsyncLocalStorage<ReadonlySet<string>>();

/** Runs fn under the instance's lock, unless this chain already holds it. */
function underLock<T>(ctx: EngineContext, instanceId: string, fn: () => Promise<T>): Promise<T> {
  return heldUpTheChain.getStore()?.has(instanceId) ? fn() : withLock(ctx, instanceId, fn);
}

/**
 * Runs one job of a call once the transition of `instanceId` that wrote it commits (the job is locked first, so a
 * scheduler on this or another node never runs it too); that instance's lock is held up the chain meanwhile.
 * Locks are only ever waited for from a child towards its caller (resuming it): a caller cancelling a child whose
 * lock is taken (the child may be waiting for the caller's lock to resume it) leaves the job to the scheduler.
 */
function runAfterCommit(ctx: EngineContext, tx: TransitionTx, jobId: string, instanceId: string, cancels?: string): void {
  tx.unitOfWork.afterCommit(async () => {
    const held = new Set(heldUpTheChain.getStore() ?? []);
    held.add(instanceId);
    if (cancels && ctx.locks.has(cancels) && !held.has(cancels)) return;
    const job = await ctx.stores.jobs.lock(jobId, ctx.nodeId, ctx.clock.now() + ctx.jobLockMs);
    if (!job) return;
    await heldUpTheChain.run(held, () => runCallJob(ctx, job));
  });
}

/**
 * Writes, in the transition's transaction and after its commit bookkeeping, the jobs its run asked for: children
 * to start and to cancel, and (when this instance is a child that just completed) its caller's resumption.
 */
/** Whether the calling instance still runs; when it ended (or is gone) the job is dropped: nothing waits for it. */
async function callerStillRuns(stores: EngineContext['stores'], parentId: string, jobId: string): Promise<boolean> {
  const status = await stores.instances.status(parentId);
  if (status !== null && status !== 'completed' && status !== 'cancelled') return true;
  await stores.jobs.delete(jobId);
  return false;
}

export async function recordCalls(ctx: EngineContext, tx: TransitionTx, def: CachedDefinition, instanceId: string, parent: CallParent | null, out: RunOutput): Promise<void> {
  const now = ctx.clock.now();
  const insert = async (job: { type: string; processInstanceId: string | null; activityId: string; executionId: string; payload: Record<string, unknown> }) => {
    const id = await ctx.stores.jobs.insert(tx.unitOfWork, { ...job, definitionId: null, dueAt: now, attempts: 0, createdAt: now });
    runAfterCommit(ctx, tx, id, instanceId, job.type === CALL_CANCEL_JOB ? job.executionId : undefined);
  };
  for (const call of out.calls?.start ?? []) {
    const bound = def.bindings.calledProcesses?.[call.activityId];
    const fixed = bound && (bound.binding === 'deployment' || bound.binding === 'version') && bound.key === call.processKey ? bound.definitionId : null;
    const payload: StartPayload = { processKey: call.processKey, definitionId: fixed, businessKey: call.businessKey, variables: call.variables, parentExecutionId: call.executionId };
    await insert({ type: CALL_START_JOB, processInstanceId: instanceId, activityId: call.activityId, executionId: call.childInstanceId, payload: { ...payload } });
  }
  for (const childId of out.calls?.cancel ?? []) {
    const payload: CancelPayload = { parentInstanceId: instanceId, reason: 'the call activity waiting for it was left' };
    await insert({ type: CALL_CANCEL_JOB, processInstanceId: null, activityId: def.key, executionId: childId, payload: { ...payload } });
  }
  // an uncaught BPMN error or escalation in a child reaches its call activity (its boundaries, then the caller's
  // scopes), as Camunda does
  const thrown: ErrorPayload[] = [];
  for (const f of parent ? out.failures : []) {
    if (f.bpmnError && f.retryAt === null && !f.deferred) thrown.push({ childInstanceId: instanceId, kind: 'error', code: f.bpmnError.code, message: f.bpmnError.message });
  }
  for (const e of parent ? out.events : []) {
    if (e.type !== 'escalation.uncaught') continue;
    const d = (e.data ?? {}) as { code?: string | null; message?: string | null };
    thrown.push({ childInstanceId: instanceId, kind: 'escalation', code: d.code ?? null, message: d.message ?? null });
  }
  for (const payload of thrown) {
    await insert({ type: CALL_ERROR_JOB, processInstanceId: parent!.instanceId, activityId: parent!.activityId, executionId: parent!.executionId, payload: { ...payload } });
  }
  if (parent && out.status === 'completed') {
    const payload: CompletePayload = { childInstanceId: instanceId, variables: out.variables };
    await insert({ type: CALL_COMPLETE_JOB, processInstanceId: parent.instanceId, activityId: parent.activityId, executionId: parent.executionId, payload: { ...payload } });
  }
}

/** The definition a child starts on: the version fixed at deploy, else the latest of its key. */
async function childDefinition(ctx: EngineContext, payload: StartPayload): Promise<string> {
  if (payload.definitionId) {
    const meta = await definitionMeta(ctx, payload.definitionId).catch(() => null);
    // versions deployed before called processes were their own definitions bound the caller's own id
    if (meta && meta.key === payload.processKey) return meta.id;
  }
  return (await getDefinitionRow(ctx, payload.processKey)).id;
}

/** Runs a call job (see the module comment); the job is removed in the transaction of what it does. */
export async function runCallJob(ctx: EngineContext, job: StoredJob): Promise<void> {
  const { stores } = ctx;
  const consume = async (tx: TransitionTx) => {
    if (!(await tx.consumeJob(job.id, null))) throw new InsureflowError('CONCURRENT_MODIFICATION', `job ${job.id} was run by another node`);
  };
  switch (job.type) {
    case CALL_START_JOB: {
      const payload = job.payload as unknown as StartPayload;
      const childId = job.executionId;
      const parentId = job.processInstanceId as string;
      if ((await stores.instances.status(childId)) !== null) {
        await stores.jobs.delete(job.id);
        return;
      }
      const definitionId = await childDefinition(ctx, payload);
      await underLock(ctx, childId, async () => {
        const parent: CallParent = { instanceId: parentId, executionId: payload.parentExecutionId, activityId: job.activityId };
        const out = await transition(ctx, childId, { kind: 'start', variables: payload.variables ?? {} }, SYSTEM, { definitionId, businessKey: payload.businessKey ?? null, parent }, consume);
        await continueDeferred(ctx, childId, out);
      });
      return;
    }
    case CALL_COMPLETE_JOB: {
      const payload = job.payload as unknown as CompletePayload;
      const parentId = job.processInstanceId as string;
      await underLock(ctx, parentId, async () => {
        if (!(await callerStillRuns(stores, parentId, job.id))) return;
        const out = await transition(
          ctx,
          parentId,
          // the history records what came back (an audit and a replay read it there)
          { kind: 'signal', executionId: job.executionId, variables: payload.variables ?? {}, event: 'call.completed', data: { childInstanceId: payload.childInstanceId, executionId: job.executionId, variables: payload.variables ?? {} } },
          SYSTEM,
          undefined,
          consume,
        );
        if (out.actionMissed) {
          // the call activity was left meanwhile (interrupted): nothing waits for this child any more
          ctx.logger.warn({ jobId: job.id, instanceId: parentId }, 'called process completed, but its call activity no longer waits; job dropped');
          await stores.jobs.delete(job.id);
        }
        await continueDeferred(ctx, parentId);
      });
      return;
    }
    case CALL_ERROR_JOB: {
      const payload = job.payload as unknown as ErrorPayload;
      const parentId = job.processInstanceId as string;
      await underLock(ctx, parentId, async () => {
        if (!(await callerStillRuns(stores, parentId, job.id))) return;
        const out = await transition(ctx, parentId, { kind: 'signal', executionId: job.executionId, event: 'call.failed', data: { ...payload } }, SYSTEM, undefined, consume);
        // nothing catches it in the caller (or the call activity no longer waits): the child keeps its incident
        if (out.actionMissed) await stores.jobs.delete(job.id);
        await continueDeferred(ctx, parentId);
      });
      return;
    }
    case CALL_CANCEL_JOB: {
      const payload = job.payload as unknown as CancelPayload;
      const childId = job.executionId;
      const status = await stores.instances.status(childId);
      if (status !== null && status !== 'completed' && status !== 'cancelled') {
        const lockHeld = Boolean(heldUpTheChain.getStore()?.has(childId));
        await cancelInstance(ctx, childId, SYSTEM, `${payload.reason} (instance ${payload.parentInstanceId})`, { lockHeld });
      }
      await stores.jobs.delete(job.id);
      return;
    }
  }
}

/** What the deployment knows about process versions when it resolves call activity bindings. */
export interface ProcessVersions {
  /** the versions of a key: stored ones and those this deployment creates (ascending) */
  versions(key: string): number[];
  /** the definition id of a version, or null */
  idOf(key: string, version: number): string | null;
  /** the version of the key this deployment holds (created or unchanged), or null when it holds none */
  inDeployment(key: string): number | null;
}

/**
 * Deploy time: resolves the binding of every call activity of a new process version (Camunda 7
 * `camunda:calledElementBinding`, Camunda 8 `zeebe:calledElement bindingType`; default latest) against the versions
 * stored and those the deployment creates, and records it in the version's bindings (`calledProcesses`, with the
 * definition id for `deployment` and `version`, used as is at run time; `latest` looks again when the call
 * starts). Returns a problem per binding that does not resolve.
 */
export function resolveCalledProcesses(def: CachedDefinition, known: ProcessVersions): { element: string; message: string }[] {
  const problems: { element: string; message: string }[] = [];
  const called = (def.bindings.calledProcesses ??= {});
  for (const info of def.activities.values()) {
    const processId = info.calledElement?.processId;
    if (info.type !== 'bpmn:CallActivity' || !processId) continue;
    const b = info.calledElement!.binding;
    const versions = known.versions(processId);
    let version: number | null = null;
    let why = '';
    switch (b.type) {
      case 'deployment':
        version = known.inDeployment(processId);
        if (version === null) why = `this deployment holds no process "${processId}": deploy its file together with this one, or use the binding "latest"`;
        break;
      case 'version':
        version = b.version !== null && versions.includes(b.version) ? b.version : null;
        if (version === null) why = `version ${b.version} of process "${processId}" is not deployed (deployed versions: ${versions.length ? versions.join(', ') : 'none'})`;
        break;
      case 'versionTag':
        why = 'process versions carry no version tag in this engine: use the binding "latest", "deployment" or "version"';
        break;
      default:
        version = versions.length ? versions[versions.length - 1] : null;
        if (version === null) why = `process "${processId}" is not deployed`;
    }
    if (version === null) {
      problems.push({ element: info.id, message: `Call activity ${info.name ? `"${info.name}" (${info.id})` : info.id} calls process "${processId}" with the binding "${b.type}", which does not resolve: ${why}.` });
      continue;
    }
    called[info.id] = { key: processId, binding: b.type, version, definitionId: known.idOf(processId, version) ?? '' };
  }
  return problems;
}
