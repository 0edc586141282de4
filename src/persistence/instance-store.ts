/** The Knex InstanceStore (src/engine/ports.ts): reads of process_instances and the writes outside a transition. */
import type { Knex } from 'knex';
import type { InstanceHeader, InstanceQuery, InstanceStore, StoreTx, StoredInstance } from '../engine/ports.ts';
import type { Page, ProcessInstance } from '../engine/model.ts';
import type { Variables } from '../engine/runtime.ts';
import { knexOf, knexTx } from './knex-tx.ts';
import { paged, parseJson, toInstance, updateInstanceGuarded, type InstanceRow } from './store.ts';
import { whereInScope } from './authorization-store.ts';

export class KnexInstanceStore implements InstanceStore {
  constructor(private readonly db: Knex) {}

  list(q: InstanceQuery): Promise<Page<ProcessInstance>> {
    let query = this.db('process_instances');
    if (q.key) query = query.where({ process_key: q.key });
    if (q.businessKey) query = query.where({ business_key: q.businessKey });
    if (q.status) query = query.where({ status: q.status });
    if (q.scope) query = whereInScope(this.db, query, q.scope);
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toInstance, [['started_at', 'desc'], ['id', 'asc']]);
  }

  async get(id: string, tx?: StoreTx): Promise<StoredInstance | null> {
    const row: (InstanceRow & { active_activities?: string }) | undefined = await knexOf(this.db, tx)('process_instances').where({ id }).first();
    if (!row) return null;
    return {
      ...toInstance(row),
      rev: Number(row.rev),
      variables: parseJson<Variables>(row.variables, `process_instances ${id} variables`, {}),
      activeActivities: parseJson<string[]>(row.active_activities, `process_instances ${id} active_activities`, []),
    };
  }

  async header(id: string, tx?: StoreTx): Promise<InstanceHeader | null> {
    const r = await knexOf(this.db, tx)('process_instances').where({ id }).first('process_key', 'process_version', 'business_key');
    return r ? { processKey: r.process_key, processVersion: Number(r.process_version), businessKey: r.business_key } : null;
  }

  async status(id: string): Promise<string | null> {
    const r = await this.db('process_instances').where({ id }).first('status');
    return r ? String(r.status) : null;
  }

  async variables(id: string): Promise<Variables | null> {
    const r = await this.db('process_instances').where({ id }).first('variables');
    return r ? parseJson<Variables>(r.variables, `process_instances ${id} variables`, {}) : null;
  }

  markCancelled(tx: StoreTx, id: string, expectedRev: number, at: number): Promise<void> {
    const patch = { status: 'cancelled', state: null, ended_at: at, updated_at: at, active_activities: '[]' };
    return updateInstanceGuarded(knexTx(tx), id, expectedRev, patch as Partial<InstanceRow>);
  }

  async clearIncidentStatus(tx: StoreTx, id: string): Promise<void> {
    await knexTx(tx)('process_instances').where({ id, status: 'incident' }).update({ status: 'active' });
  }

  async activeWithBusinessKey(processKey: string, businessKey: string): Promise<string | null> {
    // the condition of the partial unique index process_instances_active_business_key_uq
    const r = await this.db('process_instances')
      .where({ process_key: processKey, business_key: businessKey })
      .whereIn('status', ['active', 'incident'])
      .whereNull('parent_instance_id')
      .first('id');
    return r ? String(r.id) : null;
  }

  async children(parentId: string, tx?: StoreTx): Promise<StoredInstance[]> {
    const rows: (InstanceRow & { active_activities?: string })[] = await knexOf(this.db, tx)('process_instances')
      .where({ parent_instance_id: parentId })
      .whereIn('status', ['active', 'incident'])
      .orderBy([{ column: 'started_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
    return rows.map((row) => ({
      ...toInstance(row),
      rev: Number(row.rev),
      variables: parseJson<Variables>(row.variables, `process_instances ${row.id} variables`, {}),
      activeActivities: parseJson<string[]>(row.active_activities, `process_instances ${row.id} active_activities`, []),
    }));
  }
}
