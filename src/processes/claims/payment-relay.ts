/**
 * Sends claim payouts to the bank AFTER the transition that ordered them committed (the outbox pattern): the
 * `payments` row written with status `pending` in the transition is the durable instruction; the relay calls
 * the gateway with the row's idempotency key and marks the row `completed` with the bank's reference. It runs
 * right after the commit and again on every sweep (`sendPending`), so a crash or a lost bank answer is
 * retried with the same key and never pays twice. A transition that rolled back left no row: nothing is sent.
 */
import type { Knex } from 'knex';
import type { Clock } from '../../engine/clock.ts';
import { InsuranceStore, type Payment } from '../../persistence/insurance.ts';
import type { PaymentGateway } from './handlers.ts';

export interface PaymentRelay {
  /** sends one pending payout (no-op when it is not pending any more); throws the gateway's error */
  send(paymentId: number): Promise<Payment | null>;
  /** sends every pending payout, oldest first; returns how many completed (failures stay pending) */
  sendPending(limit?: number): Promise<number>;
}

export function createPaymentRelay(db: Knex, clock: Clock, gateway: PaymentGateway, onError: (err: unknown, payment: Payment) => void = () => {}): PaymentRelay {
  const store = new InsuranceStore(db, () => clock.now());
  const inFlight = new Set<number>();
  async function send(paymentId: number): Promise<Payment | null> {
    if (inFlight.has(paymentId)) return null;
    const payment = (await store.payments({ id: paymentId }))[0];
    if (!payment || payment.status !== 'pending' || payment.direction !== 'payout') return null;
    inFlight.add(paymentId);
    try {
      const { reference } = await gateway.transfer({ idempotencyKey: payment.idempotencyKey, amount: payment.amount, currency: payment.currency, payee: payment.counterparty, reference: payment.claimNo ?? String(payment.id) });
      return await store.completePayment(payment.id, reference);
    } finally {
      inFlight.delete(paymentId);
    }
  }
  return {
    send,
    async sendPending(limit = 50) {
      let done = 0;
      for (const p of await store.payments({ status: 'pending', direction: 'payout', limit })) {
        try {
          if (await send(p.id)) done++;
        } catch (err) {
          onError(err, p);
        }
      }
      return done;
    },
  };
}
