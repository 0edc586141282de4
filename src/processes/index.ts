/** The insurance domain: handlers of the three flows and their HTTP extras, registered on an engine. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../engine/service.ts';
import { createClaimHandlers, type ClaimDeps } from './claims/handlers.ts';
import { claimRoutes } from './claims/routes.ts';
import { createSalesHandlers, type SalesDeps } from './sales/handlers.ts';
import { createProductHandlers } from './product-development/handlers.ts';

export interface DomainOptions {
  /** the bank or payment provider for claim payouts (default: ledger only) */
  payments?: ClaimDeps['payments'];
  claims?: Omit<ClaimDeps, 'db' | 'clock' | 'payments'>;
  sales?: Omit<SalesDeps, 'db' | 'clock' | 'processes'>;
}

/** Registers every handler the diagrams in processes/ call (names as in their camunda:topic). */
export function registerInsuranceDomain(engine: InsureflowEngine, options: DomainOptions = {}): void {
  const base = { db: engine.db, clock: engine.clock };
  engine.registerHandlers(createClaimHandlers({ ...base, payments: options.payments, ...options.claims }));
  engine.registerHandlers(
    createSalesHandlers({
      ...base,
      ...options.sales,
      // a renewal case is a new sales instance, found again by its business key when the handler is retried
      processes: {
        async startOnce(key, businessKey, variables) {
          const existing = await engine.listInstances({ key, businessKey, limit: 1 });
          if (existing.items.length) return existing.items[0].id;
          return (await engine.startInstance(key, { businessKey, variables })).id;
        },
      },
    }),
  );
  engine.registerHandlers(createProductHandlers(base));
}

export async function domainRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  await claimRoutes(app, engine);
}
