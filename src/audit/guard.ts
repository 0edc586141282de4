/**
 * An append-only guard in the database itself: triggers that refuse UPDATE and DELETE (and, on PostgreSQL,
 * TRUNCATE) of the history and digest tables, so that no code path of the application, and no careless
 * statement, can change the record. A database owner can drop the triggers: that is what the hash chains, the
 * digests and their anchors outside the database are for. Opt-in (see the report of issue 5).
 */
import type { Knex } from 'knex';
import { dialectOf } from './store.ts';

const TABLES = ['history_events', 'history_digests', 'history_digest_heads'];

export async function installHistoryGuard(db: Knex): Promise<void> {
  if (dialectOf(db) === 'postgres') {
    await db.raw(`create or replace function insureflow_append_only() returns trigger as $$
      begin raise exception '% is append-only: history is never updated or deleted', tg_table_name; end $$ language plpgsql`);
    for (const t of TABLES) {
      await db.raw(`drop trigger if exists ${t}_append_only on ${t}`);
      await db.raw(`create trigger ${t}_append_only before update or delete on ${t} for each row execute function insureflow_append_only()`);
      await db.raw(`drop trigger if exists ${t}_no_truncate on ${t}`);
      await db.raw(`create trigger ${t}_no_truncate before truncate on ${t} for each statement execute function insureflow_append_only()`);
    }
    return;
  }
  for (const t of TABLES) {
    for (const op of ['update', 'delete']) {
      await db.raw(`drop trigger if exists ${t}_no_${op}`);
      await db.raw(`create trigger ${t}_no_${op} before ${op} on ${t} begin select raise(abort, '${t} is append-only: history is never updated or deleted'); end`);
    }
  }
}

export async function removeHistoryGuard(db: Knex): Promise<void> {
  for (const t of TABLES) {
    if (dialectOf(db) === 'postgres') {
      await db.raw(`drop trigger if exists ${t}_append_only on ${t}`);
      await db.raw(`drop trigger if exists ${t}_no_truncate on ${t}`);
    } else {
      for (const op of ['update', 'delete']) await db.raw(`drop trigger if exists ${t}_no_${op}`);
    }
  }
}
