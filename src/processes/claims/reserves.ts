/**
 * Claim reserves (issue 12): what the insurer still expects to pay on a claim. Set at registration from the
 * ClaimReserves decision (processes/decisions/claim-reserves.dmn, by peril and claimed amount), replaced by the
 * expected payout at review (approved or partially approved amount), at the survey (the surveyor's loss estimate)
 * and at settlement (the payout), released to 0 by payment, rejection or closure. Every change is a row of
 * claim_reserve_movements, written once per movement key (the handler call's idempotency key + the reason, so a
 * retried or replayed call never moves it twice), and is returned to the diagram as the variables `reserve` and
 * `reserveMovement`, which puts it in the instance's history (handler.completed). Reserves never go negative: a
 * negative amount is refused (RangeError, an incident) here and in the store. Money in decimals (../money.ts).
 */
import type { HandlerContext } from '../../engine/runtime.ts';
import type { DecisionOutcome } from '../../engine/runtime.ts';
import type { Claim, InsuranceStore, ReserveMovement } from '../../persistence/insurance.ts';
import { Money, toNumber } from '../money.ts';
import { assessedLoss, computePayout } from './rules.ts';

export const RESERVE_DECISION = 'ClaimReserves';

/** Evaluates the newest deployed version of a decision for a handler call (the engine's decision service). */
export type DecideFn = (ctx: HandlerContext, decisionKey: string, variables: Record<string, unknown>) => Promise<DecisionOutcome>;

export type ReserveReason = ReserveMovement['reason'];

/** What a handler returns after moving a reserve: recorded in the history with the handler's output. */
export interface ReserveVariables {
  /** the outstanding reserve after the step (CNY, 2 decimals) */
  reserve: number;
  /** the movement this step made; null when the reserve did not change */
  reserveMovement: { reason: ReserveReason; before: number; after: number; change: number; at: string } | null;
}

/**
 * The initial reserve from the ClaimReserves decision's row: max(claimed x reserveFactor, reserveMinimum),
 * rounded to the fen. @throws RangeError when the row is missing or its values are not non-negative numbers
 */
export function initialReserve(claimedAmount: number, row: unknown): number {
  const r = (row ?? null) as { reserveFactor?: unknown; reserveMinimum?: unknown } | null;
  const factor = r?.reserveFactor;
  const minimum = r?.reserveMinimum ?? 0;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 0) throw new RangeError(`the ${RESERVE_DECISION} decision gave no usable reserveFactor (${JSON.stringify(row)})`);
  if (typeof minimum !== 'number' || !Number.isFinite(minimum) || minimum < 0) throw new RangeError(`the ${RESERVE_DECISION} decision gave no usable reserveMinimum (${JSON.stringify(row)})`);
  return toNumber(Money.max(new Money(claimedAmount).times(factor), minimum));
}

/** The terms the expected payout depends on, as the policy check left them in the variables. */
function terms(v: Readonly<Record<string, unknown>>) {
  const n = (x: unknown, fallback: number) => (typeof x === 'number' && Number.isFinite(x) ? x : fallback);
  return { deductible: n(v.deductible, 0), sumInsured: n(v.sumInsured, Number.MAX_SAFE_INTEGER / 100), coinsurance: n(v.coinsurance, 1) };
}

/**
 * The payout expected from what is known so far: the assessed loss (lowest of claimed, approved on partial
 * approval and surveyed) less the deductible, capped at the sum insured, times the coinsurance share.
 */
export function expectedPayout(claim: Pick<Claim, 'claimedAmount'>, v: Readonly<Record<string, unknown>>): number {
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const loss = assessedLoss({
    claimedAmount: claim.claimedAmount,
    approvedAmount: v.reviewDecision === 'partial' ? num(v.approvedAmount) : null,
    surveyedLoss: num(v.surveyLossEstimate),
  });
  return computePayout({ lossAmount: loss, ...terms(v) }).payout;
}

/** The reserve operations of one handler call, over the repository of its unit of work. */
export function reservesOf(store: InsuranceStore, ctx: HandlerContext, decide?: DecideFn) {
  /** Moves the claim's reserve to `amountAfter` (once per call and reason). */
  async function move(claim: Claim, reason: ReserveReason, amountAfter: number): Promise<ReserveVariables> {
    const movementKey = `${ctx.idempotencyKey}:${reason}`;
    const before = new Money(claim.reserveOutstanding);
    const after = new Money(amountAfter);
    if (after.isNegative() && !after.isZero()) throw new RangeError(`the reserve of claim ${claim.claimNo} cannot become ${amountAfter}: reserves never go negative`);
    if (after.equals(before)) {
      const done = (await store.reserveMovements(claim.claimNo)).find((m) => m.movementKey === movementKey);
      return { reserve: toNumber(before), reserveMovement: done ? view(done) : null };
    }
    const { movement } = await store.moveReserve({
      claimNo: claim.claimNo,
      movementKey,
      reason,
      amountBefore: toNumber(before),
      amountAfter: toNumber(after),
      change: toNumber(after.minus(before)),
      processInstanceId: ctx.instanceId,
      activityId: ctx.activityId,
    });
    return { reserve: movement.amountAfter, reserveMovement: view(movement) };
  }

  return {
    move,

    /** At registration: the ClaimReserves decision (newest version) sets the first reserve. */
    async initial(claim: Claim): Promise<ReserveVariables & { reserveDecision: { decisionKey: string; version: number; matchedRules: string[]; result: unknown } }> {
      if (!decide) throw new Error(`no decision service to evaluate ${RESERVE_DECISION} with: pass decide to the claims handlers`);
      const out = await decide(ctx, RESERVE_DECISION, { peril: claim.peril, claimedAmount: claim.claimedAmount });
      // the insurer never pays more than the sum insured of the version in force on the loss date: nor does it reserve more
      const cover = await store.policyVersionOn(claim.policyNo, claim.lossDate);
      const decided = initialReserve(claim.claimedAmount, out.result);
      const amountAfter = cover && new Money(decided).greaterThan(cover.sumInsured) ? cover.sumInsured : decided;
      // a retried registration finds the claim's first movement and keeps it
      const first = (await store.reserveMovements(claim.claimNo)).find((m) => m.reason === 'initial');
      const moved = first ? { reserve: claim.reserveOutstanding, reserveMovement: view(first) } : await move(claim, 'initial', amountAfter);
      return { ...moved, reserveDecision: { decisionKey: out.decisionKey, version: out.version, matchedRules: out.matchedRules, result: out.result } };
    },

    /** After a review, a survey or the adjudication: the reserve becomes the payout now expected. */
    async expect(claim: Claim, reason: 'review' | 'survey' | 'settlement', v: Readonly<Record<string, unknown>>, payout?: number): Promise<ReserveVariables> {
      return move(claim, reason, payout ?? expectedPayout(claim, v));
    },

    /** Payment, rejection or closure: nothing more is expected. */
    async release(claim: Claim, reason: 'payment' | 'rejection' | 'closure'): Promise<ReserveVariables> {
      return move(claim, reason, 0);
    },
  };
}

function view(m: ReserveMovement): NonNullable<ReserveVariables['reserveMovement']> {
  return { reason: m.reason, before: m.amountBefore, after: m.amountAfter, change: m.change, at: new Date(m.createdAt).toISOString() };
}
