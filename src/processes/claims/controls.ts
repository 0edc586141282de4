/**
 * Handlers of the claims controls of issue 12 that have their own tasks in processes/claims.bpmn:
 * `claims.recordReview` (Task_RecordReview, after every review: a deciding review sets decision_mode manual, the
 * reserve follows the decision, the reviewing adjuster is remembered for the approval chain) and `claims.recordApproval` (Task_RecordApproval in
 * SubProcess_Settlement: the payment authority chain, see authority.ts). Reserves: reserves.ts.
 */
import type { Clock } from '../../engine/clock.ts';
import type { Handler, HandlerContext } from '../../engine/runtime.ts';
import type { Claim, InsuranceStore } from '../../persistence/insurance.ts';
import { perTransition, type StoreOf } from '../unit-of-work.ts';
import { approvalsOf } from './authority.ts';
import { reservesOf, type DecideFn } from './reserves.ts';

export interface ClaimControlDeps {
  store: StoreOf;
  clock: Clock;
  decide?: DecideFn;
}

export const CLAIM_CONTROL_HANDLERS = ['claims.recordReview', 'claims.recordApproval'] as const;
export type ClaimControlHandlerName = (typeof CLAIM_CONTROL_HANDLERS)[number];

export function createClaimControlHandlers(deps: ClaimControlDeps): Record<ClaimControlHandlerName, Handler> {
  return perTransition(CLAIM_CONTROL_HANDLERS, (ctx) => controlsOver(deps, deps.store(ctx), ctx));
}

function controlsOver(deps: ClaimControlDeps, store: InsuranceStore, ctx: HandlerContext): Record<ClaimControlHandlerName, Handler> {
  const now = () => deps.clock.now();
  async function claimOf(): Promise<Claim> {
    const c = await store.claimOfInstance(ctx.instanceId);
    if (!c) throw new Error(`instance ${ctx.instanceId} has no registered claim`);
    return c;
  }
  return {
    /**
     * After a review: approve or partial approval sets the reserve to the payout now expected (the approved
     * amount on a partial approval); reject and request-documents leave it (a rejection releases it when the
     * claim closes). The reviewer (the user who completed the review) and the time are kept as reviewedBy and
     * reviewedAt: the first entry of the approval chain.
     */
    async 'claims.recordReview'(c) {
      const v = c.variables;
      let claim = await claimOf();
      // approve, partial approval or reject decide the claim: a person decided it (decision_mode manual);
      // request-documents only asks the customer first
      const decided = v.reviewDecision === 'approve' || v.reviewDecision === 'partial' || v.reviewDecision === 'reject';
      if (decided) claim = await store.updateClaim(claim.claimNo, { decisionMode: 'manual' });
      const reviewed = { reviewedBy: c.actor ?? null, reviewedAt: new Date(now()).toISOString(), reviewDecided: decided, ...(decided ? { decisionMode: 'manual' } : {}) };
      if (v.reviewDecision !== 'approve' && v.reviewDecision !== 'partial') return reviewed;
      return { ...reviewed, ...(await reservesOf(store, c, deps.decide).expect(claim, 'review', v)) };
    },

    async 'claims.recordApproval'(c) {
      const claim = await claimOf();
      return approvalsOf(store, c, now).record(claim, 'approve');
    },
  };
}
