/**
 * The Knex implementation of the engine's DeploymentStore (src/engine/deployment-store.ts): deployments and
 * their resources, process definition versions with their resolved bindings, decision and form schema
 * versions; plus the read model of the deployed-artefact routes (decisions, forms, an instance's evaluated
 * decisions). Every SQL statement about deployed artefacts lives here.
 */
import type { Knex } from 'knex';
import type {
  Catalog,
  DecisionSummary,
  DeploymentStore,
  DeploymentTx,
  DeploymentWriter,
  NewDeployment,
  NewTimerStartJob,
  StoredDecision,
  StoredDefinition,
  StoredForm,
} from '../engine/deployment-store.ts';
import { NO_BINDINGS, type ResolvedBindings } from '../engine/definitions.ts';
import { knexOf } from './knex-tx.ts';
import { dialectOfKnex } from './dialect.ts';

/** the advisory lock key that serialises deployments on PostgreSQL (an arbitrary constant of this project) */
const DEPLOYMENT_LOCK = 7_411_020_260;
import { appendHistory, rowToEvent } from './history.ts';
import { isUniqueViolation } from './db.ts';
import { parseJson } from './store.ts';

function parseBindings(text: string | null | undefined, id: string): ResolvedBindings {
  const b = parseJson<Partial<ResolvedBindings>>(text, `process_definitions ${id} bindings`, {});
  return { decisions: b.decisions ?? {}, forms: b.forms ?? {}, calledProcesses: b.calledProcesses ?? {} };
}

function toDefinition(r: any): StoredDefinition {
  return {
    id: r.id,
    key: r.key,
    version: Number(r.version),
    name: r.name ?? null,
    deploymentId: r.deployment_id,
    resourceName: r.resource_name,
    xml: r.xml,
    checksum: r.checksum,
    createdAt: Number(r.created_at),
    bindings: r.bindings === undefined ? NO_BINDINGS : parseBindings(r.bindings, r.id),
  };
}

function toDecision(r: any): StoredDecision {
  return {
    id: Number(r.id),
    key: r.decision_key,
    version: Number(r.version),
    name: r.name ?? null,
    versionTag: r.version_tag ?? null,
    resourceName: r.resource_name,
    xml: r.xml,
    checksum: r.checksum,
    deploymentId: r.deployment_id,
    createdAt: Number(r.created_at),
  };
}

function toForm(r: any): StoredForm {
  return {
    id: Number(r.id),
    key: r.form_key,
    version: Number(r.version),
    versionTag: r.version_tag ?? null,
    resourceName: r.resource_name ?? null,
    schema: r.schema,
    checksum: r.checksum,
    deploymentId: r.deployment_id,
    createdAt: Number(r.created_at),
  };
}

class KnexDeploymentWriter implements DeploymentWriter {
  constructor(readonly tx: Knex.Transaction) {}

  async catalog(): Promise<Catalog> {
    const trx = this.tx;
    // one after the other: a transaction is one connection (concurrent queries on it are queued by pg, deprecated)
    const decisions = await trx('decision_definitions').select('decision_key', 'version', 'checksum', 'version_tag');
    const forms = await trx('form_schemas').select('form_key', 'version', 'checksum', 'version_tag');
    const processes = await trx('process_definitions').select('id', 'key', 'version', 'checksum');
    return {
      decisions: decisions.map((r: any) => ({ key: r.decision_key, version: Number(r.version), checksum: r.checksum, versionTag: r.version_tag ?? null })),
      forms: forms.map((r: any) => ({ key: r.form_key, version: Number(r.version), checksum: r.checksum, versionTag: r.version_tag ?? null })),
      processes: processes.map((r: any) => ({ id: r.id, key: r.key, version: Number(r.version), checksum: r.checksum, versionTag: null })),
    };
  }

  async startupBaseline(name: string): Promise<Map<string, string>> {
    const rows = await this.tx('resources as r')
      .join('deployments as d', 'd.id', 'r.deployment_id')
      .where({ 'd.source': 'startup', 'd.name': name })
      .orderBy([{ column: 'd.deployed_at', order: 'asc' }, { column: 'r.id', order: 'asc' }])
      .select('r.name', 'r.checksum');
    const out = new Map<string, string>();
    for (const r of rows) out.set(r.name, r.checksum); // newest wins
    return out;
  }

  async insertDeployment(d: NewDeployment): Promise<void> {
    await this.tx('deployments').insert({ id: d.id, name: d.name, source: d.source, deployed_by: d.deployedBy, deployed_at: d.deployedAt });
    for (const r of d.resources) {
      await this.tx('resources').insert({ deployment_id: d.id, name: r.name, kind: r.kind, content: r.content, checksum: r.checksum });
    }
  }

  async insertForm(f: Omit<StoredForm, 'id'>): Promise<number> {
    const [row] = await this.tx('form_schemas')
      .insert({ form_key: f.key, version: f.version, version_tag: f.versionTag, resource_name: f.resourceName, schema: f.schema, checksum: f.checksum, deployment_id: f.deploymentId, created_at: f.createdAt })
      .returning('id');
    return Number(typeof row === 'object' ? row.id : row);
  }

  async insertDecision(d: Omit<StoredDecision, 'id'>): Promise<number> {
    const [row] = await this.tx('decision_definitions')
      .insert({ decision_key: d.key, version: d.version, name: d.name, version_tag: d.versionTag, resource_name: d.resourceName, xml: d.xml, checksum: d.checksum, deployment_id: d.deploymentId, created_at: d.createdAt })
      .returning('id');
    return Number(typeof row === 'object' ? row.id : row);
  }

  async insertDefinition(d: StoredDefinition): Promise<void> {
    await this.tx('process_definitions').insert({
      id: d.id,
      key: d.key,
      version: d.version,
      name: d.name,
      deployment_id: d.deploymentId,
      resource_name: d.resourceName,
      xml: d.xml,
      checksum: d.checksum,
      created_at: d.createdAt,
      bindings: JSON.stringify(d.bindings),
    });
  }

  async replaceTimerStarts(key: string, jobs: NewTimerStartJob[]): Promise<void> {
    const ids = this.tx('process_definitions').where({ key }).select('id');
    await this.tx('jobs').where({ type: 'timer-start' }).whereIn('definition_id', ids).delete();
    for (const j of jobs) {
      await this.tx('jobs').insert({
        id: j.id,
        type: 'timer-start',
        process_instance_id: null,
        definition_id: j.definitionId,
        activity_id: j.activityId,
        execution_id: `${j.definitionId}#${j.activityId}`,
        due_at: j.dueAt,
        payload: JSON.stringify(j.payload),
        attempts: 0,
        created_at: j.createdAt,
      });
    }
  }

  async appendDeploymentEvent(e: { at: number; actor: string; data: Record<string, unknown> }): Promise<void> {
    await appendHistory(this.tx, 'deployments', [
      { processInstanceId: null, processKey: null, processVersion: null, businessKey: null, at: e.at, type: 'deployment.made', activityId: null, activityType: null, actor: e.actor, data: e.data },
    ]);
  }
}

export class KnexDeploymentStore implements DeploymentStore {
  constructor(private readonly db: Knex) {}

  /**
   * One deployment at a time: on PostgreSQL several nodes (or requests) deploying at once wait for each other on
   * a transaction-scoped advisory lock, so each plans its versions against what the previous one committed (a
   * unique-key race would abort the PostgreSQL transaction). SQLite has one writer already.
   */
  transaction<T>(fn: (w: DeploymentWriter) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      if (dialectOfKnex(this.db) === 'postgres') await trx.raw('select pg_advisory_xact_lock(?)', [DEPLOYMENT_LOCK]);
      return fn(new KnexDeploymentWriter(trx));
    });
  }

  isVersionConflict(err: unknown): boolean {
    return isUniqueViolation(err);
  }

  async definitionById(id: string, tx?: DeploymentTx): Promise<StoredDefinition | null> {
    const r = await knexOf(this.db, tx)('process_definitions').where({ id }).first();
    return r ? toDefinition(r) : null;
  }

  async definitionByKey(key: string, version?: number): Promise<StoredDefinition | null> {
    const q = this.db('process_definitions').where({ key });
    const r = version !== undefined ? await q.andWhere({ version }).first() : await q.orderBy('version', 'desc').first();
    return r ? toDefinition(r) : null;
  }

  async definitionVersions(key: string): Promise<number[]> {
    return (await this.db('process_definitions').where({ key }).orderBy('version').select('version')).map((r: any) => Number(r.version));
  }

  async latestDefinitions(): Promise<StoredDefinition[]> {
    const rows = await this.db('process_definitions as d')
      .whereRaw('d.version = (select max(version) from process_definitions x where x.key = d.key)')
      .orderBy('d.key')
      .select('d.*');
    return rows.map(toDefinition);
  }

  async latestDecisionVersion(key: string, tag: string | null, tx?: DeploymentTx): Promise<number | null> {
    let q = knexOf(this.db, tx)('decision_definitions').where({ decision_key: key });
    if (tag !== null) q = q.andWhere({ version_tag: tag });
    const r: any = await q.max({ v: 'version' }).first();
    return r?.v === null || r?.v === undefined ? null : Number(r.v);
  }

  async decision(key: string, version: number, tx?: DeploymentTx): Promise<StoredDecision | null> {
    const r = await knexOf(this.db, tx)('decision_definitions').where({ decision_key: key, version }).first();
    return r ? toDecision(r) : null;
  }

  async decisionVersions(key: string): Promise<StoredDecision[]> {
    return (await this.db('decision_definitions').where({ decision_key: key }).orderBy('version')).map(toDecision);
  }

  async decisionSummaries(): Promise<DecisionSummary[]> {
    const rows = await this.db('decision_definitions as d')
      .whereRaw('d.version = (select max(version) from decision_definitions x where x.decision_key = d.decision_key)')
      .orderBy('d.decision_key')
      .select('d.decision_key', 'd.name', 'd.version', 'd.resource_name', 'd.created_at');
    const counts = new Map<string, number>(
      (await this.db('decision_definitions').groupBy('decision_key').select('decision_key').count({ n: '*' })).map((r: any) => [r.decision_key, Number(r.n)]),
    );
    return rows.map((r: any) => ({
      key: r.decision_key,
      name: r.name ?? null,
      latestVersion: Number(r.version),
      versions: counts.get(r.decision_key) ?? 1,
      resourceName: r.resource_name,
      updatedAt: Number(r.created_at),
    }));
  }

  async latestForm(key: string, tag: string | null, tx?: DeploymentTx): Promise<StoredForm | null> {
    let q = knexOf(this.db, tx)('form_schemas').where({ form_key: key });
    if (tag !== null) q = q.andWhere({ version_tag: tag });
    const r = await q.orderBy('version', 'desc').first();
    return r ? toForm(r) : null;
  }

  async form(key: string, version: number, tx?: DeploymentTx): Promise<StoredForm | null> {
    const r = await knexOf(this.db, tx)('form_schemas').where({ form_key: key, version }).first();
    return r ? toForm(r) : null;
  }

  async formById(id: number, tx?: DeploymentTx): Promise<StoredForm | null> {
    const r = await knexOf(this.db, tx)('form_schemas').where({ id }).first();
    return r ? toForm(r) : null;
  }

  async formVersions(key: string): Promise<StoredForm[]> {
    return (await this.db('form_schemas').where({ form_key: key }).orderBy('version')).map(toForm);
  }

  // ------------------------------------------------------------------------------- read model (HTTP)

  /** Whether the instance exists. */
  async instanceExists(id: string): Promise<boolean> {
    return Boolean(await this.db('process_instances').where({ id }).first('id'));
  }

  /** The decision.evaluated events of an instance, in history order. */
  async instanceEvaluations(id: string): Promise<{ seq: number; at: number; activityId: string | null; actor: string | null; data: Record<string, unknown> }[]> {
    const rows = await this.db('history_events').where({ chain_id: id, type: 'decision.evaluated' }).orderBy('seq');
    return rows.map(rowToEvent).map((e) => ({ seq: e.seq, at: e.at, activityId: e.activityId, actor: e.actor, data: e.data }));
  }
}
