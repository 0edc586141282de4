/**
 * The global chain head. auditDigest() reads the head of every history chain and records, in one chained
 * digest row, the heads that grew since the previous digest; verifyDigests() recomputes that chain of digests
 * and folds the recorded heads into "what must exist": every chain a digest saw, at least as long as it was.
 * A chain that shrank, vanished or was rewritten is never rolled into a new digest: it stays flagged.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';
import { systemClock, type Clock } from '../engine/clock.ts';
import { isUniqueViolation } from '../persistence/db.ts';
import { GENESIS, type ExpectedHead } from './chain.ts';
import { canonicalJson as canonical, sha256hex } from '../persistence/canonical-json.ts';
import { currentHeads, dialectOf, digests, hashesAt, insertDigest, iterateDigestHeads, recordedHeads, type DigestRow, type HeadRow } from './store.ts';

export interface DigestAnomaly {
  chainId: string;
  kind: 'deleted' | 'truncated' | 'rewritten';
  message: string;
}

export interface DigestResult extends DigestRow {
  /** chains found damaged while the digest was taken (they keep their previous recorded head) */
  anomalies: DigestAnomaly[];
}

/** sha256 over the sorted [chainId, seq, hash] lines of a digest's heads. */
export function headsRoot(heads: { chainId: string; seq: number; hash: string }[]): string {
  const sorted = [...heads].sort((a, b) => (a.chainId < b.chainId ? -1 : a.chainId > b.chainId ? 1 : 0));
  const h = createHash('sha256');
  for (const x of sorted) h.update(canonical([x.chainId, x.seq, x.hash]) + '\n');
  return h.digest('hex');
}

export function digestOf(d: Omit<DigestRow, 'digest'>): string {
  const { prevDigest, ...content } = d;
  return sha256hex(prevDigest + canonical(content));
}

/**
 * Take a digest now (the scheduler calls it daily and at shutdown; `insureflow audit digest` from cron).
 * Publish the returned `digest` outside the database (see the threat model) to anchor everything before it.
 */
export async function auditDigest(db: Knex, clock: Clock = systemClock): Promise<DigestResult> {
  const createdAt = clock.now();
  const run = async (trx: Knex.Transaction): Promise<DigestResult> => {
    const last = (await digests(trx, { order: 'desc', limit: 1 }))[0];
    const recorded = await recordedHeads(trx);
    const { heads, maxEventId } = await currentHeads(trx);
    const anomalies: DigestAnomaly[] = [];
    const changed: { chainId: string; seq: number; hash: string }[] = [];
    const grown: { chainId: string; seq: number; hash: string; recordedSeq: number; recordedHash: string }[] = [];
    for (const [chainId, cur] of heads) {
      const rec = recorded.get(chainId);
      if (!rec) changed.push({ chainId, ...cur });
      else if (cur.seq === rec.seq && cur.hash === rec.hash) continue;
      else if (cur.seq > rec.seq) grown.push({ chainId, ...cur, recordedSeq: rec.seq, recordedHash: rec.hash });
      else if (cur.seq < rec.seq) anomalies.push({ chainId, kind: 'truncated', message: `chain ${chainId} ends at seq ${cur.seq}; digest #${rec.digestSeq} recorded seq ${rec.seq}` });
      else anomalies.push({ chainId, kind: 'rewritten', message: `chain ${chainId}: event ${cur.seq} changed since digest #${rec.digestSeq}` });
    }
    // a chain may only grow: the event at its recorded head must still be the recorded one
    const atRecorded = await hashesAt(trx, grown.map((g) => ({ chainId: g.chainId, seq: g.recordedSeq })));
    for (const g of grown) {
      if (atRecorded.get(`${g.chainId}\u0000${g.recordedSeq}`) === g.recordedHash) changed.push({ chainId: g.chainId, seq: g.seq, hash: g.hash });
      else anomalies.push({ chainId: g.chainId, kind: 'rewritten', message: `chain ${g.chainId}: event ${g.recordedSeq} is no longer the one a digest recorded` });
    }
    for (const [chainId, rec] of recorded) {
      if (!heads.has(chainId)) anomalies.push({ chainId, kind: 'deleted', message: `chain ${chainId} is gone; digest #${rec.digestSeq} recorded ${rec.seq} event(s)` });
    }
    const known = new Map<string, number>();
    for (const [c, rec] of recorded) known.set(c, rec.seq);
    for (const c of changed) known.set(c.chainId, c.seq);
    let totalEvents = 0;
    for (const s of known.values()) totalEvents += s;
    const seq = (last?.seq ?? 0) + 1;
    const content: Omit<DigestRow, 'digest'> = {
      seq,
      day: new Date(createdAt).toISOString().slice(0, 10),
      createdAt,
      maxEventId,
      changedChains: changed.length,
      totalChains: known.size,
      totalEvents,
      headsRoot: headsRoot(changed),
      prevDigest: last?.digest ?? GENESIS,
    };
    const row: DigestRow = { ...content, digest: digestOf(content) };
    const headRows: HeadRow[] = changed.sort((a, b) => (a.chainId < b.chainId ? -1 : 1)).map((c) => ({ digestSeq: seq, ...c }));
    await insertDigest(trx, row, headRows);
    return { ...row, anomalies };
  };
  try {
    return dialectOf(db) === 'postgres' ? await db.transaction(run, { isolationLevel: 'repeatable read' }) : await db.transaction(run);
  } catch (err) {
    if (isUniqueViolation(err) || /could not serialize/i.test((err as Error).message)) {
      throw new InsureflowError('CONCURRENT_MODIFICATION', 'another node took a history digest at the same moment; try again');
    }
    throw err;
  }
}

/**
 * Takes the daily digest: the first check of each UTC day (checks every `checkMs`) takes one if the latest digest
 * is from an earlier day, and stop() takes one at shutdown. Several nodes may run it: one digest wins a race.
 */
export class DigestSchedule {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock = systemClock,
    private readonly logger: { info(o: unknown, m?: string): void; error(o: unknown, m?: string): void } = { info() {}, error() {} },
    private readonly checkMs = 10 * 60_000,
  ) {}

  /** Take a digest now; anomalies (damaged chains) are logged as errors. */
  async take(): Promise<DigestResult | null> {
    try {
      const d = await auditDigest(this.db, this.clock);
      this.logger.info({ seq: d.seq, day: d.day, digest: d.digest, changedChains: d.changedChains }, 'history digest taken: publish the digest outside the database');
      for (const a of d.anomalies) this.logger.error({ chainId: a.chainId, kind: a.kind }, `history tampering detected: ${a.message}`);
      return d;
    } catch (err) {
      if (err instanceof InsureflowError && err.code === 'CONCURRENT_MODIFICATION') return null;
      this.logger.error({ err }, 'history digest failed');
      return null;
    }
  }

  /** Take a digest if none was taken today (UTC). */
  async ensureToday(): Promise<DigestResult | null> {
    const last = (await digests(this.db, { order: 'desc', limit: 1 }))[0];
    const today = new Date(this.clock.now()).toISOString().slice(0, 10);
    return last && last.day >= today ? null : this.take();
  }

  start(): this {
    const tick = () => {
      this.running = this.ensureToday().catch((err) => this.logger.error({ err }, 'history digest check failed'));
      this.timer = setTimeout(tick, this.checkMs);
      this.timer.unref?.();
    };
    tick();
    return this;
  }

  /** Stop checking and take the shutdown digest. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.take();
  }
}

export interface DigestChainVerdict {
  consistent: boolean;
  checked: number;
  latest?: { seq: number; day: string; digest: string; createdAt: string };
  firstBroken?: { seq: number; reason: string };
  /** whether the anchor (a digest published outside) was found in a consistent chain */
  anchor?: { digest: string; found: boolean; seq?: number; day?: string };
  /** per chain, the latest head a digest recorded */
  heads: Map<string, ExpectedHead>;
}

/** Recompute the chain of digests and fold their heads. */
export async function verifyDigests(db: Knex, opts: { anchor?: string } = {}): Promise<DigestChainVerdict> {
  const rows = await digests(db);
  const heads = new Map<string, ExpectedHead>();
  let prev = GENESIS;
  let firstBroken: DigestChainVerdict['firstBroken'];
  const broken = (seq: number, reason: string) => {
    if (!firstBroken) firstBroken = { seq, reason };
  };
  let expectedSeq = 1;
  for (const d of rows) {
    if (d.seq !== expectedSeq) broken(expectedSeq, `digest #${expectedSeq} is missing (deleted)`);
    if (d.prevDigest !== prev) broken(d.seq, `digest #${d.seq} does not link to the digest before it (deleted, inserted or replaced)`);
    const mine: HeadRow[] = [];
    for await (const h of iterateDigestHeads(db, d.seq)) mine.push(h);
    if (mine.length !== d.changedChains || headsRoot(mine) !== d.headsRoot) broken(d.seq, `the chain heads recorded by digest #${d.seq} were altered`);
    const { digest, ...content } = d;
    if (digestOf(content) !== digest) broken(d.seq, `digest #${d.seq} was altered: its content no longer matches its hash`);
    for (const h of mine) heads.set(h.chainId, { chainId: h.chainId, seq: h.seq, hash: h.hash, digestSeq: d.seq, day: d.day, createdAt: d.createdAt });
    prev = d.digest;
    expectedSeq = d.seq + 1;
  }
  const last = rows[rows.length - 1];
  const out: DigestChainVerdict = { consistent: !firstBroken, checked: rows.length, heads };
  if (last) out.latest = { seq: last.seq, day: last.day, digest: last.digest, createdAt: new Date(last.createdAt).toISOString() };
  if (firstBroken) out.firstBroken = firstBroken;
  if (opts.anchor) {
    const hit = rows.find((r) => r.digest === opts.anchor);
    out.anchor = hit ? { digest: opts.anchor, found: true, seq: hit.seq, day: hit.day } : { digest: opts.anchor, found: false };
    if (!hit) {
      out.consistent = false;
      out.firstBroken ??= { seq: (last?.seq ?? 0) + 1, reason: `the published digest ${opts.anchor.slice(0, 12)}… is not in the database: digests (and the history they covered) were rewritten or deleted` };
    }
  }
  return out;
}
