/**
 * The Knex side of the engine's opaque StoreTx (src/engine/ports.ts): which Knex handle a store method runs
 * on, and the Transactions port over Knex.
 */
import type { Knex } from 'knex';
import type { StoreTx, Transactions } from '../engine/ports.ts';
import { KnexUnitOfWork } from './unit-of-work.ts';

/**
 * The handle behind a StoreTx: a Knex transaction (what Transactions.run hands out), a transition's unit of
 * work (KnexUnitOfWork), or, without tx, the database itself.
 * @throws Error for anything else (a tx of another storage layer)
 */
export function knexOf(db: Knex, tx?: StoreTx): Knex | Knex.Transaction {
  return tx ? knexTx(tx) : db;
}

/** Like knexOf, for writes that must run inside a transaction. */
export function knexTx(tx: StoreTx): Knex.Transaction {
  if (tx instanceof KnexUnitOfWork) return tx.trx;
  if (isKnexTransaction(tx)) return tx;
  throw new Error('this transaction was not opened by the Knex storage layer');
}

function isKnexTransaction(v: unknown): v is Knex.Transaction {
  return typeof v === 'function' && (v as Partial<Knex.Transaction>).isTransaction === true;
}

export class KnexTransactions implements Transactions {
  constructor(private readonly db: Knex) {}

  run<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.db.transaction((trx) => fn(trx));
  }
}
