/** The Knex SubscriptionStore (src/engine/ports.ts): the message and signal catch events instances wait at. */
import type { Knex } from 'knex';
import type { StoreTx, Subscription, SubscriptionStore } from '../engine/ports.ts';
import { knexTx } from './knex-tx.ts';

interface SubscriptionRow {
  id: number;
  process_instance_id: string;
  activity_id: string;
  execution_id: string;
  kind: string;
  event_name: string;
  correlation_key: string | null;
  business_key: string | null;
  created_at: number;
}

function toSubscription(r: SubscriptionRow): Subscription {
  return {
    id: Number(r.id),
    processInstanceId: r.process_instance_id,
    activityId: r.activity_id,
    executionId: r.execution_id,
    kind: r.kind === 'signal' ? 'signal' : 'message',
    eventName: r.event_name,
    correlationKey: r.correlation_key,
    businessKey: r.business_key,
    createdAt: Number(r.created_at),
  };
}

export class KnexSubscriptionStore implements SubscriptionStore {
  constructor(private readonly db: Knex) {}

  async findMessage(q: { name: string; processInstanceId?: string; businessKey?: string; correlationKey?: string }): Promise<Subscription[]> {
    let query = this.db('subscriptions').where({ kind: 'message', event_name: q.name });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.businessKey) query = query.where({ business_key: q.businessKey });
    if (q.correlationKey !== undefined) query = query.where({ correlation_key: q.correlationKey });
    const rows: SubscriptionRow[] = await query.orderBy('created_at').orderBy('id');
    return rows.map(toSubscription);
  }

  async findSignal(name: string): Promise<Subscription[]> {
    const rows: SubscriptionRow[] = await this.db('subscriptions').where({ kind: 'signal', event_name: name }).orderBy('id');
    return rows.map(toSubscription);
  }

  async findAt(instanceId: string, activityId: string): Promise<Subscription | null> {
    const r: SubscriptionRow | undefined = await this.db('subscriptions').where({ process_instance_id: instanceId, activity_id: activityId }).first();
    return r ? toSubscription(r) : null;
  }

  async deleteForInstance(tx: StoreTx, instanceId: string): Promise<void> {
    await knexTx(tx)('subscriptions').where({ process_instance_id: instanceId }).delete();
  }
}
