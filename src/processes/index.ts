/** The insurance domain: handlers of the flows (claims, sales, product development, customer service) and their HTTP extras, registered on an engine. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../persistence/knex-engine.ts';
import type { HandlerContext } from '../engine/runtime.ts';
import { createClaimHandlers, ledgerOnlyGateway, type ClaimDeps, type PaymentGateway } from './claims/handlers.ts';
import { createPaymentRelay, type PaymentRelay } from './claims/payment-relay.ts';
import { claimRoutes } from './claims/routes.ts';
import { reportRoutes } from './reports/routes.ts';
import { createScreeningHandlers } from './claims/screening-handlers.ts';
import { registerClaimGuards } from './claims/guards.ts';
import { createClaimControlHandlers } from './claims/controls.ts';
import type { DecideFn } from './claims/reserves.ts';
import { createSalesHandlers, type SalesDeps } from './sales/handlers.ts';
import { createProductHandlers } from './product-development/handlers.ts';
import { insuranceStoreOf } from './unit-of-work.ts';
import { createCustomerServiceHandlers } from './customer-service/handlers.ts';
import { registerCustomerServiceGuards } from './customer-service/guards.ts';
import { customerServiceRoutes } from './customer-service/routes.ts';
import { startFormChecker } from './customer-service/engine-ports.ts';
import { CustomerServiceStore } from '../persistence/customer-service.ts';
import { transactionOf } from '../persistence/unit-of-work.ts';
import { KnexInstanceStore } from '../persistence/instance-store.ts';
import { createServicingHandlers } from './policy-servicing/handlers.ts';
import { policyRoutes } from './policy-servicing/routes.ts';

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
  // another process instance, started once the calling transition commits (a durable start job)
  const startAfterCommit = (ctx: HandlerContext, key: string, businessKey: string, variables: Record<string, unknown>): Promise<string> =>
    engine.startInstanceAfterCommit(ctx.unitOfWork, key, { businessKey, variables });
  // handlers evaluate deployed decisions (the newest version) through the engine's decision service, in their unit of work
  const decide: DecideFn = (ctx, decisionKey, variables) =>
    engine.decisions.evaluate({ decisionKey, binding: 'latest', version: null, versionTag: null, definitionId: `handler:${ctx.activityId}`, activityId: ctx.activityId, unitOfWork: ctx.unitOfWork }, variables);
  engine.registerHandlers(createClaimHandlers({ ...base, relay, decide, ...options.claims }));
  engine.registerHandlers(createScreeningHandlers(base));
  engine.registerHandlers(createClaimControlHandlers({ ...base, decide }));
  registerClaimGuards(engine);
  engine.registerHandlers(
    createSalesHandlers({
      ...base,
      ...options.sales,
      // a renewal case is a new sales instance, started once the renewal decision commits (a durable start job)
      processes: {
        startAfterCommit,
      },
    }),
  );
  engine.registerHandlers(createProductHandlers(base));
  const startForms = startFormChecker(engine.db);
  engine.registerHandlers(
    createCustomerServiceHandlers({
      ...base,
      service: (ctx) => new CustomerServiceStore(transactionOf(ctx.unitOfWork), () => engine.clock.now()),
      processes: {
        startAfterCommit,
        businessKeyHeld: async (ctx, key, businessKey) => (await new KnexInstanceStore(transactionOf(ctx.unitOfWork)).activeWithBusinessKey(key, businessKey)) !== null,
        checkStartForm: (ctx, key, variables) => startForms(key, variables, transactionOf(ctx.unitOfWork)),
      },
    }),
  );
  // separation of duties on disputes, fit handlers for complaints, consultations that pass what they open
  registerCustomerServiceGuards(engine, startForms);
  // policy servicing: endorsements, cancellations, renewals (a renewal starts the next term's case after commit)
  engine.registerHandlers(
    createServicingHandlers({
      ...base,
      processes: { startAfterCommit },
    }),
  );
  return { relay };
}

export async function domainRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  await claimRoutes(app, engine);
  await policyRoutes(app, engine);
  await reportRoutes(app, engine);
  await customerServiceRoutes(app, engine);
}
