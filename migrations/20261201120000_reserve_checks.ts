/**
 * Reserves never go negative (issue 12), enforced by the database as well as by the code that moves them
 * (src/processes/claims/reserves.ts, InsuranceStore.moveReserve): a CHECK constraint on PostgreSQL; on SQLite,
 * which cannot add a constraint to an existing table, triggers that abort the write.
 */
import type { Knex } from 'knex';

const isSqlite = (knex: Knex) => knex.client.config.client === 'sqlite3' || knex.client.config.client === 'better-sqlite3';

const SQLITE_TRIGGERS: [string, string][] = [
  ['claims_reserve_nonnegative_insert', 'BEFORE INSERT ON claims WHEN NEW.reserve_outstanding < 0'],
  ['claims_reserve_nonnegative_update', 'BEFORE UPDATE OF reserve_outstanding ON claims WHEN NEW.reserve_outstanding < 0'],
  ['claim_reserve_movements_nonnegative', 'BEFORE INSERT ON claim_reserve_movements WHEN NEW.amount_after < 0 OR NEW.amount_before < 0'],
];

export async function up(knex: Knex): Promise<void> {
  if (isSqlite(knex)) {
    for (const [name, when] of SQLITE_TRIGGERS) await knex.raw(`CREATE TRIGGER ${name} ${when} BEGIN SELECT RAISE(ABORT, 'a claim reserve cannot be negative'); END`);
    return;
  }
  await knex.raw('ALTER TABLE claims ADD CONSTRAINT claims_reserve_nonnegative CHECK (reserve_outstanding >= 0)');
  await knex.raw('ALTER TABLE claim_reserve_movements ADD CONSTRAINT claim_reserve_movements_nonnegative CHECK (amount_after >= 0 AND amount_before >= 0)');
}

export async function down(knex: Knex): Promise<void> {
  if (isSqlite(knex)) {
    for (const [name] of SQLITE_TRIGGERS) await knex.raw(`DROP TRIGGER IF EXISTS ${name}`);
    return;
  }
  await knex.raw('ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_reserve_nonnegative');
  await knex.raw('ALTER TABLE claim_reserve_movements DROP CONSTRAINT IF EXISTS claim_reserve_movements_nonnegative');
}
