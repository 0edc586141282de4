/**
 * Replay against the approved model: re-execute an instance in memory on its pinned definition version (or,
 * as a what-if, on another version of the same process), transition by transition, with the runtime the
 * engine uses. Nothing is called and nothing is written: handlers and decisions answer with their recorded
 * outcomes, user tasks are completed with the recorded form data, messages, signals and timers are delivered
 * as recorded. Every event the replay produces is compared with the recorded one at the same place (same
 * activities in the same order, same flows, same handler attempts, same variable changes), and the variables
 * after every step with the recorded ones. The first difference is the divergence.
 */
import { planCommit } from '../engine/commit-plan.ts';
import { detachedUnitOfWork } from '../engine/unit-of-work.ts';
import type { Knex } from 'knex';
import { InsureflowError, BpmnError } from '../errors.ts';
import { ManualClock } from '../engine/clock.ts';
import { parseDmn, evaluateVersion, type DecisionVersion } from '../decisions/dmn.ts';
import { KnexDeploymentStore } from '../persistence/deployments.ts';
import { runTransition, type Action, type DecisionCall, type DecisionOutcome, type ExecMeta, type HistoryDraft, type PendingCall, type RegisteredHandler, type RunOutput, type Variables, type WaitItem } from '../engine/runtime.ts';
import type { HistoryEvent } from '../persistence/history.ts';
import { canonicalJson as canonical } from '../persistence/canonical-json.ts';
import { modelById, modelByVersion, type AuditModel } from './models.ts';
import { foldHistory } from './reconstruct.ts';
import { chainEvents } from './store.ts';

/** Event types the runtime itself records; everything else is written around a transition by the service. */
const RUNTIME_TYPES = new Set([
  'instance.started',
  'instance.completed',
  'activity.started',
  'activity.completed',
  'activity.cancelled',
  'flow.taken',
  'timer.scheduled',
  'timer.fired',
  'handler.called',
  'handler.completed',
  'handler.failed',
  'decision.evaluated',
  'variables.changed',
  // errors, escalations and compensation (src/engine/runtime/bpmn-events.ts, compensation.ts)
  'error.thrown',
  'error.caught',
  'escalation.thrown',
  'escalation.caught',
  'escalation.uncaught',
  'compensation.started',
  'compensation.completed',
  'task.completed',
  'message.received',
  'signal.received',
  'call.started',
  'call.completed',
  'call.cancelled',
  'call.failed',
  'call.escalated',
  // a worker's answer to an external task (src/engine/runtime/external-tasks.ts)
  'externalTask.completed',
  'externalTask.failed',
  'externalTask.bpmnError',
]);
const EXTERNAL_CAUSES = new Set(['task.completed', 'message.received', 'signal.received', 'timer.fired', 'call.completed', 'call.failed', 'call.escalated', 'externalTask.completed', 'externalTask.failed', 'externalTask.bpmnError']);

export interface EventSummary {
  seq?: number;
  type: string;
  activityId: string | null;
  data?: unknown;
}

export interface Divergence {
  /** seq of the recorded event where the replay differs (null: the history ends where the replay goes on) */
  seq: number | null;
  /** what the model produces at that point (null: nothing) */
  expected: EventSummary | { variables: Variables } | null;
  /** what the history says (null: nothing) */
  recorded: EventSummary | { variables: Variables } | null;
  reason: string;
}

export interface ReplayResult {
  processInstanceId: string;
  mode: 'pinned' | 'what-if';
  /** the definition version the instance ran on */
  pinned: { id: string; key: string; version: number };
  /** the version replayed (differs from pinned only in a what-if) */
  definition: { id: string; key: string; version: number };
  whatIf?: string;
  consistent: boolean;
  /** transitions re-executed */
  steps: number;
  /** recorded events compared */
  compared: number;
  events: number;
  divergence?: Divergence;
  notes: string[];
}

const summary = (e: HistoryEvent | HistoryDraft, seq?: number): EventSummary => ({
  ...(seq !== undefined ? { seq } : {}),
  type: e.type,
  activityId: e.activityId ?? null,
  ...(e.data && Object.keys(e.data).length ? { data: e.data } : {}),
});

/** The part of an event that the model decides (ids of executions and times are not). */
function comparable(e: { type: string; activityId?: string | null; activityType?: string | null; data?: Record<string, unknown> }, mode: 'pinned' | 'what-if'): string {
  const d = (e.data ?? {}) as Record<string, any>;
  let data: unknown;
  switch (e.type) {
    case 'instance.started':
      data = mode === 'pinned' ? d.definitionId : null;
      break;
    case 'activity.started':
    case 'activity.completed':
    case 'activity.cancelled':
      data = d.name ?? null;
      break;
    case 'flow.taken':
      data = [d.sourceId, d.targetId];
      break;
    case 'handler.called':
      data = [d.handler, d.attempt];
      break;
    case 'handler.completed':
      data = [d.handler, d.attempt, d.output];
      break;
    case 'handler.failed':
      data = [d.handler ?? null, d.decision ?? null, d.attempt, d.bpmnError ?? null, d.error ?? null, d.incident ?? null];
      break;
    case 'decision.evaluated':
      data = [d.decisionId, d.decisionVersion ?? null, d.matchedRules ?? [], d.inputs ?? [], d.outputs ?? [], d.result];
      break;
    case 'timer.scheduled':
      data = [d.timerType, d.value];
      break;
    case 'error.thrown':
    case 'error.caught':
    case 'escalation.thrown':
    case 'escalation.caught':
    case 'escalation.uncaught':
      data = [d.code ?? null, d.caughtBy ?? null];
      break;
    case 'compensation.started':
      data = d.compensating ?? null;
      break;
    case 'variables.changed':
      data = d.changes;
      break;
    case 'task.completed':
    case 'message.received':
    case 'signal.received':
      data = d;
      break;
    default:
      data = null;
  }
  return canonical([e.type, e.activityId ?? null, e.activityType ?? null, data ?? null]);
}

class Diverged extends Error {
  constructor(readonly divergence: Divergence) {
    super(divergence.reason);
  }
}

/** Put variables into a saved state the way an incident retry with corrected variables does. */
function withVariables(state: any, vars: Variables): any {
  const s = JSON.parse(JSON.stringify(state));
  const merge = (env: any) => {
    if (env) env.variables = { ...(env.variables ?? {}), ...vars };
  };
  s.environment = s.environment ?? {};
  merge(s.environment);
  for (const d of s.definitions ?? []) {
    merge(d.environment);
    for (const p of d.execution?.processes ?? []) merge(p.environment);
  }
  return s;
}

/** Replay one instance from the database (read-only). */
export async function replayInstance(db: Knex, instanceId: string, opts: { definitionVersion?: number } = {}): Promise<ReplayResult> {
  const events = await chainEvents(db, instanceId);
  if (!events.length || events[0].type !== 'instance.started') {
    throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} has no history`);
  }
  const pinnedId = (events[0].data as Record<string, unknown>).definitionId;
  const pinned = typeof pinnedId === 'string' ? await modelById(db, pinnedId) : null;
  if (!pinned) throw new InsureflowError('DEFINITION_NOT_FOUND', `the definition ${String(pinnedId)} the instance ran on was not found`);
  let model = pinned;
  if (opts.definitionVersion !== undefined && opts.definitionVersion !== pinned.definition.version) {
    const other = await modelByVersion(db, pinned.definition.key, opts.definitionVersion);
    if (!other) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition "${pinned.definition.key}" version ${opts.definitionVersion} was not found`);
    model = other;
  }
  return replayEvents(instanceId, events, model, pinned, { decisions: await recordedDecisionVersions(db, events) });
}

/** The decision versions the history names (decision.evaluated with decisionVersion), read and parsed once each. */
export async function recordedDecisionVersions(db: Knex, events: HistoryEvent[]): Promise<Map<string, DecisionVersion>> {
  const store = new KnexDeploymentStore(db);
  const out = new Map<string, DecisionVersion>();
  for (const e of events) {
    const d = e.data as Record<string, any>;
    if (e.type !== 'decision.evaluated' || typeof d.decisionVersion !== 'number') continue;
    const key = String(d.decisionKey ?? d.decisionId);
    const id = `${key}@${d.decisionVersion}`;
    if (out.has(id)) continue;
    const row = await store.decision(key, d.decisionVersion);
    if (row) out.set(id, { key, version: row.version, versionTag: row.versionTag, tables: await parseDmn(row.xml, row.resourceName) });
  }
  return out;
}

/**
 * Replay recorded events (seq order) on `model`; `pinned` is the model they were recorded with. `decisions`
 * holds the decision versions the history names (`key@version`), evaluated again; a recorded evaluation whose
 * version is not given there is fed its recorded result.
 */
export async function replayEvents(instanceId: string, events: HistoryEvent[], model: AuditModel, pinned: AuditModel = model, opts: { decisions?: Map<string, DecisionVersion> } = {}): Promise<ReplayResult> {
  const def = model.definition;
  const mode: 'pinned' | 'what-if' = def.id === pinned.definition.id ? 'pinned' : 'what-if';
  const notes: string[] = [];
  const result: ReplayResult = {
    processInstanceId: instanceId,
    mode,
    pinned: { id: pinned.definition.id, key: pinned.definition.key, version: pinned.definition.version },
    definition: { id: def.id, key: def.key, version: def.version },
    ...(mode === 'what-if' ? { whatIf: `what-if: the recorded inputs of this instance (version ${pinned.definition.version}) replayed on version ${def.version}; differences show how version ${def.version} would have handled the case, not a fault in the record` } : {}),
    consistent: true,
    steps: 0,
    compared: 0,
    events: events.length,
    notes,
  };

  // ---- recorded outcomes, consumed in order
  const handlerOutcomes = new Map<string, HistoryEvent[]>();
  const decisionOutcomes = new Map<string, HistoryEvent[]>();
  const incidentAt = new Map<string, number>();
  const push = <K>(m: Map<K, HistoryEvent[]>, k: K, e: HistoryEvent) => m.set(k, [...(m.get(k) ?? []), e]);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const d = e.data as Record<string, any>;
    if (e.type === 'handler.completed' && e.activityId) push(handlerOutcomes, e.activityId, e);
    else if (e.type === 'handler.failed' && d.decision) push(decisionOutcomes, String(d.decision), e);
    else if (e.type === 'handler.failed' && e.activityId) {
      push(handlerOutcomes, e.activityId, e);
      if (d.incident === true && !d.bpmnError && d.handler && !incidentAt.has(d.handler)) incidentAt.set(d.handler, Number(d.attempt));
    } else if (e.type === 'decision.evaluated') push(decisionOutcomes, String(d.decisionId), e);
  }

  const explainedKeys = (from: number): { keys: Set<string>; changes: Record<string, { new: unknown }> | null } => {
    // keys set in this run by handler outputs and decisions, and the run's variables.changed
    const keys = new Set<string>();
    for (let j = from; j < events.length; j++) {
      const e = events[j];
      if (!RUNTIME_TYPES.has(e.type) || (j > from && EXTERNAL_CAUSES.has(e.type))) break;
      const d = e.data as Record<string, any>;
      if (e.type === 'handler.completed') for (const k of Object.keys(d.output ?? {})) keys.add(k);
      if (e.type === 'decision.evaluated') {
        const info = e.activityId ? def.activities.get(e.activityId) : undefined;
        keys.add(info?.decision?.resultVariable ?? String(d.decisionId));
      }
      if (e.type === 'variables.changed') return { keys, changes: d.changes ?? {} };
    }
    return { keys, changes: null };
  };

  const handlerFn = (ctx: { activityId: string; attempt: number }) => {
    const e = handlerOutcomes.get(ctx.activityId)?.shift();
    if (!e) throw new Error(`no recorded outcome for the handler of ${ctx.activityId} (attempt ${ctx.attempt})`);
    const d = e.data as Record<string, any>;
    if (e.type === 'handler.completed') return (d.output ?? {}) as Variables;
    if (d.bpmnError) {
      let vars = d.variables as Variables | undefined;
      if (!vars) {
        // older histories do not record the variables a business error carries: take what the run changed
        // that no handler output explains
        const { keys, changes } = explainedKeys(events.indexOf(e));
        const derived: Variables = {};
        for (const [k, c] of Object.entries(changes ?? {})) if (!keys.has(k)) derived[k] = c.new;
        if (Object.keys(derived).length) {
          vars = derived;
          notes.push(`the variables of business error ${d.bpmnError} at ${ctx.activityId} were taken from the recorded variable changes`);
        }
      }
      throw new BpmnError(String(d.bpmnError), String(d.error ?? d.bpmnError), vars);
    }
    throw new Error(String(d.error ?? 'failed'));
  };
  const handlers = new Map<string, RegisteredHandler>();
  // topics that were external tasks when recorded (no handler was registered): left without one, as then
  const externalTopics = new Set(events.filter((e) => e.type === 'externalTask.created').map((e) => String((e.data as Record<string, unknown>).topic)));
  for (const info of def.activities.values()) {
    if (!info.handler || handlers.has(info.handler) || externalTopics.has(info.handler)) continue;
    // retries configured at registration (not in the diagram) are read off the history: the attempt that
    // opened an incident
    handlers.set(info.handler, { name: info.handler, fn: handlerFn as any, options: { retries: incidentAt.get(info.handler) ?? 1_000_000_000, timeoutMs: 3_600_000 } });
  }
  const notedFromRecord = new Set<string>();
  const decisions = {
    evaluate(call: DecisionCall, variables: Variables): DecisionOutcome {
      const decisionId = call.decisionKey;
      const e = decisionOutcomes.get(decisionId)?.shift();
      if (!e) throw new Error(`no recorded result for decision ${decisionId}`);
      const d = e.data as Record<string, any>;
      if (e.type === 'handler.failed') throw new Error(String(d.error ?? '').replace(`decision ${decisionId} failed: `, ''));
      const version = typeof d.decisionVersion === 'number' ? (d.decisionVersion as number) : null;
      const table = version !== null ? opts.decisions?.get(`${String(d.decisionKey ?? decisionId)}@${version}`) : undefined;
      if (table) {
        // the recorded version, evaluated again on the variables the replay has at this point
        const r = evaluateVersion(table, variables);
        return { decisionKey: decisionId, version: table.version, result: r.result, matchedRules: r.matchedRules, inputs: r.trace.inputs, outputs: r.trace.outputs };
      }
      if (!notedFromRecord.has(decisionId)) {
        notedFromRecord.add(decisionId);
        notes.push(
          version === null
            ? `decision ${decisionId}: the history does not name the version evaluated; its recorded results were used`
            : `decision ${decisionId}: version ${version} is not available; its recorded results were used`,
        );
      }
      return { decisionKey: decisionId, version: version as number, result: d.result, matchedRules: (d.matchedRules ?? []) as string[], inputs: d.inputs, outputs: d.outputs };
    },
  };

  const clock = new ManualClock(events[0].at);
  const deps = { clock, handlers, decisions };
  let state: any = null;
  let meta: ExecMeta | undefined;
  let ended = false;
  const pending = new Map<string, PendingCall>();
  const pendingActivity = new Map<string, string>();
  const execMap = new Map<string, string>();
  let waits: WaitItem[] = [];
  const replayTasks = new Map<string, string[]>();
  const everOpened = new Set<string>();
  let openIncidents = new Set<string>();
  const recordedTasks = new Map<string, string[]>();

  const startVariables = (): Variables => {
    const d = events[0].data as Record<string, any>;
    if (d.variables && typeof d.variables === 'object') return d.variables;
    const { keys, changes } = explainedKeys(0);
    const vars: Variables = {};
    for (const [k, c] of Object.entries(changes ?? {})) if (!keys.has(k)) vars[k] = c.new;
    notes.push('start variables were derived from the first recorded variable changes (the history does not record them at the start)');
    return vars;
  };

  try {
    let i = 0;
    while (i < events.length) {
      const e = events[i];
      const d = e.data as Record<string, any>;
      if (!RUNTIME_TYPES.has(e.type)) {
        if (e.type === 'task.created' && e.activityId) recordedTasks.set(e.activityId, [...(recordedTasks.get(e.activityId) ?? []), String(d.taskId)]);
        if (e.type === 'task.cancelled' && e.activityId) {
          recordedTasks.set(e.activityId, (recordedTasks.get(e.activityId) ?? []).filter((t) => t !== String(d.taskId)));
        }
        i++;
        continue;
      }
      if (ended) {
        throw new Diverged({ seq: e.seq, expected: null, recorded: summary(e, e.seq), reason: 'the history goes on after the instance ended' });
      }
      // ---- what caused this transition
      let action: Action;
      const noCause = (why: string) => new Diverged({ seq: e.seq, expected: null, recorded: summary(e, e.seq), reason: why });
      if (e.type === 'instance.started') {
        if (state) throw noCause('a second instance.started');
        action = { kind: 'start', variables: startVariables() };
      } else if (!state) {
        throw noCause('the history does not begin with instance.started');
      } else if (e.type === 'task.completed') {
        const idx = (recordedTasks.get(e.activityId ?? '') ?? []).indexOf(String(d.taskId));
        const execId = (replayTasks.get(e.activityId ?? '') ?? [])[idx];
        if (idx < 0 || !execId) throw noCause(`the model has no open user task ${e.activityId} to complete here`);
        action = { kind: 'signal', executionId: execId, variables: (d.form ?? {}) as Variables, event: 'task.completed', data: d };
        recordedTasks.set(e.activityId as string, (recordedTasks.get(e.activityId as string) ?? []).filter((t) => t !== String(d.taskId)));
      } else if (e.type === 'message.received' || e.type === 'signal.received') {
        const w = waits.find((x) => x.activityId === e.activityId && x.kind !== 'userTask');
        if (!w) throw noCause(`the model does not wait for a ${e.type === 'message.received' ? 'message' : 'signal'} at ${e.activityId} here`);
        action = { kind: 'signal', executionId: w.executionId, variables: (d.variables ?? {}) as Variables, event: e.type, data: d };
      } else if (e.type === 'call.completed') {
        // the called process (its own instance) completed: its variables come back as recorded
        const execId = execMap.get(String(d.executionId));
        if (!execId) throw noCause(`the model has no call activity ${e.activityId} waiting here`);
        action = { kind: 'signal', executionId: execId, variables: (d.variables ?? {}) as Variables, event: 'call.completed', data: d };
      } else if (e.type === 'call.failed' || e.type === 'call.escalated') {
        // the called process threw an error / escalation it did not catch, as recorded
        const execId = execMap.get(String(d.executionId));
        if (!execId) throw noCause(`the model has no call activity ${e.activityId} waiting here`);
        action = { kind: 'signal', executionId: execId, event: 'call.failed', data: { kind: e.type === 'call.failed' ? 'error' : 'escalation', code: d.code ?? null, message: d.message ?? null } };
      } else if (e.type === 'externalTask.completed' || e.type === 'externalTask.failed' || e.type === 'externalTask.bpmnError') {
        // a worker's answer, as recorded, to the external task the model waits at
        const w = waits.find((x) => x.kind === 'externalTask' && x.activityId === e.activityId);
        if (!w) throw noCause(`the model has no external task ${e.activityId} waiting here`);
        const outcome = e.type === 'externalTask.completed' ? 'complete' : e.type === 'externalTask.failed' ? 'failure' : 'bpmnError';
        action = {
          kind: 'external',
          executionId: w.executionId,
          taskId: String(d.taskId),
          workerId: String(d.workerId),
          outcome,
          variables: (d.variables ?? {}) as Variables,
          ...(d.localVariables ? { localVariables: d.localVariables as Variables } : {}),
          ...(outcome === 'bpmnError' ? { errorCode: String(d.errorCode), errorMessage: d.errorMessage ?? null } : {}),
          ...(outcome === 'failure' ? { errorMessage: d.error ?? null, errorDetails: d.errorDetails ?? null, retries: Number(d.retries ?? 0), retryAt: d.retryAt ? Date.parse(String(d.retryAt)) : null } : {}),
        };
      } else if (e.type === 'timer.fired') {
        const execId = execMap.get(String(d.executionId));
        if (!execId) throw noCause(`the model has no timer ${e.activityId} armed here`);
        action = { kind: 'timer', executionId: execId };
      } else if ((e.type === 'handler.called' || e.type === 'handler.failed' || e.type === 'decision.evaluated' || e.type === 'error.thrown') && [...pendingActivity.values()].includes(e.activityId as string)) {
        const execId = [...pendingActivity].find(([x, a]) => a === e.activityId && pending.has(x))?.[0] as string;
        let j = i;
        while (j < events.length && RUNTIME_TYPES.has(events[j].type)) j++;
        const retried = events[j]?.type === 'incident.retried' && events[j].activityId === e.activityId ? (events[j].data as Record<string, any>) : null;
        const variables = retried?.variables && typeof retried.variables === 'object' ? (retried.variables as Variables) : undefined;
        action = { kind: 'retry', executionId: execId, ...(variables ? { variables } : {}) };
        if (variables) state = withVariables(state, variables);
      } else {
        throw noCause(`recorded ${e.type} at ${e.activityId ?? '-'} has no cause in the model here (no task completion, message, timer or retry leads to it)`);
      }

      // ---- run it
      clock.set(e.at);
      let out: RunOutput;
      try {
        out = await runTransition(deps, { instanceId, businessKey: e.businessKey, definition: def, state, action, actor: e.actor, pending: new Map(pending), meta, unitOfWork: detachedUnitOfWork });
      } catch (err) {
        throw new Diverged({ seq: e.seq, expected: null, recorded: summary(e, e.seq), reason: `the model fails here in replay: ${(err as Error).message}` });
      }
      if (out.actionMissed) throw noCause(`the model no longer waits where the recorded ${e.type} was delivered`);

      // ---- compare, event by event
      for (let k = 0; k < out.events.length; k++) {
        const x = out.events[k];
        const r = events[i + k];
        if (!r || !RUNTIME_TYPES.has(r.type) || comparable(x, mode) !== comparable(r, mode)) {
          throw new Diverged({
            seq: r ? r.seq : null,
            expected: summary(x),
            recorded: r ? summary(r, r.seq) : null,
            reason: r ? `the model produces ${x.type} ${x.activityId ?? ''} where the history has ${r.type} ${r.activityId ?? ''}`.replace(/\s+/g, ' ') : 'the model goes on where the history ends',
          });
        }
        const rd = r.data as Record<string, any>;
        const xd = (x.data ?? {}) as Record<string, any>;
        if ((x.type === 'activity.started' || x.type === 'timer.scheduled' || x.type === 'call.started') && rd.executionId && xd.executionId) execMap.set(String(rd.executionId), String(xd.executionId));
      }
      result.compared += out.events.length;
      i += out.events.length;
      result.steps++;
      state = JSON.parse(JSON.stringify(out.state));
      meta = out.meta;
      ended = out.status !== 'active';

      // ---- the bookkeeping the service does around a transition: the same commit plan the store writes
      const plan = planCommit({ pending, openIncidents, openTasks: [...replayTasks].flatMap(([activityId, list]) => list.map((x) => ({ id: x, executionId: x, activityId, name: null }))), timerJobs: [] }, out, result.steps === 1, e.at);
      pending.clear();
      for (const [x, call] of plan.after.pending) pending.set(x, call);
      openIncidents = plan.after.openIncidents;
      for (const f of out.failures) pendingActivity.set(f.executionId, f.activityId);
      for (const x of pendingActivity.keys()) if (!pending.has(x)) pendingActivity.delete(x);
      waits = out.waits;
      const gone = new Set(plan.cancelTasks.map((t) => t.executionId));
      for (const [a, list] of replayTasks) replayTasks.set(a, list.filter((x) => !gone.has(x)));
      // a recovered wait gets a task row only if it never had one (the store checks the table; replay remembers)
      const newTasks = plan.createTasks.filter((c) => !(c.mustCheck && everOpened.has(c.wait.executionId))).map((c) => c.wait);
      for (const w of newTasks) {
        everOpened.add(w.executionId);
        replayTasks.set(w.activityId, [...(replayTasks.get(w.activityId) ?? []), w.executionId]);
      }

      // the tasks the service created after this transition are those the model opened
      let j = i;
      const created: HistoryEvent[] = [];
      while (j < events.length && !RUNTIME_TYPES.has(events[j].type)) {
        if (events[j].type === 'task.created') created.push(events[j]);
        j++;
      }
      const want = newTasks.map((w) => w.activityId).join(',');
      const got = created.map((c) => c.activityId).join(',');
      if (want !== got) {
        const at = created[0] ?? events[j] ?? null;
        throw new Diverged({
          seq: at ? at.seq : null,
          expected: { type: 'task.created', activityId: newTasks[0]?.activityId ?? null, data: { activities: newTasks.map((w) => w.activityId) } },
          recorded: { type: 'task.created', activityId: created[0]?.activityId ?? null, data: { activities: created.map((c) => c.activityId) } },
          reason: `the model opens user tasks [${want}] where the history created [${got}]`,
        });
      }

      // same variables after the step
      const recordedVars = foldHistory(events.slice(0, j), null).variables;
      if (canonical(out.variables) !== canonical(recordedVars)) {
        const last = events[i - 1];
        throw new Diverged({ seq: last?.seq ?? null, expected: { variables: out.variables }, recorded: { variables: recordedVars }, reason: `the variables differ after step ${result.steps}` });
      }
    }
  } catch (err) {
    if (!(err instanceof Diverged)) throw err;
    result.consistent = false;
    result.divergence = err.divergence;
  }
  return result;
}
