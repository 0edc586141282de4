/**
 * Handlers of the two recording steps of processes/claims.bpmn that follow a person's decision in screening:
 * Task_RecordReview (after the adjuster's review) and Task_RecordInvestigation (after special investigations).
 * They keep on the claim row who decided (claims.decision_mode) and what the investigation found
 * (claims.fraud_outcome), the columns the claims figures read. Idempotent: a retry writes the same values.
 */
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import type { Claim, InsuranceStore } from '../../persistence/insurance.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';

export const SCREENING_HANDLERS = ['claims.recordReview', 'claims.recordInvestigation'] as const;

export type ScreeningHandlerName = (typeof SCREENING_HANDLERS)[number];

/** Review decisions that decide the claim (request-documents only asks the customer first). */
const DECIDING_REVIEWS = new Set(['approve', 'partial', 'reject']);

export function createScreeningHandlers(deps: { store: StoreOf }): Record<ScreeningHandlerName, Handler> {
  return perTransition(SCREENING_HANDLERS, (ctx) => screeningHandlersOver(deps.store(ctx)));
}

function screeningHandlersOver(store: InsuranceStore): Record<ScreeningHandlerName, Handler> {
  async function claimOf(ctx: HandlerContext): Promise<Claim> {
    const c = await store.claimOfInstance(ctx.instanceId);
    if (!c) throw new Error(`instance ${ctx.instanceId} has no registered claim`);
    return c;
  }

  return {
    /** The adjuster approved, partially approved or rejected the claim: a person decided it (decision_mode manual). */
    async 'claims.recordReview'(ctx) {
      const decision = ctx.variables.reviewDecision;
      if (typeof decision !== 'string' || !DECIDING_REVIEWS.has(decision)) return { reviewDecided: false };
      const claim = await claimOf(ctx);
      await store.updateClaim(claim.claimNo, { decisionMode: 'manual' });
      return { reviewDecided: true, decisionMode: 'manual' };
    },

    /**
     * Special investigations confirmed fraud (fraud_outcome confirmed; the claim is then rejected by a person) or
     * cleared the claim (fraud_outcome cleared; it continues). The investigation form allows only these two.
     */
    async 'claims.recordInvestigation'(ctx) {
      const outcome = ctx.variables.investigationOutcome;
      if (outcome !== 'fraud-confirmed' && outcome !== 'cleared') throw new Error(`investigationOutcome must be fraud-confirmed or cleared, got ${JSON.stringify(outcome)}`);
      const claim = await claimOf(ctx);
      const fraudOutcome = outcome === 'fraud-confirmed' ? 'confirmed' : 'cleared';
      await store.updateClaim(claim.claimNo, fraudOutcome === 'confirmed' ? { fraudOutcome, decisionMode: 'manual' } : { fraudOutcome });
      return { fraudOutcome };
    },
  };
}
