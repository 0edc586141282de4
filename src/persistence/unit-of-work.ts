/**
 * The Knex side of the engine's UnitOfWork: one database transaction per transition, savepoints for handler
 * calls. Domain repositories are built over `transactionOf(uow)`, so their writes commit or roll back with the
 * engine's own rows.
 */
import type { Knex } from 'knex';
import type { NestedUnitOfWork, UnitOfWork } from '../engine/unit-of-work.ts';

type Effect = () => Promise<void> | void;

export class KnexUnitOfWork implements UnitOfWork {
  protected readonly effects: Effect[] = [];

  constructor(readonly trx: Knex.Transaction) {}

  afterCommit(effect: Effect): void {
    this.effects.push(effect);
  }

  async begin(): Promise<NestedUnitOfWork> {
    const nested = await this.trx.transaction();
    return new KnexNestedUnitOfWork(nested, this.effects);
  }

  /** Runs the registered effects once the transaction committed; a failing effect is reported, not thrown. */
  async committed(onError: (err: unknown) => void): Promise<void> {
    for (const effect of this.effects.splice(0)) {
      try {
        await effect();
      } catch (err) {
        onError(err);
      }
    }
  }
}

class KnexNestedUnitOfWork extends KnexUnitOfWork implements NestedUnitOfWork {
  private done = false;

  constructor(trx: Knex.Transaction, private readonly parentEffects: Effect[]) {
    super(trx);
  }

  async commit(): Promise<void> {
    if (this.done) return;
    await this.trx.commit();
    this.done = true;
    this.parentEffects.push(...this.effects.splice(0));
  }

  async rollback(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.effects.length = 0;
    // knex rejects the transaction's own promise on rollback; the caller already knows why it rolls back
    this.trx.executionPromise?.catch(() => undefined);
    await this.trx.rollback().catch(() => undefined);
  }
}

/** The transaction behind a unit of work, for repositories of the persistence layer (never for handlers). */
export function transactionOf(uow: UnitOfWork): Knex.Transaction {
  if (!(uow instanceof KnexUnitOfWork)) throw new Error('this unit of work is not backed by a Knex transaction');
  return uow.trx;
}

/**
 * Runs fn in a new transaction wrapped as a unit of work; after the commit, the unit's after-commit effects
 * run. A throw from fn rolls everything back and no effect runs.
 */
export async function inUnitOfWork<T>(db: Knex, fn: (uow: KnexUnitOfWork) => Promise<T>, onEffectError: (err: unknown) => void = () => {}): Promise<T> {
  let uow!: KnexUnitOfWork;
  const result = await db.transaction(async (trx) => {
    uow = new KnexUnitOfWork(trx);
    return fn(uow);
  });
  await uow.committed(onEffectError);
  return result;
}
