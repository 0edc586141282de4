/**
 * Appends to one history chain are serialised per chain: operations racing on one instance, on users or on
 * deployments never answer 500 and never lose an audit event. Each race runs on two engines at once, each on its
 * own Knex pool: on PostgreSQL two nodes over the same schema; on SQLite two connections to the same file (what
 * the CLI's `user`, `deploy` or `demo` commands are to a running server), besides the concurrent promises within
 * each. One test drives the races over real HTTP.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Knex } from 'knex';
import type { FastifyInstance } from 'fastify';
import { admin, onPostgres, ops, testDb, type TestDb } from './helpers.ts';
import { openDb } from '../src/persistence/db.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';
import { ManualClock } from '../src/engine/clock.ts';
import { InsureflowError } from '../src/errors.ts';
import { verifyHistoryChain } from '../src/audit/verify.ts';
import { buildApp } from '../src/http/app.ts';
import { USERS_CHAIN } from '../src/persistence/users.ts';

/** a parallel gateway forking into SIBLINGS user tasks of the group "reviewers", joined again */
const SIBLINGS = 8;
function parallelReviews(key: string, n = SIBLINGS): string {
  const ids = Array.from({ length: n }, (_, i) => `Review_${i}`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_${key}" targetNamespace="http://insureflow.test">
  <bpmn:process id="${key}" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:parallelGateway id="Fork" />
${ids.map((id) => `    <bpmn:sequenceFlow id="In_${id}" sourceRef="Fork" targetRef="${id}" />
    <bpmn:userTask id="${id}" name="${id}" camunda:candidateGroups="reviewers" />
    <bpmn:sequenceFlow id="Out_${id}" sourceRef="${id}" targetRef="Join" />`).join('\n')}
    <bpmn:parallelGateway id="Join" />
    <bpmn:sequenceFlow id="F9" sourceRef="Join" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;
}

interface Ctx {
  tdb: TestDb;
  /** node A (on the suite's database) and node B (on a second pool over the same schema or SQLite file) */
  a: InsureflowEngine;
  b: InsureflowEngine;
  dbB: Knex;
  nodes: InsureflowEngine[];
}

const chain = suite<Ctx>('history chains under concurrency');

chain.before(async (ctx) => {
  ctx.tdb = await testDb();
  const clock = new ManualClock('2026-03-02T09:00:00Z');
  ctx.a = new InsureflowEngine({ db: ctx.tdb.db, clock });
  ctx.dbB = await openDb(onPostgres ? { url: ctx.tdb.url, schema: ctx.tdb.schema } : { url: ctx.tdb.url });
  ctx.b = new InsureflowEngine({ db: ctx.dbB, clock });
  ctx.nodes = [ctx.a, ctx.b];
  await ctx.a.deploy([{ name: 'reviews.bpmn', content: parallelReviews('reviews') }], { actor: admin });
});

chain.after(async (ctx) => {
  await ctx.dbB.destroy();
  await ctx.tdb.destroy();
});

const reviewer = (i: number) => ops(`reviewer-${i}`, 'reviewers');

/** settles every promise; the rejections are returned, never thrown */
async function settle<T>(ps: Promise<T>[]): Promise<{ ok: T[]; failed: unknown[] }> {
  const rs = await Promise.allSettled(ps);
  return { ok: rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])), failed: rs.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])) };
}

const describe = (errs: unknown[]) => errs.map((e) => (e instanceof InsureflowError ? e.code : String((e as Error)?.message ?? e))).join('; ');

async function events(db: Knex, chainId: string, type?: string) {
  const q = db('history_events').where({ chain_id: chainId });
  return q.andWhere(type ? { type } : {}).orderBy('seq').select('type', 'data');
}

chain('sibling user tasks of one instance claimed at once from two nodes: every claim succeeds and is in the chain', async (ctx) => {
  for (let round = 0; round < 6; round++) {
    const inst = await ctx.a.startInstance('reviews', { businessKey: `SIB-${round}` }, admin);
    assert.is(inst.openTasks.length, SIBLINGS);
    const { ok, failed } = await settle(inst.openTasks.map((t, i) => ctx.nodes[i % 2].claimTask(t.id, reviewer(i))));
    assert.is(failed.length, 0, `round ${round}: ${describe(failed)}`);
    assert.is(ok.length, SIBLINGS);
    const check = await ctx.a.verifyInstanceHistory(inst.id);
    assert.ok(check.consistent, JSON.stringify(check));
    const claims = await events(ctx.tdb.db, inst.id, 'task.claimed');
    assert.equal(claims.map((c: any) => JSON.parse(c.data).taskId).sort(), inst.openTasks.map((t) => t.id).sort(), 'one task.claimed per task');
  }
});

chain('claims, unclaims and completions of sibling tasks racing on one instance from two nodes: all succeed, the chain verifies', async (ctx) => {
  for (let round = 0; round < 4; round++) {
    const inst = await ctx.a.startInstance('reviews', { businessKey: `MIX-${round}` }, admin);
    const tasks = inst.openTasks;
    // the first half is claimed beforehand, so that it can be unclaimed in the race
    for (let i = 0; i < tasks.length / 2; i++) await ctx.a.claimTask(tasks[i].id, reviewer(i));
    const { failed } = await settle(
      tasks.map((t, i) => {
        const node = ctx.nodes[(i + round) % 2];
        if (i < tasks.length / 4) return node.unclaimTask(t.id, reviewer(i));
        if (i < tasks.length / 2) return node.completeTask(t.id, { ok: i }, reviewer(i));
        return i % 2 ? node.claimTask(t.id, reviewer(i)) : node.completeTask(t.id, { ok: i }, reviewer(i));
      }),
    );
    assert.is(failed.length, 0, `round ${round}: ${describe(failed)}`);
    const check = await ctx.a.verifyInstanceHistory(inst.id);
    assert.ok(check.consistent, JSON.stringify(check));
    const types = (await events(ctx.tdb.db, inst.id)).map((e: any) => e.type);
    assert.is(types.filter((t: string) => t === 'task.unclaimed').length, tasks.length / 4);
    assert.is(types.filter((t: string) => t === 'task.completed').length, tasks.length / 4 + tasks.length / 4);
    assert.is(types.filter((t: string) => t === 'task.claimed').length, tasks.length / 2 + tasks.length / 4);
  }
});

chain('the same task claimed at once by three people on two nodes: one claim, the others 409 TASK_ALREADY_CLAIMED', async (ctx) => {
  for (let round = 0; round < 6; round++) {
    const inst = await ctx.a.startInstance('reviews', { businessKey: `SAME-${round}` }, admin);
    const task = inst.openTasks[0];
    const { ok, failed } = await settle([ctx.a.claimTask(task.id, reviewer(1)), ctx.b.claimTask(task.id, reviewer(2)), ctx.b.claimTask(task.id, reviewer(3))]);
    assert.is(ok.length, 1, describe(failed));
    assert.equal(failed.map((e) => (e instanceof InsureflowError ? e.code : String(e))), ['TASK_ALREADY_CLAIMED', 'TASK_ALREADY_CLAIMED']);
    assert.is((await events(ctx.tdb.db, inst.id, 'task.claimed')).length, 1);
    assert.ok((await ctx.a.verifyInstanceHistory(inst.id)).consistent);
  }
});

chain('twenty users created at once on two nodes: every token returned and working, every user.created recorded, the users chain verifies', async (ctx) => {
  const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
  const { ok, failed } = await settle(names.map((name, i) => ctx.nodes[i % 2].users.add({ name, roles: ['ops'], groups: ['reviewers'] }, admin)));
  assert.is(failed.length, 0, describe(failed));
  assert.is(ok.length, names.length);
  for (const { user, token } of ok) {
    assert.ok(token.startsWith('ifw_'));
    assert.is((await ctx.b.users.authenticate(token))?.name, user.name, 'the token works');
  }
  const created = (await events(ctx.tdb.db, USERS_CHAIN, 'user.created')).map((e: any) => JSON.parse(e.data).target);
  for (const name of names) assert.is(created.filter((t: string) => t === name).length, 1, `one user.created for ${name}`);
  const check = await verifyHistoryChain(ctx.tdb.db, USERS_CHAIN);
  assert.ok(check.consistent, JSON.stringify(check));
});

chain('one user name created at once on two nodes: exactly one success, the others 409 USER_EXISTS, one user.created', async (ctx) => {
  for (let round = 0; round < 5; round++) {
    const name = `twin-${round}`;
    const { ok, failed } = await settle(Array.from({ length: 6 }, (_, i) => ctx.nodes[i % 2].users.add({ name, roles: ['ops'], groups: [] }, admin)));
    assert.is(ok.length, 1, describe(failed));
    assert.equal(failed.map((e) => (e instanceof InsureflowError ? e.code : String(e))), Array(5).fill('USER_EXISTS'));
    assert.is((await ctx.a.users.authenticate(ok[0].token))?.name, name);
    const created = (await events(ctx.tdb.db, USERS_CHAIN, 'user.created')).filter((e: any) => JSON.parse(e.data).target === name);
    assert.is(created.length, 1);
  }
  assert.ok((await verifyHistoryChain(ctx.tdb.db, USERS_CHAIN)).consistent);
});

(onPostgres ? chain : chain.skip)('a user row inserted past the store while a creation of that name waits: 409 USER_EXISTS, not 500 (PostgreSQL)', async (ctx) => {
  // another writer's uncommitted row holds the name in the unique index: the store's creation waits for it there
  const other = await ctx.dbB.transaction();
  try {
    await other('users').insert({ id: 'bypass-1', name: 'bypassed', roles: '["ops"]', groups: '[]', disabled: false, created_at: 0 });
    const creating = ctx.a.users.add({ name: 'bypassed', roles: ['ops'], groups: [] }, admin).then(
      () => 'created',
      (err) => (err instanceof InsureflowError ? err.code : String(err)),
    );
    // the creation is blocked on the index entry (not merely not started yet) before the other writer commits
    let blocked = false;
    for (let i = 0; i < 3000 && !blocked; i++) {
      const waiting = await ctx.tdb.db.raw(`select count(*) as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'insert into "users"%'`);
      blocked = Number(waiting.rows[0].n) > 0;
      if (!blocked) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(blocked, 'the creation waits on the uncommitted row');
    await other.commit();
    assert.is(await creating, 'USER_EXISTS');
  } finally {
    if (!other.isCompleted()) await other.rollback();
  }
  assert.is((await events(ctx.tdb.db, USERS_CHAIN, 'user.created')).filter((e: any) => JSON.parse(e.data).target === 'bypassed').length, 0);
});

chain('user changes racing on two nodes (updates, removals, creations): all recorded, the users chain verifies', async (ctx) => {
  const names = Array.from({ length: 8 }, (_, i) => `changing-${i}`);
  for (const name of names) await ctx.a.users.add({ name, roles: ['ops'], groups: [] }, admin);
  const before = (await events(ctx.tdb.db, USERS_CHAIN)).length;
  const { failed } = await settle<unknown>(
    names.flatMap((name, i): Promise<unknown>[] => [
      ctx.nodes[i % 2].users.update(name, { groups: [`g${i}`] }, admin),
      i % 2 ? ctx.nodes[(i + 1) % 2].users.remove(name, admin) : ctx.nodes[(i + 1) % 2].users.update(name, { roles: ['analyst'] }, admin),
      ctx.nodes[(i + 1) % 2].users.add({ name: `${name}-new`, roles: ['ops'], groups: [] }, admin),
    ]),
  );
  assert.is(failed.length, 0, describe(failed));
  assert.is((await events(ctx.tdb.db, USERS_CHAIN)).length, before + names.length * 3);
  assert.ok((await verifyHistoryChain(ctx.tdb.db, USERS_CHAIN)).consistent);
});

chain('deployments of different content at once from two nodes: all succeed, each recorded, the deployments chain verifies', async (ctx) => {
  const before = (await events(ctx.tdb.db, 'deployments', 'deployment.made')).length;
  const docs = [
    ...Array.from({ length: 6 }, (_, i) => parallelReviews(`deployed-${i}`, 2)),
    // one key in several versions at once
    ...Array.from({ length: 6 }, (_, i) => parallelReviews('deployed-shared', i + 2)),
  ];
  const { ok, failed } = await settle(docs.map((content, i) => ctx.nodes[i % 2].deploy([{ name: `d${i}.bpmn`, content }], { actor: admin, name: `race-${i}` })));
  assert.is(failed.length, 0, describe(failed));
  assert.ok(ok.every((r) => r.created && r.deploymentId));
  assert.equal(
    ok.filter((r) => r.definitions[0].key === 'deployed-shared').map((r) => r.definitions[0].version).sort(),
    [1, 2, 3, 4, 5, 6],
    'the shared key took versions in turn',
  );
  assert.is((await events(ctx.tdb.db, 'deployments', 'deployment.made')).length, before + docs.length);
  const check = await verifyHistoryChain(ctx.tdb.db, 'deployments');
  assert.ok(check.consistent, JSON.stringify(check));
});

chain('over real HTTP on two nodes: concurrent claims and user creations never answer 500', async (ctx) => {
  const rootToken = (await ctx.a.users.add({ name: 'http-root', roles: ['admin'], groups: [] }, admin)).token;
  const people = await Promise.all(Array.from({ length: 4 }, (_, i) => ctx.a.users.add({ name: `http-rev-${i}`, roles: ['ops'], groups: ['reviewers'] }, admin)));
  const apps: FastifyInstance[] = [];
  try {
    const bases: string[] = [];
    for (const engine of ctx.nodes) {
      const app = await buildApp({ engine });
      await app.listen({ port: 0, host: '127.0.0.1' });
      apps.push(app);
      bases.push(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
    }
    const call = async (n: number, token: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(bases[n % 2] + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    };
    const instances = await Promise.all(Array.from({ length: 3 }, (_, i) => ctx.a.startInstance('reviews', { businessKey: `HTTP-${i}` }, admin)));
    const requests: Promise<{ status: number; json: any; expect: number[] }>[] = [];
    const expecting = (expect: number[], p: Promise<{ status: number; json: any }>) => requests.push(p.then((r) => ({ ...r, expect })));
    for (const inst of instances) {
      inst.openTasks.forEach((t, i) => {
        // every sibling claimed; the first task by everyone at once: one 200, the others 409
        const claimants = i === 0 ? people : [people[i % people.length]];
        claimants.forEach((p, j) => expecting(i === 0 ? [200, 409] : [200], call(i + j, p.token, 'POST', `/api/tasks/${t.id}/claim`)));
      });
    }
    for (let i = 0; i < 10; i++) expecting([201], call(i, rootToken, 'POST', '/api/users', { name: `http-new-${i}`, roles: ['ops'], groups: [] }));
    for (let i = 0; i < 4; i++) expecting([201, 409], call(i, rootToken, 'POST', '/api/users', { name: 'http-twin', roles: ['ops'], groups: [] }));
    const results = await Promise.all(requests);
    for (const r of results) assert.ok(r.expect.includes(r.status), `${r.status} ${JSON.stringify(r.json)}`);
    const twins = results.filter((r) => r.json?.code === 'USER_EXISTS' || r.json?.user?.name === 'http-twin');
    assert.is(twins.filter((r) => r.status === 201).length, 1, 'one http-twin created');
    assert.is(twins.filter((r) => r.status === 409).length, 3);
    for (const inst of instances) {
      const claimed = results.filter((r) => r.status === 200 && r.json.processInstanceId === inst.id);
      assert.is(claimed.length, SIBLINGS, 'every task claimed once');
      assert.ok((await ctx.a.verifyInstanceHistory(inst.id)).consistent);
    }
    assert.ok((await verifyHistoryChain(ctx.tdb.db, USERS_CHAIN)).consistent);
  } finally {
    for (const app of apps) await app.close();
  }
});

chain.run();
