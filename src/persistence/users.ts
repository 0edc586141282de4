/** Users, roles, groups and bearer tokens (stored as sha256 hashes only). */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { InsureflowError } from '../errors.ts';
import { parseJson } from './store.ts';

import { ROLES, SYSTEM, type Actor, type Role } from '../engine/actor.ts';

export { ROLES, SYSTEM, type Actor, type Role };

export interface User {
  id: string;
  name: string;
  roles: Role[];
  groups: string[];
  disabled: boolean;
  createdAt: string;
}

/** Who performs an operation. `system` is the engine itself (timers, handlers). */

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

  async get(name: string): Promise<User | null> {
    const r = await this.db('users').where({ name }).first();
    return r ? toUser(r) : null;
  }

  /** Creates a user and returns its token (shown once; only the hash is kept). */
  async add(input: { name: string; roles: Role[]; groups: string[]; token?: string }): Promise<{ user: User; token: string }> {
    for (const role of input.roles) {
      if (!ROLES.includes(role)) throw new InsureflowError('VALIDATION_FAILED', `unknown role "${role}"; roles are ${ROLES.join(', ')}`);
    }
    if (!/^[A-Za-z0-9._@-]{1,100}$/.test(input.name)) {
      throw new InsureflowError('VALIDATION_FAILED', 'a user name is 1 to 100 letters, digits, dots, dashes, underscores or @');
    }
    if (await this.get(input.name)) throw new InsureflowError('USER_EXISTS', `user "${input.name}" already exists`);
    const token = input.token ?? `ifw_${randomBytes(24).toString('base64url')}`;
    const id = randomUUID();
    const at = this.now();
    await this.db.transaction(async (trx) => {
      await trx('users').insert({ id, name: input.name, roles: JSON.stringify(input.roles), groups: JSON.stringify(input.groups), disabled: false, created_at: at });
      await trx('api_tokens').insert({ id: randomUUID(), user_id: id, token_hash: hashToken(token), created_at: at });
    });
    return { user: (await this.get(input.name)) as User, token };
  }

  async update(name: string, patch: { roles?: Role[]; groups?: string[]; disabled?: boolean }): Promise<{ before: User; after: User }> {
    const before = await this.get(name);
    if (!before) throw new InsureflowError('USER_NOT_FOUND', `user "${name}" was not found`);
    const row: Record<string, unknown> = {};
    if (patch.roles) {
      for (const role of patch.roles) if (!ROLES.includes(role)) throw new InsureflowError('VALIDATION_FAILED', `unknown role "${role}"`);
      row.roles = JSON.stringify(patch.roles);
    }
    if (patch.groups) row.groups = JSON.stringify(patch.groups);
    if (patch.disabled !== undefined) row.disabled = patch.disabled;
    if (Object.keys(row).length) await this.db('users').where({ name }).update(row);
    return { before, after: (await this.get(name)) as User };
  }

  async remove(name: string): Promise<User> {
    const user = await this.get(name);
    if (!user) throw new InsureflowError('USER_NOT_FOUND', `user "${name}" was not found`);
    await this.db.transaction(async (trx) => {
      await trx('api_tokens').where({ user_id: user.id }).update({ revoked_at: this.now() });
      await trx('users').where({ id: user.id }).update({ disabled: true });
    });
    return user;
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
