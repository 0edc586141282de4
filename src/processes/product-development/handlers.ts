/**
 * Handlers of processes/product-development.bpmn: the product design is kept as a draft version in the product
 * catalogue, priced by the actuary, and published (launched) so that the sales flow can quote it. Every write is
 * idempotent: one draft version per instance, launching twice changes nothing.
 */
import type { Clock } from '../../engine/clock.ts';
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import { InsuranceStore, type Product } from '../../persistence/insurance.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';
import { actuarialBaseRate } from './rules.ts';

export interface ProductDeps {
  /** the insurance repository bound to a handler call's unit of work */
  store: StoreOf;
  clock: Clock;
}

export const PRODUCT_HANDLERS = ['product.saveDraft', 'product.returnToDesign', 'product.computeBaseRate', 'product.launch'] as const;
export type ProductHandlerName = (typeof PRODUCT_HANDLERS)[number];

const DESIGN_FIELDS = ['perils', 'sumInsuredMin', 'sumInsuredMax', 'deductible', 'coinsurance', 'policyTermMonths', 'exclusions', 'designNotes'] as const;

export function createProductHandlers(deps: ProductDeps): Record<ProductHandlerName, Handler> {
  return perTransition(PRODUCT_HANDLERS, (ctx) => productHandlersOver(deps, deps.store(ctx)));
}

function productHandlersOver(deps: ProductDeps, store: InsuranceStore): Record<ProductHandlerName, Handler> {
  const now = () => deps.clock.now();

  async function draftOf(ctx: HandlerContext): Promise<Product> {
    const p = await store.productDraftOf(ctx.instanceId);
    if (!p) throw new Error(`product-development instance ${ctx.instanceId} has no draft in the catalogue`);
    return p;
  }

  return {
    /** The design becomes (or updates) this instance's draft version in the catalogue; reviewers review that version. */
    async 'product.saveDraft'(ctx) {
      const v = ctx.variables;
      const parameters: Record<string, unknown> = { targetMarket: v.targetMarket ?? null, research: { targetSegment: v.targetSegment ?? null, competitors: v.competitors ?? [], customerNeeds: v.customerNeeds ?? null } };
      for (const f of DESIGN_FIELDS) if (v[f] !== undefined) parameters[f] = v[f];
      const draft = await store.saveProductDraft({ productCode: String(v.productCode), name: String(v.productName), line: typeof v.line === 'string' ? v.line : null, parameters, processInstanceId: ctx.instanceId });
      return { productVersion: draft.version, designRound: Number(v.designRound ?? 0) + 1, riskDecision: null, legalDecision: null };
    },

    /** A reviewer rejected the design: the designers get every reviewer's comments. */
    async 'product.returnToDesign'(ctx) {
      const v = ctx.variables;
      const comments: { reviewer: string; decision: string; comment: string | null }[] = [];
      if (v.riskDecision) comments.push({ reviewer: 'risk management', decision: String(v.riskDecision), comment: (v.riskComments as string) ?? null });
      if (v.legalDecision) comments.push({ reviewer: 'legal and compliance', decision: String(v.legalDecision), comment: (v.legalComments as string) ?? null });
      return { reviewComments: comments, designReturned: true };
    },

    /** base rate = expected loss cost / (1 - expense loading - profit loading), kept with the draft. */
    async 'product.computeBaseRate'(ctx) {
      const v = ctx.variables;
      const draft = await draftOf(ctx);
      const pricing = { expectedLossCost: Number(v.expectedLossCost), expenseLoading: Number(v.expenseLoading), profitLoading: Number(v.profitLoading) };
      const baseRate = actuarialBaseRate(pricing);
      await store.setProductPricing(draft.productCode, draft.version, baseRate, { ...pricing, baseRate, basis: v.pricingBasis ?? null });
      return { baseRate };
    },

    /** Publishes the priced version to the catalogue (earlier launched versions are superseded) and tells sales. */
    async 'product.launch'(ctx) {
      const draft = await draftOf(ctx);
      const launched = await store.launchProduct(draft.productCode, draft.version);
      await store.notify({
        messageKey: `${launched.productCode}:v${launched.version}:launched`,
        channel: 'internal',
        recipient: 'sales-agents',
        topic: 'product-launched',
        subject: `New product on sale: ${launched.name} (${launched.productCode} v${launched.version})`,
        body: `${launched.name} can be quoted from today, base rate ${launched.baseRate}.`,
        payload: { productCode: launched.productCode, version: launched.version, baseRate: launched.baseRate },
        businessRef: launched.productCode,
        processInstanceId: ctx.instanceId,
      });
      return { productStatus: launched.status, launchedVersion: launched.version, launchedAt: new Date(launched.launchedAt ?? now()).toISOString() };
    },
  };
}
