/**
 * The hash chain of history events: hash = sha256(prevHash + canonical JSON of the event). Appending is
 * done inside the caller's transaction, after the chain head is read in that same transaction.
 */
import type { Knex } from 'knex';
import { eventHash, type HashedEventFields } from './canonical-json.ts';

/** The event hash (and canonical JSON) live in canonical-json.ts; eventHash is re-exported for existing callers. */
export { eventHash };

export const GENESIS = '0'.repeat(64);

/** An event of a hash chain: exactly the fields its hash covers. */
export type HistoryEvent = HashedEventFields;

export type NewEvent = Omit<HistoryEvent, 'seq' | 'chainId'> & { chainId?: string };

/** Append events to one chain inside trx. */
export async function appendHistory(trx: Knex.Transaction | Knex, chainId: string, events: NewEvent[], newChain = false): Promise<void> {
  if (!events.length) return;
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
