/**
 * The engine core: the operations of insureflow (deploy, start, tasks, messages, jobs, incidents, history),
 * shared by the HTTP API and by embedding applications. This class is the facade: it owns the shared context
 * (stores, clock, caches, locks, handlers) and delegates each operation to the module of its command
 * (deployment, instances, tasks, correlation, jobs, incidents; transition is the core). It knows storage only
 * through the ports of ./ports.ts; src/persistence/knex-engine.ts builds it over Knex (InsureflowEngine).
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from './clock.ts';
import { silentLogger, type EngineContext, type Logger } from './context.ts';
import { DefinitionCache } from './definitions.ts';
import { FormCache } from './forms.ts';
import { SYSTEM, userAuditView, type Actor, type Incident, type Job, type Page, type UserTask, type ProcessInstance } from './model.ts';
import type { EngineStores } from './ports.ts';
import type { Handler, HandlerOptions, RegisteredHandler, Variables } from './runtime.ts';
import { DecisionRegistry } from '../decisions/dmn.ts';
import * as deployment from './deployment.ts';
import * as instances from './instances.ts';
import * as tasks from './tasks.ts';
import * as correlation from './correlation.ts';
import * as jobs from './jobs.ts';
import * as incidents from './incidents.ts';
import { drain } from './transition.ts';
import { lockJob, startAfterCommit } from './deferred-start.ts';
import type { UnitOfWork } from './unit-of-work.ts';

export { HEARTBEAT_STALE_MS, type Logger } from './context.ts';
export type { Resource, DeployResult } from './deployment.ts';
export type { TaskQuery } from './tasks.ts';

/** What the core runs on: its stores, and the settings of this engine process. */
export interface EngineCoreOptions {
  stores: EngineStores;
  clock?: Clock;
  logger?: Logger;
  /** identifies this process in job locks */
  nodeId?: string;
  /** how long an acquired job stays locked to this node (ms) */
  jobLockMs?: number;
  /** jobs run at the same time by runDueJobs (default 4) */
  jobConcurrency?: number;
}

export class EngineCore {
  readonly stores: EngineStores;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nodeId: string;
  readonly jobLockMs: number;
  readonly jobConcurrency: number;
  readonly handlers = new Map<string, RegisteredHandler>();
  readonly decisions = new DecisionRegistry();
  private readonly ctx: EngineContext;

  constructor(opts: EngineCoreOptions) {
    this.stores = opts.stores;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.nodeId = opts.nodeId ?? `node-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.jobLockMs = opts.jobLockMs ?? 60_000;
    this.jobConcurrency = Math.max(1, opts.jobConcurrency ?? 4);
    this.ctx = {
      stores: this.stores,
      clock: this.clock,
      logger: this.logger,
      nodeId: this.nodeId,
      jobLockMs: this.jobLockMs,
      jobConcurrency: this.jobConcurrency,
      handlers: this.handlers,
      decisions: this.decisions,
      transitions: this.stores.transitions,
      deployments: this.stores.deployments,
      definitions: new DefinitionCache(),
      forms: new FormCache(),
      metaCache: new Map(),
      locks: new Map(),
      run: { decisionsLoaded: false, inflight: 0, idle: null, closing: false },
    };
  }

  // ---------------------------------------------------------------- handlers

  registerHandler(name: string, fn: Handler, options: HandlerOptions = {}): this {
    this.handlers.set(name, { name, fn, options });
    return this;
  }

  registerHandlers(map: Record<string, Handler>, options: HandlerOptions = {}): this {
    for (const [name, fn] of Object.entries(map)) this.registerHandler(name, fn, options);
    return this;
  }

  // ---------------------------------------------------------------- deployment and definitions

  loadDecisions(): Promise<void> {
    return deployment.loadDecisions(this.ctx);
  }

  deploy(resources: deployment.Resource[], opts: { actor?: Actor; source?: string; name?: string } = {}): Promise<deployment.DeployResult> {
    return deployment.deploy(this.ctx, resources, opts);
  }

  listDefinitions() {
    return deployment.listDefinitions(this.ctx);
  }

  getDefinitionRow(key: string, version?: number) {
    return deployment.getDefinitionRow(this.ctx, key, version);
  }

  getDefinition(key: string, version?: number) {
    return deployment.getDefinition(this.ctx, key, version);
  }

  // ---------------------------------------------------------------- instances

  /** Resolves when no transition is running (used by graceful shutdown). */
  drain(timeoutMs = 10_000): Promise<void> {
    return drain(this.ctx, timeoutMs);
  }

  startInstance(key: string, input: { businessKey?: string | null; variables?: Variables; version?: number }, actor: Actor = SYSTEM): Promise<instances.InstanceDetail> {
    return instances.startInstance(this.ctx, key, input, actor);
  }

  /**
   * Starts an instance of `key` once the transition of `unitOfWork` commits (a handler opening a renewal case):
   * a durable start job is written in that unit of work; returns the id the new instance will have.
   */
  startInstanceAfterCommit(unitOfWork: UnitOfWork, key: string, input: { businessKey?: string | null; variables?: Variables }): Promise<string> {
    return startAfterCommit(this.ctx, unitOfWork, key, input, async (jobId) => {
      const job = await lockJob(this.ctx, jobId);
      if (job) await jobs.runJob(this.ctx, job);
    });
  }

  listInstances(q: instances.InstanceQuery): Promise<Page<ProcessInstance>> {
    return instances.listInstances(this.ctx, q);
  }

  getInstance(id: string): Promise<instances.InstanceDetail> {
    return instances.getInstance(this.ctx, id);
  }

  cancelInstance(id: string, actor: Actor, reason?: string): Promise<instances.InstanceDetail> {
    return instances.cancelInstance(this.ctx, id, actor, reason);
  }

  history(instanceId: string): Promise<instances.InstanceHistoryEvent[]> {
    return instances.history(this.ctx, instanceId);
  }

  /** Recompute one instance's hash chain; names the first broken link and what happened to it. */
  verifyInstanceHistory(instanceId: string) {
    return instances.verifyInstanceHistory(this.ctx, instanceId);
  }

  // ---------------------------------------------------------------- tasks

  /** Can this actor see/act on this task? Admins always; ops when assigned or candidate. */
  canWork(actor: Actor, t: { assignee: string | null; candidateGroups: string[]; candidateUsers: string[] }): boolean {
    return tasks.canWork(actor, t);
  }

  listTasks(q: tasks.TaskQuery, actor: Actor): Promise<Page<UserTask>> {
    return tasks.listTasks(this.ctx, q, actor);
  }

  getTask(id: string, actor: Actor): Promise<tasks.TaskDetail> {
    return tasks.getTask(this.ctx, id, actor);
  }

  claimTask(id: string, actor: Actor): Promise<UserTask> {
    return tasks.claimTask(this.ctx, id, actor);
  }

  unclaimTask(id: string, actor: Actor): Promise<UserTask> {
    return tasks.unclaimTask(this.ctx, id, actor);
  }

  completeTask(id: string, variables: Variables, actor: Actor): Promise<UserTask> {
    return tasks.completeTask(this.ctx, id, variables, actor);
  }

  // ---------------------------------------------------------------- messages and signals

  correlateMessage(m: correlation.MessageInput, actor: Actor = SYSTEM): Promise<correlation.CorrelationResult> {
    return correlation.correlateMessage(this.ctx, m, actor);
  }

  broadcastSignal(s: { name: string; variables?: Variables }, actor: Actor = SYSTEM) {
    return correlation.broadcastSignal(this.ctx, s, actor);
  }

  /**
   * Appends a user operation to the "users" hash chain on its own. The user store of the Knex engine
   * (`engine.users`) already records its changes in the transaction that makes them: use this only for user
   * changes made elsewhere (another identity store), never after `engine.users.add|update|remove`.
   */
  async recordUserOperation(actor: Actor, type: string, target: string, before: unknown, after: unknown): Promise<void> {
    await this.stores.transactions.run((tx) =>
      this.stores.history.append(tx, 'users', [
        { processInstanceId: null, processKey: null, processVersion: null, businessKey: null, at: this.clock.now(), type, activityId: null, activityType: null, actor: actor.name, data: { target, before: userAuditView(before), after: userAuditView(after) } },
      ]),
    );
  }

  // ---------------------------------------------------------------- jobs and incidents

  listJobs(q: jobs.JobQuery): Promise<Page<Job>> {
    return jobs.listJobs(this.ctx, q);
  }

  setJobDue(id: string, dueAt: string, actor: Actor): Promise<Job> {
    return jobs.setJobDue(this.ctx, id, dueAt, actor);
  }

  /**
   * Acquire and run due jobs once. On PostgreSQL rows are locked with FOR UPDATE SKIP LOCKED so several
   * nodes share the work; an expired lock (crashed node) is taken over; buffered messages whose wait state
   * appeared are delivered. Returns the number of jobs run and buffered messages delivered.
   */
  runDueJobs(limit = 50): Promise<number> {
    return jobs.runDueJobs(this.ctx, limit);
  }

  listIncidents(q: incidents.IncidentQuery): Promise<Page<Incident>> {
    return incidents.listIncidents(this.ctx, q);
  }

  getIncident(id: string): Promise<Incident> {
    return incidents.getIncident(this.ctx, id);
  }

  /** Run the failed handler again, optionally with corrected variables. */
  retryIncident(id: string, variables: Variables | undefined, actor: Actor): Promise<Incident> {
    return incidents.retryIncident(this.ctx, id, variables, actor);
  }

  /** Mark resolved without running anything (the operator fixed it elsewhere); the activity stays parked. */
  resolveIncident(id: string, actor: Actor, note?: string): Promise<Incident> {
    return incidents.resolveIncident(this.ctx, id, actor, note);
  }
}
