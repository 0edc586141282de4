/**
 * Acceptance, issue 11, first point: hand-written models in both dialects deploy and run to completion, driven as
 * a user would over a real socket (POST /api/deployments multipart, /api/process-definitions/:key/start,
 * /api/tasks/:id/complete, and a worker over /engine-rest/external-task with HTTP Basic).
 * - test/fixtures/acceptance/invoice-c7.bpmn (Camunda Modeler 7 style, camunda: namespace, BPMNDI): JUEL conditions
 *   (`${!approved}`, `${approved}`, `${amount > 1000}`), candidate groups `${approverGroup}` and a literal group,
 *   `camunda:formKey="camunda-forms:deployment:invoice-approve.form"`, `camunda:formData` on the review task, and an
 *   external task of topic archive-invoice (no in-process handler).
 * - test/fixtures/acceptance/invoice-c8.bpmn (zeebe: namespace): FEEL conditions, zeebe:formDefinition formId bound
 *   to invoice-approve-c8.form, zeebe:assignmentDefinition candidateGroups, zeebe:taskDefinition type
 *   archive-invoice completed by the same external worker.
 * Each runs an approved large invoice and a rejected one; history shows the path taken. Runs on the suite's database
 * (SQLite, or PostgreSQL with DATABASE_URL), ManualClock (no real waiting).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testDb, admin } from '../helpers.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { bpmnLinter } from '../../src/definitions/lint.ts';
import { buildApp } from '../../src/http/app.ts';
import type { Role } from '../../src/engine/actor.ts';
import { Given, When, Then, And } from './gwt.ts';

type Res = { status: number; body: any; text: string };

interface World {
  t: { engine: InsureflowEngine };
  base: string;
  tokens: Record<'ana' | 'ivy' | 'ann' | 'carl' | 'wanda', string>;
  close: () => Promise<void>;
}

/**
 * The engine on the suite's database with bpmnlint wired as the server wires it (src/server.ts), the HTTP app on a
 * real socket, and the people of the invoice process.
 */
async function world(keys: string[]): Promise<World> {
  const tdb = await testDb();
  const t = { engine: new InsureflowEngine({ db: tdb.db, clock: new ManualClock('2026-01-05T09:00:00Z'), lint: bpmnLinter }) };
  const app = await buildApp({ engine: t.engine });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const add = async (name: string, roles: Role[], groups: string[]) => (await t.engine.users.add({ name, roles, groups })).token;
  const tokens = {
    ana: await add('ana', ['analyst'], []),
    ivy: await add('ivy', ['ops'], ['clerks']),
    ann: await add('ann', ['ops'], ['approvers']),
    carl: await add('carl', ['ops'], ['controllers']),
    wanda: await add('wanda', ['worker'], ['archivers']),
  };
  for (const key of keys) await t.engine.grant({ group: 'clerks', resourceType: 'process-definition', resourceId: key, permissions: ['start'] }, admin);
  await t.engine.grant({ group: 'archivers', resourceType: 'topic', resourceId: 'archive-invoice', permissions: ['fetch'] }, admin);
  return {
    t,
    base: `http://127.0.0.1:${port}`,
    tokens,
    close: async () => {
      await app.close();
      await tdb.destroy();
    },
  };
}

async function call(w: World, auth: string, method: string, path: string, body?: unknown): Promise<Res> {
  const res = await fetch(w.base + path, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : null };
}

const bearer = (w: World, who: keyof World['tokens']) => `Bearer ${w.tokens[who]}`;
const basic = (w: World, who: keyof World['tokens']) => `Basic ${Buffer.from(`${who}:${w.tokens[who]}`).toString('base64')}`;

async function deploy(w: World, files: [name: string, fixtureName: string][]): Promise<Res> {
  const form = new FormData();
  for (const [name, f] of files) form.append('file', new Blob([fixture(f)]), name);
  const res = await fetch(`${w.base}/api/deployments`, { method: 'POST', headers: { authorization: bearer(w, 'ana') }, body: form });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

async function start(w: World, key: string, variables: Record<string, unknown>) {
  const res = await call(w, bearer(w, 'ivy'), 'POST', `/api/process-definitions/${key}/start`, { variables });
  assert.is(res.status, 201, res.text);
  return res.body as { id: string; openTasks: { id: string; activityId: string; candidateGroups: string[] }[] };
}

async function openTasks(w: World, id: string) {
  return (await w.t.engine.getInstance(id, admin)).openTasks;
}

async function complete(w: World, who: keyof World['tokens'], taskId: string, variables: Record<string, unknown>): Promise<Res> {
  return call(w, bearer(w, who), 'POST', `/api/tasks/${taskId}/complete`, { variables });
}

/** The archive worker: fetches the topic over /engine-rest with HTTP Basic and completes what it got. */
async function archiveWorker(w: World, instanceId: string): Promise<void> {
  const fetched = await call(w, basic(w, 'wanda'), 'POST', '/engine-rest/external-task/fetchAndLock', {
    workerId: 'archiver-1',
    maxTasks: 10,
    topics: [{ topicName: 'archive-invoice', lockDuration: 60_000, variables: ['invoiceNo', 'amount'] }],
  });
  assert.is(fetched.status, 200, fetched.text);
  assert.is(fetched.body.length, 1, fetched.text);
  const [task] = fetched.body;
  assert.equal([task.topicName, task.activityId, task.processInstanceId], ['archive-invoice', 'Task_Archive', instanceId]);
  assert.equal(Object.keys(task.variables).sort(), ['amount', 'invoiceNo'], 'only the variables the worker asked for');
  assert.is(task.variables.invoiceNo.type, 'String');
  const done = await call(w, basic(w, 'wanda'), 'POST', `/engine-rest/external-task/${task.id}/complete`, {
    workerId: 'archiver-1',
    variables: { archiveRef: { type: 'String', value: `ARC-${task.variables.invoiceNo.value}` } },
  });
  assert.is(done.status, 204, done.text);
}

/** The activities the instance completed, in order, gateways and events included. */
async function path(w: World, id: string): Promise<string[]> {
  return (await w.t.engine.history(id)).filter((h) => h.type === 'activity.completed').map((h) => String(h.activityId));
}

const APPROVED_PATH = ['StartEvent_Invoice', 'Task_Approve', 'Gateway_Approved', 'Gateway_Amount', 'Task_Review', 'Gateway_Merge', 'Task_Archive', 'EndEvent_Archived'];
const REJECTED_PATH = ['StartEvent_Invoice', 'Task_Approve', 'Gateway_Approved', 'EndEvent_Rejected'];

test('Given a hand-written Camunda 7 invoice approval (JUEL, formKey to a deployed .form, formData, candidate groups, an external task), When an approved and a rejected invoice run, Then each takes its path to the end', async () => {
  const w = await world(['invoice-c7-acceptance']);
  try {
    const dep = await Given('the analyst deploys invoice-c7.bpmn with invoice-approve.form over HTTP', () =>
      deploy(w, [
        ['invoice-c7.bpmn', 'acceptance/invoice-c7.bpmn'],
        ['invoice-approve.form', 'acceptance/invoice-approve.form'],
      ]),
    );
    await Then('it is a 201 whose only warning announces the archive task as an external task', () => {
      assert.is(dep.status, 201, dep.text);
      assert.equal(dep.body.forms, [{ formKey: 'invoice-approve', version: 1, created: true }]);
      const warnings = dep.body.warnings as { element?: string; message: string; source: string }[];
      assert.equal(warnings.filter((x) => x.source === 'bpmnlint'), [], 'drawn as Camunda Modeler 7 would save it, bpmnlint finds nothing');
      assert.ok(warnings.some((x) => x.source === 'engine' && x.element === 'Task_Archive' && /archive-invoice/.test(x.message)), JSON.stringify(warnings));
    });

    const big = await Given('an invoice of 1500 for the approvers group', () => start(w, 'invoice-c7-acceptance', { invoiceNo: 'INV-1', amount: 1500, approverGroup: 'approvers' }));
    await Then('"Approve invoice" is offered to the group ${approverGroup} names', () =>
      assert.equal(big.openTasks.map((x) => [x.activityId, x.candidateGroups]), [['Task_Approve', ['approvers']]]),
    );
    const bad = await When('ann submits the form with "approved" not a boolean and no comment', () => complete(w, 'ann', big.openTasks[0].id, { approved: 'yes' }));
    await Then('it is a 400 VALIDATION_FAILED naming each field', () => {
      assert.is(bad.status, 400, bad.text);
      assert.is(bad.body.code, 'VALIDATION_FAILED');
      assert.equal(bad.body.details.map((d: any) => [d.field, d.keyword]), [
        ['approved', 'type'],
        ['comment', 'required'],
      ]);
    });
    await When('ann approves it properly', async () => {
      const ok = await complete(w, 'ann', big.openTasks[0].id, { approved: true, comment: 'looks right' });
      assert.is(ok.status, 200, ok.text);
    });
    const review = await Then('${approved} and ${amount > 1000} hold: "Review large invoice" is offered to the controllers', async () => {
      const tasks = await openTasks(w, big.id);
      assert.equal(tasks.map((x) => [x.activityId, x.candidateGroups]), [['Task_Review', ['controllers']]]);
      return tasks[0];
    });
    const badReview = await When('carl submits the review without its required note and with an unknown cost centre', () => complete(w, 'carl', review.id, { costCentre: 'marketing' }));
    await Then('the camunda:formData fields are named in a 400', () => {
      assert.is(badReview.status, 400, badReview.text);
      assert.equal(badReview.body.details.map((d: any) => d.field).sort(), ['costCentre', 'reviewNote']);
    });
    await When('carl reviews it properly', async () => {
      const ok = await complete(w, 'carl', review.id, { reviewNote: 'budget ok', costCentre: 'claims' });
      assert.is(ok.status, 200, ok.text);
    });
    await And('the archive worker fetches and completes the external task over /engine-rest', () => archiveWorker(w, big.id));
    await Then('the instance completed through review and archive; the worker\'s variable is set', async () => {
      const inst = await w.t.engine.getInstance(big.id, admin);
      assert.is(inst.status, 'completed');
      assert.is(inst.variables.archiveRef, 'ARC-INV-1');
      assert.equal(await path(w, big.id), APPROVED_PATH);
    });

    const small = await Given('an invoice of 300', () => start(w, 'invoice-c7-acceptance', { invoiceNo: 'INV-2', amount: 300, approverGroup: 'approvers' }));
    await When('ann rejects it', async () => {
      const ok = await complete(w, 'ann', small.openTasks[0].id, { approved: false, comment: 'not ours' });
      assert.is(ok.status, 200, ok.text);
    });
    await Then('${!approved} holds: it ended rejected, without review or archive', async () => {
      assert.is((await w.t.engine.getInstance(small.id, admin)).status, 'completed');
      assert.equal(await path(w, small.id), REJECTED_PATH);
    });
    await And('nothing waits for the archive worker', async () => {
      const none = await call(w, basic(w, 'wanda'), 'POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'archiver-1', maxTasks: 10, topics: [{ topicName: 'archive-invoice', lockDuration: 60_000 }] });
      assert.equal([none.status, none.body], [200, []]);
    });
  } finally {
    await w.close();
  }
});

test('Given a hand-written Camunda 8 invoice approval (FEEL, a .form by formId, assignment candidate groups, a job type no handler serves), When an approved and a rejected invoice run, Then each takes its path to the end', async () => {
  const w = await world(['invoice-c8-acceptance']);
  try {
    const dep = await Given('the analyst deploys invoice-c8.bpmn with invoice-approve-c8.form over HTTP', () =>
      deploy(w, [
        ['invoice-c8.bpmn', 'acceptance/invoice-c8.bpmn'],
        ['invoice-approve-c8.form', 'acceptance/invoice-approve-c8.form'],
      ]),
    );
    await Then('it is a 201 with warnings that do not block: the archive job type is an external task, the review task has no form (camunda-compat)', () => {
      assert.is(dep.status, 201, dep.text);
      assert.equal(dep.body.forms, [{ formKey: 'invoice-approve-c8', version: 1, created: true }]);
      const warnings = dep.body.warnings as { element?: string; source: string; rule?: string }[];
      assert.ok(warnings.some((x) => x.source === 'engine' && x.element === 'Task_Archive'), dep.text);
      assert.equal(warnings.filter((x) => x.source === 'bpmnlint').map((x) => [x.rule, x.element]), [['camunda-compat/user-task-definition', 'Task_Review']]);
    });

    const big = await Given('an invoice of 1500 for the approvers group', () => start(w, 'invoice-c8-acceptance', { invoiceNo: 'INV-8', amount: 1500, approverGroup: 'approvers' }));
    await Then('"Approve invoice" is offered to the group =approverGroup names, with the Camunda form', async () => {
      assert.equal(big.openTasks.map((x) => [x.activityId, x.candidateGroups]), [['Task_Approve', ['approvers']]]);
      const got = await call(w, bearer(w, 'ann'), 'GET', `/api/tasks/${big.openTasks[0].id}`);
      assert.is(got.status, 200, got.text);
      assert.equal([got.body.form.format, got.body.form.key], ['form-js', 'invoice-approve-c8']);
    });
    const bad = await When('ann submits a comment that is too short', () => complete(w, 'ann', big.openTasks[0].id, { approved: true, comment: 'ok' }));
    await Then('it is a 400 naming the field', () => {
      assert.is(bad.status, 400, bad.text);
      assert.equal(bad.body.details.map((d: any) => [d.field, d.keyword]), [['comment', 'minLength']]);
    });
    await When('ann approves it properly', async () => {
      const ok = await complete(w, 'ann', big.openTasks[0].id, { approved: true, comment: 'looks right' });
      assert.is(ok.status, 200, ok.text);
    });
    const review = await Then('=approved and =amount > 1000 hold: the review is offered to the controllers', async () => {
      const tasks = await openTasks(w, big.id);
      assert.equal(tasks.map((x) => [x.activityId, x.candidateGroups]), [['Task_Review', ['controllers']]]);
      return tasks[0];
    });
    await When('carl reviews it', async () => {
      const ok = await complete(w, 'carl', review.id, { reviewNote: 'budget ok' });
      assert.is(ok.status, 200, ok.text);
    });
    await And('the archive worker completes the job over /engine-rest', () => archiveWorker(w, big.id));
    await Then('the instance completed through review and archive', async () => {
      const inst = await w.t.engine.getInstance(big.id, admin);
      assert.is(inst.status, 'completed');
      assert.is(inst.variables.archiveRef, 'ARC-INV-8');
      assert.equal(await path(w, big.id), APPROVED_PATH);
    });

    const small = await Given('an invoice of 300', () => start(w, 'invoice-c8-acceptance', { invoiceNo: 'INV-9', amount: 300, approverGroup: 'approvers' }));
    await When('ann rejects it', async () => {
      const ok = await complete(w, 'ann', small.openTasks[0].id, { approved: false, comment: 'not ours' });
      assert.is(ok.status, 200, ok.text);
    });
    await Then('=not(approved) holds: it ended rejected', async () => {
      assert.is((await w.t.engine.getInstance(small.id, admin)).status, 'completed');
      assert.equal(await path(w, small.id), REJECTED_PATH);
    });
  } finally {
    await w.close();
  }
});

test.run();
