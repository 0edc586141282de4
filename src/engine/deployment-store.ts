/**
 * The port through which deployment and the deployed artefacts are stored and read: deployments with their
 * resources, process definition versions (with the bindings resolved at deploy time), decision versions and
 * form schema versions. Every version is immutable once committed and identified by an immutable id (process
 * definitions) or by (key, version). src/persistence/deployments.ts implements it over Knex.
 *
 * Conventions: times are epoch milliseconds; `tx` is opaque to the engine: a storage transaction, or the unit of
 * work of a running transition (lookups made during a transition must read through it: on SQLite the
 * transition's transaction holds the only connection). "Not found" is null.
 */
import type { ResolvedBindings } from './definitions.ts';

/** A storage transaction or a transition's unit of work, opaque to the engine. */
export type DeploymentTx = object;

/** authz: the authorizations.json of the default grants (./authorization-defaults.ts; resources.kind holds 10 characters) */
export type ResourceKind = 'bpmn' | 'dmn' | 'form' | 'form-js' | 'authz';

/** What a deployment needs to know about every stored version to plan new ones (no content). */
export interface VersionMeta {
  key: string;
  version: number;
  /** sha256 of the resource content the version came from */
  checksum: string;
  versionTag: string | null;
}

export interface Catalog {
  decisions: VersionMeta[];
  forms: VersionMeta[];
  processes: (VersionMeta & { id: string })[];
}

/** A process definition version as the API shows it (createdAt ISO 8601). */
export interface ProcessDefinition {
  id: string;
  key: string;
  version: number;
  name: string | null;
  deploymentId: string;
  resourceName: string;
  createdAt: string;
}

export interface StoredDefinition {
  id: string;
  key: string;
  version: number;
  name: string | null;
  deploymentId: string;
  resourceName: string;
  xml: string;
  checksum: string;
  createdAt: number;
  bindings: ResolvedBindings;
}

export interface StoredDecision {
  id: number;
  key: string;
  version: number;
  name: string | null;
  versionTag: string | null;
  resourceName: string;
  xml: string;
  checksum: string;
  deploymentId: string;
  createdAt: number;
}

export interface StoredForm {
  id: number;
  key: string;
  version: number;
  versionTag: string | null;
  resourceName: string | null;
  /** the JSON Schema as stored (text) */
  schema: string;
  checksum: string;
  deploymentId: string;
  createdAt: number;
}

export interface NewDeployment {
  id: string;
  name: string;
  /** startup | api | cli | library */
  source: string;
  deployedBy: string | null;
  deployedAt: number;
  resources: { name: string; kind: ResourceKind; content: string; checksum: string }[];
}

export interface NewTimerStartJob {
  id: string;
  definitionId: string;
  activityId: string;
  dueAt: number;
  payload: Record<string, unknown>;
  createdAt: number;
}

/** The writes of one deployment, all inside one transaction. */
export interface DeploymentWriter {
  /** the tx to hand to reads that must see this transaction */
  readonly tx: DeploymentTx;
  /** Every stored version of every decision, form and process (metadata only). */
  catalog(): Promise<Catalog>;
  /**
   * What the start-up deployments named `name` last deployed, per resource name: the checksum of the newest
   * resource of that name among them (source 'startup').
   */
  startupBaseline(name: string): Promise<Map<string, string>>;
  insertDeployment(d: NewDeployment): Promise<void>;
  insertForm(f: Omit<StoredForm, 'id'>): Promise<number>;
  insertDecision(d: Omit<StoredDecision, 'id'>): Promise<number>;
  insertDefinition(d: StoredDefinition): Promise<void>;
  /** Replaces the timer start jobs of every version of `key` with `jobs` (of its newest version). */
  replaceTimerStarts(key: string, jobs: NewTimerStartJob[]): Promise<void>;
  /** Appends the deployment.made event to the "deployments" history chain. */
  appendDeploymentEvent(e: { at: number; actor: string; data: Record<string, unknown> }): Promise<void>;
}

export interface DecisionSummary {
  key: string;
  name: string | null;
  latestVersion: number;
  versions: number;
  resourceName: string;
  updatedAt: number;
}

export interface DeploymentStore {
  /**
   * Runs fn in one transaction: everything it writes commits together, or nothing when it throws. A write
   * that loses a race for a (key, version) throws an error for which isVersionConflict is true.
   */
  transaction<T>(fn: (w: DeploymentWriter) => Promise<T>): Promise<T>;
  isVersionConflict(err: unknown): boolean;

  definitionById(id: string, tx?: DeploymentTx): Promise<StoredDefinition | null>;
  /** A version of a process key, or its newest when version is undefined. */
  definitionByKey(key: string, version?: number): Promise<StoredDefinition | null>;
  definitionVersions(key: string): Promise<number[]>;
  /** The newest version of every process key, by key. */
  latestDefinitions(): Promise<StoredDefinition[]>;

  /** The newest version number of a decision (with that tag when `tag` is given), or null. */
  latestDecisionVersion(key: string, tag: string | null, tx?: DeploymentTx): Promise<number | null>;
  decision(key: string, version: number, tx?: DeploymentTx): Promise<StoredDecision | null>;
  /** Every version of a decision, oldest first. */
  decisionVersions(key: string): Promise<StoredDecision[]>;
  /** One line per decision key, by key. */
  decisionSummaries(): Promise<DecisionSummary[]>;

  /** The newest version of a form (with that tag when `tag` is given), or null. */
  latestForm(key: string, tag: string | null, tx?: DeploymentTx): Promise<StoredForm | null>;
  form(key: string, version: number, tx?: DeploymentTx): Promise<StoredForm | null>;
  formById(id: number, tx?: DeploymentTx): Promise<StoredForm | null>;
  /** Every version of a form, oldest first. */
  formVersions(key: string): Promise<StoredForm[]>;
}
