/**
 * The seam between the engine and storage: one small interface per stored concept. The engine's command
 * modules (instances, tasks, correlation, jobs, incidents) speak only to these; src/persistence implements
 * them over Knex (SQLite or PostgreSQL) and src/persistence/knex-engine.ts wires them in.
 *
 * Conventions for every method:
 * - times are epoch milliseconds (numbers) in arguments and in the Stored* records, ISO 8601 strings in the
 *   public objects of ./model.ts that the API returns;
 * - `tx` is a transaction opened by `Transactions.run`, or a transition's unit of work (./unit-of-work.ts);
 *   without it a method runs on its own. A write that must commit with others takes a `tx`. (Writes inside a
 *   transition's own commit go through TransitionTx, ./transition-store.ts.)
 * - "not found" is `null` (or `false` for a conditional write that matched nothing); the engine turns that
 *   into its error codes (src/errors.ts), stores throw only for storage failures and the guarded instance
 *   update (CONCURRENT_MODIFICATION).
 */
import type { Incident, Job, Page, ProcessInstance, UserTask } from './model.ts';
import type { Variables } from './runtime.ts';
import type { NewHistoryEvent, TransitionStore } from './transition-store.ts';
import type { DeploymentStore } from './deployment-store.ts';
import type { Grant, ResourceType, SensitiveVariable } from './authorization.ts';

/**
 * An open storage transaction, opaque to the engine: only the storage layer that opened it looks inside.
 * (`object`, so that a transition's UnitOfWork can be passed as one.)
 */
export type StoreTx = object;

/** Units of work spanning several stores. */
export interface Transactions {
  /** Runs fn in one transaction: everything fn writes through `tx` commits when it resolves, nothing when it throws. */
  run<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
}

// ------------------------------------------------------------------------------------------ instances

export interface InstanceQuery {
  /** process definition key */
  key?: string;
  businessKey?: string;
  /** active | incident | completed | cancelled */
  status?: string;
  /** page size (default 50) and offset */
  limit?: number;
  offset?: number;
  /** only the instances the caller may see (./authorization.ts); absent: all */
  scope?: AccessScope;
}

/**
 * The instances a caller may see: those of `processKeys`, and (when `participant` is set) those in which that
 * user holds or held a task (user_tasks.assignee or completed_by).
 */
export interface AccessScope {
  processKeys: string[];
  participant?: string;
}

/** An instance as the engine needs it: the public fields plus its revision, variables and active activities. */
export interface StoredInstance extends ProcessInstance {
  /** optimistic-lock revision, +1 per committed transition */
  rev: number;
  variables: Variables;
  activeActivities: string[];
}

/** What a history event of an instance repeats about it. */
export interface InstanceHeader {
  processKey: string;
  processVersion: number;
  businessKey: string | null;
}

export interface InstanceStore {
  /** Newest first (started, then id). */
  list(q: InstanceQuery): Promise<Page<ProcessInstance>>;
  get(id: string, tx?: StoreTx): Promise<StoredInstance | null>;
  header(id: string, tx?: StoreTx): Promise<InstanceHeader | null>;
  /** active | incident | completed | cancelled; null when the instance does not exist */
  status(id: string): Promise<string | null>;
  /** The variables alone (null when the instance does not exist). */
  variables(id: string): Promise<Variables | null>;
  /**
   * Ends the instance as cancelled at `at` (state dropped, no active activity) if its revision is still
   * `expectedRev`. @throws InsureflowError CONCURRENT_MODIFICATION when another writer advanced it.
   */
  markCancelled(tx: StoreTx, id: string, expectedRev: number, at: number): Promise<void>;
  /** Sets status `active` if it is `incident` (after the last open incident was resolved). */
  clearIncidentStatus(tx: StoreTx, id: string): Promise<void>;
  /** The instances started by call activities of `parentId` that have not ended (active or incident), oldest first. */
  children(parentId: string, tx?: StoreTx): Promise<StoredInstance[]>;
  /**
   * The id of the active (active or incident) top-level instance of `processKey` with this business key, or
   * null (./business-keys.ts).
   */
  activeWithBusinessKey(processKey: string, businessKey: string): Promise<string | null>;
}

// ------------------------------------------------------------------------------------------ tasks

export interface TaskQuery {
  /** exact group name (case-sensitive): `adjusters` matches neither `adjuster_` nor `ADJUSTERS` */
  candidateGroup?: string;
  /** exact user name (case-sensitive) */
  candidateUser?: string;
  assignee?: string;
  processKey?: string;
  businessKey?: string;
  processInstanceId?: string;
  /** default open */
  status?: 'open' | 'completed' | 'cancelled';
  /** ISO 8601 bounds on the due date (exclusive) */
  dueBefore?: string;
  dueAfter?: string;
  /** default created; ties broken by id */
  sort?: 'created' | 'due' | 'priority';
  /** default asc (desc for priority) */
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

/** Whose tasks a list may show: assigned to `user`, offered to `user`, or offered to one of `groups`. */
export interface TaskAudience {
  user: string;
  groups: string[];
}

/** A task as the engine needs it: the public fields plus the execution it signals and its form schema version. */
export interface StoredTask extends UserTask {
  executionId: string;
  /** id of the form schema version the task was created with (see FormStore) */
  formSchemaId: number | null;
}

export interface TaskStore {
  /** Tasks matching q; `audience` null lists every task (admin), otherwise only those the audience may see. */
  list(q: TaskQuery, audience: TaskAudience | null): Promise<Page<UserTask>>;
  get(id: string, tx?: StoreTx): Promise<StoredTask | null>;
  /** Open tasks of an instance, oldest first. */
  listOpen(instanceId: string, tx?: StoreTx): Promise<UserTask[]>;
  /** Assigns an open, unassigned task to `assignee` at `at`; false when it is not open or already assigned. */
  claim(tx: StoreTx, id: string, assignee: string, at: number): Promise<boolean>;
  /** Removes the assignee if it is still `assignee` and the task open; false otherwise. */
  unclaim(tx: StoreTx, id: string, assignee: string): Promise<boolean>;
  /** Cancels every open task of the instance at `at`; returns them as they were. */
  cancelOpen(tx: StoreTx, instanceId: string, at: number): Promise<UserTask[]>;
}

// ------------------------------------------------------------------------------------------ forms

export interface FormStore {
  /** The JSON Schema text of a form schema version (ids from StoredTask.formSchemaId), or null. */
  schemaText(id: number): Promise<string | null>;
}

// ------------------------------------------------------------------------------------------ jobs

export interface JobQuery {
  /** timer | retry | timer-start */
  type?: string;
  /** due: due and unlocked; waiting: due later; failed: has an error; locked: lock not expired */
  state?: 'due' | 'failed' | 'locked' | 'waiting';
  processInstanceId?: string;
  /** ISO 8601: due at or before */
  dueBefore?: string;
  limit?: number;
  offset?: number;
}

/** A job row as the engine runs it; times in epoch ms. */
export interface StoredJob {
  id: string;
  /** timer | retry | timer-start | start-instance */
  type: string;
  processInstanceId: string | null;
  /** the definition of a timer start job */
  definitionId: string | null;
  activityId: string;
  executionId: string;
  dueAt: number;
  payload: Record<string, unknown>;
  attempts: number;
  lockOwner: string | null;
  lockExpiresAt: number | null;
  lastError: string | null;
  createdAt: number;
}

export interface NewJob {
  /** timer | retry | timer-start | start-instance */
  type: string;
  processInstanceId: string | null;
  definitionId: string | null;
  activityId: string;
  executionId: string;
  dueAt: number;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: number;
}

export interface JobAcquisition {
  /** jobs due at or before this time (ms) */
  now: number;
  /** at most this many */
  limit: number;
  /** the acquiring node */
  owner: string;
  /** the lock's expiry (ms) */
  lockUntil: number;
  /** nodes whose heartbeat (NodeStore) is older than this (wall-clock ms) are dead: their locks are free */
  aliveSince: number;
}

export interface JobStore {
  /** Oldest due first (due, then id); `now` (ms) decides the states due, waiting and locked. */
  list(q: JobQuery, now: number): Promise<Page<Job>>;
  get(id: string, tx?: StoreTx): Promise<StoredJob | null>;
  /** The public view of one job (as list returns it), or null. */
  view(id: string): Promise<Job | null>;
  /**
   * Locks up to `limit` due jobs to `owner` until `lockUntil`, earliest due first, and returns them. A job is free
   * when unlocked, when its lock expired, or when its owner (another node) stopped beating. Several nodes
   * may acquire at the same time: on PostgreSQL rows are taken with FOR UPDATE SKIP LOCKED, so each job goes
   * to one of them.
   */
  acquireDue(a: JobAcquisition): Promise<StoredJob[]>;
  /** Locks one unlocked job to `owner` until `lockUntil` (ms); null when it is gone or locked already. */
  lock(id: string, owner: string, lockUntil: number): Promise<StoredJob | null>;
  /** Whether `owner` still holds the job's lock (not removed, not taken over). */
  isLockedBy(id: string, owner: string): Promise<boolean>;
  /** Releases `owner`'s lock on a job that failed, keeping the error (truncated to 4,000 characters). */
  releaseFailed(id: string, owner: string, error: string): Promise<void>;
  delete(id: string, tx?: StoreTx): Promise<void>;
  setDue(tx: StoreTx, id: string, dueAt: number): Promise<void>;
  /** The timer job of an instance at an activity, if any. */
  findTimer(instanceId: string, activityId: string): Promise<StoredJob | null>;
  /** Inserts a job (with `id` when given, a new UUID otherwise); returns its id. */
  insert(tx: StoreTx, job: NewJob & { id?: string }): Promise<string>;
  deleteForInstance(tx: StoreTx, instanceId: string): Promise<void>;
}

// ------------------------------------------------------------------------------------------ incidents

export interface IncidentQuery {
  /** default open */
  status?: string;
  processInstanceId?: string;
  activityId?: string;
  limit?: number;
  offset?: number;
  /** only the incidents of instances of these process keys (./authorization.ts); absent: all */
  scope?: AccessScope;
}

export interface IncidentStore {
  /** Newest first (created, then id). */
  list(q: IncidentQuery): Promise<Page<Incident>>;
  get(id: string, tx?: StoreTx): Promise<Incident | null>;
  listOpen(instanceId: string, tx?: StoreTx): Promise<Incident[]>;
  /** Marks an open incident resolved by `by` at `at`; false when it was not open. */
  resolve(tx: StoreTx, id: string, by: string, at: number): Promise<boolean>;
  /** Resolves every open incident of the instance. */
  resolveOpen(tx: StoreTx, instanceId: string, by: string, at: number): Promise<void>;
  countOpen(tx: StoreTx, instanceId: string): Promise<number>;
}

// ------------------------------------------------------------------------------------------ subscriptions

/** A catch event (message or signal) an instance waits at. */
export interface Subscription {
  id: number;
  processInstanceId: string;
  activityId: string;
  executionId: string;
  kind: 'message' | 'signal';
  eventName: string;
  correlationKey: string | null;
  businessKey: string | null;
  createdAt: number;
}

export interface SubscriptionStore {
  /** Message subscriptions by name, narrowed by each given key (exact match); oldest first. */
  findMessage(q: { name: string; processInstanceId?: string; businessKey?: string; correlationKey?: string }): Promise<Subscription[]>;
  /** Signal subscriptions by name; in creation order. */
  findSignal(name: string): Promise<Subscription[]>;
  /** The subscription of an instance at one activity, if any. */
  findAt(instanceId: string, activityId: string): Promise<Subscription | null>;
  deleteForInstance(tx: StoreTx, instanceId: string): Promise<void>;
}

// ------------------------------------------------------------------------------------------ buffered messages

/** A published message kept for its time to live (POST /api/messages with timeToLive; ./correlation.ts). */
export interface BufferedMessage {
  id: string;
  name: string;
  businessKey: string | null;
  correlationKey: string | null;
  /** the instance the sender named (it may not exist yet) */
  processInstanceId: string | null;
  variables: Variables;
  /** the sender's id: unique per name while the message is remembered (null: none) */
  messageId: string | null;
  /** buffered: waiting for a wait state; correlated: delivered, remembered until it expires (messageId) */
  state: 'buffered' | 'correlated';
  /** the instance it was delivered to */
  correlatedTo: string | null;
  createdAt: number;
  expiresAt: number;
  correlatedAt: number | null;
  /** the sender's user name */
  createdBy: string | null;
}

/** A buffered message and the oldest waiting catch event it matches. */
export interface BufferedMatch {
  message: BufferedMessage;
  subscription: Subscription;
}

export interface MessageBufferStore {
  /** The remembered message (not expired at `now`) with this name and messageId. */
  findByMessageId(name: string, messageId: string, now: number): Promise<BufferedMessage | null>;
  /**
   * Stores a message (expired ones with the same name and messageId are dropped first).
   * @returns false when a remembered message with the same name and messageId exists
   */
  insert(m: BufferedMessage, now: number): Promise<boolean>;
  /**
   * Buffered messages not expired at `now` with the oldest message subscription each matches (same name; and the
   * business key, correlation key and instance the message names, when it names them), oldest message first.
   * `processInstanceId` narrows to one instance's subscriptions, `messageIds` to those messages (ids, not messageId).
   */
  matches(now: number, q: { processInstanceId?: string; ids?: string[]; limit: number }): Promise<BufferedMatch[]>;
  /** Marks a buffered message delivered to an instance, in `tx`; false when it is not buffered any more. */
  markCorrelated(tx: StoreTx, id: string, instanceId: string, at: number): Promise<boolean>;
  /** Removes the messages expired at `now` (buffered or remembered); returns how many. */
  deleteExpired(now: number): Promise<number>;
}

// ------------------------------------------------------------------------------------------ history

/** A stored history event of a chain, with its hash link; `at` in ms. */
export interface HistoryRecord {
  seq: number;
  at: number;
  type: string;
  activityId: string | null;
  activityType: string | null;
  actor: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface ChainCheck {
  consistent: boolean;
  /** events checked */
  checked: number;
  /** the first broken link: its seq, what happened (edited, inserted, deleted...) and why */
  firstBroken?: { seq: number; kind: string; reason: string };
}

export interface HistoryStore {
  /** Appends entries to a chain (an instance id, "deployments", "users"), hash-linked, inside tx. */
  append(tx: StoreTx, chainId: string, entries: NewHistoryEvent[]): Promise<void>;
  /** A chain's events in order. */
  list(chainId: string): Promise<HistoryRecord[]>;
  /** Recomputes a chain's hashes (read-only). */
  verify(chainId: string): Promise<ChainCheck>;
}

// ------------------------------------------------------------------------------------------ authorizations

export interface GrantQuery {
  group?: string;
  user?: string;
  resourceType?: ResourceType;
  resourceId?: string;
  source?: 'admin' | 'defaults';
  limit?: number;
  offset?: number;
}

/** What identifies a grant: one per principal, resource and source. */
export interface GrantKey {
  group: string | null;
  user: string | null;
  resourceType: ResourceType;
  resourceId: string;
  source: 'admin' | 'defaults';
}

/** The authorizations.json a deployment made current: its grants and sensitive variables replace the previous file's. */
export interface AuthorizationDefaults {
  deploymentId: string;
  resourceName: string;
  /** sha256 of the normalized file (JSON.stringify of its parse) */
  checksum: string;
  deployedAt: number;
  deployedBy: string;
  grants: Grant[];
  sensitive: SensitiveVariable[];
}

/** Grants, sensitive variables and task participation (./authorization.ts). */
export interface AuthorizationStore {
  /** The grants to the user `user` or to one of `groups` (exact, case-sensitive names). */
  forPrincipals(user: string, groups: string[]): Promise<Grant[]>;
  /** Grants by principal, resource and source; by resource type, resource id, principal. */
  list(q: GrantQuery, tx?: StoreTx): Promise<Page<Grant>>;
  get(id: string, tx?: StoreTx): Promise<Grant | null>;
  find(key: GrantKey, tx?: StoreTx): Promise<Grant | null>;
  insert(tx: StoreTx, grant: Grant): Promise<void>;
  /** false when there was no such grant */
  delete(tx: StoreTx, id: string): Promise<boolean>;
  /** The checksums of the authorizations.json files deployed so far, the current one first. */
  defaultsChecksums(tx?: StoreTx): Promise<string[]>;
  /** Drops every grant and sensitive variable of the previous file and stores these, in `tx`. */
  replaceDefaults(tx: StoreTx, d: AuthorizationDefaults): Promise<{ replacedGrants: number }>;
  sensitiveVariables(): Promise<SensitiveVariable[]>;
  /** Whether `user` holds or held a task of the instance (assignee or completed-by). */
  participated(user: string, instanceId: string): Promise<boolean>;
}

// ------------------------------------------------------------------------------------------ nodes

/** An engine process sharing the database; `heartbeatAt` in wall-clock ms. */
export interface EngineNode {
  id: string;
  host: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
}

export interface NodeStore {
  /** true when the database admits one engine process only (SQLite); false when nodes share it (PostgreSQL) */
  readonly singleWriter: boolean;
  /** Other nodes: on `host`, or (without host) those that beat after `aliveSince` (ms). */
  others(self: string, filter: { host?: string; aliveSince?: number }): Promise<EngineNode[]>;
  remove(ids: string[]): Promise<void>;
  /** Forgets nodes whose last heartbeat is older than `before` (ms). */
  prune(before: number): Promise<void>;
  register(node: EngineNode): Promise<void>;
  heartbeat(id: string, at: number): Promise<void>;
}

// ------------------------------------------------------------------------------------------ external tasks

/** An external task row (./external-tasks.ts); times epoch ms. */
export interface StoredExternalTask {
  id: string;
  topic: string;
  processInstanceId: string;
  definitionId: string;
  processKey: string;
  activityId: string;
  executionId: string;
  businessKey: string | null;
  priority: number;
  /** as the worker last reported; null before any failure */
  retries: number | null;
  errorMessage: string | null;
  errorDetails: string | null;
  workerId: string | null;
  lockExpiresAt: number | null;
  status: 'open' | 'completed' | 'cancelled';
  /** the worker id that completed it (or threw its BPMN error) */
  completedBy: string | null;
  createdAt: number;
}

/** One topic of a fetch: the tasks of that topic (optionally of one business key / process key), locked until `lockUntil`. */
export interface ExternalTaskTopicFetch {
  topicName: string;
  lockUntil: number;
  businessKey?: string;
  processDefinitionKey?: string;
}

export interface ExternalTaskStore {
  get(id: string, tx?: StoreTx): Promise<StoredExternalTask | null>;
  /**
   * Locks for `workerId` up to `maxTasks` fetchable tasks of the topics: open, of an active instance, retries null
   * or > 0, never locked or lock expired at `now`; by priority (highest first) when `usePriority`, then oldest
   * first. Safe between nodes: a task another fetch locked first is skipped.
   */
  lockFetchable(q: { topics: ExternalTaskTopicFetch[]; workerId: string; maxTasks: number; usePriority: boolean; now: number }): Promise<StoredExternalTask[]>;
  /** Sets the lock expiration of an open task that `workerId` holds unexpired at `now`; false when it does not. */
  extendLock(id: string, workerId: string, now: number, lockUntil: number): Promise<boolean>;
  /** Clears the lock of an open task; false when it is not open. */
  unlock(id: string): Promise<boolean>;
  /** Closes an open task held by `workerId` (its lock's expiry is not checked, as in Camunda); false otherwise. */
  close(tx: StoreTx, id: string, workerId: string, now: number, patch: { status: 'completed'; completedBy: string; endedAt: number }): Promise<boolean>;
  /** Records a failure (or an uncaught BPMN error) of an open task held by `workerId` (expiry not checked); false otherwise. */
  recordFailure(tx: StoreTx, id: string, workerId: string, now: number, patch: { retries: number; errorMessage: string | null; errorDetails: string | null; lockExpiresAt: number | null }): Promise<boolean>;
  /** The instance's execution bookkeeping (process_instances.exec_meta, CommitMeta JSON; its local variable scopes), null when none. */
  execMeta(instanceId: string): Promise<string | null>;
  /** Cancels the open tasks of an instance (the instance is cancelled); what was open. */
  cancelOpen(tx: StoreTx, instanceId: string, at: number): Promise<StoredExternalTask[]>;
  /** Open tasks, oldest first, by topic and instance. */
  list(q: { topicName?: string; processInstanceId?: string; limit: number; offset: number }): Promise<Page<StoredExternalTask>>;
}

/** Everything the engine core stores, one store per concept. */
export interface EngineStores {
  transactions: Transactions;
  /** the transition core's instance lock and commit (./transition-store.ts) */
  transitions: TransitionStore;
  /** deployments and deployed versions (./deployment-store.ts) */
  deployments: DeploymentStore;
  instances: InstanceStore;
  tasks: TaskStore;
  forms: FormStore;
  jobs: JobStore;
  incidents: IncidentStore;
  subscriptions: SubscriptionStore;
  /** messages published with a time to live */
  messages: MessageBufferStore;
  history: HistoryStore;
  nodes: NodeStore;
  /** grants, sensitive variables and task participation */
  authorizations: AuthorizationStore;
  /** external tasks waiting for workers (./external-tasks.ts) */
  externalTasks: ExternalTaskStore;
}
