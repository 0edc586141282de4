/**
 * Operator operations are for admins whoever calls the engine: retrying or resolving an incident and
 * rescheduling a timer job refuse an ops user (FORBIDDEN) in the engine itself, not only in the HTTP routes
 * (src/engine/authorization.ts requireAdmin). Given an instance with an open incident and one with a waiting
 * timer, when an ops user calls the engine directly, then nothing changes; when an admin does, it works.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InsureflowError } from '../src/errors.ts';
import { admin, fixture, ops, testEngine } from './helpers.ts';

async function refused(p: Promise<unknown>): Promise<InsureflowError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof InsureflowError) return err;
    throw err;
  }
  throw new Error('expected FORBIDDEN, the operation succeeded');
}

test('an ops user cannot retry or resolve an incident or move a timer through the engine; an admin can', async () => {
  const t = await testEngine();
  try {
    t.engine.registerHandler('pay', () => {
      throw new Error('bank unavailable');
    });
    t.engine.registerHandler('remind', () => ({}));
    await t.engine.deploy([{ name: 'retry.bpmn', content: fixture('retry.bpmn') }, { name: 'timer.bpmn', content: fixture('timer.bpmn') }]);
    const inst = await t.engine.startInstance('retry-test', {});
    for (let i = 0; i < 10 && (await t.engine.getInstance(inst.id)).status !== 'incident'; i++) {
      t.clock.advance(5 * 60_000);
      await t.engine.runDueJobs();
    }
    const [incident] = (await t.engine.listIncidents({ processInstanceId: inst.id })).items;
    assert.ok(incident, 'an incident is open');

    const clerk = ops('olga', 'claims-supervisors');
    for (const attempt of [t.engine.retryIncident(incident.id, undefined, clerk), t.engine.resolveIncident(incident.id, clerk, 'fixed')]) {
      const err = await refused(attempt);
      assert.is(err.code, 'FORBIDDEN');
      assert.match(err.message, /only admins/);
    }
    assert.is((await t.engine.getIncident(incident.id)).status, 'open', 'the incident is untouched');

    const waiting = await t.engine.startInstance('timer-test', { variables: { deadline: 'PT2H' } });
    const [job] = (await t.engine.listJobs({ processInstanceId: waiting.id } as never)).items;
    assert.ok(job, 'a timer job waits');
    const err = await refused(t.engine.setJobDue(job.id, '2026-01-05T09:00:01Z', clerk));
    assert.is(err.code, 'FORBIDDEN');
    assert.is((await t.engine.listJobs({ processInstanceId: waiting.id } as never)).items[0].dueAt, job.dueAt, 'the timer keeps its due date');

    const moved = await t.engine.setJobDue(job.id, '2026-01-05T09:00:01Z', admin);
    assert.is(moved.dueAt, '2026-01-05T09:00:01.000Z');
    assert.is((await t.engine.resolveIncident(incident.id, admin, 'fixed at the bank')).status, 'resolved');
  } finally {
    await t.close();
  }
});

test.run();
