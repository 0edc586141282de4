/**
 * The state the engine's command modules share: the stores (./ports.ts), clock, logger, this node's identity
 * and job settings, registered handlers, decision tables, the caches of compiled definitions and form
 * validators, and the per-instance locks. One object per engine, passed as the first argument of every
 * command function (deployment, instances, tasks, correlation, jobs, incidents, transition).
 *
 * The stores are also exposed one by one where the transition core and deployment read them
 * (`transitions`, `deployments`).
 */
import type { TransitionStore } from './transition-store.ts';
import type { DeploymentStore } from './deployment-store.ts';
import type { EngineStores } from './ports.ts';
import type { Clock } from './clock.ts';
import type { DefinitionCache } from './definitions.ts';
import type { FormCache } from './forms.ts';
import type { RegisteredHandler } from './runtime.ts';
import type { TaskGuard } from './tasks.ts';
import type { StartGuard } from './instances.ts';
import type { DecisionRegistry } from '../decisions/dmn.ts';
import type { EngineLimits } from './limits.ts';
import type { DeploymentLinter } from './deployment.ts';

export interface Logger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** a node whose heartbeat is older than this is considered dead (its job locks can be taken over) */
export const HEARTBEAT_STALE_MS = 15_000;

export interface DefinitionMeta {
  id: string;
  key: string;
  version: number;
  name: string | null;
}

export interface EngineContext {
  readonly stores: EngineStores;
  readonly clock: Clock;
  readonly logger: Logger;
  /** identifies this process in job locks */
  readonly nodeId: string;
  /** how long an acquired job stays locked to this node (ms) */
  readonly jobLockMs: number;
  /** jobs run at the same time by runDueJobs */
  readonly jobConcurrency: number;
  /** what deployment refuses and how much one transition may do (./limits.ts) */
  readonly limits: Readonly<EngineLimits>;
  /** the lint port of deployments (./deployment.ts DeploymentLinter), when the engine was given one */
  readonly lint?: DeploymentLinter;
  readonly handlers: Map<string, RegisteredHandler>;
  /** domain checks before a user task is claimed or completed, by `<processKey>/<activityId>` (./tasks.ts TaskGuard) */
  readonly taskGuards: Map<string, TaskGuard>;
  /** domain checks before an instance of a process is started, by process key (./instances.ts StartGuard) */
  readonly startGuards: Map<string, StartGuard>;
  readonly decisions: DecisionRegistry;
  /** storage of the transition core (instance lock, commit bookkeeping) */
  readonly transitions: TransitionStore;
  /** storage of deployments and of the deployed definitions, decisions and forms */
  readonly deployments: DeploymentStore;
  readonly definitions: DefinitionCache;
  readonly forms: FormCache;
  /** definition id -> key, version, name (a deployed version never changes) */
  readonly metaCache: Map<string, DefinitionMeta>;
  /** instance id -> the tail of its in-process lock chain */
  readonly locks: Map<string, Promise<unknown>>;
  /** mutable run state: decision tables loaded, transitions in flight, shutdown */
  readonly run: { decisionsLoaded: boolean; inflight: number; idle: (() => void) | null; closing: boolean };
}
