/**
 * A change to a user and its audit record on the "users" history chain commit together: when the history
 * append fails, the change is not made; when it succeeds, exactly one event names the actor, the target and
 * the values before and after. The failure is real: the database refuses the insert into history_events
 * (a trigger), on SQLite and on PostgreSQL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Knex } from 'knex';
import { testEngine, admin, onPostgres, type TestEngine } from './helpers.ts';
import { InsureflowError } from '../src/errors.ts';
import { verifyHistoryChain } from '../src/audit/verify.ts';
import { buildApp } from '../src/http/app.ts';

async function refuseUserHistory(db: Knex): Promise<void> {
  if (onPostgres) {
    await db.raw(`create function refuse_user_history() returns trigger language plpgsql as $$ begin raise exception 'history refused'; end $$`);
    await db.raw(`create trigger refuse_user_history before insert on history_events for each row when (new.chain_id = 'users') execute function refuse_user_history()`);
  } else {
    await db.raw(`create trigger refuse_user_history before insert on history_events when new.chain_id = 'users' begin select raise(abort, 'history refused'); end`);
  }
}

async function allowUserHistory(db: Knex): Promise<void> {
  await db.raw(onPostgres ? 'drop trigger refuse_user_history on history_events' : 'drop trigger refuse_user_history');
  if (onPostgres) await db.raw('drop function refuse_user_history()');
}

async function userEvents(db: Knex) {
  const rows = await db('history_events').where({ chain_id: 'users' }).orderBy('seq');
  return rows.map((r: { type: string; actor: string; data: string }) => ({ type: r.type, actor: r.actor, data: JSON.parse(r.data) }));
}

async function fails(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.ok(!(err instanceof InsureflowError), `a storage failure, not ${String(err)}`);
    assert.match(String((err as Error).message), 'history refused');
    return;
  }
  assert.unreachable('the change should have failed with its history');
}

const users = suite<{ t: TestEngine }>('user changes commit with their history');
users.before.each(async (ctx) => {
  ctx.t = await testEngine();
});
users.after.each(async (ctx) => ctx.t.close());

users('a user whose "user.created" event cannot be written is not created, and its token never works', async ({ t }) => {
  const db = t.tdb.db;
  await refuseUserHistory(db);
  await fails(t.engine.users.add({ name: 'vera', roles: ['auditor'], groups: [], token: 'ifw_vera' }, admin));
  assert.is(await t.engine.users.get('vera'), null);
  assert.is(await t.engine.users.authenticate('ifw_vera'), null);
  assert.is(Number(((await db('api_tokens').count({ n: '*' }).first()) as { n: number | string }).n), 0);
  await allowUserHistory(db);
  await t.engine.users.add({ name: 'vera', roles: ['auditor'], groups: [], token: 'ifw_vera' }, admin);
  assert.is((await t.engine.users.authenticate('ifw_vera'))?.name, 'vera');
  assert.equal(await userEvents(db), [
    { type: 'user.created', actor: 'admin', data: { target: 'vera', before: null, after: { name: 'vera', roles: ['auditor'], groups: [], disabled: false } } },
  ]);
});

users('an update or a removal whose event cannot be written leaves the user as it was', async ({ t }) => {
  const db = t.tdb.db;
  await t.engine.users.add({ name: 'olga', roles: ['ops'], groups: ['intake'], token: 'ifw_olga' }, admin);
  await refuseUserHistory(db);
  await fails(t.engine.users.update('olga', { roles: ['ops', 'analyst'], groups: ['adjusters'] }, admin));
  await fails(t.engine.users.update('olga', { disabled: true }, admin));
  await fails(t.engine.users.remove('olga', admin));
  const olga = await t.engine.users.get('olga');
  assert.equal({ roles: olga?.roles, groups: olga?.groups, disabled: olga?.disabled }, { roles: ['ops'], groups: ['intake'], disabled: false });
  assert.is((await t.engine.users.authenticate('ifw_olga'))?.name, 'olga', 'the token still works');
  assert.equal((await userEvents(db)).map((e) => e.type), ['user.created']);

  await allowUserHistory(db);
  const { before, after } = await t.engine.users.update('olga', { groups: ['adjusters'] }, admin);
  assert.equal([before.groups, after.groups], [['intake'], ['adjusters']]);
  await t.engine.users.remove('olga', admin);
  assert.is(await t.engine.users.authenticate('ifw_olga'), null);
  const events = await userEvents(db);
  assert.equal(events.map((e) => [e.type, e.actor]), [['user.created', 'admin'], ['user.updated', 'admin'], ['user.removed', 'admin']]);
  assert.equal(events[1].data, {
    target: 'olga',
    before: { name: 'olga', roles: ['ops'], groups: ['intake'], disabled: false },
    after: { name: 'olga', roles: ['ops'], groups: ['adjusters'], disabled: false },
  });
  assert.equal(events[2].data.after, null);
  assert.is((await verifyHistoryChain(db, 'users')).consistent, true);
});

users('the HTTP API records each user change once, by the calling admin, and nothing when the change is refused', async ({ t }) => {
  const db = t.tdb.db;
  await t.engine.users.add({ name: 'root', roles: ['admin'], groups: [], token: 'ifw_root' });
  const app = await buildApp({ engine: t.engine, logger: false });
  try {
    const call = (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
      app.inject({ method, url: `/api${url}`, headers: { authorization: 'Bearer ifw_root' }, payload: payload as object | undefined });
    assert.is((await call('POST', '/users', { name: 'kim', roles: ['ops'], groups: ['adjusters'] })).statusCode, 201);
    assert.is((await call('POST', '/users', { name: 'kim', roles: ['ops'] })).statusCode, 409);
    assert.is((await call('PATCH', '/users/kim', { groups: ['surveyors'] })).statusCode, 200);
    assert.is((await call('PATCH', '/users/nobody', { groups: ['surveyors'] })).statusCode, 404);
    assert.is((await call('DELETE', '/users/kim')).statusCode, 204);
    const events = await userEvents(db);
    // the bootstrap user (no actor given: system), then kim's three changes by root
    assert.equal(events.map((e) => [e.type, e.actor, e.data.target]), [
      ['user.created', 'system', 'root'],
      ['user.created', 'root', 'kim'],
      ['user.updated', 'root', 'kim'],
      ['user.removed', 'root', 'kim'],
    ]);
  } finally {
    await app.close();
  }
});

users.run();
