/**
 * Auditors, part 1: tamper-evidence. History rows are edited, deleted, inserted, swapped and whole chains
 * removed directly in the database; verification of one chain and of everything must name each break. Then
 * the queries, the operation log and the export round trip. Runs on SQLite, or PostgreSQL with DATABASE_URL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { admin, ops } from './helpers.ts';
import {
  auditEngine,
  reviewedClaim,
  editEventData,
  editAndRehash,
  deleteEvent,
  insertForged,
  swapEvents,
  deleteTail,
  deleteInstance,
  type AuditTest,
} from './audit-support.ts';
import { eventHash, verifyChain as legacyVerifyChain, type HistoryEvent } from '../src/persistence/history.ts';
import { verifyChainEvents } from '../src/audit/chain.ts';
import { auditDigest, verifyDigests, DigestSchedule } from '../src/audit/digest.ts';
import { verifyAll, verifyHistoryChain } from '../src/audit/verify.ts';
import { scanRange, stitchRanges } from '../src/audit/scan.ts';
import { chainEvents, eventIdRange, eventPage, iterateEvents, knexPageReader, type EventFilter } from '../src/audit/store.ts';
import { operationPage } from '../src/audit/operations.ts';
import { exportChunks, readExport, apiEvent } from '../src/audit/export.ts';
import { auditExport } from '../src/audit/cli.ts';

const seqOf = async (t: AuditTest, chainId: string, type: string) => (await chainEvents(t.tdb.db, chainId)).find((e) => e.type === type)!.seq;

// canonical JSON and the event hash: test/canonical-json.test.ts (one implementation, pinned hashes)

// ------------------------------------------------------------------ verification
const verification = suite<{ t: AuditTest; claims: Record<string, string> }>('verification');
verification.before(async (ctx) => {
  ctx.t = await auditEngine();
  ctx.claims = {};
  for (const name of ['intact', 'edited', 'rehashed', 'deleted', 'inserted', 'swapped', 'truncated', 'vanished', 'rowless']) {
    ctx.claims[name] = await reviewedClaim(ctx.t, name === 'edited' ? 'reject' : 'approve');
  }
});
verification.after(async (ctx) => ctx.t.close());

verification('an untouched history verifies, chain by chain and as a whole (before any digest)', async ({ t, claims }) => {
  for (const id of Object.values(claims)) {
    const v = await verifyHistoryChain(t.tdb.db, id);
    assert.ok(v.consistent, id);
    assert.ok(v.checked > 10);
    assert.is(v.digest, undefined);
  }
  const all = await verifyAll(t.tdb.db, { workers: 1 });
  assert.ok(all.consistent);
  assert.is(all.brokenChains, 0);
  assert.is(all.chains, Object.keys(claims).length + 2, 'the instances, the deployments and the authorizations chain (the grants of auditEngine)');
  assert.is(all.checked, Number(((await t.tdb.db('history_events').count({ n: '*' }).first()) as any).n));
  assert.is(all.digests.checked, 0);
  const ids = await eventIdRange(t.tdb.db);
  const fast = await scanRange(knexPageReader(t.tdb.db), { after: 0, upTo: ids.max, expected: [], pageSize: 7 });
  assert.is(fast.events, all.checked);
  assert.ok(fast.bad.every((b) => b === 0), 'the fast pass (canonical JSON built by the database) agrees with the exact hash');
  assert.equal(stitchRanges([fast], []).suspicious, new Set());
  // split anywhere, the ranges stitch back together
  const half = Math.floor(ids.max / 2);
  const a = await scanRange(knexPageReader(t.tdb.db), { after: 0, upTo: half, expected: [] });
  const b = await scanRange(knexPageReader(t.tdb.db), { after: half, upTo: ids.max, expected: [] });
  assert.is(a.events + b.events, all.checked);
  assert.equal(stitchRanges([a, b], []).suspicious, new Set());
  assert.ok(stitchRanges([b, a], []).suspicious.size >= 1, 'stitched in the wrong order, the chain that spans both ranges does not link');
  const threaded = await verifyAll(t.tdb.db, { workers: 2, minEventsForWorkers: 0 });
  assert.ok(threaded.consistent);
  assert.is(threaded.checked, all.checked);
  assert.is(threaded.chains, all.chains);
});

verification('a digest rolls every chain head; a second digest records only what grew', async ({ t, claims }) => {
  const first = await auditDigest(t.tdb.db, t.clock);
  assert.is(first.seq, 1);
  assert.is(first.prevDigest, '0'.repeat(64));
  assert.is(first.changedChains, Object.keys(claims).length + 2, 'the instances, the deployments and the authorizations chain');
  assert.is(first.totalChains, first.changedChains);
  assert.equal(first.anomalies, []);
  t.clock.advance(24 * 3600_000);
  const extra = await reviewedClaim(t, 'approve');
  const second = await auditDigest(t.tdb.db, t.clock);
  assert.is(second.seq, 2);
  assert.is(second.prevDigest, first.digest);
  assert.is(second.changedChains, 1, 'only the new claim changed');
  assert.is(second.totalChains, first.totalChains + 1);
  const digests = await verifyDigests(t.tdb.db);
  assert.ok(digests.consistent);
  assert.is(digests.latest?.digest, second.digest);
  assert.is(digests.heads.get(extra)?.digestSeq, 2);
  assert.is((await verifyHistoryChain(t.tdb.db, claims.intact)).digest?.seq, 1, 'a chain is checked against the digest that last saw it');
  claims.extra = extra;
});

verification('each kind of tampering is named at its event: edited, re-hashed, deleted, inserted, swapped', async ({ t, claims }) => {
  const db = t.tdb.db;
  const changedSeq = await seqOf(t, claims.edited, 'variables.changed');
  await editEventData(db, claims.edited, changedSeq, (d) => ({ ...d, changes: { ...d.changes, approvedAmount: { old: null, new: 999999 } } }));
  const completedSeq = await seqOf(t, claims.rehashed, 'task.completed');
  await editAndRehash(db, claims.rehashed, completedSeq, (d) => ({ ...d, form: { decision: 'approve', approvedAmount: 999999 } }));
  await deleteEvent(db, claims.deleted, 5);
  await insertForged(db, claims.inserted, 6, { type: 'task.claimed', actor: 'mallory', data: { assignee: 'mallory' } });
  const claimedSeq = await seqOf(t, claims.swapped, 'task.claimed');
  await swapEvents(db, claims.swapped, claimedSeq);

  const expect = async (id: string, seq: number, kind: string, words: RegExp) => {
    const v = await verifyHistoryChain(db, id);
    assert.is(v.consistent, false, id);
    assert.is(v.firstBroken?.seq, seq, `${kind}: ${v.firstBroken?.reason}`);
    assert.is(v.firstBroken?.kind, kind, v.firstBroken?.reason);
    assert.match(v.firstBroken!.reason, words);
    return v;
  };
  await expect(claims.edited, changedSeq, 'edited', /altered/);
  await expect(claims.rehashed, completedSeq, 'edited', /hash recomputed/);
  await expect(claims.deleted, 5, 'deleted', /event 5 is missing/);
  await expect(claims.inserted, 6, 'inserted', /inserted/);
  await expect(claims.swapped, claimedSeq, 'reordered', /reordered/);
  assert.ok((await verifyHistoryChain(db, claims.intact)).consistent, 'other chains are unaffected');

  // the engine's own check (legacy verifyChain) also refuses each of them
  for (const name of ['edited', 'rehashed', 'deleted', 'inserted', 'swapped']) {
    const legacy = await t.engine.verifyInstanceHistory(claims[name]);
    assert.is(legacy.consistent, false, name);
  }
});

verification('a deleted tail, a whole deleted instance and an instance row without history are found by verify --all', async ({ t, claims }) => {
  const db = t.tdb.db;
  await deleteTail(db, claims.truncated, 3);
  const tail = await verifyHistoryChain(db, claims.truncated);
  assert.is(tail.consistent, false, 'the chain alone looks fine; the digest says it was longer');
  assert.is(tail.firstBroken?.kind, 'truncated');
  await deleteInstance(db, claims.vanished);
  await db('history_events').where({ chain_id: claims.rowless }).delete();

  const all = await verifyAll(db, { workers: 2, minEventsForWorkers: 0 });
  assert.is(all.consistent, false);
  const byChain = Object.fromEntries(all.broken.map((b) => [b.chainId, b]));
  assert.is(byChain[claims.edited]?.kind, 'edited');
  assert.is(byChain[claims.rehashed]?.kind, 'edited');
  assert.is(byChain[claims.deleted]?.seq, 5);
  assert.is(byChain[claims.inserted]?.kind, 'inserted');
  assert.is(byChain[claims.swapped]?.kind, 'reordered');
  assert.is(byChain[claims.truncated]?.kind, 'truncated');
  assert.is(byChain[claims.vanished]?.kind, 'deleted');
  assert.match(byChain[claims.vanished]!.reason, /whole chain is missing/);
  assert.is(byChain[claims.rowless]?.kind, 'deleted');
  assert.is(all.brokenChains, 8);
  assert.not.ok(byChain[claims.intact]);
  assert.not.ok(byChain[claims.extra]);
  assert.ok(all.digests.consistent);
});

verification('a damaged chain is never rolled into a new digest', async ({ t, claims }) => {
  const d = await auditDigest(t.tdb.db, t.clock);
  const kinds = Object.fromEntries(d.anomalies.map((a) => [a.chainId, a.kind]));
  assert.is(kinds[claims.vanished], 'deleted');
  assert.is(kinds[claims.rowless], 'deleted');
  assert.is(kinds[claims.truncated], 'truncated');
  const all = await verifyAll(t.tdb.db, { workers: 1 });
  assert.ok(all.broken.some((b) => b.chainId === claims.vanished), 'still reported after the next digest');
});

verification('tampering with the digests themselves is found, and an anchor published outside catches a rewrite', async ({ t }) => {
  const db = t.tdb.db;
  const published = (await verifyDigests(db)).latest!.digest;
  assert.ok((await verifyDigests(db, { anchor: published })).consistent);
  await db('history_digests').where({ seq: 2 }).update({ total_events: 1 });
  const edited = await verifyDigests(db);
  assert.is(edited.consistent, false);
  assert.is(edited.firstBroken?.seq, 2);
  assert.match(edited.firstBroken!.reason, /altered/);
  // a database administrator rewrites all digests consistently: only the published anchor tells
  const rows = await db('history_digests').orderBy('seq');
  const { digestOf } = await import('../src/audit/digest.ts');
  let prev = '0'.repeat(64);
  for (const r of rows) {
    const content = { seq: r.seq, day: r.day, createdAt: Number(r.created_at), maxEventId: Number(r.max_event_id), changedChains: r.changed_chains, totalChains: r.total_chains, totalEvents: Number(r.total_events), headsRoot: r.heads_root, prevDigest: prev };
    const digest = digestOf(content);
    await db('history_digests').where({ seq: r.seq }).update({ prev_digest: prev, digest });
    prev = digest;
  }
  assert.ok((await verifyDigests(db)).consistent, 'a consistent rewrite passes on its own');
  const anchored = await verifyDigests(db, { anchor: published });
  assert.is(anchored.consistent, false);
  assert.is(anchored.anchor?.found, false);
});

verification('rows forged with raw separators or broken JSON do not confuse the fast scan', async ({ t, claims }) => {
  const db = t.tdb.db;
  await db('history_events').where({ chain_id: claims.intact, seq: 3 }).update({ data: '{"name":"x\u001e\u001fy"}' });
  await db('history_events').where({ chain_id: claims.intact, seq: 4 }).update({ business_key: 'CLM\u001f\u001e\n"1"' });
  await db('history_events').where({ chain_id: claims.extra, seq: 2 }).update({ data: 'not json' });
  for (const workers of [1, 2]) {
    const all = await verifyAll(db, { workers, minEventsForWorkers: 0 });
    const byChain = Object.fromEntries(all.broken.map((b) => [b.chainId, b]));
    assert.equal([byChain[claims.intact]?.seq, byChain[claims.intact]?.kind], [3, 'edited'], JSON.stringify(byChain[claims.intact]));
    assert.equal([byChain[claims.extra]?.seq, byChain[claims.extra]?.kind], [2, 'edited']);
  }
});

verification('the chain verifier on rows: re-hashed predecessor and backdated append', () => {
  const mk = (seq: number, prev: string, data: Record<string, unknown>, at = 1000 + seq) => {
    const e: HistoryEvent = { chainId: 'c', processInstanceId: 'c', processKey: 'k', processVersion: 1, businessKey: null, seq, at, type: 'x', activityId: null, activityType: null, actor: 'a', data };
    return { ...e, prevHash: prev, hash: eventHash(prev, e) };
  };
  const rows = [mk(1, '0'.repeat(64), { n: 1 })];
  rows.push(mk(2, rows[0].hash, { n: 2 }));
  rows.push(mk(3, rows[1].hash, { n: 3 }));
  assert.ok(verifyChainEvents(rows).consistent);
  assert.equal(legacyVerifyChain(rows), { consistent: true, checked: 3 }, 'the legacy function keeps working');
  const head = { chainId: 'c', seq: 2, hash: rows[1].hash, digestSeq: 1, day: '2026-01-05', createdAt: 10 * 3600_000 };
  const late = verifyChainEvents(rows, head);
  assert.is(late.firstBroken?.kind, 'backdated', 'event 3 is older than the digest that ended the chain at 2');
  assert.ok(verifyChainEvents([...rows.slice(0, 2), mk(3, rows[1].hash, { n: 3 }, 10 * 3600_000)], head).consistent, 'a later append is fine');
});

verification.run();

// ------------------------------------------------------------------ the daily digest
const daily = suite<{ t: AuditTest }>('daily digest');
daily.before(async (ctx) => {
  ctx.t = await auditEngine();
});
daily.after(async (ctx) => ctx.t.close());

daily('one digest per UTC day, one more at shutdown; damaged chains are logged as errors', async ({ t }) => {
  const errors: string[] = [];
  const schedule = new DigestSchedule(t.tdb.db, t.clock, { info() {}, error: (_o, m) => errors.push(String(m)) });
  const id = await reviewedClaim(t);
  assert.is((await schedule.ensureToday())?.seq, 1);
  assert.is(await schedule.ensureToday(), null, 'not twice the same day');
  t.clock.advance(24 * 3600_000);
  await deleteTail(t.tdb.db, id, 1);
  assert.is((await schedule.ensureToday())?.seq, 2);
  assert.ok(errors.some((m) => /history tampering detected: chain .* ends at seq/.test(m)), errors.join('; '));
  await schedule.stop();
  assert.is((await verifyDigests(t.tdb.db)).checked, 3);
});

daily.run();

// ------------------------------------------------------------------ queries, operation log, export
const queries = suite<{ t: AuditTest; a: string; b: string; t0: number }>('queries and export');
queries.before(async (ctx) => {
  ctx.t = await auditEngine();
  ctx.t0 = ctx.t.clock.now();
  ctx.a = await reviewedClaim(ctx.t, 'approve');
  ctx.t.clock.advance(24 * 3600_000);
  ctx.b = await reviewedClaim(ctx.t, 'reject');
  const e = ctx.t.engine;
  const gw = await e.startInstance('gateway-test', { businessKey: 'GW-1', variables: { amount: 9000 } }, ops('olga', 'intake'));
  await e.cancelInstance(gw.id, admin, 'duplicate claim');
  const timer = await e.startInstance('timer-test', { businessKey: 'TM-1', variables: { deadline: 'P30D' } }, ops('olga', 'intake'));
  const job = (await e.listJobs({ processInstanceId: timer.id })).items.find((j) => j.activityId === 'Timer_Deadline')!;
  await e.setJobDue(job.id, new Date(ctx.t.clock.now() + 3600_000).toISOString(), admin);
  const retry = await e.startInstance('retry-test', { businessKey: 'RT-1', variables: { alwaysFail: true } }, ops('olga', 'intake'));
  for (let i = 0; i < 3; i++) {
    ctx.t.clock.advance(5 * 60_000);
    await e.runDueJobs();
  }
  const incident = (await e.getInstance(retry.id)).incidents[0];
  await e.retryIncident(incident.id, { alwaysFail: false }, admin);
  // each change records its own history event, in its transaction
  await e.users.add({ name: 'vera', roles: ['auditor'], groups: [] }, admin);
  await e.users.update('vera', { roles: ['auditor', 'analyst'] }, admin);
});
queries.after(async (ctx) => ctx.t.close());

queries('filters: time range, actor, process key and version, business key, instance, type (with prefix), activity', async ({ t, a, b, t0 }) => {
  const db = t.tdb.db;
  const all = async (f: EventFilter) => {
    const out = [];
    for await (const e of iterateEvents(db, f, 'asc', 7)) out.push(e);
    return out;
  };
  const dayOne = await all({ from: t0, to: t0 + 24 * 3600_000 });
  assert.ok(dayOne.length > 0);
  assert.ok(dayOne.every((e) => e.at >= t0 && e.at < t0 + 24 * 3600_000));
  assert.ok(dayOne.some((e) => e.chainId === a) && !dayOne.some((e) => e.chainId === b));
  const ann = await all({ actor: 'ann' });
  assert.ok(ann.length && ann.every((e) => e.actor === 'ann'));
  const forms = await all({ processKey: 'form-test', processVersion: 1 });
  assert.equal([...new Set(forms.map((e) => e.chainId))].sort(), [a, b].sort());
  assert.ok((await all({ businessKey: 'GW-1' })).every((e) => e.businessKey === 'GW-1'));
  assert.ok((await all({ processInstanceId: a })).every((e) => e.chainId === a));
  const tasks = await all({ types: ['task.*'] });
  assert.ok(tasks.length && tasks.every((e) => e.type.startsWith('task.')));
  assert.equal([...new Set((await all({ types: ['task.claimed', 'instance.cancelled'] })).map((e) => e.type))].sort(), ['instance.cancelled', 'task.claimed']);
  assert.ok((await all({ activityId: 'Task_Review' })).every((e) => e.activityId === 'Task_Review'));
  assert.is((await all({ types: ['task%'] })).length, 0, 'LIKE wildcards in a type are literal');
});

queries('cursor paging is stable, in both orders, and covers every event once', async ({ t }) => {
  const db = t.tdb.db;
  const total = Number(((await db('history_events').count({ n: '*' }).first()) as any).n);
  for (const order of ['asc', 'desc'] as const) {
    const seen: number[] = [];
    let after: number | undefined;
    for (;;) {
      const page = await eventPage(db, {}, { after, order, limit: 13 });
      seen.push(...page.map((e) => e.id));
      if (page.length < 13) break;
      after = page[page.length - 1].id;
    }
    assert.is(seen.length, total);
    assert.is(new Set(seen).size, total);
    const sorted = [...seen].sort((x, y) => (order === 'asc' ? x - y : y - x));
    assert.equal(seen, sorted);
  }
});

queries('the operation log: every human or admin action with actor, target, before and after; no system work', async ({ t, a }) => {
  const db = t.tdb.db;
  const ops: any[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await operationPage(db, {}, { after, order: 'asc', limit: 5 });
    ops.push(...page.items);
    if (page.last === undefined) break;
    after = page.last;
  }
  assert.ok(ops.every((o) => o.actor && o.actor !== 'system'));
  const kinds = new Set(ops.map((o) => o.operation));
  for (const k of ['deploy', 'start', 'claim', 'complete', 'cancel', 'timer.reschedule', 'incident.retry', 'user.create', 'user.update']) assert.ok(kinds.has(k), k);
  assert.not.ok(ops.some((o) => o.eventType === 'incident.resolved'), 'a resolution by a successful retry is not an operation of its own');
  const claim = ops.find((o) => o.operation === 'claim' && o.target.processInstanceId === a);
  assert.equal([claim.actor, claim.before, claim.after], ['ann', { assignee: null }, { assignee: 'ann' }]);
  const complete = ops.find((o) => o.operation === 'complete' && o.target.processInstanceId === a);
  assert.is(complete.target.kind, 'task');
  assert.equal(complete.after, { status: 'completed', form: { decision: 'approve', approvedAmount: 1200 } });
  assert.equal(complete.before, { status: 'open', form: { decision: null, approvedAmount: null } });
  const cancel = ops.find((o) => o.operation === 'cancel');
  assert.equal([cancel.actor, cancel.after.reason], ['admin', 'duplicate claim']);
  const moved = ops.find((o) => o.operation === 'timer.reschedule');
  assert.ok(moved.before.dueAt && moved.after.dueAt && moved.before.dueAt !== moved.after.dueAt);
  const roles = ops.find((o) => o.operation === 'user.update');
  assert.equal([roles.target.id, roles.before.roles, roles.after.roles], ['vera', ['auditor'], ['auditor', 'analyst']]);
  const started = ops.find((o) => o.operation === 'start' && o.target.id === a);
  assert.is(started.actor, 'olga');
  const only = await operationPage(db, { operations: ['claim'], actor: 'ann' }, { order: 'desc', limit: 100 });
  assert.ok(only.items.length >= 2 && only.items.every((o) => o.operation === 'claim'));
  assert.ok(only.items[0].id > only.items[1].id, 'newest first');
});

queries('export round trip: CSV and NDJSON parse back to the same events, which still verify', async ({ t, a }) => {
  const db = t.tdb.db;
  const stored = [];
  for await (const e of iterateEvents(db, {})) stored.push(e);
  for (const format of ['csv', 'ndjson'] as const) {
    let text = '';
    for await (const chunk of exportChunks(db, {}, format)) text += chunk;
    const back = readExport(text, format);
    assert.is(back.length, stored.length, format);
    assert.equal(back, stored, format);
    const chain = back.filter((e) => e.chainId === a);
    assert.ok(verifyChainEvents(chain).consistent, `${format} export verifies without the database`);
  }
  // the CLI writes the same CSV to stdout and its progress to stderr only
  let out = '';
  let err = '';
  const code = await auditExport(['--format', 'csv', '--instance', a, '--progress'], { write: (s: string) => ((out += s), true) }, { db, stderr: { write: (s: string) => (err += s) } });
  assert.is(code, 0);
  assert.equal(readExport(out, 'csv'), stored.filter((e) => e.chainId === a));
  assert.match(err, /export \[#+\] 100%/);
  assert.not.match(out, /export \[/);
  assert.equal(apiEvent(stored[0]).at, new Date(stored[0].at).toISOString());
});

queries.run();
