/**
 * The recording step of processes/claims.bpmn after special investigations (Task_RecordInvestigation; the review
 * step Task_RecordReview is in controls.ts).
 * They keep on the claim row who decided (claims.decision_mode) and what the investigation found
 * (claims.fraud_outcome), the columns the claims figures read. Idempotent: a retry writes the same values.
 */
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import type { Claim, InsuranceStore } from '../../persistence/insurance.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';

/** claims.recordReview (the decision mode of a review) is in controls.ts, with the reserve and the approval chain. */
export const SCREENING_HANDLERS = ['claims.recordInvestigation'] as const;

export type ScreeningHandlerName = (typeof SCREENING_HANDLERS)[number];

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
