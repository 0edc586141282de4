/**
 * Task guards (EngineCore.registerTaskGuard): a domain check before a user task is claimed or completed, through
 * the library API on a real database. Separation of duties is the use case: the guard refuses, nothing changes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testEngine, ops, admin } from './helpers.ts';
import { InsureflowError } from '../src/errors.ts';

const REVIEW = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D_guarded" targetNamespace="http://insureflow.test">
  <bpmn:process id="guarded" isExecutable="true">
    <bpmn:startEvent id="Start" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Review" />
    <bpmn:userTask id="Task_Review" camunda:candidateGroups="reviewers" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Review" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

async function refused(p: Promise<unknown>): Promise<InsureflowError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, InsureflowError);
    return err as InsureflowError;
  }
  assert.unreachable('expected a refusal');
  throw new Error('unreachable');
}

test('given a guard on a task: the user it refuses can neither claim nor complete it, nothing changes; another user completes it', async () => {
  const t = await testEngine();
  try {
    const e = t.engine;
    await e.deploy([{ name: 'guarded.bpmn', content: REVIEW }]);
    const calls: string[] = [];
    e.registerTaskGuard('guarded', 'Task_Review', (task, actor, action, variables) => {
      calls.push(`${action}:${actor.name}:${JSON.stringify(variables)}`);
      if (actor.name === (task.businessKey ?? '').split(':')[1]) throw new InsureflowError('SEPARATION_OF_DUTIES', `${actor.name} decided ${task.businessKey}`);
    });
    const inst = await e.startInstance('guarded', { businessKey: 'decided-by:ann' });
    const task = inst.openTasks[0];
    const onClaim = await refused(e.claimTask(task.id, ops('ann', 'reviewers')));
    assert.equal([onClaim.code, onClaim.statusCode], ['SEPARATION_OF_DUTIES', 403]);
    const onComplete = await refused(e.completeTask(task.id, { ok: true }, ops('ann', 'reviewers')));
    assert.is(onComplete.code, 'SEPARATION_OF_DUTIES');
    assert.equal(calls, ['claim:ann:{}', 'complete:ann:{"ok":true}']);
    const still = await e.getInstance(inst.id);
    assert.equal([still.status, still.openTasks.length, still.openTasks[0].assignee], ['active', 1, null], 'a refused claim or completion changes nothing');
    // the engine's own checks come first: someone outside the group is FORBIDDEN before any guard runs
    assert.is((await refused(e.completeTask(task.id, {}, ops('zed', 'sales')))).code, 'FORBIDDEN');
    assert.is(calls.length, 2);
    await e.claimTask(task.id, ops('bob', 'reviewers'));
    await e.completeTask(task.id, {}, ops('bob', 'reviewers'));
    assert.is((await e.getInstance(inst.id)).status, 'completed');
    assert.equal(calls.slice(2), ['claim:bob:{}', 'complete:bob:{}']);
  } finally {
    await t.close();
  }
});

test('given a start guard on a process: the start it refuses writes nothing, with the guard seeing the business key, variables and actor; others start', async () => {
  const t = await testEngine();
  try {
    const e = t.engine;
    await e.deploy([{ name: 'guarded.bpmn', content: REVIEW }]);
    const seen: string[] = [];
    e.registerStartGuard('guarded', ({ businessKey, variables }, actor) => {
      seen.push(`${actor.name}:${businessKey}:${JSON.stringify(variables)}`);
      if (businessKey?.startsWith('X-')) throw new InsureflowError('VALIDATION_FAILED', `businessKey ${businessKey} is not ours`, [{ field: 'businessKey', message: 'is not ours', keyword: 'guard' }]);
    });
    const err = await refused(e.startInstance('guarded', { businessKey: 'X-1', variables: { a: 1 } }, admin));
    assert.equal([err.code, (err.details as any[])[0].field], ['VALIDATION_FAILED', 'businessKey']);
    assert.equal((await e.listInstances({ limit: 10 })).items, [], 'nothing was started');
    const ok = await e.startInstance('guarded', { businessKey: 'K-1' });
    assert.is(ok.status, 'active');
    assert.equal(seen, [`${admin.name}:X-1:{"a":1}`, 'system:K-1:{}']);
  } finally {
    await t.close();
  }
});

test.run();
