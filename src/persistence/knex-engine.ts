/**
 * The composition root of the engine over Knex: builds the Knex stores of every port (src/engine/ports.ts)
 * and the engine core on them. `new InsureflowEngine({ db, clock, ... })` is what embedders and the server
 * use; it adds the Knex-only parts the HTTP layer needs (the database handle, its dialect, the user store).
 */
import type { Knex } from 'knex';
import { EngineCore, type EngineCoreOptions } from '../engine/service.ts';
import type { EngineStores } from '../engine/ports.ts';
import { verifyHistoryChain } from '../audit/verify.ts';
import { KnexHistoryStore } from './history-store.ts';
import { KnexIncidentStore } from './incident-store.ts';
import { KnexInstanceStore } from './instance-store.ts';
import { KnexJobStore } from './job-store.ts';
import { KnexNodeStore } from './node-store.ts';
import { KnexSubscriptionStore } from './subscription-store.ts';
import { KnexMessageBufferStore } from './message-buffer-store.ts';
import { KnexFormStore, KnexTaskStore } from './task-store.ts';
import { KnexTransactions } from './knex-tx.ts';
import { dialectOfKnex, type Dialect } from './dialect.ts';
import { KnexTransitionStore } from './transition-store.ts';
import { KnexDeploymentStore } from './deployments.ts';
import { UserStore } from './users.ts';
import { KnexAuthorizationStore } from './authorization-store.ts';
import { KnexExternalTaskStore } from './external-task-store.ts';

export type { Resource, DeployResult, TaskQuery, Logger } from '../engine/service.ts';

export interface EngineOptions extends Omit<EngineCoreOptions, 'stores' | 'db'> {
  /** an open, migrated database (see openDb and migrate) */
  db: Knex;
}

/** Every store of the engine over one Knex database. */
export function createKnexStores(db: Knex, dialect: Dialect = dialectOfKnex(db)): EngineStores {
  return {
    transactions: new KnexTransactions(db),
    transitions: new KnexTransitionStore(db),
    deployments: new KnexDeploymentStore(db),
    instances: new KnexInstanceStore(db),
    tasks: new KnexTaskStore(db),
    forms: new KnexFormStore(db),
    jobs: new KnexJobStore(db, dialect),
    incidents: new KnexIncidentStore(db),
    subscriptions: new KnexSubscriptionStore(db),
    messages: new KnexMessageBufferStore(db),
    history: new KnexHistoryStore(db, async (handle, chainId) => {
      const { consistent, checked, firstBroken } = await verifyHistoryChain(handle, chainId);
      return firstBroken ? { consistent, checked, firstBroken } : { consistent, checked };
    }),
    nodes: new KnexNodeStore(db, dialect),
    authorizations: new KnexAuthorizationStore(db),
    externalTasks: new KnexExternalTaskStore(db),
  };
}

export class InsureflowEngine extends EngineCore {
  readonly db: Knex;
  readonly dialect: Dialect;
  /** users, roles, groups and tokens; every change is recorded on the "users" history chain with it */
  readonly users: UserStore;

  constructor(opts: EngineOptions) {
    const dialect = dialectOfKnex(opts.db);
    super({ ...opts, stores: createKnexStores(opts.db, dialect) });
    this.db = opts.db;
    this.dialect = dialect;
    this.users = new UserStore(opts.db, () => this.clock.now());
  }
}
