/**
 * The Knex HistoryStore (src/engine/ports.ts): appending to a hash chain inside the caller's transaction
 * (serialised per chain by appendHistory: concurrent appends wait for each other's commit), reading a chain, and
 * verifying it (verification is the audit module's; the composition root passes it in).
 */
import type { Knex } from 'knex';
import type { ChainCheck, HistoryRecord, HistoryStore, StoreTx } from '../engine/ports.ts';
import type { NewHistoryEvent } from '../engine/transition-store.ts';
import { appendHistory, rowToEvent } from './history.ts';
import { knexTx } from './knex-tx.ts';

export class KnexHistoryStore implements HistoryStore {
  constructor(
    private readonly db: Knex,
    private readonly verifyChain: (db: Knex, chainId: string) => Promise<ChainCheck>,
  ) {}

  append(tx: StoreTx, chainId: string, entries: NewHistoryEvent[]): Promise<void> {
    return appendHistory(knexTx(tx), chainId, entries);
  }

  async list(chainId: string): Promise<HistoryRecord[]> {
    const rows = await this.db('history_events').where({ chain_id: chainId }).orderBy('seq');
    return rows.map(rowToEvent).map((e) => ({
      seq: e.seq,
      at: e.at,
      type: e.type,
      activityId: e.activityId,
      activityType: e.activityType,
      actor: e.actor,
      data: e.data,
      prevHash: e.prevHash,
      hash: e.hash,
    }));
  }

  verify(chainId: string): Promise<ChainCheck> {
    return this.verifyChain(this.db, chainId);
  }
}
