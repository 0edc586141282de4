/**
 * Users, roles, groups and bearer tokens (stored as sha256 hashes only). Every change to a user (created,
 * updated, removed) appends its event to the "users" history chain in the same transaction: the change and
 * its audit record commit together or not at all.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';
import { ROLES, SYSTEM, userAuditView, type Actor, type Role, type User } from '../engine/model.ts';
import { appendHistory, lockChain } from './history.ts';
import { isUniqueViolation } from './db.ts';
import { parseJson } from './store.ts';

export { ROLES, SYSTEM, type Actor, type Role, type User };

/** the history chain of user and role changes */
export const USERS_CHAIN = 'users';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function toUser(r: any): User {
  return {
    id: r.id,
    name: r.name,
    roles: parseJson<Role[]>(r.roles, `users ${r.id} roles`, []),
    groups: parseJson<string[]>(r.groups, `users ${r.id} groups`, []),
    disabled: Boolean(r.disabled),
    createdAt: new Date(Number(r.created_at)).toISOString(),
  };
}

export class UserStore {
  constructor(private readonly db: Knex, private readonly now: () => number) {}

  async count(): Promise<number> {
    const r: any = await this.db('users').count({ n: '*' }).first();
    return Number(r?.n ?? 0);
  }

  async list(): Promise<User[]> {
    return (await this.db('users').orderBy('name')).map(toUser);
  }

  async get(name: string, trx: Knex | Knex.Transaction = this.db): Promise<User | null> {
    const r = await trx('users').where({ name }).first();
    return r ? toUser(r) : null;
  }

  /**
   * Creates a user and returns its token (shown once; only the hash is kept); records "user.created" by `actor`.
   * Of several creations of one name at once (on one node or several), one succeeds and the others are USER_EXISTS.
   * @throws InsureflowError VALIDATION_FAILED (unknown role, bad name), USER_EXISTS
   */
  async add(input: { name: string; roles: Role[]; groups: string[]; token?: string }, actor: Actor = SYSTEM): Promise<{ user: User; token: string }> {
    for (const role of input.roles) {
      if (!ROLES.includes(role)) throw new InsureflowError('VALIDATION_FAILED', `unknown role "${role}"; roles are ${ROLES.join(', ')}`);
    }
    if (!/^[A-Za-z0-9._@-]{1,100}$/.test(input.name)) {
      throw new InsureflowError('VALIDATION_FAILED', 'a user name is 1 to 100 letters, digits, dots, dashes, underscores or @');
    }
    const exists = () => new InsureflowError('USER_EXISTS', `user "${input.name}" already exists`);
    const token = input.token ?? `ifw_${randomBytes(24).toString('base64url')}`;
    const id = randomUUID();
    const at = this.now();
    try {
      const user = await this.db.transaction(async (trx) => {
        // creations of one name race (two requests, two nodes): under the users chain's lock, held until the
        // commit, the name is looked up, the user inserted and its event appended; a second creation waits, then
        // finds the name taken
        await lockChain(trx, USERS_CHAIN);
        if (await this.get(input.name, trx)) throw exists();
        await trx('users').insert({ id, name: input.name, roles: JSON.stringify(input.roles), groups: JSON.stringify(input.groups), disabled: false, created_at: at });
        await trx('api_tokens').insert({ id: randomUUID(), user_id: id, token_hash: hashToken(token), created_at: at });
        const created = (await this.get(input.name, trx)) as User;
        await this.record(trx, actor, 'user.created', input.name, null, created, at);
        return created;
      });
      return { user, token };
    } catch (err) {
      // the unique name still decides when a row came from elsewhere (an insert that bypassed this store)
      if (isUniqueViolation(err) && /users_name_unique|users\.name/.test(`${(err as { constraint?: string }).constraint ?? ''} ${(err as Error).message}`)) throw exists();
      throw err;
    }
  }

  /**
   * Changes roles, groups or the disabled flag; records "user.updated" by `actor` with the values before and after.
   * @throws InsureflowError USER_NOT_FOUND, VALIDATION_FAILED (unknown role)
   */
  async update(name: string, patch: { roles?: Role[]; groups?: string[]; disabled?: boolean }, actor: Actor = SYSTEM): Promise<{ before: User; after: User }> {
    const row: Record<string, unknown> = {};
    if (patch.roles) {
      for (const role of patch.roles) if (!ROLES.includes(role)) throw new InsureflowError('VALIDATION_FAILED', `unknown role "${role}"`);
      row.roles = JSON.stringify(patch.roles);
    }
    if (patch.groups) row.groups = JSON.stringify(patch.groups);
    if (patch.disabled !== undefined) row.disabled = patch.disabled;
    return this.db.transaction(async (trx) => {
      const before = await this.get(name, trx);
      if (!before) throw new InsureflowError('USER_NOT_FOUND', `user "${name}" was not found`);
      if (Object.keys(row).length) await trx('users').where({ name }).update(row);
      const after = (await this.get(name, trx)) as User;
      await this.record(trx, actor, 'user.updated', name, before, after, this.now());
      return { before, after };
    });
  }

  /**
   * Disables the user and revokes its tokens (the row stays: history names it); records "user.removed" by `actor`.
   * @throws InsureflowError USER_NOT_FOUND
   */
  async remove(name: string, actor: Actor = SYSTEM): Promise<User> {
    return this.db.transaction(async (trx) => {
      const user = await this.get(name, trx);
      if (!user) throw new InsureflowError('USER_NOT_FOUND', `user "${name}" was not found`);
      const at = this.now();
      await trx('api_tokens').where({ user_id: user.id }).update({ revoked_at: at });
      await trx('users').where({ id: user.id }).update({ disabled: true });
      await this.record(trx, actor, 'user.removed', name, user, null, at);
      return user;
    });
  }

  /** One event on the "users" chain, in the transaction of the change it records. */
  private async record(trx: Knex.Transaction, actor: Actor, type: string, target: string, before: User | null, after: User | null, at: number): Promise<void> {
    await appendHistory(trx, USERS_CHAIN, [
      { processInstanceId: null, processKey: null, processVersion: null, businessKey: null, at, type, activityId: null, activityType: null, actor: actor.name, data: { target, before: userAuditView(before), after: userAuditView(after) } },
    ]);
  }

  /** Resolve a bearer token to an active user, or null. Read on every request: revocation is immediate. */
  async authenticate(token: string): Promise<User | null> {
    const r = await this.db('api_tokens as t')
      .join('users as u', 'u.id', 't.user_id')
      .where('t.token_hash', hashToken(token))
      .whereNull('t.revoked_at')
      .first('u.*');
    if (!r) return null;
    const user = toUser(r);
    return user.disabled ? null : user;
  }
}
