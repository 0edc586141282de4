/**
 * The storage seam of the transition core: what one transition reads and writes, as the engine sees it. The
 * Knex implementation is src/persistence/transition-store.ts; the engine never sees SQL.
 *
 * Times are epoch milliseconds; JSON travels as text where it is stored as text (state, exec meta).
 */
import type { UnitOfWork } from './unit-of-work.ts';
import type { PendingCall, RunOutput, WaitItem } from './runtime.ts';

/** One history event to append to an instance's hash chain (the persistence layer adds seq and hashes). */
export interface NewHistoryEvent {
  processInstanceId: string | null;
  processKey: string | null;
  processVersion: number | null;
  businessKey: string | null;
  /** epoch ms */
  at: number;
  type: string;
  activityId: string | null;
  activityType: string | null;
  actor: string | null;
  data: Record<string, unknown>;
}

/** The stored row of an instance, as a transition needs it. */
export interface InstanceRecord {
  id: string;
  definitionId: string;
  businessKey: string | null;
  status: string;
  /** engine state JSON (null once ended) */
  state: string | null;
  /** CommitMeta JSON */
  execMeta: string | null;
  rev: number;
  /** the caller when this instance was started by a call activity (src/engine/call-activities.ts) */
  parent?: { instanceId: string; executionId: string; activityId: string } | null;
}

/** What an instance row remembers between transitions (exec_meta): idempotency bookkeeping and which tables it uses. */
export interface CommitMeta {
  counters: Record<string, number>;
  keys: Record<string, string>;
  has?: { tasks: boolean; subs: boolean; timers: boolean; ext?: boolean };
}

/** The fields of a new user task row, computed by the engine (assignment, due date, form version). */
export interface TaskDraft {
  name: string | null;
  assignee: string | null;
  candidateGroups: string[];
  candidateUsers: string[];
  formKey: string | null;
  /** the form_schemas row (version) the task validates against */
  formSchemaId: number | null;
  /** epoch ms */
  dueAt: number | null;
  priority: number;
}

/** Everything one commit writes: derived from the previous row and the run's output. */
export interface CommitInput {
  instanceId: string;
  definition: { id: string; key: string; version: number };
  businessKey: string | null;
  /** the acting user's name */
  actor: string;
  /** epoch ms */
  now: number;
  /** a new instance: inserted, nothing read */
  create: boolean;
  /** a new instance started by a call activity: its caller (stored with the instance) */
  parent?: { instanceId: string; executionId: string; activityId: string } | null;
  /** the revision read under the lock (null for a new instance) */
  prevRev: number | null;
  prevMeta: CommitMeta | undefined;
  pending: Map<string, PendingCall>;
  hasPending: boolean;
  out: RunOutput;
  /** events the caller adds (after the run's own) */
  extraEvents: NewHistoryEvent[];
  /** the fields of the task row for a user-task wait */
  taskFor(wait: WaitItem): Promise<TaskDraft>;
  /** the correlation key of a message wait (null: none) */
  correlationKeyOf(wait: WaitItem): string | null;
}

/** The operations available inside one transition's transaction. */
export interface TransitionTx {
  readonly unitOfWork: UnitOfWork;
  /** reads the instance and locks it until the transaction ends (PostgreSQL: FOR UPDATE) */
  lockInstance(id: string): Promise<InstanceRecord | undefined>;
  /** handler calls waiting for a retry job or an operator, by execution id */
  pendingCalls(instanceId: string): Promise<Map<string, PendingCall>>;
  /**
   * Writes the transition: instance row (revision-guarded), retry jobs, incidents, user tasks, subscriptions,
   * timers, history. @throws InsureflowError CONCURRENT_MODIFICATION when the revision moved
   */
  commit(input: CommitInput): Promise<void>;
  /** removes a job this node holds; false when it is gone or was taken over */
  consumeJob(jobId: string, lockOwner: string | null): Promise<boolean>;
  /** gives a held job a new due time and payload and releases it; false when it was taken over */
  rescheduleJob(jobId: string, lockOwner: string, dueAt: number, payload: string): Promise<boolean>;
  /** marks an open task completed; false when it was not open any more */
  completeTask(taskId: string, patch: { completedBy: string; assignee: string; endedAt: number }): Promise<boolean>;
}

export interface TransitionStore {
  /** the definition and status of an instance, read without locking (to compile the definition first) */
  instanceHead(id: string): Promise<{ definitionId: string; status: string } | undefined>;
  /** runs fn in one transaction (a unit of work); after the commit, the unit's after-commit effects run */
  transaction<T>(fn: (tx: TransitionTx) => Promise<T>, onEffectError: (err: unknown) => void): Promise<T>;
  /** takes the oldest deferred (camunda:asyncBefore) call of an instance for this node; null when none is free */
  lockNextDeferredCall(instanceId: string, nodeId: string, lockUntil: number): Promise<{ jobId: string; executionId: string } | null>;
}
