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
import * as externalTasks from './external-tasks.ts';
import { drain } from './transition.ts';
import { lockJob, startAfterCommit } from './deferred-start.ts';
import type { UnitOfWork } from './unit-of-work.ts';
import { resolveLimits, type EngineLimits } from './limits.ts';
import * as authz from './authorization.ts';
import * as authzAdmin from './authorization-admin.ts';
import { historyRedactor, instanceDecisions } from './authorization-reads.ts';
import type { GrantInput } from './authorization-defaults.ts';
import type { GrantQuery, HistoryRecord } from './ports.ts';

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
  /**
   * what deployment refuses (timer cycles, nesting, size) and how much one transition may do before it stops with
   * an incident; defaults in ./limits.ts (DEFAULT_LIMITS). @throws RangeError from the constructor for a bad value
   */
  limits?: Partial<EngineLimits>;
  /** lints deployed BPMN resources into the deploy result's `warnings` (./deployment.ts DeploymentLinter; none by default) */
  lint?: deployment.DeploymentLinter;
}

export class EngineCore {
  readonly stores: EngineStores;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nodeId: string;
  readonly jobLockMs: number;
  readonly jobConcurrency: number;
  readonly limits: Readonly<EngineLimits>;
  readonly handlers = new Map<string, RegisteredHandler>();
  readonly taskGuards = new Map<string, tasks.TaskGuard>();
  readonly startGuards = new Map<string, instances.StartGuard>();
  readonly decisions = new DecisionRegistry();
  private readonly ctx: EngineContext;

  constructor(opts: EngineCoreOptions) {
    this.stores = opts.stores;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.nodeId = opts.nodeId ?? `node-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.jobLockMs = opts.jobLockMs ?? 60_000;
    this.jobConcurrency = Math.max(1, opts.jobConcurrency ?? 4);
    this.limits = resolveLimits(opts.limits);
    this.ctx = {
      stores: this.stores,
      clock: this.clock,
      logger: this.logger,
      nodeId: this.nodeId,
      jobLockMs: this.jobLockMs,
      jobConcurrency: this.jobConcurrency,
      limits: this.limits,
      lint: opts.lint,
      handlers: this.handlers,
      taskGuards: this.taskGuards,
      startGuards: this.startGuards,
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

  /**
   * A check the domain runs before a user task of `processKey` at `activityId` is claimed or completed (e.g.
   * separation of duties: the reviewer of a dispute is not who made the contested decision). The guard throws an
   * InsureflowError to refuse; it runs after the engine's own checks, before anything is written. One per task.
   */
  registerTaskGuard(processKey: string, activityId: string, guard: tasks.TaskGuard): this {
    this.taskGuards.set(`${processKey}/${activityId}`, guard);
    return this;
  }

  /**
   * A check the domain runs before an instance of `processKey` is started, after the engine's own start checks
   * (permission, input, start form) and before anything is written (e.g. a business key the domain's first step
   * would refuse). The guard throws an InsureflowError to refuse. One per process.
   */
  registerStartGuard(processKey: string, guard: instances.StartGuard): this {
    this.startGuards.set(processKey, guard);
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
   * The checks of startInstance without starting: permission, input text, definition, start form.
   * @throws InsureflowError FORBIDDEN, VALIDATION_FAILED (per field), DEFINITION_NOT_FOUND
   */
  async checkStart(key: string, input: { businessKey?: string | null; variables?: Variables; version?: number }, actor: Actor = SYSTEM): Promise<void> {
    await instances.checkStart(this.ctx, key, input, actor);
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

  /** The instances the actor may read (admins and SYSTEM: all; ./authorization.ts). */
  listInstances(q: instances.InstanceQuery, actor: Actor = SYSTEM): Promise<Page<ProcessInstance>> {
    return instances.listInstances(this.ctx, q, actor);
  }

  /** @throws InsureflowError INSTANCE_NOT_FOUND, FORBIDDEN (the actor may not read it: ./authorization.ts) */
  getInstance(id: string, actor: Actor = SYSTEM): Promise<instances.InstanceDetail> {
    return instances.getInstance(this.ctx, id, actor);
  }

  cancelInstance(id: string, actor: Actor, reason?: string): Promise<instances.InstanceDetail> {
    return instances.cancelInstance(this.ctx, id, actor, reason);
  }

  /** @throws InsureflowError INSTANCE_NOT_FOUND, FORBIDDEN (no read-history, no task of it: ./authorization.ts) */
  history(instanceId: string, actor: Actor = SYSTEM): Promise<instances.InstanceHistoryEvent[]> {
    return instances.history(this.ctx, instanceId, actor);
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

  /** Incidents of the process keys the actor may read-instances (admins and SYSTEM: all). */
  listIncidents(q: incidents.IncidentQuery, actor: Actor = SYSTEM): Promise<Page<Incident>> {
    return incidents.listIncidents(this.ctx, q, actor);
  }

  getIncident(id: string): Promise<Incident> {
    return incidents.getIncident(this.ctx, id);
  }

  /** Run the failed handler again, optionally with corrected variables. */
  retryIncident(id: string, variables: Variables | undefined, actor: Actor): Promise<Incident> {
    return incidents.retryIncident(this.ctx, id, variables, actor);
  }

  // ---------------------------------------------------------------- authorizations (./authorization.ts)

  /** What the actor may do: its roles and the grants to it and its groups, read now. */
  permissions(actor: Actor): Promise<authz.ActorPermissions> {
    return authz.permissionsOf(this.ctx, actor);
  }

  /** @throws InsureflowError FORBIDDEN (naming the permission, the resource and how an admin grants it) */
  async authorize(actor: Actor, permission: authz.Permission, resourceType: authz.ResourceType, resourceId: string): Promise<void> {
    await authz.authorize(this.ctx, actor, permission, resourceType, resourceId);
  }

  /** Grants (admins only). @throws InsureflowError FORBIDDEN */
  listAuthorizations(q: GrantQuery, actor: Actor): Promise<Page<authz.Grant>> {
    return authzAdmin.listGrants(this.ctx, q, actor);
  }

  /** @throws InsureflowError FORBIDDEN, VALIDATION_FAILED, AUTHORIZATION_EXISTS */
  grant(input: GrantInput, actor: Actor): Promise<authz.Grant> {
    return authzAdmin.grant(this.ctx, input, actor);
  }

  /** @throws InsureflowError FORBIDDEN, AUTHORIZATION_NOT_FOUND */
  revoke(id: string, actor: Actor): Promise<authz.Grant> {
    return authzAdmin.revoke(this.ctx, id, actor);
  }

  /** The sensitive variables in force (admins only). @throws InsureflowError FORBIDDEN */
  sensitiveVariables(actor: Actor): Promise<authz.SensitiveVariable[]> {
    return authzAdmin.listSensitiveVariables(this.ctx, actor);
  }

  /** Removes from reads the sensitive variables the actor may not see. */
  redactor(actor: Actor): Promise<authz.Redactor> {
    return authz.redactorFor(this.ctx, actor);
  }

  /** The redactor of reads across all instances; @throws InsureflowError FORBIDDEN without read-history on every process */
  historyRedactor(actor: Actor): Promise<authz.Redactor> {
    return historyRedactor(this.ctx, actor);
  }

  /** The decisions an instance evaluated, as the actor may see them. @throws InsureflowError INSTANCE_NOT_FOUND, FORBIDDEN */
  instanceDecisions(instanceId: string, actor: Actor): Promise<HistoryRecord[]> {
    return instanceDecisions(this.ctx, instanceId, actor);
  }

  /** Mark resolved without running anything (the operator fixed it elsewhere); the activity stays parked. */
  resolveIncident(id: string, actor: Actor, note?: string): Promise<Incident> {
    return incidents.resolveIncident(this.ctx, id, actor, note);
  }

  /** The external-task worker API, Camunda 7 semantics (./external-tasks.ts says what each operation does and throws). */
  readonly externalTasks = {
    fetchAndLock: (actor: Actor, req: externalTasks.FetchRequest, signal?: AbortSignal) => externalTasks.fetchAndLock(this.ctx, actor, req, signal),
    get: (actor: Actor, id: string) => externalTasks.getExternalTask(this.ctx, actor, id),
    list: (actor: Actor, q: Parameters<typeof externalTasks.listExternalTasks>[2]) => externalTasks.listExternalTasks(this.ctx, actor, q),
    complete: (actor: Actor, id: string, body: Parameters<typeof externalTasks.completeExternalTask>[3]) => externalTasks.completeExternalTask(this.ctx, actor, id, body),
    failure: (actor: Actor, id: string, body: Parameters<typeof externalTasks.failExternalTask>[3]) => externalTasks.failExternalTask(this.ctx, actor, id, body),
    bpmnError: (actor: Actor, id: string, body: Parameters<typeof externalTasks.bpmnErrorExternalTask>[3]) => externalTasks.bpmnErrorExternalTask(this.ctx, actor, id, body),
    extendLock: (actor: Actor, id: string, body: Parameters<typeof externalTasks.extendExternalTaskLock>[3]) => externalTasks.extendExternalTaskLock(this.ctx, actor, id, body),
    unlock: (actor: Actor, id: string) => externalTasks.unlockExternalTask(this.ctx, actor, id),
  };
}
