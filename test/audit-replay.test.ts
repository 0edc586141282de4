/**
 * Auditors, part 2: point-in-time reconstruction and replay against the approved model, over one instance
 * down every path of every fixture (gateways, parallel join, forms, business errors, messages, timers,
 * retries, incidents, cancellation). Runs on SQLite, or PostgreSQL with DATABASE_URL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, admin } from './helpers.ts';
import { auditEngine, everyPath, editEventData, fingerprint, type AuditTest } from './audit-support.ts';
import { reconstructState } from '../src/audit/reconstruct.ts';
import { replayInstance } from '../src/audit/replay.ts';
import { chainEvents } from '../src/audit/store.ts';

type Live = Awaited<ReturnType<AuditTest['engine']['getInstance']>>;

const view = (x: { status: string; activeActivities: string[]; variables: Record<string, unknown>; openTasks: { id: string; activityId: string | null; name: string | null; assignee: string | null; candidateGroups: string[]; candidateUsers: string[]; priority: number | null }[] }) => ({
  status: x.status,
  activeActivities: x.activeActivities,
  variables: x.variables,
  openTasks: x.openTasks.map((t) => ({ id: t.id, activityId: t.activityId, name: t.name, assignee: t.assignee, candidateGroups: t.candidateGroups, candidateUsers: t.candidateUsers, priority: t.priority })).sort((a, b) => (a.id < b.id ? -1 : 1)),
});

const moments = suite<{ t: AuditTest; ids: Record<string, string>; snapshots: { id: string; label: string; at: number; live: Live }[] }>('reconstruction');
moments.before(async (ctx) => {
  ctx.t = await auditEngine();
  ctx.snapshots = [];
  ctx.ids = await everyPath(ctx.t, async (id, label) => {
    ctx.snapshots.push({ id, label, at: ctx.t.clock.now(), live: await ctx.t.engine.getInstance(id) });
  });
});
moments.after(async (ctx) => ctx.t.close());

moments('at "now" the reconstruction equals the live instance, for every path', async ({ t, ids }) => {
  for (const [path, id] of Object.entries(ids)) {
    const live = await t.engine.getInstance(id);
    const rebuilt = await reconstructState(t.tdb.db, id);
    assert.ok(rebuilt.integrity.consistent, path);
    assert.equal(view(rebuilt), view(live), path);
  }
});

moments('at every earlier moment of every path, the reconstruction equals what the live instance was then', async ({ t, snapshots }) => {
  assert.ok(snapshots.length > 40);
  for (const s of snapshots) {
    const rebuilt = await reconstructState(t.tdb.db, s.id, s.at);
    assert.equal(view(rebuilt), view(s.live), s.label);
    assert.is(rebuilt.at, new Date(s.at).toISOString());
  }
});

moments('a claim at the moments an auditor asks about: before the review, while claimed, after the decision', async ({ t, snapshots }) => {
  const db = t.tdb.db;
  const steps = snapshots.filter((s) => s.label.startsWith('gateway.expert:'));
  const id = steps[0].id;
  const events = await chainEvents(db, id);
  const started = events[0].at;
  const claimedAt = events.find((e) => e.type === 'task.claimed')!.at;
  const completedAt = events.find((e) => e.type === 'task.completed')!.at;

  const opened = await reconstructState(db, id, started);
  assert.is(opened.status, 'active');
  assert.equal(opened.activeActivities, ['Task_Expert']);
  assert.equal([opened.openTasks[0].activityId, opened.openTasks[0].assignee, opened.openTasks[0].candidateGroups], ['Task_Expert', null, ['experts']]);
  assert.equal(opened.variables, { amount: 9000, severity: 4 });

  const claimed = await reconstructState(db, id, claimedAt + 1);
  assert.is(claimed.openTasks[0].assignee, 'ann');
  assert.is(claimed.openTasks[0].claimedAt, new Date(claimedAt).toISOString());

  const done = await reconstructState(db, id, completedAt);
  assert.is(done.status, 'completed');
  assert.equal(done.activeActivities, []);
  assert.equal(done.openTasks, []);
  assert.equal(done.variables, { amount: 9000, severity: 4, reviewed: true });

  const before = await reconstructState(db, id, started - 1).catch((e) => e);
  assert.is(before.code, 'VALIDATION_FAILED');
  const unknown = await reconstructState(db, 'no-such-instance').catch((e) => e);
  assert.is(unknown.code, 'INSTANCE_NOT_FOUND');
});

moments('incidents: open at the incident, still open after a failed retry, resolved after the good one', async ({ t, snapshots }) => {
  const at = (label: string) => snapshots.find((s) => s.label === label)!;
  for (const label of ['retry.incident: incident', 'retry.incident: retried, failed again', 'retry.incident: retried with corrected variables', 'retry.resolved-then-cancelled: resolved', 'retry.resolved-then-cancelled: cancelled']) {
    const s = at(label);
    const r = await reconstructState(t.tdb.db, s.id, s.at);
    assert.is(r.status, s.live.status, label);
    assert.is(r.openIncidents.length, s.live.incidents.length, label);
  }
  assert.is(at('retry.incident: incident').live.status, 'incident');
  assert.is(at('retry.incident: retried, failed again').live.variables.note, 'still down', 'variables of a failed retry count');
});

moments.run();

// ------------------------------------------------------------------ replay
const replay = suite<{ t: AuditTest; ids: Record<string, string> }>('replay');
replay.before(async (ctx) => {
  ctx.t = await auditEngine();
  ctx.ids = await everyPath(ctx.t);
});
replay.after(async (ctx) => ctx.t.close());

replay('every path replays consistently on its pinned definition, without calling anything or writing anything', async ({ t, ids }) => {
  let calls = 0;
  for (const name of ['score', 'approve', 'summarise', 'verifyPolicy', 'notifyRejection', 'remind', 'pay']) {
    const h = t.engine.handlers.get(name)!;
    const fn = h.fn;
    h.fn = (ctx) => {
      calls++;
      return fn(ctx);
    };
  }
  const before = await fingerprint(t.tdb.db);
  for (const [path, id] of Object.entries(ids)) {
    const r = await replayInstance(t.tdb.db, id);
    assert.ok(r.consistent, `${path}: ${JSON.stringify(r.divergence)}`);
    assert.is(r.mode, 'pinned');
    assert.not.ok(r.whatIf);
    assert.ok(r.steps >= 1 && r.compared > 5, path);
  }
  assert.is(calls, 0, 'no handler was called');
  assert.equal(await fingerprint(t.tdb.db), before, 'nothing was written');
  const timers = await replayInstance(t.tdb.db, ids['timer.reminder']);
  assert.is(timers.steps, 3, 'start, the reminder timer, the completion (a claim is not a transition)');
});

replay('an edited handler output makes the replay diverge where the model decides differently', async ({ t, ids }) => {
  const db = t.tdb.db;
  const id = ids['gateway.expert'];
  const events = await chainEvents(db, id);
  const output = events.find((e) => e.type === 'handler.completed' && e.activityId === 'Task_Score')!;
  await editEventData(db, id, output.seq, (d) => ({ ...d, output: { severity: 1 } }));
  const r = await replayInstance(db, id);
  assert.is(r.consistent, false);
  const taken = events.find((e) => e.type === 'flow.taken' && e.activityId === 'F_High')!;
  assert.is(r.divergence?.seq, taken.seq, JSON.stringify(r.divergence));
  assert.equal((r.divergence?.recorded as any).activityId, 'F_High');
  assert.equal((r.divergence?.expected as any).activityId, 'F_Default', 'severity 1 with amount 9000 takes the default flow');
  assert.match(r.divergence!.reason, /flow.taken/);
});

replay('an edited variable change diverges at that event; a deleted event at its place', async ({ t, ids }) => {
  const db = t.tdb.db;
  const id = ids['form.approve'];
  const changed = (await chainEvents(db, id)).filter((e) => e.type === 'variables.changed').pop()!;
  await editEventData(db, id, changed.seq, (d) => ({ ...d, changes: { ...d.changes, approvedAmount: { old: null, new: 80000 } } }));
  const r = await replayInstance(db, id);
  assert.is(r.divergence?.seq, changed.seq);

  const other = ids['message'];
  const ev = (await chainEvents(db, other)).find((e) => e.type === 'flow.taken' && e.activityId === 'F2')!;
  await db('history_events').where({ chain_id: other, seq: ev.seq }).delete();
  const r2 = await replayInstance(db, other);
  assert.is(r2.consistent, false);
  assert.is(r2.divergence?.seq, ev.seq + 1, 'the model takes F2 where the history has the next event');
  assert.is((r2.divergence?.expected as any).activityId, 'F2');
});

replay('what-if: the same case replayed on another version is labelled, and shows where the new version decides otherwise', async ({ t, ids }) => {
  const db = t.tdb.db;
  // version 2 sends everything above severity 1 to the experts
  const v2 = fixture('gateway.bpmn').replace('=severity &gt;= 3', '=severity &gt;= 2');
  const dep = await t.engine.deploy([{ name: 'gateway.bpmn', content: v2 }], { actor: admin });
  assert.is(dep.definitions[0].version, 2);
  const same = await replayInstance(db, ids['gateway.auto'], { definitionVersion: 2 });
  assert.is(same.mode, 'what-if');
  assert.match(same.whatIf!, /what-if/);
  assert.equal([same.pinned.version, same.definition.version], [1, 2]);
  assert.ok(same.consistent, 'severity 1 is handled the same way by version 2');
  const differs = await replayInstance(db, ids['gateway.normal'], { definitionVersion: 2 });
  assert.is(differs.mode, 'what-if');
  assert.is(differs.consistent, false);
  assert.is((differs.divergence?.expected as any).activityId, 'F_High');
  assert.is((differs.divergence?.recorded as any).activityId, 'F_Default');
  const pinnedAgain = await replayInstance(db, ids['gateway.normal'], { definitionVersion: 1 });
  assert.is(pinnedAgain.mode, 'pinned');
  assert.ok(pinnedAgain.consistent);
  const missing = await replayInstance(db, ids['gateway.normal'], { definitionVersion: 9 }).catch((e) => e);
  assert.is(missing.code, 'DEFINITION_NOT_FOUND');
});

replay.run();
