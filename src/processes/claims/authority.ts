/**
 * Payment authority (issue 12): who may approve a claim payout. The PaymentAuthority decision
 * (processes/decisions/payment-authority.dmn) gives each approval level its group and limit (CNY; null:
 * unlimited): 0 automatic approval, 1 the adjuster who reviewed the claim, 2 claims supervisors, 3 claims
 * managers, 4 the claims director. In SubProcess_Settlement of processes/claims.bpmn the decision is evaluated
 * for the current approver's level (Task_ApproverAuthority) and `claims.recordApproval` appends that approver's
 * decision to the approval chain; a payout above the approver's limit goes to the next level (Task_NextApprover
 * evaluates the decision for it, Task_SupervisorApproval offers the task to its group), until an approver's limit
 * covers the payout or someone refuses it.
 *
 * The chain is stored in claims.approval_chain and returned as the variable `approvalChain` (so it is in the
 * history): entries { level, group, user, limit, payout, decision, at (ISO 8601), key }, in order; `key` is the
 * handler call's idempotency key, so a retried call does not append twice. Amounts CNY major units.
 */
import type { HandlerContext } from '../../engine/runtime.ts';
import type { Claim, InsuranceStore } from '../../persistence/insurance.ts';
import { Money } from '../money.ts';
import type { DecideFn } from './reserves.ts';

export type ApprovalEntry = {
  level: number;
  group: string;
  /** the user who approved or refused (who completed the task); null for the automatic approval */
  user: string | null;
  /** the approver's limit (CNY); null: unlimited */
  limit: number | null;
  payout: number;
  decision: 'approve' | 'reject';
  /** ISO 8601 */
  at: string;
  key: string;
};

/** The lowest approval level that may approve the payout of a possible duplicate alone (2: claims supervisors). */
export const DUPLICATE_APPROVAL_LEVEL = 2;

/** The PaymentAuthority decision's row for a level. */
export interface Authority {
  group: string;
  limit: number | null;
}

/** The decision's result as an Authority. @throws RangeError when the table has no usable row for the level */
export function authorityOf(result: unknown, level: number): Authority {
  const r = (result ?? null) as { group?: unknown; limit?: unknown } | null;
  if (!r || typeof r.group !== 'string' || !r.group) throw new RangeError(`the PaymentAuthority decision names no approver group for level ${level} (${JSON.stringify(result)})`);
  if (r.limit !== null && r.limit !== undefined && !(typeof r.limit === 'number' && Number.isFinite(r.limit) && r.limit >= 0)) {
    throw new RangeError(`the PaymentAuthority decision gives level ${level} an unusable limit (${JSON.stringify(r.limit)})`);
  }
  return { group: r.group, limit: typeof r.limit === 'number' ? r.limit : null };
}

/** Whether an approver with `limit` (null: unlimited) may approve `payout` alone (the limit is inclusive). */
export function withinAuthority(payout: number, limit: number | null): boolean {
  return limit === null || new Money(payout).lessThanOrEqualTo(limit);
}

/** The level of the claim's first approver: 1 when an adjuster reviewed it, 0 when it was approved automatically. */
export function initialApprovalLevel(v: Readonly<Record<string, unknown>>): number {
  return typeof v.reviewDecision !== 'string' && v.autoApproved === true ? 0 : 1;
}

/**
 * For instances still running on a claims version before the authority loop (their Gateway_Authority routes on
 * `supervisorApprovalRequired` to a supervisors' task): whether the payout is above the first approver's limit in
 * the PaymentAuthority decision. Null without a decision service.
 */
export async function supervisorApprovalRequired(decide: DecideFn | undefined, ctx: HandlerContext, payout: number): Promise<boolean | null> {
  if (!decide) return null;
  const level = initialApprovalLevel(ctx.variables);
  const out = await decide(ctx, 'PaymentAuthority', { approvalLevel: level });
  return !withinAuthority(payout, authorityOf(out.result, level).limit);
}

/** The chain with `entry` appended, unless an entry with its key is there already (a retried call). */
export function appendApproval(chain: readonly ApprovalEntry[] | null, entry: ApprovalEntry): ApprovalEntry[] {
  const list = [...(chain ?? [])];
  return list.some((e) => e.key === entry.key) ? list : [...list, entry];
}

/** The approval operations of one handler call. */
export function approvalsOf(store: InsuranceStore, ctx: HandlerContext, now: () => number) {
  const v = ctx.variables;
  return {
    /**
     * Records the decision of the approver at `approvalLevel` (variables approvalLevel, approverAuthority, payout):
     * the first approver (level 0 automatic, level 1 the reviewing adjuster: reviewedBy, reviewedAt) or the user
     * who completed Task_SupervisorApproval. Returns the chain and, when the payout is above the approver's
     * limit, withinAuthority false and the next level as approvalLevel.
     */
    async record(claim: Claim, decision: 'approve' | 'reject') {
      const level = typeof v.approvalLevel === 'number' ? v.approvalLevel : initialApprovalLevel(v);
      const authority = authorityOf(v.approverAuthority, level);
      const payout = claim.payout ?? 0;
      const chain = claim.approvalChain as ApprovalEntry[] | null;
      const firstOfSettlement = !(chain ?? []).some((e) => e.level === level);
      const fromReview = level === 1 && firstOfSettlement && typeof v.reviewedBy === 'string';
      const entry: ApprovalEntry = {
        level,
        group: authority.group,
        user: level === 0 ? null : fromReview ? (v.reviewedBy as string) : (ctx.actor ?? null),
        limit: authority.limit,
        payout,
        decision,
        at: fromReview && typeof v.reviewedAt === 'string' ? v.reviewedAt : new Date(now()).toISOString(),
        key: ctx.idempotencyKey,
      };
      const approvalChain = appendApproval(chain, entry);
      // a possible duplicate (claims.duplicate_of) is paid only with a claims supervisor's approval at least (four eyes)
      const within = decision === 'reject' || (withinAuthority(payout, authority.limit) && !(claim.duplicateOf && level < DUPLICATE_APPROVAL_LEVEL));
      await store.updateClaim(claim.claimNo, { approvalChain, ...(decision === 'approve' ? { stage: within ? 'payment' : 'approval' } : {}) });
      return { approvalChain, withinAuthority: within, approvalLevel: within ? level : level + 1, approvedBy: entry.user ?? 'automatic' };
    },
  };
}
