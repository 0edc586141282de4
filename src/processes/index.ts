/** The insurance domain: handlers of the three flows and their HTTP extras, registered on an engine. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../persistence/knex-engine.ts';
import { createClaimHandlers, ledgerOnlyGateway, type ClaimDeps, type PaymentGateway } from './claims/handlers.ts';
import { createPaymentRelay, type PaymentRelay } from './claims/payment-relay.ts';
import { claimRoutes } from './claims/routes.ts';
import { createClaimControlHandlers } from './claims/controls.ts';
import type { DecideFn } from './claims/reserves.ts';
import { createSalesHandlers, type SalesDeps } from './sales/handlers.ts';
import { createProductHandlers } from './product-development/handlers.ts';
import { insuranceStoreOf } from './unit-of-work.ts';

export interface DomainOptions {
  /** the bank or payment provider for claim payouts (default: ledger only) */
  payments?: PaymentGateway;
  claims?: Omit<ClaimDeps, 'store' | 'clock' | 'relay'>;
  sales?: Omit<SalesDeps, 'store' | 'clock' | 'processes'>;
}

export interface InsuranceDomain {
  /** sends the payouts ordered by committed transitions and not yet confirmed by the bank (run it periodically) */
  relay: PaymentRelay;
}

/**
 * Registers every handler the diagrams in processes/ call (names as in their camunda:topic). Returns the payment
 * relay: the server sweeps it on every scheduler poll; an embedding application should do the same.
 */
export function registerInsuranceDomain(engine: InsureflowEngine, options: DomainOptions = {}): InsuranceDomain {
  const relay = createPaymentRelay(engine.db, engine.clock, options.payments ?? ledgerOnlyGateway, (err, p) =>
    engine.logger.warn({ err, paymentId: p.id, claimNo: p.claimNo }, 'payout not confirmed by the bank; it stays pending and is sent again'),
  );
  // every handler writes through the repository of its own transition's unit of work
  const base = { store: insuranceStoreOf(engine.clock), clock: engine.clock };
  // handlers evaluate deployed decisions (the newest version) through the engine's decision service, in their unit of work
  const decide: DecideFn = (ctx, decisionKey, variables) =>
    engine.decisions.evaluate({ decisionKey, binding: 'latest', version: null, versionTag: null, definitionId: `handler:${ctx.activityId}`, activityId: ctx.activityId, unitOfWork: ctx.unitOfWork }, variables);
  engine.registerHandlers(createClaimHandlers({ ...base, relay, decide, ...options.claims }));
  engine.registerHandlers(createClaimControlHandlers({ ...base, decide }));
  engine.registerHandlers(
    createSalesHandlers({
      ...base,
      ...options.sales,
      // a renewal case is a new sales instance, started once the renewal decision commits (a durable start job)
      processes: {
        startAfterCommit: (ctx, key, businessKey, variables) => engine.startInstanceAfterCommit(ctx.unitOfWork, key, { businessKey, variables }),
      },
    }),
  );
  engine.registerHandlers(createProductHandlers(base));
  return { relay };
}

export async function domainRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  await claimRoutes(app, engine);
}
