/**
 * The hash chain of history events: hash = sha256(prevHash + canonical JSON of the event). Appending is
 * done inside the caller's transaction, after the chain head is read in that same transaction, and appends to
 * one chain are serialised: on PostgreSQL by a transaction-scoped advisory lock per chain taken before the head
 * is read (two transactions reading the same head would both insert its successor, and the second would fail on
 * the (chain_id, seq) key); on SQLite by the database's single writer (one connection per process, and
 * transactions that begin IMMEDIATE: see db.ts). Every writer of history_events goes through appendHistory.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { eventHash, type HashedEventFields } from './canonical-json.ts';
import { dialectOfKnex } from './dialect.ts';

/** The event hash (and canonical JSON) live in canonical-json.ts; eventHash is re-exported for existing callers. */
export { eventHash };

export const GENESIS = '0'.repeat(64);

/** An event of a hash chain: exactly the fields its hash covers. */
export type HistoryEvent = HashedEventFields;

export type NewEvent = Omit<HistoryEvent, 'seq' | 'chainId'> & { chainId?: string };

/**
 * The advisory lock key of a chain on PostgreSQL: two 32-bit integers from sha256 of the chain id (the two-key
 * form of pg_advisory_xact_lock, a key space apart from the single-bigint locks such as the deployment lock). Two
 * chains sharing a key only wait for each other.
 */
export function chainLockKey(chainId: string): [number, number] {
  const h = createHash('sha256').update(`history_events:${chainId}`).digest();
  return [h.readInt32BE(0), h.readInt32BE(4)];
}

/**
 * Holds the chain's append lock until trx ends (PostgreSQL; a no-op on SQLite, whose transactions already run
 * one at a time). appendHistory takes it itself; a caller takes it earlier when what it checks before appending
 * must not change until it commits (a user name being free, for instance). Taking it again is harmless.
 */
export async function lockChain(trx: Knex.Transaction, chainId: string): Promise<void> {
  if (dialectOfKnex(trx) === 'postgres') await trx.raw('select pg_advisory_xact_lock(?, ?)', chainLockKey(chainId));
}

const isTransaction = (db: Knex | Knex.Transaction): db is Knex.Transaction => (db as Partial<Knex.Transaction>).isTransaction === true;

/**
 * Appends events to one chain inside trx, after its current head; concurrent appends to the chain wait for
 * trx to end (lockChain), so none fails and none is lost. Given the database rather than a transaction, the
 * append runs in a transaction of its own. `newChain`: the caller creates the chain in trx (a new instance,
 * whose id nobody else knows before the commit): no head to read and no one to wait for.
 */
export async function appendHistory(trx: Knex.Transaction | Knex, chainId: string, events: NewEvent[], newChain = false): Promise<void> {
  if (!events.length) return;
  if (!isTransaction(trx)) return trx.transaction((t) => appendHistory(t, chainId, events, newChain));
  if (!newChain) await lockChain(trx, chainId);
  // read after the lock is granted: at READ COMMITTED (every appending transaction's level) this statement sees
  // every append committed before
  const head = newChain ? undefined : await trx('history_events').where({ chain_id: chainId }).orderBy('seq', 'desc').first('seq', 'hash');
  let seq: number = head ? Number(head.seq) : 0;
  let prev: string = head ? head.hash : GENESIS;
  const rows = [];
  for (const draft of events) {
    const e: HistoryEvent = { ...draft, chainId, seq: ++seq, data: JSON.parse(JSON.stringify(draft.data ?? {})) };
    const hash = eventHash(prev, e);
    rows.push({
      chain_id: chainId,
      process_instance_id: e.processInstanceId,
      process_key: e.processKey,
      process_version: e.processVersion,
      business_key: e.businessKey,
      seq: e.seq,
      at: e.at,
      type: e.type,
      activity_id: e.activityId,
      activity_type: e.activityType,
      actor: e.actor,
      data: JSON.stringify(e.data),
      prev_hash: prev,
      hash,
    });
    prev = hash;
  }
  for (let i = 0; i < rows.length; i += 200) await trx('history_events').insert(rows.slice(i, i + 200));
}

/** Data that is not JSON any more (tampered) is kept as text so that its hash fails instead of the reader. */
export function parseEventData(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : { $unparseable: text };
  } catch {
    return { $unparseable: text };
  }
}

export function rowToEvent(r: any): HistoryEvent & { prevHash: string; hash: string } {
  return {
    chainId: r.chain_id,
    processInstanceId: r.process_instance_id,
    processKey: r.process_key,
    processVersion: r.process_version === null || r.process_version === undefined ? null : Number(r.process_version),
    businessKey: r.business_key,
    seq: Number(r.seq),
    at: Number(r.at),
    type: r.type,
    activityId: r.activity_id,
    activityType: r.activity_type,
    actor: r.actor,
    data: parseEventData(r.data),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** Recompute one chain; names the first broken link. */
export function verifyChain(rows: (HistoryEvent & { prevHash: string; hash: string })[]): {
  consistent: boolean;
  checked: number;
  firstBroken?: { seq: number; reason: string };
} {
  let prev = GENESIS;
  let expectedSeq = 1;
  let checked = 0;
  for (const e of rows) {
    checked++;
    if (e.seq !== expectedSeq) {
      return { consistent: false, checked, firstBroken: { seq: e.seq, reason: e.seq > expectedSeq ? `event ${expectedSeq} is missing (deleted)` : `sequence out of order after ${expectedSeq - 1}` } };
    }
    if (e.prevHash !== prev) {
      return { consistent: false, checked, firstBroken: { seq: e.seq, reason: 'previous-hash link does not match the preceding event (inserted, deleted or reordered)' } };
    }
    const h = eventHash(prev, e);
    if (h !== e.hash) {
      return { consistent: false, checked, firstBroken: { seq: e.seq, reason: 'content does not match its hash (edited)' } };
    }
    prev = e.hash;
    expectedSeq++;
  }
  return { consistent: true, checked };
}
