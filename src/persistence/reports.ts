/**
 * The SQL behind the operations figures (issue 12, section 5): the claims and sales reports
 * (src/processes/reports/) and the business gauges of GET /metrics (src/http/metrics.ts). Every figure is an
 * aggregate over committed rows, computed in one statement per figure family on SQLite and PostgreSQL alike.
 *
 * Money never passes through a float sum: an amount column is summed as integer minor units
 * (`round(amount * 100)`, exact on PostgreSQL's numeric and, for cent-valued amounts, on SQLite's REAL) and
 * handed back as a decimal string of fen, which the domain turns into a Decimal (src/processes/money.ts).
 * Durations are sums of epoch-millisecond differences (integers), also as decimal strings.
 */
import type { Knex } from 'knex';

/** A count, from a driver that may return bigint aggregates as strings (pg). */
const count = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
/** An integer sum as a decimal string ("0" for none); pg returns numeric sums as strings, SQLite as numbers. */
const intText = (v: unknown): string => (v === null || v === undefined ? '0' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : String(Math.round(v))) : String(v));

/** Which claims a report covers: reported in [fromMs, toMs) (epoch ms; null: unbounded), of a channel and a peril. */
export interface ClaimReportFilter {
  fromMs: number | null;
  toMs: number | null;
  channel?: string | null;
  peril?: string | null;
}

/** The aggregates of the claims of one (channel, peril) pair. Minor-unit and millisecond sums are decimal strings. */
export interface ClaimCell {
  channel: string;
  peril: string;
  reported: number;
  /** status open */
  open: number;
  /** money paid out: paid_at set and a payout above 0 (closed since or not) */
  paid: number;
  /** accepted, but the loss did not exceed the deductible: paid_at set with a payout of 0 */
  acceptedWithoutPayout: number;
  /** status rejected */
  rejected: number;
  /** closed_at set (paid and closed, or rejected and closed) */
  closed: number;
  /** sum of the payouts of the paid claims, in fen */
  paidMinor: string;
  /** sum of (paid_at - reported_at) of the paid claims, in ms */
  paidDelayMs: string;
  slaBreaches: number;
  automatic: number;
  manual: number;
  fraudConfirmed: number;
  fraudCleared: number;
  /** sum of reserve_outstanding of the open claims, in fen */
  openReserveMinor: string;
}

/** Which quotes the sales report covers: created in [fromMs, toMs), of a product. */
export interface SalesReportFilter {
  fromMs: number | null;
  toMs: number | null;
  productCode?: string | null;
}

/** The aggregates of the quotes of one product. */
export interface SalesCell {
  productCode: string;
  quotes: number;
  offered: number;
  issued: number;
  declined: number;
  expired: number;
  lapsed: number;
  /** sum of the net premiums of the issued quotes, in fen */
  premiumMinor: string;
}

/** The business gauges of GET /metrics, read at scrape time (committed rows only). */
export interface OperationsFigures {
  /** instances by process key and status (active | incident | completed | cancelled) */
  instances: { processKey: string; status: string; n: number }[];
  /** open user tasks by candidate group (a task offered to two groups counts in both; `null`: offered to no group) */
  openTasks: { group: string | null; n: number }[];
  /** jobs by type: all of them, those due at `now`, those whose last attempt failed (retries) */
  jobs: { type: string; n: number; due: number; failing: number }[];
  /** open incidents by process key */
  incidents: { processKey: string; n: number }[];
  /** open external tasks by topic */
  externalTasks: { topic: string; n: number }[];
  /** claims by status, and how many of each breached the 72-hour settlement deadline */
  claims: { status: string; n: number; slaBreached: number }[];
}

export class ReportStore {
  constructor(private readonly db: Knex) {}

  /** The claims report's aggregates, one row per (channel, peril) that has claims under the filter. */
  async claimCells(f: ClaimReportFilter): Promise<ClaimCell[]> {
    const k = this.db;
    let q = k('claims')
      .select('channel', 'peril')
      .select(
        k.raw('count(*) as reported'),
        k.raw(`sum(case when status = 'open' then 1 else 0 end) as open_n`),
        k.raw('sum(case when paid_at is not null and coalesce(payout, 0) > 0 then 1 else 0 end) as paid_n'),
        k.raw('sum(case when paid_at is not null and coalesce(payout, 0) <= 0 then 1 else 0 end) as nil_n'),
        k.raw(`sum(case when status = 'rejected' then 1 else 0 end) as rejected_n`),
        k.raw('sum(case when closed_at is not null then 1 else 0 end) as closed_n'),
        k.raw('sum(case when paid_at is not null then round(coalesce(payout, 0) * 100) else 0 end) as paid_minor'),
        k.raw('sum(case when paid_at is not null and coalesce(payout, 0) > 0 then paid_at - reported_at else 0 end) as paid_delay_ms'),
        // SQLite keeps booleans as 0/1, PostgreSQL as boolean: `= ?` with true binds to either
        k.raw('sum(case when sla_breached = ? then 1 else 0 end) as sla_n', [true]),
        k.raw(`sum(case when decision_mode = 'automatic' then 1 else 0 end) as automatic_n`),
        k.raw(`sum(case when decision_mode = 'manual' then 1 else 0 end) as manual_n`),
        k.raw(`sum(case when fraud_outcome = 'confirmed' then 1 else 0 end) as confirmed_n`),
        k.raw(`sum(case when fraud_outcome = 'cleared' then 1 else 0 end) as cleared_n`),
        k.raw(`sum(case when status = 'open' then round(reserve_outstanding * 100) else 0 end) as reserve_minor`),
      )
      .groupBy('channel', 'peril')
      .orderBy([{ column: 'channel' }, { column: 'peril' }]);
    if (f.fromMs !== null) q = q.where('reported_at', '>=', f.fromMs);
    if (f.toMs !== null) q = q.where('reported_at', '<', f.toMs);
    if (f.channel) q = q.where({ channel: f.channel });
    if (f.peril) q = q.where({ peril: f.peril });
    const rows: any[] = await q;
    return rows.map((r) => ({
      channel: r.channel,
      peril: r.peril,
      reported: count(r.reported),
      open: count(r.open_n),
      paid: count(r.paid_n),
      acceptedWithoutPayout: count(r.nil_n),
      rejected: count(r.rejected_n),
      closed: count(r.closed_n),
      paidMinor: intText(r.paid_minor),
      paidDelayMs: intText(r.paid_delay_ms),
      slaBreaches: count(r.sla_n),
      automatic: count(r.automatic_n),
      manual: count(r.manual_n),
      fraudConfirmed: count(r.confirmed_n),
      fraudCleared: count(r.cleared_n),
      openReserveMinor: intText(r.reserve_minor),
    }));
  }

  /** The sales report's aggregates, one row per product code that has quotes under the filter. */
  async salesCells(f: SalesReportFilter): Promise<SalesCell[]> {
    const k = this.db;
    let q = k('quotes')
      .select('product_code')
      .select(
        k.raw('count(*) as quotes_n'),
        k.raw('sum(case when offered_at is not null then 1 else 0 end) as offered_n'),
        k.raw(`sum(case when status = 'issued' then 1 else 0 end) as issued_n`),
        k.raw(`sum(case when status = 'declined' then 1 else 0 end) as declined_n`),
        k.raw(`sum(case when status = 'expired' then 1 else 0 end) as expired_n`),
        k.raw(`sum(case when status = 'lapsed' then 1 else 0 end) as lapsed_n`),
        k.raw(`sum(case when status = 'issued' then round(coalesce(net_premium, 0) * 100) else 0 end) as premium_minor`),
      )
      .groupBy('product_code')
      .orderBy('product_code');
    if (f.fromMs !== null) q = q.where('created_at', '>=', f.fromMs);
    if (f.toMs !== null) q = q.where('created_at', '<', f.toMs);
    if (f.productCode) q = q.where({ product_code: f.productCode });
    const rows: any[] = await q;
    return rows.map((r) => ({
      productCode: r.product_code,
      quotes: count(r.quotes_n),
      offered: count(r.offered_n),
      issued: count(r.issued_n),
      declined: count(r.declined_n),
      expired: count(r.expired_n),
      lapsed: count(r.lapsed_n),
      premiumMinor: intText(r.premium_minor),
    }));
  }

  /** The gauges of GET /metrics; `now` (epoch ms, the engine's clock) decides which jobs are due. */
  async operationsFigures(now: number): Promise<OperationsFigures> {
    const k = this.db;
    const [instances, openTasks, jobs, incidents, externalTasks, claims] = await Promise.all([
      k('process_instances').select('process_key', 'status').count({ n: '*' }).groupBy('process_key', 'status'),
      k('user_tasks as t')
        .leftJoin('task_candidates as c', function () {
          this.on('c.task_id', '=', 't.id').andOn('c.kind', '=', k.raw('?', ['group']));
        })
        .where('t.status', 'open')
        .select('c.name')
        .count({ n: '*' })
        .groupBy('c.name'),
      k('jobs')
        .select('type')
        .select(k.raw('count(*) as n'), k.raw('sum(case when due_at <= ? then 1 else 0 end) as due', [now]), k.raw('sum(case when last_error is not null then 1 else 0 end) as failing'))
        .groupBy('type'),
      k('incidents as i').join('process_instances as p', 'p.id', 'i.process_instance_id').where('i.status', 'open').select('p.process_key').count({ n: '*' }).groupBy('p.process_key'),
      k('external_tasks').where({ status: 'open' }).select('topic').count({ n: '*' }).groupBy('topic'),
      k('claims').select('status').select(k.raw('count(*) as n'), k.raw('sum(case when sla_breached = ? then 1 else 0 end) as breached', [true])).groupBy('status'),
    ]);
    return {
      instances: (instances as any[]).map((r) => ({ processKey: r.process_key, status: r.status, n: count(r.n) })),
      openTasks: (openTasks as any[]).map((r) => ({ group: r.name ?? null, n: count(r.n) })),
      jobs: (jobs as any[]).map((r) => ({ type: r.type, n: count(r.n), due: count(r.due), failing: count(r.failing) })),
      incidents: (incidents as any[]).map((r) => ({ processKey: r.process_key, n: count(r.n) })),
      externalTasks: (externalTasks as any[]).map((r) => ({ topic: r.topic, n: count(r.n) })),
      claims: (claims as any[]).map((r) => ({ status: r.status, n: count(r.n), slaBreached: count(r.breached) })),
    };
  }
}
