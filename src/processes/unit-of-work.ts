/**
 * Handlers of the insurer's flows write through repositories bound to the transition's unit of work (never a
 * raw database handle), so claims, ledger, outbox and catalogue rows commit with the engine's state or not at
 * all. `perTransition` builds a flow's handlers over the repository of the call's own unit of work.
 */
import type { Clock } from '../engine/clock.ts';
import type { Handler, HandlerContext } from '../engine/runtime.ts';
import { InsuranceStore } from '../persistence/insurance.ts';
import { transactionOf } from '../persistence/unit-of-work.ts';

/** The insurance repository of one handler call (bound to its unit of work). */
export type StoreOf = (ctx: HandlerContext) => InsuranceStore;

export function insuranceStoreOf(clock: Clock): StoreOf {
  return (ctx) => new InsuranceStore(transactionOf(ctx.unitOfWork), () => clock.now());
}

/** Handlers named `names`, each built for its call from that call's context (its unit of work). */
export function perTransition<N extends string>(names: readonly N[], build: (ctx: HandlerContext) => Record<N, Handler>): Record<N, Handler> {
  return Object.fromEntries(names.map((name) => [name, (ctx: HandlerContext) => build(ctx)[name](ctx)])) as Record<N, Handler>;
}
