/**
 * Auditors, part 3: the HTTP surface and the CLI. Tokens of each role against every route: auditors read the
 * record (history, instances, definitions) and nothing else; no route of any role alters or removes a history
 * row; verification, reconstruction, replay and export write nothing at all. Then the acceptance walk-through:
 * a claim exported as CSV, verified, reconstructed, replayed, then one row edited and named by verify.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/http/app.ts';
import { auditCommand, auditExport, auditReplay, auditVerify } from '../src/audit/cli.ts';
import { auditDigest } from '../src/audit/digest.ts';
import { installHistoryGuard, removeHistoryGuard } from '../src/audit/guard.ts';
import { verifyAll } from '../src/audit/verify.ts';
import { readExport } from '../src/audit/export.ts';
import { auditEngine, reviewedClaim, editEventData, fingerprint, type AuditTest } from './audit-support.ts';

const TOKENS = { admin: 'ifw_admin_token_0000000001', auditor: 'ifw_auditor_token_00000001', analyst: 'ifw_analyst_token_00000001', ops: 'ifw_ops_token_000000000001' } as const;
type Role = keyof typeof TOKENS;

interface Ctx {
  t: AuditTest;
  app: FastifyInstance;
  claim: string;
  other: string;
}

/** Every (method, path) the app serves, read from Fastify's route tree. */
function routesOf(app: FastifyInstance): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: { depth: number; path: string }[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    while (stack.length && stack[stack.length - 1].depth >= depth) stack.pop();
    const path = (stack.length ? stack[stack.length - 1].path : '') + m[2];
    stack.push({ depth, path });
    for (const method of m[3].split(', ')) if (method !== 'HEAD') out.push({ method, url: path });
  }
  return out;
}

const isAuditorRead = (method: string, url: string) =>
  (method === 'GET' && /^\/api\/(history|process-instances|process-definitions|decisions|forms)(\/|$)/.test(url)) || (method === 'POST' && url === '/api/process-instances/:id/replay');

const http = suite<Ctx>('http and access');
http.before(async (ctx) => {
  ctx.t = await auditEngine();
  for (const role of Object.keys(TOKENS) as Role[]) {
    await ctx.t.engine.users.add({ name: `${role}-user`, roles: [role], groups: role === 'ops' ? ['adjusters'] : [], token: TOKENS[role] });
  }
  ctx.claim = await reviewedClaim(ctx.t, 'approve');
  ctx.other = await reviewedClaim(ctx.t, 'reject');
  ctx.app = await buildApp({ engine: ctx.t.engine });
});
http.after(async (ctx) => {
  await ctx.app.close();
  await ctx.t.close();
});

const as = (app: FastifyInstance, role: Role | null, method: string, url: string, payload?: unknown) =>
  app.inject({ method: method as any, url, headers: role ? { authorization: `Bearer ${TOKENS[role]}` } : {}, ...(payload !== undefined ? { payload: payload as any } : {}) });

http('auditors read history across instances: events with cursor paging, operations, digests, state, replay, verify', async ({ app, claim, t }) => {
  const first = await as(app, 'auditor', 'GET', `/api/history/events?processInstanceId=${claim}&limit=5`);
  assert.is(first.statusCode, 200);
  const body = first.json();
  assert.is(body.items.length, 5);
  assert.ok(body.nextCursor);
  const seen = [...body.items];
  let cursor = body.nextCursor;
  while (cursor) {
    const page = (await as(app, 'auditor', 'GET', `/api/history/events?processInstanceId=${claim}&limit=5&cursor=${cursor}`)).json();
    seen.push(...page.items);
    cursor = page.nextCursor;
  }
  assert.equal(seen.map((e: any) => e.seq), seen.map((_: unknown, i: number) => i + 1));
  assert.ok(seen.every((e: any) => e.hash && e.prevHash && typeof e.data === 'object'));
  const newest = (await as(app, 'auditor', 'GET', `/api/history/events?order=desc&limit=1&type=task.*`)).json();
  assert.match(newest.items[0].type, /^task\./);
  assert.is((await as(app, 'auditor', 'GET', `/api/history/events?cursor=bogus`)).statusCode, 400);
  assert.is((await as(app, 'auditor', 'GET', `/api/history/events?from=yesterday`)).statusCode, 400);

  const ops = (await as(app, 'auditor', 'GET', `/api/history/operations?processInstanceId=${claim}`)).json();
  assert.equal(ops.items.map((o: any) => o.operation), ['start', 'claim', 'complete']);
  assert.is((await as(app, 'auditor', 'GET', `/api/history/operations?operation=fly`)).statusCode, 400);

  await auditDigest(t.tdb.db, t.clock);
  const digests = (await as(app, 'auditor', 'GET', '/api/history/digests')).json();
  assert.is(digests.length, 1);
  assert.match(digests[0].digest, /^[0-9a-f]{64}$/);

  const state = (await as(app, 'auditor', 'GET', `/api/process-instances/${claim}/state`)).json();
  assert.is(state.status, 'completed');
  assert.equal(state.variables, (await t.engine.getInstance(claim)).variables);
  const replay = await as(app, 'auditor', 'POST', `/api/process-instances/${claim}/replay`, {});
  assert.is(replay.statusCode, 200);
  assert.ok(replay.json().consistent);
  assert.is(replay.json().mode, 'pinned');

  const one = (await as(app, 'auditor', 'GET', `/api/history/verify?processInstanceId=${claim}`)).json();
  assert.equal([one.consistent, one.digest.seq], [true, 1]);
  const all = (await as(app, 'auditor', 'GET', `/api/history/verify`)).json();
  assert.ok(all.consistent);
  assert.ok(all.digests.consistent);
  assert.ok((await as(app, 'auditor', 'GET', `/api/history/verify?anchor=${digests[0].digest}`)).json().consistent);
  assert.is((await as(app, 'auditor', 'GET', `/api/history/verify?anchor=${'0'.repeat(64)}`)).json().consistent, false);
  assert.is((await as(app, 'auditor', 'GET', `/api/process-instances/${claim}/history/verify`)).statusCode, 200);
});

http('the export streams CSV and NDJSON that parse back to the stored events', async ({ app, claim }) => {
  const csv = await as(app, 'auditor', 'GET', `/api/history/export?format=csv&processInstanceId=${claim}&from=2026-01-01&to=2027-01-01`);
  assert.is(csv.statusCode, 200);
  assert.match(String(csv.headers['content-type']), /^text\/csv/);
  assert.match(String(csv.headers['content-disposition']), /attachment; filename="history-from-2026-01-01-to-2027-01-01\.csv"/);
  const nd = await as(app, 'auditor', 'GET', `/api/history/export?format=ndjson&processInstanceId=${claim}`);
  assert.match(String(nd.headers['content-type']), /ndjson/);
  const events = (await as(app, 'auditor', 'GET', `/api/history/events?processInstanceId=${claim}&limit=1000`)).json().items;
  const asStored = events.map((e: any) => ({ ...e, at: Date.parse(e.at) }));
  assert.equal(readExport(csv.body, 'csv'), asStored);
  assert.equal(readExport(nd.body, 'ndjson'), asStored);
});

http('every audit route refuses other roles and anonymous callers', async ({ app, claim }) => {
  const routes = [
    ['GET', '/api/history/events'],
    ['GET', '/api/history/operations'],
    ['GET', '/api/history/export?format=csv'],
    ['GET', '/api/history/verify'],
    ['GET', '/api/history/digests'],
    ['GET', `/api/process-instances/${claim}/state`],
    ['POST', `/api/process-instances/${claim}/replay`],
  ];
  for (const [method, url] of routes) {
    for (const role of ['analyst', 'ops'] as const) assert.is((await as(app, role, method, url, method === 'POST' ? {} : undefined)).statusCode, 403, `${role} ${method} ${url}`);
    assert.is((await as(app, null, method, url, method === 'POST' ? {} : undefined)).statusCode, 401, `anonymous ${method} ${url}`);
    assert.is((await as(app, 'admin', method, url, method === 'POST' ? {} : undefined)).statusCode, 200, `admin ${method} ${url}`);
  }
});

http('auditors read the record and nothing else: every other route of the API answers 403', async ({ app, claim, t }) => {
  const routes = routesOf(app).filter((r) => r.url.startsWith('/api/'));
  assert.ok(routes.length > 25, 'the route tree was read');
  const task = (await t.tdb.db('user_tasks').where({ process_instance_id: claim }).first()).id;
  const fill = (url: string) => url.replace(':id', url.startsWith('/api/tasks') ? task : claim).replace(':key', 'form-test').replace(':name', 'admin-user');
  let allowed = 0;
  for (const r of routes) {
    const res = await as(app, 'auditor', r.method, fill(r.url), r.method === 'GET' ? undefined : {});
    if (isAuditorRead(r.method, r.url)) {
      // the deployed rules and forms are readable too (the fixtures deploy no decision and no form named by the path: 404)
      const notDeployed = res.statusCode === 404 && /^\/api\/(decisions|forms)\//.test(r.url);
      assert.ok(res.statusCode < 400 || notDeployed, `${r.method} ${r.url} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
      allowed++;
    } else {
      assert.is(res.statusCode, 403, `${r.method} ${r.url} must be refused to auditors`);
    }
  }
  assert.ok(allowed >= 12);
});

http('no route of any role alters or removes a history row; the audit routes write nothing at all', async ({ app, claim, other, t }) => {
  const db = t.tdb.db;
  const before = await fingerprint(db);
  for (const [method, url, payload] of [
    ['GET', `/api/history/events?limit=1000`],
    ['GET', `/api/history/operations`],
    ['GET', `/api/history/export?format=csv`],
    ['GET', `/api/history/export?format=ndjson`],
    ['GET', `/api/history/verify`],
    ['GET', `/api/history/verify?processInstanceId=${claim}`],
    ['GET', `/api/history/digests`],
    ['GET', `/api/process-instances/${claim}/state?at=2026-01-05T09:01:30Z`],
    ['POST', `/api/process-instances/${claim}/replay`, {}],
    ['POST', `/api/process-instances/${claim}/replay`, { definitionVersion: 1 }],
  ] as [string, string, unknown?][]) {
    assert.is((await as(app, 'admin', method, url, payload)).statusCode, 200, url);
  }
  assert.equal(await fingerprint(db), before, 'read-only');

  const rows = async () => new Map((await db('history_events').select('*')).map((r: any) => [String(r.id), JSON.stringify(r)]));
  const history = await rows();
  const routes = routesOf(app).filter((r) => r.url.startsWith('/api/'));
  assert.not.ok(routes.some((r) => /history/.test(r.url) && ['PUT', 'PATCH', 'DELETE'].includes(r.method)), 'no route updates or deletes history');
  const job = (await db('jobs').first())?.id ?? 'none';
  const incident = (await db('incidents').first())?.id ?? 'none';
  const task = (await db('user_tasks').where({ process_instance_id: other }).first()).id;
  const fill = (url: string) =>
    url
      .replace(/^\/api\/tasks\/:id/, `/api/tasks/${task}`)
      .replace(/^\/api\/jobs\/:id/, `/api/jobs/${job}`)
      .replace(/^\/api\/incidents\/:id/, `/api/incidents/${incident}`)
      .replace(':id', other)
      .replace(':key', 'form-test')
      .replace(':name', 'ops-user');
  for (const role of ['admin', 'analyst', 'ops', 'auditor'] as const) {
    for (const r of routes) {
      if (r.method === 'DELETE' && r.url === '/api/users/:name' && role === 'admin') continue; // keep the tokens working
      const res = await as(app, role, r.method, fill(r.url), r.method === 'GET' ? undefined : {});
      assert.ok(res.statusCode < 500, `${role} ${r.method} ${r.url} -> ${res.statusCode}`);
    }
  }
  const after = await rows();
  for (const [id, row] of history) assert.is(after.get(id), row, `history row ${id} is unchanged`);
  assert.ok(after.size >= history.size);
});

http('CLI: verify, replay and export write nothing; a digest writes only the digest tables', async ({ claim, t }) => {
  const db = t.tdb.db;
  const io = { db, stderr: { write: () => true } };
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) };
  const before = await fingerprint(db);
  assert.is(await auditVerify(['--instance', claim], sink, io), 0);
  assert.match(out, /consistent/);
  out = '';
  assert.is(await auditVerify(['--all', '--json'], sink, io), 0);
  assert.ok(JSON.parse(out).consistent);
  out = '';
  assert.is(await auditReplay([claim], sink, io), 0);
  assert.match(out, /consistent \(\d+ step/);
  out = '';
  assert.is(await auditExport(['--format', 'ndjson', '--from', '2026-01-01', '--to', '2030-01-01'], sink, io), 0);
  assert.ok(out.split('\n').filter(Boolean).length > 20);
  assert.equal(await fingerprint(db), before);
  out = '';
  assert.is(await auditCommand(['digest'], { ...io, stdout: sink, clock: t.clock }), 0);
  assert.match(JSON.parse(out).digest, /^[0-9a-f]{64}$/);
  const after = await fingerprint(db);
  for (const table of Object.keys(before)) if (!table.startsWith('history_digest')) assert.is(after[table], before[table], table);
  const bad = await auditCommand(['verify', '--all', '--instance', claim], { ...io, stdout: sink }).catch((e) => e);
  assert.is(bad.code, 'VALIDATION_FAILED');
});

http('acceptance: a claim exported as CSV, verified, reconstructed at its review, replayed; then one edited row is named', async ({ app, t }) => {
  const db = t.tdb.db;
  const id = await reviewedClaim(t, 'approve');
  const csv = await as(app, 'auditor', 'GET', `/api/history/export?format=csv&processInstanceId=${id}`);
  const exported = readExport(csv.body, 'csv');
  assert.ok(exported.length > 10);
  assert.ok((await as(app, 'auditor', 'GET', `/api/history/verify?processInstanceId=${id}`)).json().consistent);
  const review = exported.find((e) => e.type === 'task.claimed')!;
  const state = (await as(app, 'auditor', 'GET', `/api/process-instances/${id}/state?at=${new Date(review.at).toISOString()}`)).json();
  assert.equal([state.status, state.activeActivities, state.openTasks[0].assignee], ['active', ['Task_Review'], 'ann']);
  assert.ok((await as(app, 'auditor', 'POST', `/api/process-instances/${id}/replay`)).json().consistent);

  const completed = exported.find((e) => e.type === 'task.completed')!;
  await editEventData(db, id, completed.seq, (d) => ({ ...d, form: { ...d.form, approvedAmount: 12000 } }));
  const verdict = (await as(app, 'auditor', 'GET', `/api/history/verify?processInstanceId=${id}`)).json();
  assert.is(verdict.consistent, false);
  assert.equal([verdict.firstBroken.seq, verdict.firstBroken.kind], [completed.seq, 'edited']);
  const legacy = (await as(app, 'auditor', 'GET', `/api/process-instances/${id}/history/verify`)).json();
  assert.equal([legacy.consistent, legacy.firstBroken.seq], [false, completed.seq]);
  let out = '';
  const code = await auditVerify(['--all'], { write: (s: string) => ((out += s), true) }, { db, stderr: { write: () => true } });
  assert.is(code, 1);
  assert.match(out, new RegExp(`${id}: seq ${completed.seq} \\(edited\\)`));
});

http.run();

// ------------------------------------------------------------------ the database guard (opt-in)
const guard = suite<{ t: AuditTest }>('append-only guard');
guard.before(async (ctx) => {
  ctx.t = await auditEngine();
});
guard.after(async (ctx) => ctx.t.close());

guard('with the guard, the engine still appends and digests, and no statement updates or deletes history', async ({ t }) => {
  const db = t.tdb.db;
  await installHistoryGuard(db);
  const id = await reviewedClaim(t, 'approve');
  await auditDigest(db, t.clock);
  const refused = async (what: string, q: () => Promise<unknown>) => {
    const err = await q().then(() => null, (e: Error) => e);
    assert.ok(err && /append-only/.test(err.message), `${what} must be refused, got ${err?.message ?? 'success'}`);
  };
  await refused('update', () => db('history_events').where({ chain_id: id, seq: 2 }).update({ actor: 'mallory' }));
  await refused('delete', () => db('history_events').where({ chain_id: id }).delete());
  await refused('digest rewrite', () => db('history_digests').update({ total_events: 0 }));
  await refused('digest heads delete', () => db('history_digest_heads').delete());
  assert.ok((await verifyAll(db, { workers: 1 })).consistent);
  // a database owner can lift it: then the chains and the digests are what tells
  await removeHistoryGuard(db);
  await db('history_events').where({ chain_id: id, seq: 2 }).update({ actor: 'mallory' });
  assert.is((await verifyAll(db, { workers: 1 })).firstBroken?.seq, 2);
});

guard.run();
