/** The insurance domain: handlers of the three flows and their HTTP extras, registered on an engine. */
import type { FastifyInstance } from 'fastify';
import type { InsureflowEngine } from '../engine/service.ts';

export function registerInsuranceDomain(_engine: InsureflowEngine): void {
  // the claims, sales and product-development handlers are registered here (issue 4)
}

export async function domainRoutes(_app: FastifyInstance, _engine: InsureflowEngine): Promise<void> {}
