/**
 * Task lists filter candidate groups and users by exact name. Regression: the filter used SQL LIKE over the
 * JSON text of candidate_groups, so `_` and `%` in a name were wildcards and a group's name matched inside a
 * longer one. Runs on SQLite and PostgreSQL (each has its own exact JSON element match).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, admin, ops, type TestEngine } from './helpers.ts';
import type { Actor } from '../src/index.ts';

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
  const people: Actor[] = [ops('ann', 'adjusters'), ops('bob', 'adjuster_'), ops('carl', '%'), ops('dora', 'ADJUSTERS', 'claims'), ops('anna'), ops('eve')];
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
  // a filter narrows what an ops user sees; it never widens it
  assert.equal(await keysOf(t, { candidateGroup: 'adjusters' }, ops('bob', 'adjuster_')), []);
});

candidates('roles other than admin and ops see no task', async ({ t }) => {
  const page = await t.engine.listTasks({}, { name: 'audrey', roles: ['auditor'], groups: ['adjusters'] });
  assert.equal(page, { items: [], total: 0, limit: 50, offset: 0 });
});

candidates.run();
