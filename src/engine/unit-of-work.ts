/**
 * The unit of work of one transition: the engine's state, tasks, jobs, history AND the writes of the handlers
 * and domain code that run during the transition commit together in one database transaction, or not at all
 * (a crash, a timeout, a lost revision race or a refused action leaves none of them).
 *
 * The engine only knows this opaque handle; the persistence layer owns the transaction behind it and hands
 * repositories bound to it to the domain (see src/persistence/unit-of-work.ts). Handlers never see a raw
 * database handle.
 */
export interface UnitOfWork {
  /**
   * Registers an effect outside the database (a payment gateway call, an e-mail relay) to run after the whole
   * transition committed; it never runs when the transaction (or the nested unit it was registered in) rolls
   * back. Such effects must be idempotent and recoverable from a durable record written in the same
   * transaction (an outbox row), because the process may stop between the commit and the effect.
   */
  afterCommit(effect: () => Promise<void> | void): void;
  /**
   * A nested unit (a savepoint): each handler call runs in one, so a handler that fails or times out leaves
   * none of its writes while the transition goes on (to its retry job or incident).
   */
  begin(): Promise<NestedUnitOfWork>;
}

export interface NestedUnitOfWork extends UnitOfWork {
  /** keeps the nested writes (and after-commit effects) in the enclosing unit */
  commit(): Promise<void>;
  /** drops the nested writes and effects; safe to call after a failure */
  rollback(): Promise<void>;
}

/**
 * A unit of work for runs that write nothing (replay feeds recorded handler outputs): nested units are
 * no-ops and after-commit effects are dropped.
 */
export const detachedUnitOfWork: NestedUnitOfWork = {
  afterCommit() {},
  async begin() {
    return detachedUnitOfWork;
  },
  async commit() {},
  async rollback() {},
};
