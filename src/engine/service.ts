/**
 * The engine service: the operations of insureflow (deploy, start, tasks, messages, jobs, incidents,
 * history), shared by the HTTP API and by embedding applications. Every transition of an instance runs
 * under an in-process lock and commits state, tasks, jobs, subscriptions and history in one transaction
 * guarded by the instance's revision.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { InsureflowError, notFound } from '../errors.ts';
import { systemClock, type Clock } from './clock.ts';
import { DefinitionCache, compileDefinition, type CachedDefinition, type ActivityInfo } from './definitions.ts';
import { evaluateFeel, feelBody, resolveValue } from './expressions.ts';
import { FormCache, compileSchema, fieldErrors } from './forms.ts';
import type { ValidateFunction } from 'ajv';
import { cycleRepeats, durationMs, timerDueAt } from './iso.ts';
import {
  runTransition,
  type Action,
  type Handler,
  type HandlerOptions,
  type RegisteredHandler,
  type RunOutput,
  type PendingCall,
  type Variables,
  type DecisionEvaluator,
} from './runtime.ts';
import { parseBpmn, BpmnInvalidError, type ParsedBpmn } from '../definitions/parse.ts';
import { validateBpmn } from '../definitions/validate.ts';
import { parseDmn, DmnInvalidError, DecisionRegistry, type DecisionTable } from '../decisions/dmn.ts';
import { appendHistory, rowToEvent, type NewEvent } from '../persistence/history.ts';
import { verifyHistoryChain } from '../audit/verify.ts';
import {
  paged,
  parseJson,
  toDefinition,
  toIncident,
  toInstance,
  toJob,
  toTask,
  updateInstanceGuarded,
  type DefinitionRow,
  type InstanceRow,
  type JobRow,
  type Page,
  type TaskRow,
  type Trx,
  type UserTask,
  type ProcessDefinition,
} from '../persistence/store.ts';
import { SYSTEM, UserStore, type Actor } from '../persistence/users.ts';

/** a node whose heartbeat is older than this is considered dead (its job locks can be taken over) */
export const HEARTBEAT_STALE_MS = 15_000;

export interface Logger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export interface EngineOptions {
  db: Knex;
  clock?: Clock;
  logger?: Logger;
  /** identifies this process in job locks */
  nodeId?: string;
  /** how long an acquired job stays locked to this node (ms) */
  jobLockMs?: number;
  /** jobs run at the same time by runDueJobs (default 4) */
  jobConcurrency?: number;
}

export interface Resource {
  name: string;
  content: string;
}

export interface DeployResult {
  deploymentId: string | null;
  created: boolean;
  definitions: { id: string; key: string; version: number; name: string | null; created: boolean }[];
  forms: { formKey: string; version: number; created: boolean }[];
  decisions: { decisionKey: string; version: number; created: boolean }[];
}

export interface TaskQuery {
  candidateGroup?: string;
  candidateUser?: string;
  assignee?: string;
  processKey?: string;
  businessKey?: string;
  processInstanceId?: string;
  status?: 'open' | 'completed' | 'cancelled';
  dueBefore?: string;
  dueAfter?: string;
  sort?: 'created' | 'due' | 'priority';
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const MAX_TASK_PRIORITY = 100;

function isAdmin(actor: Actor) {
  return actor.roles.includes('admin');
}

function asList(v: unknown): string[] {
  if (v === null || v === undefined || v === '') return [];
  if (Array.isArray(v)) return v.map(String).map((s) => s.trim()).filter(Boolean);
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export class InsureflowEngine {
  readonly db: Knex;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly users: UserStore;
  readonly nodeId: string;
  readonly jobLockMs: number;
  readonly jobConcurrency: number;
  readonly handlers = new Map<string, RegisteredHandler>();
  readonly decisions = new DecisionRegistry();
  private readonly definitions = new DefinitionCache();
  private readonly forms = new FormCache();
  private readonly locks = new Map<string, Promise<unknown>>();
  private decisionsLoaded = false;
  private inflight = 0;
  private idle: (() => void) | null = null;
  private closing = false;

  constructor(opts: EngineOptions) {
    this.db = opts.db;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.users = new UserStore(this.db, () => this.clock.now());
    this.nodeId = opts.nodeId ?? `node-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.jobLockMs = opts.jobLockMs ?? 60_000;
    this.jobConcurrency = Math.max(1, opts.jobConcurrency ?? 4);
  }

  get dialect() {
    return (this.db.client as any).config?.client === 'pg' ? 'postgres' : 'sqlite';
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

  private decisionEvaluator(): DecisionEvaluator {
    return { evaluate: (id, ctx) => this.decisions.evaluate(id, ctx) };
  }

  async loadDecisions(): Promise<void> {
    const rows = await this.db('decision_definitions as d')
      .whereRaw('d.version = (select max(version) from decision_definitions x where x.decision_key = d.decision_key)')
      .select('d.*');
    const seen = new Set<string>();
    for (const r of rows) {
      const tables = await parseDmn(r.xml, r.resource_name);
      for (const t of tables) if (t.id === r.decision_key && !seen.has(t.id)) {
        this.decisions.add([t]);
        seen.add(t.id);
      }
    }
    this.decisionsLoaded = true;
  }

  // ---------------------------------------------------------------- deployment

  async deploy(resources: Resource[], opts: { actor?: Actor; source?: string; name?: string } = {}): Promise<DeployResult> {
    const actor = opts.actor ?? SYSTEM;
    if (!this.decisionsLoaded) await this.loadDecisions();
    if (!resources.length) throw new InsureflowError('VALIDATION_FAILED', 'a deployment needs at least one resource');
    const problems: { resource: string; element: string | null; message: string }[] = [];
    const bpmn: { name: string; content: string; parsed: ParsedBpmn }[] = [];
    const dmn: { name: string; content: string; tables: DecisionTable[] }[] = [];
    const forms: { name: string; formKey: string; content: string; schema: unknown }[] = [];

    for (const r of resources) {
      const lower = r.name.toLowerCase();
      if (lower.endsWith('.schema.json')) {
        const formKey = r.name.replace(/^.*[\\/]/, '').slice(0, -'.schema.json'.length);
        try {
          const schema = JSON.parse(r.content);
          compileSchema(schema);
          forms.push({ name: r.name, formKey, content: JSON.stringify(schema), schema });
        } catch (err) {
          problems.push({ resource: r.name, element: null, message: `form schema "${formKey}" is not a valid JSON Schema: ${(err as Error).message}` });
        }
      } else if (lower.endsWith('.dmn') || /<definitions[^>]+dmn/i.test(r.content.slice(0, 2000)) && !lower.endsWith('.bpmn')) {
        try {
          dmn.push({ name: r.name, content: r.content, tables: await parseDmn(r.content, r.name) });
        } catch (err) {
          if (err instanceof DmnInvalidError) for (const p of err.problems) problems.push({ resource: r.name, ...p });
          else problems.push({ resource: r.name, element: null, message: (err as Error).message });
        }
      } else if (lower.endsWith('.bpmn') || lower.endsWith('.xml') || lower.endsWith('.bpmn20.xml')) {
        try {
          bpmn.push({ name: r.name, content: r.content, parsed: await parseBpmn(r.content) });
        } catch (err) {
          if (err instanceof BpmnInvalidError) for (const p of err.problems) problems.push({ resource: r.name, ...p });
          else problems.push({ resource: r.name, element: null, message: (err as Error).message });
        }
      } else {
        problems.push({ resource: r.name, element: null, message: 'unknown resource type: expected .bpmn, .dmn or .schema.json' });
      }
    }

    const knownForms = new Set<string>([...forms.map((f) => f.formKey), ...(await this.db('form_schemas').distinct('form_key')).map((r: any) => r.form_key)]);
    const knownDecisions = new Set<string>([...this.decisions.ids(), ...dmn.flatMap((d) => d.tables.map((t) => t.id))]);
    const handlers = new Set(this.handlers.keys());
    const keysInBundle = new Map<string, string>();
    for (const b of bpmn) {
      for (const p of validateBpmn(b.parsed, { handlers, forms: knownForms, decisions: knownDecisions })) problems.push({ resource: b.name, ...p });
      const executable = b.parsed.processes.filter((p) => p.isExecutable);
      if (executable.length > 1) {
        problems.push({ resource: b.name, element: executable[1].id, message: `a BPMN file deploys one executable process; "${b.name}" has ${executable.length} (${executable.map((p) => p.id).join(', ')}). Mark the other pools isExecutable="false" or split the file.` });
      }
      for (const p of executable) {
        if (keysInBundle.has(p.id)) problems.push({ resource: b.name, element: p.id, message: `process "${p.id}" is defined in both ${keysInBundle.get(p.id)} and ${b.name}` });
        keysInBundle.set(p.id, b.name);
      }
    }
    if (problems.length) {
      const first = problems[0];
      throw new InsureflowError('BPMN_INVALID', `the deployment cannot run: ${problems.length} problem(s); first: ${first.element ? first.element + ': ' : ''}${first.message}`, problems);
    }

    const now = this.clock.now();
    const deploymentId = randomUUID();
    const result: DeployResult = { deploymentId: null, created: false, definitions: [], forms: [], decisions: [] };
    const compiled: CachedDefinition[] = [];

    await this.db.transaction(async (trx) => {
      const ensureDeployment = async () => {
        if (result.deploymentId) return;
        result.deploymentId = deploymentId;
        await trx('deployments').insert({ id: deploymentId, name: opts.name ?? resources.map((r) => r.name).join(', ').slice(0, 200), source: opts.source ?? 'library', deployed_by: actor.name, deployed_at: now });
        for (const r of resources) {
          const kind = r.name.toLowerCase().endsWith('.schema.json') ? 'form' : dmn.some((d) => d.name === r.name) ? 'dmn' : 'bpmn';
          await trx('resources').insert({ deployment_id: deploymentId, name: r.name, kind, content: r.content, checksum: sha256(r.content) });
        }
      };
      /** version N+1 of a resource key only when its content changed (duplicate filtering) */
      const nextVersion = async (table: string, keyColumn: string, key: string, checksum: string) => {
        const latest = await trx(table).where({ [keyColumn]: key }).orderBy('version', 'desc').first('version', 'checksum');
        if (latest && latest.checksum === checksum) return { version: Number(latest.version), created: false };
        await ensureDeployment();
        return { version: latest ? Number(latest.version) + 1 : 1, created: true };
      };
      for (const f of forms) {
        const checksum = sha256(f.content);
        const v = await nextVersion('form_schemas', 'form_key', f.formKey, checksum);
        if (v.created) await trx('form_schemas').insert({ form_key: f.formKey, version: v.version, schema: f.content, checksum, deployment_id: deploymentId, created_at: now });
        result.forms.push({ formKey: f.formKey, ...v });
      }
      for (const d of dmn) {
        const checksum = sha256(d.content);
        for (const t of d.tables) {
          const v = await nextVersion('decision_definitions', 'decision_key', t.id, checksum);
          if (v.created) await trx('decision_definitions').insert({ decision_key: t.id, version: v.version, resource_name: d.name, xml: d.content, checksum, deployment_id: deploymentId, created_at: now });
          result.decisions.push({ decisionKey: t.id, ...v });
        }
      }
      for (const b of bpmn) {
        const checksum = sha256(b.content);
        for (const p of b.parsed.processes.filter((x) => x.isExecutable)) {
          const latest: DefinitionRow | undefined = await trx('process_definitions').where({ key: p.id }).orderBy('version', 'desc').first();
          if (latest && latest.checksum === checksum) {
            result.definitions.push({ id: latest.id, key: latest.key, version: Number(latest.version), name: latest.name, created: false });
            continue;
          }
          await ensureDeployment();
          const version = latest ? Number(latest.version) + 1 : 1;
          const id = `${p.id}:${version}:${checksum.slice(0, 8)}`;
          await trx('process_definitions').insert({ id, key: p.id, version, name: p.name, deployment_id: deploymentId, resource_name: b.name, xml: b.content, checksum, created_at: now });
          result.definitions.push({ id, key: p.id, version, name: p.name, created: true });
          compiled.push(compileDefinition(b.parsed, { id, key: p.id, version, name: p.name }));
        }
      }
      if (result.deploymentId) {
        result.created = true;
        await appendHistory(trx, 'deployments', [
          {
            processInstanceId: null,
            processKey: null,
            processVersion: null,
            businessKey: null,
            at: now,
            type: 'deployment.made',
            activityId: null,
            activityType: null,
            actor: actor.name,
            data: { deploymentId, source: opts.source ?? 'library', resources: resources.map((r) => ({ name: r.name, checksum: sha256(r.content) })), definitions: result.definitions.filter((d) => d.created), forms: result.forms.filter((f) => f.created), decisions: result.decisions.filter((d) => d.created) },
          },
        ]);
      }
    });
    for (const c of compiled) this.definitions.put(c);
    if (compiled.some((c) => c.timerStarts.length)) await this.scheduleTimerStarts(compiled);
    for (const d of dmn) this.decisions.add(d.tables);
    return result;
  }

  /**
   * Timer start events: one 'timer-start' job per start event of the latest version; deploying a new
   * version replaces the jobs of the older ones (as in Camunda).
   */
  private async scheduleTimerStarts(defs: CachedDefinition[]): Promise<void> {
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      for (const def of defs) {
        const older = (await trx('process_definitions').where({ key: def.key }).whereNot({ id: def.id }).select('id')).map((r: any) => r.id);
        if (older.length) await trx('jobs').where({ type: 'timer-start' }).whereIn('definition_id', older).delete();
        for (const activityId of def.timerStarts) {
          const spec = def.activities.get(activityId)?.timerSpec;
          if (!spec) continue;
          const value = String(resolveValue(spec.value, {}));
          const due = timerDueAt(spec.type, value, now);
          if (due === null) continue;
          const repeat = spec.type === 'timeCycle' ? cycleRepeats(value) : null;
          await trx('jobs').insert({ id: randomUUID(), type: 'timer-start', process_instance_id: null, definition_id: def.id, activity_id: activityId, execution_id: `${def.id}#${activityId}`, due_at: due, payload: JSON.stringify({ timerType: spec.type, value, repeat, fired: 0 }), attempts: 0, created_at: now });
        }
      }
    });
  }

  /** Fire a timer start event: start an instance and pass its start timer; a cycle schedules its next run. */
  private async runTimerStart(job: JobRow): Promise<void> {
    const payload = parseJson<{ timerType: string; value: string; repeat: number | null; fired: number }>(job.payload, `jobs ${job.id} payload`, { timerType: 'timeDate', value: '', repeat: null, fired: 0 });
    const id = randomUUID();
    await this.withLock(id, async () => {
      await this.transition(id, { kind: 'start', variables: {} }, SYSTEM, { definitionId: job.definition_id as string, businessKey: null }, async (trx) => {
        const fired = payload.fired + 1;
        const more = payload.timerType === 'timeCycle' && (payload.repeat === -1 || (payload.repeat ?? 1) > fired);
        const next = more ? timerDueAt('timeCycle', payload.value.replace(/^R\d*\/[^P/][^/]*\//, 'R/'), Number(job.due_at)) : null;
        const n = more && next !== null
          ? await trx('jobs').where({ id: job.id, lock_owner: this.nodeId }).update({ due_at: next, lock_owner: null, lock_expires_at: null, payload: JSON.stringify({ ...payload, fired }) })
          : await trx('jobs').where({ id: job.id, lock_owner: this.nodeId }).delete();
        if (n !== 1) throw new InsureflowError('CONCURRENT_MODIFICATION', `job ${job.id} was taken over by another node`);
      });
      const startTimer = await this.db('jobs').where({ process_instance_id: id, type: 'timer', activity_id: job.activity_id }).first();
      if (startTimer) {
        await this.transition(id, { kind: 'timer', executionId: startTimer.execution_id }, SYSTEM, undefined, async (trx) => {
          await trx('jobs').where({ id: startTimer.id }).delete();
        });
      }
      await this.continueDeferred(id);
    });
  }

  async listDefinitions(): Promise<ProcessDefinition[]> {
    const rows: DefinitionRow[] = await this.db('process_definitions as d')
      .whereRaw('d.version = (select max(version) from process_definitions x where x.key = d.key)')
      .orderBy('d.key')
      .select('d.*');
    return rows.map(toDefinition);
  }

  async getDefinitionRow(key: string, version?: number): Promise<DefinitionRow> {
    const q = this.db('process_definitions').where({ key });
    const row: DefinitionRow | undefined = version !== undefined ? await q.andWhere({ version }).first() : await q.orderBy('version', 'desc').first();
    if (!row) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition "${key}"${version !== undefined ? ` version ${version}` : ''} was not found`);
    return row;
  }

  async getDefinition(key: string, version?: number): Promise<ProcessDefinition & { versions: number[] }> {
    const row = await this.getDefinitionRow(key, version);
    const versions = (await this.db('process_definitions').where({ key }).orderBy('version').select('version')).map((r: any) => Number(r.version));
    return { ...toDefinition(row), versions };
  }

  private async compiled(definitionId: string): Promise<CachedDefinition> {
    return this.definitions.get(await this.definitionMeta(definitionId), async () => {
      const r = await this.db('process_definitions').where({ id: definitionId }).first('xml');
      return r.xml;
    });
  }

  private readonly metaCache = new Map<string, { id: string; key: string; version: number; name: string | null }>();
  private async definitionMeta(id: string) {
    let m = this.metaCache.get(id);
    if (!m) {
      const r = await this.db('process_definitions').where({ id }).first('id', 'key', 'version', 'name');
      if (!r) throw new InsureflowError('DEFINITION_NOT_FOUND', `process definition ${id} was not found`);
      m = { id: r.id, key: r.key, version: Number(r.version), name: r.name };
      this.metaCache.set(id, m);
    }
    return m;
  }

  // ---------------------------------------------------------------- forms

  private async latestForm(trx: Trx, formKey: string): Promise<{ id: number; schema: string } | null> {
    const r = await trx('form_schemas').where({ form_key: formKey }).orderBy('version', 'desc').first('id', 'schema');
    return r ? { id: Number(r.id), schema: r.schema } : null;
  }

  /** A form schema version never changes: its compiled validator is kept by id. */
  private async formValidator(formId: number): Promise<ValidateFunction> {
    const cached = this.forms.cached(formId);
    if (cached) return cached;
    const row = await this.db('form_schemas').where({ id: formId }).first('schema');
    return this.forms.get(formId, row.schema);
  }

  private validateForm(formId: number, schemaText: string, data: unknown, what: string): void {
    this.checkForm(this.forms.get(formId, schemaText), data, what);
  }

  private checkForm(validate: ValidateFunction, data: unknown, what: string): void {
    if (!validate(data)) {
      const details = fieldErrors(validate.errors);
      throw new InsureflowError('VALIDATION_FAILED', `${what} is invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`, details);
    }
  }

  // ---------------------------------------------------------------- instances

  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chain = prev.then(() => mine);
    this.locks.set(id, chain);
    await prev.catch(() => undefined);
    this.inflight++;
    try {
      return await fn();
    } finally {
      this.inflight--;
      release();
      if (this.locks.get(id) === chain) this.locks.delete(id);
      if (this.inflight === 0 && this.idle) this.idle();
    }
  }

  /** Resolves when no transition is running (used by graceful shutdown). */
  async drain(timeoutMs = 10_000): Promise<void> {
    this.closing = true;
    if (this.inflight === 0) return;
    await Promise.race([new Promise<void>((r) => (this.idle = r)), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  async startInstance(
    key: string,
    input: { businessKey?: string | null; variables?: Variables; version?: number },
    actor: Actor = SYSTEM,
  ): Promise<ReturnType<InsureflowEngine['getInstance']>> {
    const row = await this.getDefinitionRow(key, input.version);
    const variables = input.variables ?? {};
    const startForm = await this.latestForm(this.db, `${key}.start`);
    if (startForm) this.validateForm(startForm.id, startForm.schema, variables, `start variables of "${key}"`);
    const id = randomUUID();
    await this.withLock(id, async () => {
      const out = await this.transition(id, { kind: 'start', variables }, actor, { definitionId: row.id, businessKey: input.businessKey ?? null });
      await this.continueDeferred(id, out);
    });
    return this.getInstance(id);
  }

  /**
   * Run, right away and under the caller's lock, the handler calls parked behind jobs by camunda:asyncBefore
   * (committed before any effect). If this process dies first, the scheduler runs them.
   */
  private async continueDeferred(instanceId: string, after?: RunOutput): Promise<void> {
    if (after && !after.failures.some((f) => f.deferred)) return;
    for (let guard = 0; guard < 1000; guard++) {
      const job: JobRow | undefined = await this.db('jobs').where({ process_instance_id: instanceId, type: 'retry', attempts: 0 }).whereNull('lock_owner').orderBy('created_at').first();
      if (!job) return;
      const n = await this.db('jobs').where({ id: job.id }).whereNull('lock_owner').update({ lock_owner: this.nodeId, lock_expires_at: this.clock.now() + this.jobLockMs });
      if (n !== 1) return;
      await this.transition(instanceId, { kind: 'retry', executionId: job.execution_id }, SYSTEM, undefined, async (trx) => {
        await trx('jobs').where({ id: job.id, lock_owner: this.nodeId }).delete();
      });
    }
  }

  private async pendingCalls(trx: Trx, instanceId: string): Promise<Map<string, PendingCall>> {
    const map = new Map<string, PendingCall>();
    for (const j of await trx('jobs').where({ process_instance_id: instanceId, type: 'retry' })) {
      map.set(j.execution_id, { executionId: j.execution_id, attempts: Number(j.attempts), state: 'retry' });
    }
    for (const i of await trx('incidents').where({ process_instance_id: instanceId, status: 'open' })) {
      map.set(i.execution_id, { executionId: i.execution_id, attempts: Number(i.attempts), state: 'incident' });
    }
    return map;
  }

  /**
   * One transition. For a new instance `create` carries the definition; otherwise the instance row is read,
   * the engine recovered, the action applied, and everything committed with the revision check.
   * `inTx` runs inside the commit transaction (e.g. marking the completed task) and may throw to abort.
   */
  private async transition(
    instanceId: string,
    action: Action,
    actor: Actor,
    create?: { definitionId: string; businessKey: string | null },
    inTx?: (trx: Knex.Transaction, out: RunOutput) => Promise<NewEvent[] | void>,
  ): Promise<RunOutput> {
    // another node may advance the same instance meanwhile (a timer while a task is completed): the loser
    // re-reads and runs its transition again; handlers see the same idempotency keys the second time
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transitionOnce(instanceId, action, actor, create, inTx);
      } catch (err) {
        if (create || attempt >= 4 || !(err instanceof InsureflowError) || err.code !== 'CONCURRENT_MODIFICATION') throw err;
        this.logger.warn({ instanceId, attempt }, 'instance changed by another writer; running the transition again');
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
      }
    }
  }

  private async transitionOnce(
    instanceId: string,
    action: Action,
    actor: Actor,
    create?: { definitionId: string; businessKey: string | null },
    inTx?: (trx: Knex.Transaction, out: RunOutput) => Promise<NewEvent[] | void>,
  ): Promise<RunOutput> {
    let row: InstanceRow | undefined;
    let def: CachedDefinition;
    let pending = new Map<string, PendingCall>();
    if (create) {
      def = await this.compiled(create.definitionId);
    } else {
      row = await this.db('process_instances').where({ id: instanceId }).first();
      if (!row) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} was not found`);
      if (row.status === 'completed' || row.status === 'cancelled') {
        throw new InsureflowError('INSTANCE_NOT_ACTIVE', `process instance ${instanceId} is ${row.status}`);
      }
      def = await this.compiled(row.definition_id);
    }
    const prevMeta: CommitMeta | undefined = row ? parseJson<CommitMeta | undefined>(row.exec_meta, `process_instances ${instanceId} exec_meta`, undefined) : undefined;
    // handler calls still pending always keep their idempotency key in the meta: no key, no pending call
    const hasPending = !create && (!prevMeta || Object.keys(prevMeta.keys ?? {}).length > 0);
    if (hasPending) pending = await this.pendingCalls(this.db, instanceId);
    if (!this.decisionsLoaded) await this.loadDecisions();
    let state = row?.state ? parseJson<any>(row.state, `process_instances ${instanceId} state`, null) : null;
    if (action.kind === 'retry' && action.variables && state) state = withVariables(state, action.variables);
    const businessKey = create ? create.businessKey : (row as InstanceRow).business_key;
    let out: RunOutput;
    try {
      out = await runTransition(
        { clock: this.clock, handlers: this.handlers, decisions: this.decisionEvaluator(), logger: this.logger },
        {
          instanceId,
          businessKey,
          definition: def,
          state,
          action,
          actor: actor.name,
          pending,
          meta: prevMeta,
        },
      );
    } catch (err) {
      const e = err as any;
      this.logger.error({ err, instanceId }, 'transition failed');
      throw new InsureflowError('EXPRESSION_FAILED', `the process could not continue${e.activityId ? ` at ${e.activityId}` : ''}: ${e.message}`);
    }
    await this.commit(instanceId, row, def, businessKey, out, actor, create ? { definitionId: create.definitionId } : undefined, inTx, { prevMeta, pending, hasPending });
    return out;
  }

  private async commit(
    instanceId: string,
    row: InstanceRow | undefined,
    def: CachedDefinition,
    businessKey: string | null,
    out: RunOutput,
    actor: Actor,
    create: { definitionId: string } | undefined,
    inTx: ((trx: Knex.Transaction, out: RunOutput) => Promise<NewEvent[] | void>) | undefined,
    known: { prevMeta: CommitMeta | undefined; pending: Map<string, PendingCall>; hasPending: boolean },
  ): Promise<void> {
    const now = this.clock.now();
    // what the instance had before, so that tables it never used are not queried (a new instance has nothing)
    const had = create ? { tasks: false, subs: false, timers: false } : (known.prevMeta?.has ?? { tasks: true, subs: true, timers: true });
    const has = {
      tasks: out.waits.some((w) => w.kind === 'userTask'),
      subs: out.waits.some((w) => w.kind !== 'userTask' && Boolean(w.eventName)),
      timers: out.timers.length > 0,
    };
    const base = { processInstanceId: instanceId, processKey: def.key, processVersion: def.version, businessKey };
    const events: NewEvent[] = out.events.map((e) => ({
      ...base,
      at: e.at,
      type: e.type,
      activityId: e.activityId ?? null,
      activityType: e.activityType ?? null,
      actor: e.actor ?? actor.name,
      data: e.data ?? {},
    }));
    const late: NewEvent[] = [];
    const ev = (type: string, activityId: string | null, data: Record<string, unknown>, who = actor.name, activityType: string | null = null) =>
      late.push({ ...base, at: now, type, activityId, activityType, actor: who, data });

    await this.db.transaction(async (trx) => {
      const extra = inTx ? await inTx(trx, out) : undefined;
      const openIncidents = known.hasPending ? await trx('incidents').where({ process_instance_id: instanceId, status: 'open' }).select('execution_id') : [];
      const incidentExecs = new Set<string>(openIncidents.map((i: any) => i.execution_id));

      // handler failures: retry jobs or incidents
      for (const f of out.failures) {
        await trx('jobs').where({ process_instance_id: instanceId, type: 'retry', execution_id: f.executionId }).delete();
        if (f.deferred) {
          await trx('jobs').insert({ id: randomUUID(), type: 'retry', process_instance_id: instanceId, definition_id: def.id, activity_id: f.activityId, execution_id: f.executionId, due_at: f.retryAt ?? now, payload: JSON.stringify({ handler: f.handler, deferred: true }), attempts: 0, created_at: now });
          continue;
        }
        if (f.retryAt !== null) {
          await trx('jobs').insert({ id: randomUUID(), type: 'retry', process_instance_id: instanceId, definition_id: def.id, activity_id: f.activityId, execution_id: f.executionId, due_at: f.retryAt, payload: JSON.stringify({ handler: f.handler }), attempts: f.attempt, last_error: f.error.slice(0, 4000), created_at: now });
        } else if (!incidentExecs.has(f.executionId)) {
          const incidentId = randomUUID();
          await trx('incidents').insert({ id: incidentId, process_instance_id: instanceId, activity_id: f.activityId, execution_id: f.executionId, handler: f.handler, error_message: f.error.slice(0, 4000), attempts: f.attempt, status: 'open', created_at: now });
          incidentExecs.add(f.executionId);
          ev('incident.opened', f.activityId, { incidentId, handler: f.handler, attempts: f.attempt, error: f.error }, 'system');
        } else {
          await trx('incidents').where({ process_instance_id: instanceId, execution_id: f.executionId, status: 'open' }).update({ attempts: f.attempt, error_message: f.error.slice(0, 4000) });
        }
      }
      for (const execId of out.settled) {
        if (!known.pending.has(execId)) continue;
        await trx('jobs').where({ process_instance_id: instanceId, type: 'retry', execution_id: execId }).delete();
        if (incidentExecs.has(execId)) {
          await trx('incidents').where({ process_instance_id: instanceId, execution_id: execId, status: 'open' }).update({ status: 'resolved', resolved_at: now, resolved_by: actor.name });
          incidentExecs.delete(execId);
          ev('incident.resolved', null, { executionId: execId, by: 'retry' });
        }
      }

      const ended = out.status !== 'active';
      const status = ended ? out.status : incidentExecs.size ? 'incident' : 'active';
      const instancePatch = {
        status,
        state: ended ? null : JSON.stringify(out.state),
        variables: JSON.stringify(out.variables),
        active_activities: JSON.stringify(out.activeActivities),
        exec_meta: JSON.stringify({ ...out.meta, has } satisfies CommitMeta),
        updated_at: now,
        ended_at: ended ? now : null,
      };
      if (create) {
        await trx('process_instances').insert({ id: instanceId, definition_id: create.definitionId, process_key: def.key, process_version: def.version, business_key: businessKey, started_by: actor.name, started_at: now, rev: 1, ...instancePatch });
      } else {
        await updateInstanceGuarded(trx, instanceId, Number((row as InstanceRow).rev), instancePatch);
      }

      // user tasks: create the new ones, cancel the ones the engine left
      const openTasks: TaskRow[] = had.tasks ? await trx('user_tasks').where({ process_instance_id: instanceId, status: 'open' }) : [];
      const live = new Set(out.waits.filter((w) => w.kind === 'userTask').map((w) => w.executionId));
      for (const t of openTasks) {
        if (!live.has(t.execution_id)) {
          await trx('user_tasks').where({ id: t.id }).update({ status: 'cancelled', ended_at: now });
          ev('task.cancelled', t.activity_id, { taskId: t.id, name: t.name }, 'system', 'bpmn:UserTask');
        }
      }
      const knownTasks = new Set(openTasks.map((t) => t.execution_id));
      for (const w of out.waits) {
        if (w.kind !== 'userTask' || knownTasks.has(w.executionId)) continue;
        if (!create && !w.isNew) {
          // a recovered wait whose row is not open: completed meanwhile or created by a crashed run
          const exists = await trx('user_tasks').where({ process_instance_id: instanceId, execution_id: w.executionId }).first('id');
          if (exists) continue;
        }
        const info = def.activities.get(w.activityId) as ActivityInfo;
        const task = await this.newTaskRow(trx, instanceId, def, businessKey, info, w.executionId, out.variables, now);
        await trx('user_tasks').insert(task);
        ev('task.created', w.activityId, { taskId: task.id, name: task.name, assignee: task.assignee, candidateGroups: JSON.parse(task.candidate_groups), candidateUsers: JSON.parse(task.candidate_users), formKey: task.form_key, dueAt: task.due_at === null ? null : new Date(task.due_at).toISOString(), priority: task.priority }, 'system', 'bpmn:UserTask');
      }

      // message and signal subscriptions
      if (had.subs) await trx('subscriptions').where({ process_instance_id: instanceId }).delete();
      for (const w of out.waits) {
        if (w.kind === 'userTask' || !w.eventName) continue;
        const info = def.activities.get(w.activityId) as ActivityInfo;
        let correlationKey: string | null = null;
        if (info.correlationKey) {
          const v = resolveValue(info.correlationKey.startsWith('=') || feelBody(info.correlationKey) ? info.correlationKey : `=${info.correlationKey}`, out.variables);
          correlationKey = v === null || v === undefined ? null : String(v);
        }
        await trx('subscriptions').insert({ process_instance_id: instanceId, activity_id: w.activityId, execution_id: w.executionId, kind: w.kind === 'signal' ? 'signal' : 'message', event_name: w.eventName, correlation_key: correlationKey, business_key: businessKey, created_at: now });
      }

      // timers
      const timerJobs: JobRow[] = had.timers ? await trx('jobs').where({ process_instance_id: instanceId, type: 'timer' }) : [];
      const liveTimers = new Map(out.timers.map((t) => [t.executionId, t]));
      for (const j of timerJobs) {
        const t = liveTimers.get(j.execution_id);
        if (!t || t.dueAt !== undefined) await trx('jobs').where({ id: j.id }).delete();
        if (!t && !ended) ev('timer.cancelled', j.activity_id, { jobId: j.id, executionId: j.execution_id }, 'system');
      }
      const keptTimers = new Set(timerJobs.map((j) => j.execution_id));
      for (const t of out.timers) {
        if (t.dueAt === undefined && keptTimers.has(t.executionId)) continue;
        await trx('jobs').insert({ id: randomUUID(), type: 'timer', process_instance_id: instanceId, definition_id: def.id, activity_id: t.activityId, execution_id: t.executionId, due_at: t.dueAt ?? now, payload: JSON.stringify({ timerType: t.timerType, value: t.value, repeat: t.repeat ?? null }), attempts: 0, created_at: now });
      }
      if (ended && !create) {
        await trx('jobs').where({ process_instance_id: instanceId }).delete();
        await trx('subscriptions').where({ process_instance_id: instanceId }).delete();
      }

      await appendHistory(trx, instanceId, [...events, ...(extra ?? []), ...late.sort((a, b) => a.at - b.at)], Boolean(create));
    });
  }

  private async newTaskRow(trx: Trx, instanceId: string, def: CachedDefinition, businessKey: string | null, info: ActivityInfo, executionId: string, variables: Variables, now: number): Promise<TaskRow> {
    const spec = info.userTask ?? {};
    const value = (raw: unknown) => (typeof raw === 'string' ? resolveValue(raw, variables) : raw);
    const assignee = value(spec.assignee);
    const groups = asList(value(Array.isArray(spec.candidateGroups) ? spec.candidateGroups.join(',') : spec.candidateGroups));
    const users = asList(value(Array.isArray(spec.candidateUsers) ? spec.candidateUsers.join(',') : spec.candidateUsers));
    let dueAt: number | null = null;
    const due = value(spec.dueDate);
    if (typeof due === 'string' && due) {
      const ms = durationMs(due);
      if (ms !== null && due.trim().startsWith('P')) dueAt = now + ms;
      else if (!Number.isNaN(Date.parse(due))) dueAt = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(due) || !due.includes('T') ? due : `${due}Z`);
    }
    const prio = Number(value(spec.priority));
    const formKey = spec.formKey ? String(value(spec.formKey)) : null;
    const form = formKey ? await this.latestForm(trx, formKey) : null;
    return {
      id: randomUUID(),
      process_instance_id: instanceId,
      activity_id: info.id,
      execution_id: executionId,
      name: info.name,
      process_key: def.key,
      business_key: businessKey,
      status: 'open',
      assignee: assignee === null || assignee === undefined || assignee === '' ? null : String(assignee),
      candidate_groups: JSON.stringify(groups),
      candidate_users: JSON.stringify(users),
      form_key: formKey,
      form_schema_id: form?.id ?? null,
      due_at: dueAt,
      priority: Number.isFinite(prio) ? Math.max(0, Math.min(MAX_TASK_PRIORITY, Math.round(prio))) : 50,
      created_at: now,
      claimed_at: null,
      ended_at: null,
      completed_by: null,
    };
  }

  async listInstances(q: { key?: string; businessKey?: string; status?: string; limit?: number; offset?: number }) {
    let query = this.db('process_instances');
    if (q.key) query = query.where({ process_key: q.key });
    if (q.businessKey) query = query.where({ business_key: q.businessKey });
    if (q.status) query = query.where({ status: q.status });
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toInstance, [['started_at', 'desc'], ['id', 'asc']]);
  }

  async getInstance(id: string) {
    const row: InstanceRow | undefined = await this.db('process_instances').where({ id }).first();
    if (!row) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${id} was not found`);
    const tasks: TaskRow[] = await this.db('user_tasks').where({ process_instance_id: id, status: 'open' }).orderBy('created_at');
    const incidents = await this.db('incidents').where({ process_instance_id: id, status: 'open' });
    return {
      ...toInstance(row),
      variables: parseJson<Variables>(row.variables, `process_instances ${id} variables`, {}),
      activeActivities: parseJson<string[]>((row as any).active_activities, `process_instances ${id} active_activities`, []),
      openTasks: tasks.map(toTask),
      incidents: incidents.map(toIncident),
    };
  }

  async cancelInstance(id: string, actor: Actor, reason?: string) {
    await this.withLock(id, async () => {
      const row: InstanceRow | undefined = await this.db('process_instances').where({ id }).first();
      if (!row) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${id} was not found`);
      if (row.status === 'completed' || row.status === 'cancelled') throw new InsureflowError('INSTANCE_NOT_ACTIVE', `process instance ${id} is ${row.status}`);
      const now = this.clock.now();
      await this.db.transaction(async (trx) => {
        await updateInstanceGuarded(trx, id, Number(row.rev), { status: 'cancelled', state: null, ended_at: now, updated_at: now, active_activities: '[]' } as any);
        const tasks = await trx('user_tasks').where({ process_instance_id: id, status: 'open' });
        await trx('user_tasks').where({ process_instance_id: id, status: 'open' }).update({ status: 'cancelled', ended_at: now });
        await trx('jobs').where({ process_instance_id: id }).delete();
        await trx('subscriptions').where({ process_instance_id: id }).delete();
        await trx('incidents').where({ process_instance_id: id, status: 'open' }).update({ status: 'resolved', resolved_at: now, resolved_by: actor.name });
        const base = { processInstanceId: id, processKey: row.process_key, processVersion: Number(row.process_version), businessKey: row.business_key, at: now, activityType: null, actor: actor.name };
        await appendHistory(trx, id, [
          ...tasks.map((t: TaskRow) => ({ ...base, type: 'task.cancelled', activityId: t.activity_id, data: { taskId: t.id, name: t.name } })),
          { ...base, type: 'instance.cancelled', activityId: null, data: { reason: reason ?? null } },
        ]);
      });
    });
    return this.getInstance(id);
  }

  async history(instanceId: string) {
    const exists = await this.db('process_instances').where({ id: instanceId }).first('id');
    if (!exists) throw new InsureflowError('INSTANCE_NOT_FOUND', `process instance ${instanceId} was not found`);
    const rows = await this.db('history_events').where({ chain_id: instanceId }).orderBy('seq');
    return rows.map(rowToEvent).map((e) => ({
      seq: e.seq,
      at: new Date(e.at).toISOString(),
      type: e.type,
      activityId: e.activityId,
      activityType: e.activityType,
      actor: e.actor,
      data: e.data,
      prevHash: e.prevHash,
      hash: e.hash,
    }));
  }

  /** Recompute one instance's hash chain; names the first broken link and what happened to it. */
  async verifyInstanceHistory(instanceId: string) {
    const { consistent, checked, firstBroken } = await verifyHistoryChain(this.db, instanceId);
    return firstBroken ? { consistent, checked, firstBroken } : { consistent, checked };
  }

  // ---------------------------------------------------------------- tasks

  /** Can this actor see/act on this task? Admins always; ops when assigned or candidate. */
  canWork(actor: Actor, t: { assignee: string | null; candidateGroups: string[]; candidateUsers: string[] }): boolean {
    if (isAdmin(actor)) return true;
    if (!actor.roles.includes('ops')) return false;
    if (t.assignee === actor.name) return true;
    if (t.candidateUsers.includes(actor.name)) return true;
    return t.candidateGroups.some((g) => actor.groups.includes(g));
  }

  async listTasks(q: TaskQuery, actor: Actor): Promise<Page<UserTask>> {
    let query = this.db('user_tasks');
    query = query.where({ status: q.status ?? 'open' });
    if (q.assignee) query = query.where({ assignee: q.assignee });
    if (q.processKey) query = query.where({ process_key: q.processKey });
    if (q.businessKey) query = query.where({ business_key: q.businessKey });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.dueBefore) query = query.where('due_at', '<', Date.parse(q.dueBefore));
    if (q.dueAfter) query = query.where('due_at', '>', Date.parse(q.dueAfter));
    if (q.candidateGroup) query = query.where('candidate_groups', 'like', `%${JSON.stringify(q.candidateGroup)}%`);
    if (q.candidateUser) query = query.where('candidate_users', 'like', `%${JSON.stringify(q.candidateUser)}%`);
    if (!isAdmin(actor)) {
      // ops see tasks assigned to them, or offered to them or to one of their groups
      query = query.where((w) => {
        w.where('assignee', actor.name).orWhere('candidate_users', 'like', `%${JSON.stringify(actor.name)}%`);
        for (const g of actor.groups) w.orWhere('candidate_groups', 'like', `%${JSON.stringify(g)}%`);
      });
      if (!actor.roles.includes('ops')) query = query.whereRaw('1 = 0');
    }
    const col = q.sort === 'due' ? 'due_at' : q.sort === 'priority' ? 'priority' : 'created_at';
    const dir = q.order ?? (q.sort === 'priority' ? 'desc' : 'asc');
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toTask, [[col, dir], ['id', 'asc']]);
  }

  private async taskRow(id: string): Promise<TaskRow> {
    const r: TaskRow | undefined = await this.db('user_tasks').where({ id }).first();
    if (!r) throw new InsureflowError('TASK_NOT_FOUND', `task ${id} was not found`);
    return r;
  }

  private async visibleTask(id: string, actor: Actor): Promise<TaskRow> {
    const r = await this.taskRow(id);
    if (!this.canWork(actor, toTask(r))) throw new InsureflowError('FORBIDDEN', `task ${id} is not assigned or offered to ${actor.name}`);
    return r;
  }

  async getTask(id: string, actor: Actor) {
    const r = await this.visibleTask(id, actor);
    const schemaRow = r.form_schema_id ? await this.db('form_schemas').where({ id: r.form_schema_id }).first('schema') : null;
    const inst = await this.db('process_instances').where({ id: r.process_instance_id }).first('variables');
    return {
      ...toTask(r),
      formSchema: schemaRow ? JSON.parse(schemaRow.schema) : null,
      variables: inst ? parseJson<Variables>(inst.variables, `process_instances ${r.process_instance_id} variables`, {}) : {},
    };
  }

  async claimTask(id: string, actor: Actor) {
    const r = await this.visibleTask(id, actor);
    if (r.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${r.status}`);
    if (r.assignee && r.assignee !== actor.name) throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} is already claimed by ${r.assignee}`);
    if (r.assignee === actor.name) return toTask(r);
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      const n = await trx('user_tasks').where({ id, status: 'open' }).whereNull('assignee').update({ assignee: actor.name, claimed_at: now });
      if (n !== 1) throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} was claimed by someone else`);
      await this.appendTaskEvent(trx, r, 'task.claimed', actor, now, { taskId: id, assignee: actor.name });
    });
    return toTask(await this.taskRow(id));
  }

  async unclaimTask(id: string, actor: Actor) {
    const r = await this.visibleTask(id, actor);
    if (r.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${r.status}`);
    if (!r.assignee) throw new InsureflowError('TASK_NOT_CLAIMED', `task ${id} is not claimed`);
    if (r.assignee !== actor.name && !isAdmin(actor)) throw new InsureflowError('FORBIDDEN', `task ${id} is claimed by ${r.assignee}`);
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      const n = await trx('user_tasks').where({ id, status: 'open', assignee: r.assignee }).update({ assignee: null, claimed_at: null });
      if (n !== 1) throw new InsureflowError('CONCURRENT_MODIFICATION', `task ${id} changed meanwhile`);
      await this.appendTaskEvent(trx, r, 'task.unclaimed', actor, now, { taskId: id, previousAssignee: r.assignee });
    });
    return toTask(await this.taskRow(id));
  }

  private async appendTaskEvent(trx: Trx, r: TaskRow, type: string, actor: Actor, now: number, data: Record<string, unknown>) {
    const inst = await trx('process_instances').where({ id: r.process_instance_id }).first('process_version');
    await appendHistory(trx, r.process_instance_id, [
      { processInstanceId: r.process_instance_id, processKey: r.process_key, processVersion: inst ? Number(inst.process_version) : null, businessKey: r.business_key, at: now, type, activityId: r.activity_id, activityType: 'bpmn:UserTask', actor: actor.name, data },
    ]);
  }

  async completeTask(id: string, variables: Variables, actor: Actor) {
    const r = await this.taskRow(id);
    return this.withLock(r.process_instance_id, async () => {
      // read again under the instance lock: the task may have been completed while we waited
      const fresh = await this.taskRow(id);
      if (!this.canWork(actor, toTask(fresh))) throw new InsureflowError('FORBIDDEN', `task ${id} is not assigned or offered to ${actor.name}`);
      if (fresh.status !== 'open') throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is ${fresh.status}`);
      if (fresh.assignee && fresh.assignee !== actor.name && !isAdmin(actor)) {
        throw new InsureflowError('TASK_ALREADY_CLAIMED', `task ${id} is claimed by ${fresh.assignee}`);
      }
      if (fresh.form_schema_id) {
        const validate = await this.formValidator(Number(fresh.form_schema_id));
        this.checkForm(validate, variables, `the form of task "${fresh.name ?? fresh.activity_id}"`);
      }
      const now = this.clock.now();
      const completed = { status: 'completed', ended_at: now, completed_by: actor.name, assignee: fresh.assignee ?? actor.name };
      const out = await this.transition(
        fresh.process_instance_id,
        { kind: 'signal', executionId: fresh.execution_id, variables, event: 'task.completed', data: { taskId: id, form: variables } },
        actor,
        undefined,
        async (trx) => {
          const n = await trx('user_tasks').where({ id, status: 'open' }).update(completed);
          if (n !== 1) throw new InsureflowError('TASK_NOT_OPEN', `task ${id} was completed meanwhile`);
        },
      );
      if (out.actionMissed) throw new InsureflowError('TASK_NOT_OPEN', `task ${id} is no longer waiting in its process`);
      await this.continueDeferred(fresh.process_instance_id, out);
      return toTask({ ...fresh, ...completed });
    });
  }

  // ---------------------------------------------------------------- messages and signals

  async correlateMessage(
    m: { name: string; businessKey?: string; processInstanceId?: string; correlationKey?: string; variables?: Variables; all?: boolean },
    actor: Actor = SYSTEM,
  ): Promise<{ correlated: { processInstanceId: string; activityId: string; started: boolean }[] }> {
    let q = this.db('subscriptions').where({ kind: 'message', event_name: m.name });
    if (m.processInstanceId) q = q.where({ process_instance_id: m.processInstanceId });
    if (m.businessKey) q = q.where({ business_key: m.businessKey });
    if (m.correlationKey !== undefined) q = q.where({ correlation_key: m.correlationKey });
    const subs = await q.orderBy('created_at').orderBy('id');
    const correlated: { processInstanceId: string; activityId: string; started: boolean }[] = [];
    if (!subs.length) {
      // a message start event starts a new instance
      const starts = await this.messageStartDefinitions(m.name);
      if (starts.length && !m.processInstanceId) {
        for (const s of m.all ? starts : starts.slice(0, 1)) {
          const inst = await this.startByMessage(s.defId, s.activityId, m, actor);
          correlated.push({ processInstanceId: inst, activityId: s.activityId, started: true });
        }
        return { correlated };
      }
      throw new InsureflowError('MESSAGE_NOT_CORRELATED', `no process instance waits for message "${m.name}"${m.businessKey ? ` with business key "${m.businessKey}"` : ''}${m.correlationKey !== undefined ? ` with correlation key "${m.correlationKey}"` : ''}`);
    }
    const instances = [...new Set(subs.map((s: any) => s.process_instance_id))];
    if (instances.length > 1 && !m.all) {
      throw new InsureflowError('MESSAGE_AMBIGUOUS', `${instances.length} process instances wait for message "${m.name}"; give a business key, correlation key or instance id, or set all: true`, { processInstanceIds: instances });
    }
    for (const instanceId of instances) {
      const sub = subs.find((s: any) => s.process_instance_id === instanceId);
      const out = await this.withLock(instanceId as string, async () => {
        const o = await this.transition(instanceId as string, { kind: 'signal', executionId: sub.execution_id, variables: m.variables ?? {}, event: 'message.received', data: { message: m.name, variables: m.variables ?? {} } }, actor);
        await this.continueDeferred(instanceId as string);
        return o;
      });
      if (!out.actionMissed) correlated.push({ processInstanceId: instanceId as string, activityId: sub.activity_id, started: false });
    }
    if (!correlated.length) throw new InsureflowError('MESSAGE_NOT_CORRELATED', `message "${m.name}" found no waiting catch event`);
    return { correlated };
  }

  private async messageStartDefinitions(name: string): Promise<{ defId: string; activityId: string }[]> {
    const out: { defId: string; activityId: string }[] = [];
    for (const d of await this.listDefinitions()) {
      const c = await this.compiled(d.id);
      const act = c.messageStarts.get(name);
      if (act) out.push({ defId: d.id, activityId: act });
    }
    return out;
  }

  private async startByMessage(defId: string, activityId: string, m: { name: string; businessKey?: string; variables?: Variables }, actor: Actor): Promise<string> {
    const id = randomUUID();
    await this.withLock(id, async () => {
      await this.transition(id, { kind: 'start', variables: m.variables ?? {} }, actor, { definitionId: defId, businessKey: m.businessKey ?? null });
      const sub = await this.db('subscriptions').where({ process_instance_id: id, activity_id: activityId }).first();
      if (sub) await this.transition(id, { kind: 'signal', executionId: sub.execution_id, variables: m.variables ?? {}, event: 'message.received', data: { message: m.name, variables: m.variables ?? {} } }, actor);
      await this.continueDeferred(id);
    });
    return id;
  }

  async broadcastSignal(s: { name: string; variables?: Variables }, actor: Actor = SYSTEM) {
    const subs = await this.db('subscriptions').where({ kind: 'signal', event_name: s.name }).orderBy('id');
    const delivered: string[] = [];
    for (const sub of subs) {
      const out = await this.withLock(sub.process_instance_id, () =>
        this.transition(sub.process_instance_id, { kind: 'signal', executionId: sub.execution_id, variables: s.variables ?? {}, event: 'signal.received', data: { signal: s.name, variables: s.variables ?? {} } }, actor).then(async (o) => {
          await this.continueDeferred(sub.process_instance_id);
          return o;
        }).catch((err) => {
          if (err instanceof InsureflowError && err.code === 'INSTANCE_NOT_ACTIVE') return null;
          throw err;
        }),
      );
      if (out && !out.actionMissed) delivered.push(sub.process_instance_id);
    }
    return { delivered: delivered.length, processInstanceIds: delivered };
  }

  /** User and role changes go to their own hash chain ("users") so auditors see who changed access. */
  async recordUserOperation(actor: Actor, type: string, target: string, before: unknown, after: unknown): Promise<void> {
    const strip = (u: any) => (u ? { name: u.name, roles: u.roles, groups: u.groups, disabled: u.disabled } : null);
    await this.db.transaction((trx) =>
      appendHistory(trx, 'users', [
        { processInstanceId: null, processKey: null, processVersion: null, businessKey: null, at: this.clock.now(), type, activityId: null, activityType: null, actor: actor.name, data: { target, before: strip(before), after: strip(after) } },
      ]),
    );
  }

  // ---------------------------------------------------------------- jobs and incidents

  async listJobs(q: { type?: string; state?: 'due' | 'failed' | 'locked' | 'waiting'; processInstanceId?: string; dueBefore?: string; limit?: number; offset?: number }) {
    let query = this.db('jobs');
    const now = this.clock.now();
    if (q.state === 'due') query = query.where('due_at', '<=', now).whereNull('lock_owner');
    if (q.state === 'waiting') query = query.where('due_at', '>', now);
    if (q.state === 'failed') query = query.whereNotNull('last_error');
    if (q.state === 'locked') query = query.whereNotNull('lock_owner').where('lock_expires_at', '>=', now);
    if (q.type) query = query.where({ type: q.type });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.dueBefore) query = query.where('due_at', '<=', Date.parse(q.dueBefore));
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toJob, [['due_at', 'asc'], ['id', 'asc']]);
  }

  async setJobDue(id: string, dueAt: string, actor: Actor) {
    const at = Date.parse(dueAt);
    if (Number.isNaN(at)) throw new InsureflowError('VALIDATION_FAILED', `"${dueAt}" is not an ISO 8601 date-time`);
    const job: JobRow | undefined = await this.db('jobs').where({ id }).first();
    if (!job) throw new InsureflowError('JOB_NOT_FOUND', `job ${id} was not found`);
    if (job.type !== 'timer') throw new InsureflowError('JOB_NOT_TIMER', `job ${id} is a ${job.type} job; only timers can be rescheduled`);
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      await trx('jobs').where({ id }).update({ due_at: at });
      if (job.process_instance_id) {
        const inst = await trx('process_instances').where({ id: job.process_instance_id }).first('process_key', 'process_version', 'business_key');
        await appendHistory(trx, job.process_instance_id, [
          { processInstanceId: job.process_instance_id, processKey: inst?.process_key ?? null, processVersion: inst ? Number(inst.process_version) : null, businessKey: inst?.business_key ?? null, at: now, type: 'timer.rescheduled', activityId: job.activity_id, activityType: null, actor: actor.name, data: { jobId: id, before: new Date(Number(job.due_at)).toISOString(), after: new Date(at).toISOString() } },
        ]);
      }
    });
    return toJob((await this.db('jobs').where({ id }).first()) as JobRow);
  }

  /**
   * Acquire and run due jobs once. On PostgreSQL rows are locked with FOR UPDATE SKIP LOCKED so several
   * nodes share the work; an expired lock (crashed node) is taken over. Returns the number of jobs run.
   */
  async runDueJobs(limit = 50): Promise<number> {
    if (this.closing) return 0;
    const now = this.clock.now();
    const acquired: JobRow[] = await this.db.transaction(async (trx) => {
      // a lock is free when it expired, or when its node stopped beating (crashed); our own locks are ours
      const liveNodes = trx('engine_nodes').where('heartbeat_at', '>', Date.now() - HEARTBEAT_STALE_MS).select('id');
      let q = trx('jobs')
        .where('due_at', '<=', now)
        .andWhere((w) =>
          w
            .whereNull('lock_owner')
            .orWhere('lock_expires_at', '<', now)
            .orWhere((x) => x.whereNot('lock_owner', this.nodeId).whereNotIn('lock_owner', liveNodes)),
        )
        .orderBy('due_at')
        .limit(limit);
      if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const rows: JobRow[] = await q;
      if (!rows.length) return [];
      await trx('jobs').whereIn('id', rows.map((r) => r.id)).update({ lock_owner: this.nodeId, lock_expires_at: now + this.jobLockMs });
      return rows;
    });
    // a few jobs at a time: engine work of one instance overlaps the database round trips of another
    // (jobs of one instance still run one after the other, under its lock)
    let ran = 0;
    let next = 0;
    const worker = async () => {
      while (next < acquired.length && !this.closing) {
        const job = acquired[next++];
        try {
          await this.runJob(job);
          ran++;
        } catch (err) {
          this.logger.error({ err, jobId: job.id }, 'job failed');
          await this.db('jobs').where({ id: job.id, lock_owner: this.nodeId }).update({ lock_owner: null, lock_expires_at: null, last_error: String((err as Error).message).slice(0, 4000) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.jobConcurrency, acquired.length) }, worker));
    return ran;
  }

  private async runJob(job: JobRow): Promise<void> {
    if (job.type === 'timer-start') return this.runTimerStart(job);
    if (!job.process_instance_id) {
      await this.db('jobs').where({ id: job.id }).delete();
      return;
    }
    const instanceId = job.process_instance_id;
    await this.withLock(instanceId, async () => {
      const still = await this.db('jobs').where({ id: job.id, lock_owner: this.nodeId }).first('id');
      if (!still) return; // removed (cancelled) or taken over meanwhile
      const inst = await this.db('process_instances').where({ id: instanceId }).first('status');
      if (!inst || inst.status === 'completed' || inst.status === 'cancelled') {
        await this.db('jobs').where({ id: job.id }).delete();
        return;
      }
      const action: Action = job.type === 'timer' ? { kind: 'timer', executionId: job.execution_id } : { kind: 'retry', executionId: job.execution_id };
      const out = await this.transition(instanceId, action, SYSTEM, undefined, async (trx) => {
        // the job is consumed by this transition; reconciliation re-creates it if the timer cycles
        const n = await trx('jobs').where({ id: job.id, lock_owner: this.nodeId }).delete();
        if (n !== 1) throw new InsureflowError('CONCURRENT_MODIFICATION', `job ${job.id} was taken over by another node`);
      });
      if (out.actionMissed) this.logger.warn({ jobId: job.id, instanceId }, 'job target no longer waiting; job dropped');
      await this.continueDeferred(instanceId);
    });
  }

  async listIncidents(q: { status?: string; processInstanceId?: string; activityId?: string; limit?: number; offset?: number }) {
    let query = this.db('incidents');
    query = query.where({ status: q.status ?? 'open' });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.activityId) query = query.where({ activity_id: q.activityId });
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toIncident, [['created_at', 'desc'], ['id', 'asc']]);
  }

  async getIncident(id: string) {
    const r = await this.db('incidents').where({ id }).first();
    if (!r) throw new InsureflowError('INCIDENT_NOT_FOUND', `incident ${id} was not found`);
    return toIncident(r);
  }

  /** Run the failed handler again, optionally with corrected variables. */
  async retryIncident(id: string, variables: Variables | undefined, actor: Actor) {
    const inc = await this.getIncident(id);
    if (inc.status !== 'open') throw new InsureflowError('INCIDENT_NOT_OPEN', `incident ${id} is ${inc.status}`);
    await this.withLock(inc.processInstanceId, () =>
      this.transition(inc.processInstanceId, { kind: 'retry', executionId: inc.executionId, variables }, actor, undefined, async (trx) => [
        await this.incidentEvent(inc.processInstanceId, 'incident.retried', inc.activityId, actor, { incidentId: id, variables: variables ?? null }, trx),
      ]).then(() => this.continueDeferred(inc.processInstanceId)),
    );
    return this.getIncident(id);
  }

  /** Mark resolved without running anything (the operator fixed it elsewhere); the activity stays parked. */
  async resolveIncident(id: string, actor: Actor, note?: string) {
    const inc = await this.getIncident(id);
    if (inc.status !== 'open') throw new InsureflowError('INCIDENT_NOT_OPEN', `incident ${id} is ${inc.status}`);
    const now = this.clock.now();
    await this.withLock(inc.processInstanceId, async () => {
      await this.db.transaction(async (trx) => {
        await trx('incidents').where({ id, status: 'open' }).update({ status: 'resolved', resolved_at: now, resolved_by: actor.name });
        // a resolved incident gives the call one more attempt right away through a retry job
        await trx('jobs').insert({ id: randomUUID(), type: 'retry', process_instance_id: inc.processInstanceId, definition_id: null, activity_id: inc.activityId, execution_id: inc.executionId, due_at: now, payload: JSON.stringify({ handler: inc.handler, afterIncident: id }), attempts: inc.attempts, created_at: now });
        const left = await trx('incidents').where({ process_instance_id: inc.processInstanceId, status: 'open' }).count({ n: '*' }).first();
        if (Number((left as any)?.n ?? 0) === 0) await trx('process_instances').where({ id: inc.processInstanceId, status: 'incident' }).update({ status: 'active' });
        const ev = await this.incidentEvent(inc.processInstanceId, 'incident.resolved', inc.activityId, actor, { incidentId: id, note: note ?? null }, trx);
        await appendHistory(trx, inc.processInstanceId, [ev]);
      });
    });
    return this.getIncident(id);
  }

  private async incidentEvent(instanceId: string, type: string, activityId: string, actor: Actor, data: Record<string, unknown>, trx: Trx = this.db): Promise<NewEvent> {
    const inst = await trx('process_instances').where({ id: instanceId }).first('process_key', 'process_version', 'business_key');
    return { processInstanceId: instanceId, processKey: inst?.process_key ?? null, processVersion: inst ? Number(inst.process_version) : null, businessKey: inst?.business_key ?? null, at: this.clock.now(), type, activityId, activityType: null, actor: actor.name, data };
  }
}

/** What an instance row remembers between transitions (exec_meta): idempotency bookkeeping and which tables it uses. */
interface CommitMeta {
  counters: Record<string, number>;
  keys: Record<string, string>;
  has?: { tasks: boolean; subs: boolean; timers: boolean };
}

/** Put corrected variables into a saved state before it is recovered. */
function withVariables(state: any, vars: Variables): any {
  const s = JSON.parse(JSON.stringify(state));
  s.environment = s.environment ?? {};
  s.environment.variables = { ...(s.environment.variables ?? {}), ...vars };
  for (const d of s.definitions ?? []) {
    if (d.environment) d.environment.variables = { ...(d.environment.variables ?? {}), ...vars };
    for (const p of d.execution?.processes ?? []) {
      if (p.environment) p.environment.variables = { ...(p.environment.variables ?? {}), ...vars };
    }
  }
  return s;
}

export { evaluateFeel, notFound };
