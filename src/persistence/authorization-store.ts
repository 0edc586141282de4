/**
 * The Knex AuthorizationStore (src/engine/ports.ts): grants (table authorizations), the sensitive variables and
 * the deployed authorizations.json files (sensitive_variables, authorization_defaults), and task participation
 * (user_tasks.assignee / completed_by). Names are compared with `=`: exact and case-sensitive on both databases.
 */
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';
import type { AuthorizationDefaults, AuthorizationStore, GrantKey, GrantQuery, StoreTx } from '../engine/ports.ts';
import type { Page } from '../engine/model.ts';
import type { Grant, SensitiveVariable } from '../engine/authorization.ts';
import { knexOf, knexTx } from './knex-tx.ts';
import { paged, parseJson } from './store.ts';

interface GrantRow {
  id: string;
  principal_type: 'group' | 'user';
  principal: string;
  resource_type: string;
  resource_id: string;
  permissions: string;
  description: string | null;
  source: 'admin' | 'defaults';
  deployment_id: string | null;
  created_at: number | string;
  created_by: string | null;
}

function toGrant(r: GrantRow): Grant {
  return {
    id: r.id,
    group: r.principal_type === 'group' ? r.principal : null,
    user: r.principal_type === 'user' ? r.principal : null,
    resourceType: r.resource_type as Grant['resourceType'],
    resourceId: r.resource_id,
    permissions: parseJson<Grant['permissions']>(r.permissions, `authorizations ${r.id} permissions`, []),
    description: r.description,
    source: r.source,
    deploymentId: r.deployment_id,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    createdBy: r.created_by,
  };
}

function toRow(g: Grant): GrantRow {
  return {
    id: g.id,
    principal_type: g.group !== null ? 'group' : 'user',
    principal: (g.group ?? g.user) as string,
    resource_type: g.resourceType,
    resource_id: g.resourceId,
    permissions: JSON.stringify(g.permissions),
    description: g.description,
    source: g.source,
    deployment_id: g.deploymentId,
    created_at: Date.parse(g.createdAt),
    created_by: g.createdBy,
  };
}

/** A unique-key violation (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT ... UNIQUE). */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || (e?.code === 'SQLITE_CONSTRAINT' && /UNIQUE/i.test(e.message ?? ''));
}

export class KnexAuthorizationStore implements AuthorizationStore {
  constructor(private readonly db: Knex) {}

  async forPrincipals(user: string, groups: string[]): Promise<Grant[]> {
    const rows: GrantRow[] = await this.db('authorizations').where((w) => {
      w.where({ principal_type: 'user', principal: user });
      if (groups.length) w.orWhere((g) => g.where({ principal_type: 'group' }).whereIn('principal', groups));
    });
    return rows.map(toGrant);
  }

  list(q: GrantQuery, tx?: StoreTx): Promise<Page<Grant>> {
    let query = knexOf(this.db, tx)('authorizations');
    if (q.group !== undefined) query = query.where({ principal_type: 'group', principal: q.group });
    if (q.user !== undefined) query = query.where({ principal_type: 'user', principal: q.user });
    if (q.resourceType !== undefined) query = query.where({ resource_type: q.resourceType });
    if (q.resourceId !== undefined) query = query.where({ resource_id: q.resourceId });
    if (q.source !== undefined) query = query.where({ source: q.source });
    return paged(query.select('*'), q.limit ?? 50, q.offset ?? 0, toGrant, [['resource_type', 'asc'], ['resource_id', 'asc'], ['principal_type', 'asc'], ['principal', 'asc'], ['id', 'asc']]);
  }

  async get(id: string, tx?: StoreTx): Promise<Grant | null> {
    const r: GrantRow | undefined = await knexOf(this.db, tx)('authorizations').where({ id }).first();
    return r ? toGrant(r) : null;
  }

  async find(key: GrantKey, tx?: StoreTx): Promise<Grant | null> {
    const r: GrantRow | undefined = await knexOf(this.db, tx)('authorizations')
      .where({ principal_type: key.group !== null ? 'group' : 'user', principal: key.group ?? key.user, resource_type: key.resourceType, resource_id: key.resourceId, source: key.source })
      .first();
    return r ? toGrant(r) : null;
  }

  async insert(tx: StoreTx, grant: Grant): Promise<void> {
    try {
      await knexTx(tx)('authorizations').insert(toRow(grant));
    } catch (err) {
      // a concurrent grant of the same principal on the same resource committed first
      if (isUniqueViolation(err)) throw new InsureflowError('AUTHORIZATION_EXISTS', `${grant.group !== null ? `group "${grant.group}"` : `user "${grant.user}"`} already has a grant on ${grant.resourceType} "${grant.resourceId}"`);
      throw err;
    }
  }

  async delete(tx: StoreTx, id: string): Promise<boolean> {
    return (await knexTx(tx)('authorizations').where({ id }).delete()) === 1;
  }

  async defaultsChecksums(tx?: StoreTx): Promise<string[]> {
    const rows: { checksum: string }[] = await knexOf(this.db, tx)('authorization_defaults').orderBy('id', 'desc').select('checksum');
    return rows.map((r) => r.checksum);
  }

  async replaceDefaults(tx: StoreTx, d: AuthorizationDefaults): Promise<{ replacedGrants: number }> {
    const trx = knexTx(tx);
    const replacedGrants = await trx('authorizations').where({ source: 'defaults' }).delete();
    await trx('sensitive_variables').delete();
    for (let i = 0; i < d.grants.length; i += 200) await trx('authorizations').insert(d.grants.slice(i, i + 200).map(toRow));
    for (let i = 0; i < d.sensitive.length; i += 200) {
      await trx('sensitive_variables').insert(d.sensitive.slice(i, i + 200).map((s) => ({ process_key: s.processKey, variable: s.variable, groups: JSON.stringify(s.groups), deployment_id: d.deploymentId })));
    }
    await trx('authorization_defaults').insert({ deployment_id: d.deploymentId, resource_name: d.resourceName.slice(0, 300), checksum: d.checksum, deployed_at: d.deployedAt, deployed_by: d.deployedBy });
    return { replacedGrants };
  }

  async sensitiveVariables(): Promise<SensitiveVariable[]> {
    const rows: { process_key: string; variable: string; groups: string }[] = await this.db('sensitive_variables').orderBy(['process_key', 'variable']);
    return rows.map((r) => ({ processKey: r.process_key, variable: r.variable, groups: parseJson<string[]>(r.groups, `sensitive_variables ${r.process_key}.${r.variable} groups`, []) }));
  }

  async participated(user: string, instanceId: string): Promise<boolean> {
    const r = await this.db('user_tasks')
      .where({ process_instance_id: instanceId })
      .where((w) => w.where({ assignee: user }).orWhere({ completed_by: user }))
      .first('id');
    return r !== undefined;
  }
}

/**
 * Narrows a process_instances query (column `id`, `process_key`) to an AccessScope: the instances of its process
 * keys, or in which its participant holds or held a task.
 */
export function whereInScope(db: Knex | Knex.Transaction, query: Knex.QueryBuilder, scope: { processKeys: string[]; participant?: string }, idColumn = 'id', keyColumn = 'process_key'): Knex.QueryBuilder {
  const { processKeys, participant } = scope;
  if (!processKeys.length && participant === undefined) return query.whereRaw('1 = 0');
  return query.where((w) => {
    if (processKeys.length) w.orWhereIn(keyColumn, processKeys);
    if (participant !== undefined) {
      w.orWhereIn(idColumn, db('user_tasks').select('process_instance_id').where('assignee', participant))
        .orWhereIn(idColumn, db('user_tasks').select('process_instance_id').where('completed_by', participant));
    }
  });
}
