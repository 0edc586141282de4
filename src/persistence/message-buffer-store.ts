/**
 * The Knex MessageBufferStore (src/engine/ports.ts): messages published with a time to live, kept in
 * `buffered_messages` until they are delivered to a wait state or expire; matched against `subscriptions`.
 */
import type { Knex } from 'knex';
import type { BufferedMatch, BufferedMessage, MessageBufferStore, StoreTx, Subscription } from '../engine/ports.ts';
import type { Variables } from '../engine/runtime.ts';
import { knexTx } from './knex-tx.ts';

interface BufferedRow {
  id: string;
  name: string;
  business_key: string | null;
  correlation_key: string | null;
  process_instance_id: string | null;
  variables: string;
  message_id: string | null;
  state: string;
  correlated_to: string | null;
  created_at: number | string;
  expires_at: number | string;
  correlated_at: number | string | null;
  created_by: string | null;
}

function toMessage(r: BufferedRow): BufferedMessage {
  return {
    id: r.id,
    name: r.name,
    businessKey: r.business_key,
    correlationKey: r.correlation_key,
    processInstanceId: r.process_instance_id,
    variables: JSON.parse(r.variables || '{}') as Variables,
    messageId: r.message_id,
    state: r.state === 'correlated' ? 'correlated' : 'buffered',
    correlatedTo: r.correlated_to,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    correlatedAt: r.correlated_at === null ? null : Number(r.correlated_at),
    createdBy: r.created_by,
  };
}

const isUniqueViolation = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || /UNIQUE constraint failed/.test(String(e?.message ?? ''));
};

export class KnexMessageBufferStore implements MessageBufferStore {
  constructor(private readonly db: Knex) {}

  async findByMessageId(name: string, messageId: string, now: number): Promise<BufferedMessage | null> {
    const r: BufferedRow | undefined = await this.db('buffered_messages').where({ name, message_id: messageId }).andWhere('expires_at', '>', now).first();
    return r ? toMessage(r) : null;
  }

  async insert(m: BufferedMessage, now: number): Promise<boolean> {
    try {
      await this.db.transaction(async (trx) => {
        if (m.messageId !== null) await trx('buffered_messages').where({ name: m.name, message_id: m.messageId }).andWhere('expires_at', '<=', now).delete();
        await trx('buffered_messages').insert({
          id: m.id,
          name: m.name,
          business_key: m.businessKey,
          correlation_key: m.correlationKey,
          process_instance_id: m.processInstanceId,
          variables: JSON.stringify(m.variables ?? {}),
          message_id: m.messageId,
          state: m.state,
          correlated_to: m.correlatedTo,
          created_at: m.createdAt,
          expires_at: m.expiresAt,
          correlated_at: m.correlatedAt,
          created_by: m.createdBy,
        });
      });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async matches(now: number, q: { processInstanceId?: string; ids?: string[]; limit: number }): Promise<BufferedMatch[]> {
    let query = this.db('buffered_messages as m')
      .join('subscriptions as s', (j) => {
        j.on('s.event_name', '=', 'm.name')
          .andOnVal('s.kind', '=', 'message')
          .andOn((o) => o.onNull('m.business_key').orOn('s.business_key', '=', 'm.business_key'))
          .andOn((o) => o.onNull('m.correlation_key').orOn('s.correlation_key', '=', 'm.correlation_key'))
          .andOn((o) => o.onNull('m.process_instance_id').orOn('s.process_instance_id', '=', 'm.process_instance_id'));
      })
      .where('m.state', 'buffered')
      .andWhere('m.expires_at', '>', now);
    if (q.processInstanceId) query = query.andWhere('s.process_instance_id', q.processInstanceId);
    if (q.ids?.length) query = query.whereIn('m.id', q.ids);
    const rows = await query
      .select('m.*', 's.id as s_id', 's.process_instance_id as s_process_instance_id', 's.activity_id as s_activity_id', 's.execution_id as s_execution_id', 's.event_name as s_event_name', 's.correlation_key as s_correlation_key', 's.business_key as s_business_key', 's.created_at as s_created_at')
      .orderBy([{ column: 'm.created_at' }, { column: 'm.id' }, { column: 's.created_at' }, { column: 's.id' }])
      .limit(Math.max(1, q.limit) * 10);
    const out: BufferedMatch[] = [];
    const seen = new Set<string>();
    for (const r of rows as (BufferedRow & Record<string, unknown>)[]) {
      if (seen.has(r.id)) continue; // the oldest subscription of each message
      seen.add(r.id);
      const subscription: Subscription = {
        id: Number(r.s_id),
        processInstanceId: String(r.s_process_instance_id),
        activityId: String(r.s_activity_id),
        executionId: String(r.s_execution_id),
        kind: 'message',
        eventName: String(r.s_event_name),
        correlationKey: (r.s_correlation_key as string | null) ?? null,
        businessKey: (r.s_business_key as string | null) ?? null,
        createdAt: Number(r.s_created_at),
      };
      out.push({ message: toMessage(r), subscription });
      if (out.length >= q.limit) break;
    }
    return out;
  }

  async markCorrelated(tx: StoreTx, id: string, instanceId: string, at: number): Promise<boolean> {
    const n = await knexTx(tx)('buffered_messages').where({ id, state: 'buffered' }).update({ state: 'correlated', correlated_to: instanceId, correlated_at: at });
    return n === 1;
  }

  async deleteExpired(now: number): Promise<number> {
    return this.db('buffered_messages').where('expires_at', '<=', now).delete();
  }
}
