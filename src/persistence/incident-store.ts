/** The Knex IncidentStore (src/engine/ports.ts): incidents outside a transition (list, read, resolve by hand, cancel). */
import type { Knex } from 'knex';
import type { IncidentQuery, IncidentStore, StoreTx } from '../engine/ports.ts';
import type { Incident, Page } from '../engine/model.ts';
import { knexOf, knexTx } from './knex-tx.ts';
import { paged, toIncident, type IncidentRow } from './store.ts';
import { whereInScope } from './authorization-store.ts';

export class KnexIncidentStore implements IncidentStore {
  constructor(private readonly db: Knex) {}

  list(q: IncidentQuery): Promise<Page<Incident>> {
    let query = this.db('incidents').where({ status: q.status ?? 'open' });
    if (q.processInstanceId) query = query.where({ process_instance_id: q.processInstanceId });
    if (q.activityId) query = query.where({ activity_id: q.activityId });
    // only incidents of the instances of the scope's process keys (src/engine/authorization.ts)
    if (q.scope) query = query.whereIn('process_instance_id', whereInScope(this.db, this.db('process_instances').select('id'), q.scope));
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toIncident, [['created_at', 'desc'], ['id', 'asc']]);
  }

  async get(id: string, tx?: StoreTx): Promise<Incident | null> {
    const r: IncidentRow | undefined = await knexOf(this.db, tx)('incidents').where({ id }).first();
    return r ? toIncident(r) : null;
  }

  async listOpen(instanceId: string, tx?: StoreTx): Promise<Incident[]> {
    const rows: IncidentRow[] = await knexOf(this.db, tx)('incidents').where({ process_instance_id: instanceId, status: 'open' }).orderBy('created_at').orderBy('id');
    return rows.map(toIncident);
  }

  async resolve(tx: StoreTx, id: string, by: string, at: number): Promise<boolean> {
    const n = await knexTx(tx)('incidents').where({ id, status: 'open' }).update({ status: 'resolved', resolved_at: at, resolved_by: by });
    return n === 1;
  }

  async resolveOpen(tx: StoreTx, instanceId: string, by: string, at: number): Promise<void> {
    await knexTx(tx)('incidents').where({ process_instance_id: instanceId, status: 'open' }).update({ status: 'resolved', resolved_at: at, resolved_by: by });
  }

  async countOpen(tx: StoreTx, instanceId: string): Promise<number> {
    const r = await knexTx(tx)('incidents').where({ process_instance_id: instanceId, status: 'open' }).count({ n: '*' }).first();
    return Number((r as { n?: number | string } | undefined)?.n ?? 0);
  }
}
