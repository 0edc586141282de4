/**
 * Feature: Camunda 7 expressions (issue 11, section 2). A Camunda 7 invoice approval whose conditions, assignee,
 * candidate groups and multi-instance collection are JUEL (`${!approved}`, `${status == 'ok'}`,
 * `${amount > 1000 && category ne 'travel'}`, `${empty documents}`, `${initiator}`, `${group}`, `${approvers}`)
 * deploys and runs the path those expressions choose, evaluated by src/engine/juel.ts (no Java, no JavaScript). A
 * variable the expression needs but the instance lacks fails the start (EXPRESSION_FAILED naming the element and
 * the identifier, nothing stored), as Camunda 7 throws "Cannot resolve identifier". A method call or a bean lookup
 * is refused at deploy with 422 over HTTP, naming the element and the FEEL to write. Runs on the suite's database
 * (SQLite, or PostgreSQL with DATABASE_URL), ManualClock.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { FastifyInstance } from 'fastify';
import { admin, fixture, testEngine, ops, type TestEngine } from '../helpers.ts';
import { buildApp } from '../../src/http/app.ts';
import { InsureflowError } from '../../src/errors.ts';
import { Given, When, Then, And } from './gwt.ts';

interface Ctx {
  t: TestEngine;
}

const ivy = ops('ivy');
const clerk = ops('carl', 'accounting');
const juel = suite<Ctx>('Camunda 7 JUEL expressions');
juel.before(async (ctx) => {
  ctx.t = await testEngine();
  await ctx.t.engine.deploy([{ name: 'invoice-c7.bpmn', content: fixture('feature/juel/invoice-c7.bpmn') }]);
});
juel.after(async (ctx) => ctx.t.close());

const endedAt = async (t: TestEngine, id: string) =>
  (await t.engine.history(id)).filter((e) => e.type === 'activity.completed' && /^End_/.test(String(e.activityId))).map((e) => e.activityId);
const openTasks = async (t: TestEngine, id: string) => (await t.engine.getInstance(id)).openTasks;

juel('no documents and a large car invoice: upload by the initiator, one approval per approver, check by the group, paid', async ({ t }) => {
  const inst = await Given('an invoice of 1500 for a car, without documents, started by ivy, approvers ann and bob, checked by accounting', () =>
    t.engine.startInstance('invoice-c7', { variables: { documents: [], amount: 1500, category: 'car', initiator: 'ivy', approvers: ['ann', 'bob'], group: 'accounting' } }),
  );
  const upload = await Then('${empty documents} is true: the upload task is assigned to ${initiator}', () => {
    assert.equal(inst.openTasks.map((x) => [x.activityId, x.assignee]), [['Task_Upload', 'ivy']]);
    return inst.openTasks[0];
  });
  await When('ivy uploads a document', () => t.engine.completeTask(upload.id, { documents: ['invoice.pdf'] }, ivy));
  const approvals = await Then('${amount > 1000 && category ne \'travel\'} is true: one approval per element of ${approvers}, each assigned to it', async () => {
    const tasks = await openTasks(t, inst.id);
    assert.equal(tasks.map((x) => [x.activityId, x.assignee]).sort(), [['Task_Approve', 'ann'], ['Task_Approve', 'bob']]);
    return tasks;
  });
  await When('ann and bob approve', async () => {
    for (const task of approvals) await t.engine.completeTask(task.id, {}, ops(task.assignee!));
  });
  const check = await Then('the check task is offered to the group ${group} evaluates to', async () => {
    const tasks = await openTasks(t, inst.id);
    assert.equal(tasks.map((x) => [x.activityId, x.assignee, x.candidateGroups]), [['Task_Check', null, ['accounting']]]);
    return tasks[0];
  });
  await When('accounting approves with status ok', () => t.engine.completeTask(check.id, { approved: true, status: 'ok' }, clerk));
  await Then('${!approved} is false and ${status == \'ok\'} is true: the invoice is paid', async () => {
    assert.is((await t.engine.getInstance(inst.id)).status, 'completed');
    assert.equal(await endedAt(t, inst.id), ['End_Paid']);
  });
});

juel('documents present and a travel invoice: straight to the check; rejected, or approved but not ok', async ({ t }) => {
  const start = (amount: number) => t.engine.startInstance('invoice-c7', { variables: { documents: ['r.pdf'], amount, category: 'travel', initiator: 'ivy', approvers: ['ann'], group: 'accounting' } });
  const travel = await Given('an invoice of 5000 for travel, with documents', () => start(5000));
  await Then('${empty documents} and the amount condition are false (category ne \'travel\' is false): the check is next', () => {
    assert.equal(travel.openTasks.map((x) => x.activityId), ['Task_Check']);
  });
  await When('accounting rejects it (approved false)', () => t.engine.completeTask(travel.openTasks[0].id, { approved: false, status: 'ok' }, clerk));
  await Then('${!approved} is true: it ends rejected', async () => {
    assert.equal(await endedAt(t, travel.id), ['End_Rejected']);
  });
  const small = await Given('another travel invoice', () => start(200));
  await When('accounting approves it with the status "pending" (the text "true" counts as true, as JUEL coerces it)', () =>
    t.engine.completeTask(small.openTasks[0].id, { approved: 'true', status: 'pending' }, clerk),
  );
  await Then('${status == \'ok\'} is false: it goes to the default flow, to clarify', async () => {
    assert.equal(await endedAt(t, small.id), ['End_Clarify']);
  });
});

juel('a variable a JUEL expression needs is not set: the start fails naming the element and the identifier, nothing is stored', async ({ t }) => {
  const count = async () => (await t.engine.listInstances({}, admin)).items.length;
  const before = await Given('the instances of the earlier scenarios', async () => {
    const n = await count();
    assert.ok(n > 0);
    return n;
  });
  const err = await When('an invoice is started without "documents"', () =>
    t.engine.startInstance('invoice-c7', { variables: { amount: 1, category: 'car', initiator: 'ivy', approvers: [], group: 'accounting' } }).then(
      () => null,
      (e) => e,
    ),
  );
  await Then('it is refused with EXPRESSION_FAILED saying which identifier cannot be resolved', () => {
    assert.ok(err instanceof InsureflowError, String(err));
    assert.is(err.code, 'EXPRESSION_FAILED');
    assert.match(err.message, /at Gw_Docs: .*Cannot resolve identifier 'documents'/);
    assert.match(err.message, /\$\{empty documents\}/);
  });
  await And('no instance was stored', async () => {
    assert.is(await count(), before);
  });
  const err2 = await When('one is started whose check task needs ${group}, which is not set', () =>
    t.engine.startInstance('invoice-c7', { variables: { documents: ['a'], amount: 1, category: 'car', initiator: 'ivy', approvers: [] } }).then(
      () => null,
      (e) => e,
    ),
  );
  await Then('it is refused naming the task and the identifier', () => {
    assert.ok(err2 instanceof InsureflowError, String(err2));
    assert.is(err2.code, 'EXPRESSION_FAILED');
    assert.match(err2.message, /at Task_Check: .*Cannot resolve identifier 'group'/);
  });
  const err3 = await When('a large car invoice is started without the ${approvers} collection', () =>
    t.engine.startInstance('invoice-c7', { variables: { documents: ['a'], amount: 5000, category: 'car', initiator: 'ivy', group: 'accounting' } }).then(
      () => null,
      (e) => e,
    ),
  );
  await Then('it is refused naming the multi-instance task and the identifier', () => {
    assert.ok(err3 instanceof InsureflowError, String(err3));
    assert.is(err3.code, 'EXPRESSION_FAILED');
    assert.match(err3.message, /at Task_Approve: .*Cannot resolve identifier 'approvers'/);
  });
  await And('still no instance was stored', async () => {
    assert.is(await count(), before);
  });
});

juel('a JUEL correlation key whose variable is not set: the start fails naming the receive task (not a 500)', async ({ t }) => {
  await Given('a process waiting for a message correlated by ${claimNo}', () =>
    t.engine.deploy([
      {
        name: 'juel-key.bpmn',
        content: `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D" targetNamespace="http://insureflow.test">
  <bpmn:message id="Msg" name="documents"><bpmn:extensionElements><zeebe:subscription correlationKey="\${claimNo}" /></bpmn:extensionElements></bpmn:message>
  <bpmn:process id="juel-key" isExecutable="true"><bpmn:startEvent id="S" /><bpmn:sequenceFlow id="F" sourceRef="S" targetRef="Wait" /><bpmn:receiveTask id="Wait" messageRef="Msg" />
  <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="E" /><bpmn:endEvent id="E" /></bpmn:process>
</bpmn:definitions>`,
      },
    ]),
  );
  const waiting = await When('one starts with claimNo C-7', () => t.engine.startInstance('juel-key', { variables: { claimNo: 'C-7' } }));
  await Then('it waits, and the message for C-7 completes it', async () => {
    await t.engine.correlateMessage({ name: 'documents', correlationKey: 'C-7' });
    assert.is((await t.engine.getInstance(waiting.id)).status, 'completed');
  });
  const err = await When('one starts without claimNo', () => t.engine.startInstance('juel-key', { variables: {} }).then(() => null, (e) => e));
  await Then('it is refused with EXPRESSION_FAILED naming the receive task and the identifier', () => {
    assert.ok(err instanceof InsureflowError, String(err));
    assert.is(err.code, 'EXPRESSION_FAILED');
    assert.match(err.message, /at Wait: the correlation key: .*Cannot resolve identifier 'claimNo'/);
  });
});

const methodCalls = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://insureflow.test">
  <bpmn:process id="juel-beans" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Gw" />
    <bpmn:exclusiveGateway id="Gw" default="Low" />
    <bpmn:sequenceFlow id="High" sourceRef="Gw" targetRef="Review"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${amount.compareTo(1000) &gt; 0 &amp;&amp; !approved}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Low" sourceRef="Gw" targetRef="End" />
    <bpmn:userTask id="Review" camunda:assignee="\${execution.getVariable('reviewer')}" camunda:candidateGroups="\${myBean.groupsFor(category)}" />
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

juel('a method call or bean lookup is refused at deploy over HTTP (422), naming the element and the FEEL to write', async ({ t }) => {
  const app: FastifyInstance = await Given('the HTTP API and an analyst', () => buildApp({ engine: t.engine }));
  try {
    const token = (await t.engine.users.add({ name: 'ana', roles: ['analyst'], groups: [] })).token;
    const res = await When('the analyst deploys a diagram calling amount.compareTo, execution.getVariable and myBean.groupsFor', () =>
      app.inject({ method: 'POST', url: '/api/deployments?name=beans.bpmn', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' }, payload: methodCalls }),
    );
    await Then('it is refused with 422 BPMN_INVALID, element by element, with what to write instead', () => {
      assert.is(res.statusCode, 422, res.body);
      const body = res.json() as { code: string; details: { element: string | null; message: string }[] };
      assert.is(body.code, 'BPMN_INVALID');
      const of = (id: string) => body.details.filter((d) => d.element === id).map((d) => d.message).join('\n');
      assert.match(of('High'), /amount\.compareTo\(\.\.\.\).*Write =amount > 1000 and not\(approved\) \(FEEL\) or \$\{amount > 1000 && !approved\} \(JUEL\) instead/);
      assert.match(of('Review'), /execution\.getVariable\(\.\.\.\).*variable name.*Write =reviewer \(FEEL\) or \$\{reviewer\} \(JUEL\) instead/);
      assert.match(of('Review'), /myBean\.groupsFor\(\.\.\.\).*move the logic into a handler/);
    });
    await And('nothing was deployed', async () => {
      assert.not.ok((await t.engine.listDefinitions()).some((d: { key: string }) => d.key === 'juel-beans'));
    });
  } finally {
    await app.close();
  }
});

juel.run();
