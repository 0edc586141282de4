/**
 * Operations reports (issue 12, section 5), registered under /api by domainRoutes:
 *
 * - GET /api/reports/claims?from=YYYY-MM-DD&to=YYYY-MM-DD&channel=&peril= — the claims reported in the period
 *   (both days included, UTC calendar days; either end may be left open) under the channel and peril filters:
 *   counts, payouts, time to payment, SLA breaches, automatic vs manual decisions, fraud outcomes, open reserves;
 *   in total, per channel and per peril (./figures.ts says what each figure counts).
 * - GET /api/reports/sales?from=&to=&productCode= — the quotes created in the period: how many were issued as
 *   policies, declined, expired or lapsed, the conversion rate and the premium booked; in total and per product.
 *
 * Who may read them: the engine decides (`read` on the resource type `report`, resource id `claims` or `sales`):
 * admins and auditors by role, ops users by grant (processes/authorizations.json grants claims to
 * claims-supervisors and sales to sales-managers), before the query is validated (a caller without it gets 403
 * whatever the query). Bad input (an impossible date, `from` after `to`, an unknown
 * channel or peril, an unknown parameter) is 400 VALIDATION_FAILED.
 */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../../persistence/knex-engine.ts';
import { InsureflowError } from '../../errors.ts';
import { ReportStore } from '../../persistence/reports.ts';
import { claimsReport, salesReport } from './figures.ts';

const DAY_MS = 86_400_000;

/** The channels and perils of the claims start form (processes/forms/claims.start.schema.json). */
export const CLAIM_CHANNELS = ['online', 'phone', 'email', 'app'] as const;
export const CLAIM_PERILS = ['fire', 'water', 'theft', 'storm', 'glass', 'other'] as const;

const period = {
  from: { type: 'string', format: 'date', description: 'first day of the period (YYYY-MM-DD, UTC), included; absent: from the first record' },
  to: { type: 'string', format: 'date', description: 'last day of the period (YYYY-MM-DD, UTC), included; absent: up to now' },
} as const;

const money = { type: 'number', description: 'CNY, 2 decimals' } as const;
const claimFigures = {
  reported: { type: 'integer', description: 'claims reported in the period' },
  open: { type: 'integer', description: 'still open' },
  paid: { type: 'integer', description: 'paid: money paid out (closed since or not)' },
  acceptedWithoutPayout: { type: 'integer', description: 'accepted with nothing to pay: the loss did not exceed the deductible (not counted as paid)' },
  rejected: { type: 'integer' },
  closed: { type: 'integer', description: 'closed, paid or rejected' },
  paidAmount: { ...money, description: 'sum of the payouts of the paid claims (CNY, 2 decimals)' },
  averageHoursToPayment: { type: ['number', 'null'], description: 'mean hours from report to payment of the paid claims (2 decimals); null when none was paid' },
  slaBreaches: { type: 'integer', description: 'claims that missed the 72-hour settlement deadline' },
  automatic: { type: 'integer', description: 'decided without a person' },
  manual: { type: 'integer', description: 'decided by a person' },
  automaticShare: { type: ['number', 'null'], description: 'automatic / (automatic + manual), 0..1, 4 decimals; null when none was decided' },
  fraudConfirmed: { type: 'integer' },
  fraudCleared: { type: 'integer' },
  openReserves: { ...money, description: 'sum of the outstanding reserves of the open claims (CNY, 2 decimals)' },
} as const;
const salesFigures = {
  quotes: { type: 'integer', description: 'quotes created in the period' },
  offered: { type: 'integer' },
  issued: { type: 'integer', description: 'converted into a policy' },
  declined: { type: 'integer', description: 'closed as lost' },
  expired: { type: 'integer', description: 'offer not signed in time' },
  lapsed: { type: 'integer', description: 'premium not paid in time' },
  inProgress: { type: 'integer' },
  conversionRate: { type: ['number', 'null'], description: 'issued / quotes, 0..1, 4 decimals' },
  premiumBooked: { ...money, description: 'net premiums of the issued quotes (CNY, 2 decimals)' },
} as const;

const periodOut = { type: 'object', properties: { from: { type: ['string', 'null'] }, to: { type: ['string', 'null'] } } };
const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } };

/**
 * The period of `from`..`to` (ISO calendar days, both included, UTC) as [fromMs, toMs) epoch ms.
 * @throws InsureflowError VALIDATION_FAILED when `from` is after `to`
 */
export function periodOf(from: string | undefined, to: string | undefined): { fromMs: number | null; toMs: number | null } {
  const fromMs = from === undefined ? null : Date.parse(`${from}T00:00:00Z`);
  const toMs = to === undefined ? null : Date.parse(`${to}T00:00:00Z`) + DAY_MS;
  if (fromMs !== null && toMs !== null && fromMs >= toMs) {
    throw new InsureflowError('VALIDATION_FAILED', `the period is empty: from ${from} is after to ${to}`, [{ in: 'querystring', field: 'from', message: 'must not be after to', keyword: 'period' }]);
  }
  return { fromMs, toMs };
}

export async function reportRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  const reports = new ReportStore(engine.db);
  const roles = { roles: ['admin' as const, 'auditor' as const, 'ops' as const] };

  app.get(
    '/reports/claims',
    {
      config: roles,
      preValidation: async (req) => engine.authorize(req.actor, 'read', 'report', 'claims'),
      schema: {
        tags: ['reports'],
        summary: 'Claims operations figures of a period: counts, payouts, time to payment, SLA breaches, decisions, fraud outcomes, open reserves; per channel and peril',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...period,
            channel: { type: 'string', enum: CLAIM_CHANNELS, description: 'only claims reported through this channel' },
            peril: { type: 'string', enum: CLAIM_PERILS, description: 'only claims of this cause of loss' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              period: periodOut,
              channel: { type: ['string', 'null'] },
              peril: { type: ['string', 'null'] },
              totals: { type: 'object', properties: claimFigures },
              byChannel: { type: 'array', items: { type: 'object', properties: { channel: { type: 'string' }, ...claimFigures } } },
              byPeril: { type: 'array', items: { type: 'object', properties: { peril: { type: 'string' }, ...claimFigures } } },
            },
          },
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query as { from?: string; to?: string; channel?: string; peril?: string };
      const p = periodOf(q.from, q.to);
      const cells = await reports.claimCells({ ...p, channel: q.channel ?? null, peril: q.peril ?? null });
      return { period: { from: q.from ?? null, to: q.to ?? null }, channel: q.channel ?? null, peril: q.peril ?? null, ...claimsReport(cells) };
    },
  );

  app.get(
    '/reports/sales',
    {
      config: roles,
      preValidation: async (req) => engine.authorize(req.actor, 'read', 'report', 'sales'),
      schema: {
        tags: ['reports'],
        summary: 'Sales conversion of the quotes created in a period: issued, declined, expired, lapsed, premium booked; per product',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...period, productCode: { type: 'string', pattern: '^[A-Za-z0-9]{1,40}$', description: 'only quotes of this product' } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              period: periodOut,
              productCode: { type: ['string', 'null'] },
              totals: { type: 'object', properties: salesFigures },
              byProduct: { type: 'array', items: { type: 'object', properties: { productCode: { type: 'string' }, ...salesFigures } } },
            },
          },
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query as { from?: string; to?: string; productCode?: string };
      const p = periodOf(q.from, q.to);
      const cells = await reports.salesCells({ ...p, productCode: q.productCode ?? null });
      return { period: { from: q.from ?? null, to: q.to ?? null }, productCode: q.productCode ?? null, ...salesReport(cells) };
    },
  );
}
