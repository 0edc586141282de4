/**
 * Variables named like Object.prototype members (toString, valueOf, constructor, hasOwnProperty, __proto__):
 * the history records their first value with `old: null`, a task completion that changes them records the
 * right old and new values, and the reconstruction and the replay of the instance agree with the history.
 * Runs on SQLite, or PostgreSQL with DATABASE_URL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ops } from './helpers.ts';
import { auditEngine, type AuditTest } from './audit-support.ts';
import { reconstructState } from '../src/audit/reconstruct.ts';
import { replayInstance } from '../src/audit/replay.ts';
import { chainEvents } from '../src/audit/store.ts';

const adjuster = ops('ann', 'adjusters', 'experts');
const NAMES = ['toString', 'valueOf', 'constructor', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__'];

const test = suite<{ t: AuditTest }>('variables named like Object.prototype members');
test.before(async (ctx) => {
  ctx.t = await auditEngine();
});
test.after(async (ctx) => ctx.t.close());

test('Given an instance started with such variables, When a task changes them, Then history, reconstruction and replay agree', async ({ t }) => {
  const e = t.engine;
  const start = JSON.parse(`{"amount": 9000, ${NAMES.map((n) => `"${n}": "x-${n}"`).join(', ')}}`) as Record<string, unknown>;
  const inst = await e.startInstance('gateway-test', { businessKey: 'proto-names', variables: start }, adjuster);
  t.clock.advance(1000);
  const task = inst.openTasks.find((x) => x.activityId === 'Task_Expert')!;
  assert.ok(task, 'the expert task is open');
  const done = JSON.parse(`{${NAMES.map((n) => `"${n}": "y-${n}"`).join(', ')}}`) as Record<string, unknown>;
  await e.completeTask(task.id, done, adjuster);
  t.clock.advance(1000);

  const changes = (await chainEvents(t.tdb.db, inst.id)).filter((x) => x.type === 'variables.changed').map((x) => (x.data as any).changes as Record<string, unknown>);
  const first = changes[0];
  const last = changes[changes.length - 1];
  for (const n of NAMES) {
    assert.ok(Object.hasOwn(first, n), `first change lists ${n}`);
    assert.equal(first[n], { old: null, new: `x-${n}` }, `started: ${n}`);
    if (n.startsWith('_')) {
      // task outputs whose names start with '_' are never merged into the process (src/engine/runtime/variables.ts)
      assert.not.ok(Object.hasOwn(last, n), `last change leaves ${n}: ${JSON.stringify(last)}`);
      continue;
    }
    assert.ok(Object.hasOwn(last, n), `last change lists ${n}`);
    assert.equal(last[n], { old: `x-${n}`, new: `y-${n}` }, `completed: ${n}`);
  }
  const final = (n: string) => (n.startsWith('_') ? `x-${n}` : `y-${n}`);

  const live = await e.getInstance(inst.id);
  assert.is(live.status, 'completed');
  for (const n of NAMES) assert.is(Object.hasOwn(live.variables, n) ? live.variables[n] : undefined, final(n), `live ${n}`);

  const rebuilt = await reconstructState(t.tdb.db, inst.id);
  assert.ok(rebuilt.integrity.consistent);
  for (const n of NAMES) assert.is(Object.hasOwn(rebuilt.variables, n) ? rebuilt.variables[n] : undefined, final(n), `rebuilt ${n}`);

  const replay = await replayInstance(t.tdb.db, inst.id);
  assert.ok(replay.consistent, JSON.stringify((replay as any).divergence ?? replay));
});

test('Given variables with a key __proto__, When an instance is started or a task completed with them, Then 400 VALIDATION_FAILED names it', async ({ t }) => {
  const e = t.engine;
  const bad = JSON.parse('{"amount": 9000, "__proto__": "x"}') as Record<string, unknown>;
  const refused = await e.startInstance('gateway-test', { businessKey: 'proto-start', variables: bad }, adjuster).catch((err) => err);
  assert.is(refused.code, 'VALIDATION_FAILED');
  assert.match(refused.message, 'variables.__proto__');
  const inst = await e.startInstance('gateway-test', { businessKey: 'proto-task', variables: { amount: 9000 } }, adjuster);
  const task = inst.openTasks[0];
  const refusedTask = await e.completeTask(task.id, JSON.parse('{"__proto__": "y"}'), adjuster).catch((err) => err);
  assert.is(refusedTask.code, 'VALIDATION_FAILED');
  assert.is((await e.getInstance(inst.id)).openTasks.length, 1);
});

test.run();
