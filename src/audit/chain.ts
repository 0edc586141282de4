/**
 * Hash-chain arithmetic for auditors, pure: a chain verifier that says which link is broken and how (edited,
 * inserted, deleted, reordered, truncated), which verifyChain does not. Hashes are those of
 * persistence/canonical-json.ts, the very function the engine writes with.
 */
import { GENESIS, type HistoryEvent } from '../persistence/history.ts';
import { eventHash } from '../persistence/canonical-json.ts';

export { GENESIS };

export type ChainEvent = HistoryEvent & { prevHash: string; hash: string; id?: number };

/** What the digests say a chain looked like: its head when the digest `digestSeq` was taken. */
export interface ExpectedHead {
  chainId: string;
  seq: number;
  hash: string;
  digestSeq: number;
  day: string;
  createdAt: number;
}

export type BreakKind = 'edited' | 'inserted' | 'deleted' | 'reordered' | 'truncated' | 'relinked' | 'backdated';

export interface BrokenLink {
  seq: number;
  kind: BreakKind;
  reason: string;
}

export interface ChainVerdict {
  consistent: boolean;
  checked: number;
  firstBroken?: BrokenLink;
  /** the last event of the chain as stored */
  head?: { seq: number; hash: string };
  /** the digest head the chain was checked against, if any */
  digest?: { seq: number; day: string; headSeq: number };
}

const short = (h: string) => h.slice(0, 12);

/** Grace for events committed while a digest was being taken (their time is earlier than the digest's). */
export const DIGEST_GRACE_MS = 15 * 60_000;

/**
 * Verify one chain, rows ordered by seq. Names the first broken link and tells what happened to it as far as
 * the stored hashes allow: an edited event no longer matches its hash; an event re-hashed after an edit no
 * longer matches the link its successor holds; a deleted event leaves a gap in seq (or, renumbered, a link to
 * an older event); an inserted event is skipped by its successor's link; swapped events link backwards. With
 * `expected` (from the digests) a deleted tail, a deleted chain and a rewritten chain are named too.
 */
export function verifyChainEvents(rows: ChainEvent[], expected?: ExpectedHead | null): ChainVerdict {
  const digest = expected ? { seq: expected.digestSeq, day: expected.day, headSeq: expected.seq } : undefined;
  const verdict = (checked: number, firstBroken?: BrokenLink): ChainVerdict => {
    const last = rows[rows.length - 1];
    const out: ChainVerdict = { consistent: !firstBroken, checked };
    if (firstBroken) out.firstBroken = firstBroken;
    if (last) out.head = { seq: last.seq, hash: last.hash };
    if (digest) out.digest = digest;
    return out;
  };
  const byHash = new Map<string, number>();
  for (let i = 0; i < rows.length; i++) byHash.set(rows[i].hash, i);

  let prev = GENESIS;
  let expectedSeq = 1;
  for (let i = 0; i < rows.length; i++) {
    const e = rows[i];
    const checked = i + 1;
    if (e.seq !== expectedSeq) {
      if (e.seq > expectedSeq) {
        const gap = e.seq - expectedSeq === 1 ? `event ${expectedSeq} is` : `events ${expectedSeq}..${e.seq - 1} are`;
        return verdict(checked, { seq: expectedSeq, kind: 'deleted', reason: `${gap} missing (deleted): the chain jumps from ${expectedSeq - 1} to ${e.seq}` });
      }
      return verdict(checked, { seq: e.seq, kind: 'reordered', reason: `sequence out of order: ${e.seq} follows ${expectedSeq - 1}` });
    }
    if (e.prevHash !== prev) {
      const next = rows[i + 1];
      const linked = byHash.get(e.prevHash);
      if (linked !== undefined && linked > i) {
        return verdict(checked, { seq: e.seq, kind: 'reordered', reason: `event ${e.seq} (${e.type}) links to event ${rows[linked].seq}, which comes after it: events were reordered (swapped)` });
      }
      if (linked !== undefined && linked === i - 2) {
        const p = rows[i - 1];
        return verdict(checked, { seq: p.seq, kind: 'inserted', reason: `event ${p.seq} (${p.type}) was inserted: event ${e.seq} links to event ${rows[linked].seq}, the one before it` });
      }
      if (linked !== undefined && linked < i - 2) {
        return verdict(checked, { seq: e.seq, kind: 'deleted', reason: `event ${e.seq} (${e.type}) links to event ${rows[linked].seq}: the events between were deleted and the rest renumbered` });
      }
      if (next && next.prevHash === prev) {
        return verdict(checked, { seq: e.seq, kind: 'inserted', reason: `event ${e.seq} (${e.type}) was inserted: event ${next.seq} links directly to event ${e.seq - 1}` });
      }
      const selfConsistent = eventHash(e.prevHash, e) === e.hash;
      if (i > 0 && selfConsistent && (!next || next.prevHash === e.hash)) {
        const p = rows[i - 1];
        return verdict(checked, { seq: p.seq, kind: 'edited', reason: `event ${p.seq} (${p.type}) was altered and its hash recomputed: event ${e.seq} still links to its original hash ${short(e.prevHash)}, not ${short(p.hash)}` });
      }
      return verdict(checked, { seq: e.seq, kind: 'relinked', reason: `event ${e.seq} (${e.type}) does not link to event ${e.seq - 1} (inserted, deleted or reordered events)` });
    }
    if (eventHash(prev, e) !== e.hash) {
      return verdict(checked, { seq: e.seq, kind: 'edited', reason: `event ${e.seq} (${e.type}) was altered: its content no longer matches its hash` });
    }
    prev = e.hash;
    expectedSeq++;
  }

  if (expected) {
    const last = rows[rows.length - 1];
    const when = `the digest #${expected.digestSeq} of ${expected.day}`;
    if (!last) {
      return verdict(0, { seq: 1, kind: 'deleted', reason: `the whole chain is missing (deleted): ${when} recorded ${expected.seq} event(s)` });
    }
    if (last.seq < expected.seq) {
      return verdict(rows.length, { seq: last.seq + 1, kind: 'truncated', reason: `events ${last.seq + 1}..${expected.seq} are missing (deleted tail): ${when} recorded head seq ${expected.seq}` });
    }
    const atHead = rows[expected.seq - 1];
    if (atHead.hash !== expected.hash) {
      return verdict(rows.length, { seq: expected.seq, kind: 'edited', reason: `the chain was rewritten: event ${expected.seq} has hash ${short(atHead.hash)}, ${when} recorded ${short(expected.hash)}` });
    }
    for (let i = expected.seq; i < rows.length; i++) {
      if (rows[i].at < expected.createdAt - DIGEST_GRACE_MS) {
        return verdict(rows.length, { seq: rows[i].seq, kind: 'backdated', reason: `event ${rows[i].seq} (${rows[i].type}) is dated ${new Date(rows[i].at).toISOString()}, before ${when}, which ended this chain at seq ${expected.seq}: appended afterwards` });
      }
    }
  }
  return verdict(rows.length);
}
