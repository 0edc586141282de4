/**
 * Task lists filter candidate groups and users by exact name. Regression: the filter used SQL LIKE over the
 * JSON text of candidate_groups, so `_` and `%` in a name were wildcards, SQLite's LIKE ignored case and a
 * group's name matched inside a longer one. Candidates are rows of task_candidates matched with `=` (issue 10);
 * the migration moved the JSON columns into them. Runs on SQLite and PostgreSQL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, admin, ops, type TestEngine } from './helpers.ts';
import type { Actor } from '../src/index.ts';
import { migrate, migrationsDir } from '../src/persistence/db.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';

interface Ctx {
  t: TestEngine;
  /** business key -> the candidate groups and users of its task */
  offered: Record<string, { groups: string[]; users: string[] }>;
}

const candidates = suite<Ctx>('task candidates match exactly');

candidates.before(async (ctx) => {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy([{ name: 'candidates.bpmn', content: fixture('candidates.bpmn') }]);
  // Given tasks offered to groups and users whose names differ from "adjusters" and "ann" only by case,
  // LIKE wildcards, quotes, a prefix or a suffix
  ctx.offered = {
    exact: { groups: ['adjusters'], users: [] },
    underscore: { groups: ['adjuster_'], users: [] },
    upper: { groups: ['ADJUSTERS'], users: [] },
    percent: { groups: ['%'], users: [] },
    longer: { groups: ['adjusters-west', 'claims'], users: [] },
    quoted: { groups: ['adj"usters'], users: [] },
    user: { groups: [], users: ['ann'] },
    userUpper: { groups: [], users: ['ANN', 'an_'] },
    userLonger: { groups: [], users: ['anna'] },
    ordered: { groups: ['zeta', 'alpha', 'zeta'], users: ['zed', 'al'] },
  };
  for (const [businessKey, { groups, users }] of Object.entries(ctx.offered)) {
    await ctx.t.engine.startInstance('candidates-test', { businessKey, variables: { groups, users } }, admin);
  }
});
candidates.after(async (ctx) => ctx.t.close());

async function keysOf(t: TestEngine, q: Parameters<TestEngine['engine']['listTasks']>[0], actor: Actor): Promise<string[]> {
  const page = await t.engine.listTasks({ ...q, limit: 100 }, actor);
  assert.is(page.total, page.items.length, 'total counts the same rows as the items');
  return page.items.map((i) => i.businessKey as string).sort();
}

candidates('the candidateGroup filter matches one whole group name, case-sensitively, with no wildcard', async ({ t }) => {
  assert.equal(await keysOf(t, { candidateGroup: 'adjusters' }, admin), ['exact']);
  assert.equal(await keysOf(t, { candidateGroup: 'adjuster_' }, admin), ['underscore']);
  assert.equal(await keysOf(t, { candidateGroup: 'ADJUSTERS' }, admin), ['upper']);
  assert.equal(await keysOf(t, { candidateGroup: '%' }, admin), ['percent']);
  assert.equal(await keysOf(t, { candidateGroup: 'adj"usters' }, admin), ['quoted']);
  assert.equal(await keysOf(t, { candidateGroup: 'claims' }, admin), ['longer']);
  assert.equal(await keysOf(t, { candidateGroup: 'adjuster' }, admin), []);
  assert.equal(await keysOf(t, { candidateGroup: '_djusters' }, admin), []);
});

candidates('the candidateUser filter matches one whole user name', async ({ t }) => {
  assert.equal(await keysOf(t, { candidateUser: 'ann' }, admin), ['user']);
  assert.equal(await keysOf(t, { candidateUser: 'an_' }, admin), ['userUpper']);
  assert.equal(await keysOf(t, { candidateUser: 'an%' }, admin), []);
});

candidates('ops see exactly the tasks offered to them or their groups, and may work exactly those', async ({ t, offered }) => {
  const people: Actor[] = [ops('ann', 'adjusters'), ops('bob', 'adjuster_'), ops('carl', '%'), ops('dora', 'ADJUSTERS', 'claims'), ops('anna'), ops('eve'), ops('fay', 'adjusters '), ops('gus', ' adjusters', 'Adjusters')];
  for (const actor of people) {
    const visible = await keysOf(t, {}, actor);
    // the list agrees with canWork, the rule claim and complete apply
    const expected = Object.entries(offered)
      .filter(([, o]) => t.engine.canWork(actor, { assignee: null, candidateGroups: o.groups, candidateUsers: o.users }))
      .map(([k]) => k)
      .sort();
    assert.equal(visible, expected, actor.name);
  }
  assert.equal(await keysOf(t, {}, ops('ann', 'adjusters')), ['exact', 'user']);
  assert.equal(await keysOf(t, {}, ops('bob', 'adjuster_')), ['underscore']);
  assert.equal(await keysOf(t, {}, ops('carl', '%')), ['percent']);
  assert.equal(await keysOf(t, {}, ops('eve')), []);
  assert.equal(await keysOf(t, {}, ops('fay', 'adjusters ')), [], 'a trailing space is another group');
  assert.equal(await keysOf(t, {}, ops('dora', 'ADJUSTERS')), ['upper'], 'case counts');
  assert.equal(await keysOf(t, { candidateGroup: 'adjusters ' }, admin), []);
  // a filter narrows what an ops user sees; it never widens it
  assert.equal(await keysOf(t, { candidateGroup: 'adjusters' }, ops('bob', 'adjuster_')), []);
});

candidates('a task shows its candidate groups and users in the order the diagram gave them, duplicates kept', async ({ t }) => {
  const [task] = (await t.engine.listTasks({ businessKey: 'ordered' }, admin)).items;
  assert.equal([task.candidateGroups, task.candidateUsers], [['zeta', 'alpha', 'zeta'], ['zed', 'al']]);
  assert.equal((await t.engine.getTask(task.id, admin)).candidateGroups, ['zeta', 'alpha', 'zeta']);
  const inst = await t.engine.getInstance(task.processInstanceId);
  assert.equal(inst.openTasks[0].candidateUsers, ['zed', 'al']);
  const rows = await t.tdb.db('task_candidates').where({ task_id: task.id }).orderBy(['kind', 'position']).select('kind', 'position', 'name');
  assert.equal(rows.map((r) => [r.kind, Number(r.position), r.name]), [['group', 0, 'zeta'], ['group', 1, 'alpha'], ['group', 2, 'zeta'], ['user', 0, 'zed'], ['user', 1, 'al']]);
});

candidates('the task list matches candidates with = on the link table: no LIKE, no JSON functions', async ({ t }) => {
  const sql: string[] = [];
  const spy = (q: { sql: string }) => sql.push(q.sql);
  t.tdb.db.on('query', spy);
  try {
    await t.engine.listTasks({ candidateGroup: 'adjusters', candidateUser: 'ann' }, ops('ann', 'adjusters', 'claims'));
  } finally {
    t.tdb.db.off('query', spy);
  }
  const all = sql.join('\n').toLowerCase();
  assert.ok(all.includes('task_candidates'), all);
  for (const bad of [' like ', 'json_each', 'jsonb', 'candidate_groups', 'candidate_users']) assert.not.ok(all.includes(bad), `${bad} in ${all}`);
});

candidates('roles other than admin and ops see no task', async ({ t }) => {
  const page = await t.engine.listTasks({}, { name: 'audrey', roles: ['auditor'], groups: ['adjusters'] });
  assert.equal(page, { items: [], total: 0, limit: 50, offset: 0 });
});

candidates.run();

const migration = suite('the task_candidates migration');

migration('moves the JSON candidate columns into rows and back (down, up with data), exact matching after', async () => {
  const t = await testEngine();
  try {
    await t.engine.deploy([{ name: 'candidates.bpmn', content: fixture('candidates.bpmn') }]);
    await t.engine.startInstance('candidates-test', { businessKey: 'm-exact', variables: { groups: ['adjusters', 'claims'], users: ['ann'] } }, admin);
    await t.engine.startInstance('candidates-test', { businessKey: 'm-wild', variables: { groups: ['adjuster_', '%'], users: [] } }, admin);
    await t.engine.startInstance('candidates-test', { businessKey: 'm-none', variables: { groups: [], users: [] } }, admin);
    const config = { directory: migrationsDir, loadExtensions: ['.ts'], name: '20261130110000_task_candidates.ts' };
    await t.tdb.db.migrate.down(config);
    assert.not.ok(await t.tdb.db.schema.hasTable('task_candidates'), 'down drops the link table');
    const json = await t.tdb.db('user_tasks').orderBy('business_key').select('business_key', 'candidate_groups', 'candidate_users');
    assert.equal(json.map((r) => [r.business_key, JSON.parse(r.candidate_groups), JSON.parse(r.candidate_users)]), [
      ['m-exact', ['adjusters', 'claims'], ['ann']],
      ['m-none', [], []],
      ['m-wild', ['adjuster_', '%'], []],
    ]);
    await migrate(t.tdb.db);
    assert.not.ok(await t.tdb.db.schema.hasColumn('user_tasks', 'candidate_groups'), 'up drops the JSON columns');
    const engine = new InsureflowEngine({ db: t.tdb.db, clock: t.clock });
    const keys = async (actor: Actor) => (await engine.listTasks({}, actor)).items.map((i) => i.businessKey).sort();
    assert.equal(await keys(ops('ann', 'adjusters')), ['m-exact']);
    assert.equal(await keys(ops('bob', 'adjuster_')), ['m-wild']);
    assert.equal(await keys(ops('carl', '%')), ['m-wild']);
    assert.equal(await keys(ops('dora', 'ADJUSTERS')), []);
    const [task] = (await engine.listTasks({ businessKey: 'm-exact' }, admin)).items;
    assert.equal([task.candidateGroups, task.candidateUsers], [['adjusters', 'claims'], ['ann']]);
  } finally {
    await t.close();
  }
});

migration.run();
