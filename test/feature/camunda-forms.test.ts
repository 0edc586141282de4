/**
 * Feature: Camunda Forms (issue 11, section 4, and the last bullet of section 1). A `.form` file (form-js JSON as
 * Camunda Modeler 8 saves it) deploys as a versioned form keyed by its id; `zeebe:formDefinition formId` and
 * Camunda 7 `camunda:formKey="camunda-forms:deployment:<file>.form"` bind it; completion is validated on the
 * server with the same per-field 400 as JSON Schema forms; GET /api/tasks/:id returns the form as stored.
 * Camunda 7 `camunda:formData` fields are validated the same way. Form keys outside the deployment (app:,
 * embedded:app:, camunda-forms:app:, URLs) deploy and are handed over unvalidated.
 * Runs on the suite's database (SQLite, or PostgreSQL with DATABASE_URL); the HTTP scenario over a real socket.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture, testEngine, ops, admin, type TestEngine, refusal } from '../helpers.ts';
import { buildApp } from '../../src/http/app.ts';
import { InsureflowError } from '../../src/errors.ts';
import { Given, When, Then, And } from './gwt.ts';

const FORM = fixture('forms-c8/claim-decision.form');
const olga = ops('olga', 'adjusters');

/** A completion that passes every rule of claim-decision.form. */
const GOOD = {
  decision: 'approve',
  approvedAmount: 1200,
  policyNo: 'POL-123456',
  adjuster: { email: 'olga@insurer.example' },
  reason: 'photos match the invoice',
  channel: 'web',
  documents: ['invoice', 'photos'],
  fraudSuspected: false,
  visitDate: '2026-01-07',
  shop: 'any shop the variables offered',
  payee: { iban: 'DE89370400440532013000' },
  items: [{ label: 'bumper', cost: 800 }],
  note: 'a field the form does not know is kept',
};

const fields = (err: InsureflowError) => Object.fromEntries((err.details as { field: string; keyword: string }[]).map((d) => [d.field, d.keyword]));

async function openTask(t: TestEngine, key: string, variables: Record<string, unknown> = {}) {
  const inst = await t.engine.startInstance(key, { variables });
  assert.is(inst.openTasks.length, 1, 'one open task');
  return { inst, task: inst.openTasks[0] };
}

test('Given a Camunda 8 diagram bound to a .form by zeebe:formDefinition formId, When completed badly and then well, Then each broken field is named and the good data completes', async () => {
  const t = await testEngine();
  try {
    const res = await Given('claim-decision.form and a Camunda 8 diagram deployed together', () =>
      t.engine.deploy([
        { name: 'forms/claim-decision.form', content: FORM },
        { name: 'claim-decision-c8.bpmn', content: fixture('forms-c8/claim-decision-c8.bpmn') },
      ]),
    );
    await Then('the form is versioned by its id', () => assert.equal(res.forms, [{ formKey: 'claim-decision', version: 1, created: true }]));
    const { inst, task } = await openTask(t, 'claim-decision-c8');

    const err = await When('the task is completed with a missing required field, a broken pattern, an amount over max and an unknown option', () =>
      refusal(t.engine.completeTask(task.id, { ...GOOD, decision: 'maybe', approvedAmount: 60000, policyNo: 'P-1', reason: undefined, payee: {} }, olga)),
    );
    await Then('it is a 400 VALIDATION_FAILED naming each field', () => {
      assert.is(err.code, 'VALIDATION_FAILED');
      assert.equal(fields(err), { decision: 'enum', approvedAmount: 'maximum', policyNo: 'pattern', 'payee.iban': 'required' });
    });
    const more = await And('types, email, lengths, options, dates and list items are checked too', () =>
      refusal(
        t.engine.completeTask(
          task.id,
          {
            ...GOOD,
            approvedAmount: '1200',
            adjuster: { email: 'not-an-email' },
            reason: 'no',
            channel: 'fax',
            documents: ['invoice', 'passport'],
            fraudSuspected: 'yes',
            visitDate: '2026-02-30',
            shop: { not: 'a single value' },
            items: [{ cost: -1 }],
          },
          olga,
        ),
      ),
    );
    assert.equal(fields(more), {
      approvedAmount: 'type',
      'adjuster.email': 'format',
      reason: 'minLength',
      channel: 'enum',
      documents: 'enum',
      fraudSuspected: 'type',
      visitDate: 'format',
      shop: 'type',
      'items.0.label': 'required',
      'items.0.cost': 'minimum',
    });
    const rejected = await And('a field hidden by its FEEL condition is required only when shown', () => refusal(t.engine.completeTask(task.id, { ...GOOD, decision: 'reject' }, olga)));
    assert.equal(fields(rejected), { rejectionReason: 'required' });
    const done = await When('it is completed with good data', () => t.engine.completeTask(task.id, GOOD, olga));
    await Then('it completes, the variables (the unknown one too) are set and the gateway routes on the decision', async () => {
      assert.is(done.status, 'completed');
      const after = await t.engine.getInstance(inst.id, admin);
      assert.is(after.status, 'completed');
      assert.is(after.variables.note, GOOD.note);
      assert.ok(after.activeActivities.length === 0);
    });
  } finally {
    await t.close();
  }
});

test('Given a Camunda 7 diagram with camunda:formKey="camunda-forms:deployment:claim-decision.form", Then the form of its deployment is bound and validated; without the file the deployment is refused', async () => {
  const t = await testEngine();
  try {
    const alone = await When('the diagram is deployed without the .form file', () => refusal(t.engine.deploy([{ name: 'claim-decision-c7.bpmn', content: fixture('forms-c8/claim-decision-c7.bpmn') }])));
    await Then('it is refused naming the task and the file', () => {
      assert.is(alone.code, 'BPMN_INVALID');
      const p = (alone.details as { element: string; message: string }[]).find((x) => x.element === 'Decide');
      assert.ok(p && /claim-decision\.form/.test(p.message), JSON.stringify(alone.details));
    });
    await Given('the diagram and the form are deployed together', () =>
      t.engine.deploy([
        { name: 'claim-decision-c7.bpmn', content: fixture('forms-c8/claim-decision-c7.bpmn') },
        { name: 'claim-decision.form', content: FORM },
      ]),
    );
    const def = await t.engine.getDefinition('claim-decision-c7');
    assert.equal(def.bindings.forms.Decide, { key: 'claim-decision', binding: 'deployment', version: 1 });
    await And('a newer version of the form is deployed on its own', () => t.engine.deploy([{ name: 'claim-decision.form', content: FORM.replace('"Decision"', '"Your decision"').replace('"max": 50000', '"max": 100') }]));
    const { task } = await openTask(t, 'claim-decision-c7');
    const detail = await t.engine.getTask(task.id, olga);
    await Then('the task keeps the version of its deployment (max 50000, not 100)', async () => {
      assert.is(detail.form?.format, 'form-js');
      assert.is((detail.form as any).schema.components[1].label, 'Decision');
      assert.is((detail.form as any).schema.components[3].validate.max, 50000);
      await t.engine.completeTask(task.id, { ...GOOD, approvedAmount: 20000 }, olga);
    });
    const { task: t2 } = await openTask(t, 'claim-decision-c7');
    const err = await refusal(t.engine.completeTask(t2.id, { ...GOOD, policyNo: 'x' }, olga));
    assert.equal(fields(err), { policyNo: 'pattern' });
  } finally {
    await t.close();
  }
});

const C8_BINDINGS = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Defs_C8B" targetNamespace="http://insureflow.test">
  <bpmn:process id="c8-bindings" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="ByDeployment" />
    <bpmn:userTask id="ByDeployment"><bpmn:extensionElements><zeebe:formDefinition formId="claim-decision" bindingType="deployment" /><zeebe:assignmentDefinition candidateGroups="adjusters" /></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="ByDeployment" targetRef="ByTag" />
    <bpmn:userTask id="ByTag"><bpmn:extensionElements><zeebe:formDefinition formId="claim-decision" bindingType="versionTag" versionTag="v1-strict" /><zeebe:assignmentDefinition candidateGroups="adjusters" /></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="F3" sourceRef="ByTag" targetRef="Latest" />
    <bpmn:userTask id="Latest"><bpmn:extensionElements><zeebe:formDefinition formId="claim-decision" /><zeebe:assignmentDefinition candidateGroups="adjusters" /></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="F4" sourceRef="Latest" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

const C7_FORM_REF = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs_C7R" targetNamespace="http://insureflow.test">
  <bpmn:process id="c7-form-ref" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Decide" />
    <bpmn:userTask id="Decide" camunda:formRef="claim-decision" camunda:formRefBinding="version" camunda:formRefVersion="1" camunda:candidateGroups="adjusters" />
    <bpmn:sequenceFlow id="F2" sourceRef="Decide" targetRef="End" />
    <bpmn:endEvent id="End" />
  </bpmn:process>
</bpmn:definitions>`;

test('Given Camunda form bindings (zeebe bindingType deployment / versionTag / latest, camunda:formRef with a version), Then each task validates against the version its binding names', async () => {
  const t = await testEngine();
  try {
    const strict = JSON.stringify({ ...JSON.parse(FORM), versionTag: 'v1-strict' });
    const loose = JSON.stringify({ ...JSON.parse(FORM), versionTag: 'v2', components: [{ type: 'textfield', id: 'Field_note', key: 'note', label: 'Note' }] });
    await Given('version 1 of the form (tag v1-strict) deployed with the Camunda 8 diagram, then version 2 (no required field) alone', async () => {
      await t.engine.deploy([
        { name: 'claim-decision.form', content: strict },
        { name: 'c8-bindings.bpmn', content: C8_BINDINGS },
      ]);
      const v2 = await t.engine.deploy([{ name: 'claim-decision.form', content: loose }]);
      assert.equal(v2.forms, [{ formKey: 'claim-decision', version: 2, created: true }]);
    });
    const inst = await t.engine.startInstance('c8-bindings', { variables: GOOD });
    for (const activity of ['ByDeployment', 'ByTag']) {
      const open = (await t.engine.getInstance(inst.id, admin)).openTasks[0];
      assert.is(open.activityId, activity);
      const err = await refusal(t.engine.completeTask(open.id, { decision: 'approve' }, olga));
      assert.equal(Object.keys(fields(err)), ['approvedAmount', 'policyNo', 'payee.iban'], `${activity} validates against version 1`);
      await t.engine.completeTask(open.id, GOOD, olga);
    }
    const latest = (await t.engine.getInstance(inst.id, admin)).openTasks[0];
    await Then('the task bound to latest uses version 2, which requires nothing', async () => {
      assert.is(latest.activityId, 'Latest');
      await t.engine.completeTask(latest.id, { note: 'ok' }, olga);
      assert.is((await t.engine.getInstance(inst.id, admin)).status, 'completed');
    });
    await Given('a Camunda 7 diagram with camunda:formRef="claim-decision" bound to version 1', () => t.engine.deploy([{ name: 'c7-form-ref.bpmn', content: C7_FORM_REF }]));
    const { task } = await openTask(t, 'c7-form-ref');
    const err = await refusal(t.engine.completeTask(task.id, { note: 'ok' }, olga));
    assert.equal(Object.keys(fields(err)), ['decision', 'approvedAmount', 'policyNo', 'payee.iban']);
    const missingTag = await refusal(t.engine.deploy([{ name: 'x.bpmn', content: C8_BINDINGS.replace('id="c8-bindings"', 'id="x"').replace('v1-strict', 'v9') }]));
    await Then('a version tag no form version has is refused at deploy naming the task', () => assert.match(JSON.stringify(missingTag.details), /ByTag.*v9/));
  } finally {
    await t.close();
  }
});

test('Given a user task with camunda:formData, When completed, Then type, required, min/max, minlength/maxlength, enum and readonly are checked per field', async () => {
  const t = await testEngine();
  try {
    await Given('the Camunda 7 diagram with a generated form deployed', () => t.engine.deploy([{ name: 'claim-intake-formdata.bpmn', content: fixture('forms-c8/claim-intake-formdata.bpmn') }]));
    const { inst, task } = await openTask(t, 'claim-intake-formdata');
    const detail = await t.engine.getTask(task.id, olga);
    await Then('the task representation lists the fields', () => {
      assert.is(detail.form?.format, 'camunda-form-data');
      assert.equal(
        (detail.form as any).fields.map((f: any) => [f.id, f.type]),
        [
          ['claimant', 'string'],
          ['amount', 'long'],
          ['urgent', 'boolean'],
          ['lossDate', 'date'],
          ['kind', 'enum'],
          ['reference', 'string'],
        ],
      );
      assert.is(detail.formSchema, null);
    });
    const missing = await When('completed with nothing', () => refusal(t.engine.completeTask(task.id, {}, olga)));
    assert.equal(fields(missing), { claimant: 'required', amount: 'required' });
    const bad = await refusal(t.engine.completeTask(task.id, { claimant: 'Jo', amount: 1.5, urgent: 'no', lossDate: '07/01/2026', kind: 'boat', reference: 'R-1' }, olga));
    await Then('every broken field is named', () =>
      assert.equal(fields(bad), { claimant: 'minLength', amount: 'type', urgent: 'type', lossDate: 'format', kind: 'enum', reference: 'readOnly' }),
    );
    const over = await refusal(t.engine.completeTask(task.id, { claimant: 'x'.repeat(41), amount: 100001 }, olga));
    assert.equal(fields(over), { claimant: 'maxLength', amount: 'maximum' });
    await When('completed well', () => t.engine.completeTask(task.id, { claimant: 'Joan', amount: 4200, urgent: true, lossDate: '2026-01-04', kind: 'motor' }, olga));
    assert.is((await t.engine.getInstance(inst.id, admin)).status, 'completed');
    const wrong = await refusal(
      t.engine.deploy([
        {
          name: 'custom.bpmn',
          content: fixture('forms-c8/claim-intake-formdata.bpmn')
            .replace('id="claim-intake-formdata"', 'id="custom-formdata"')
            .replace('type="boolean"', 'type="com.acme.MoneyType"')
            .replace('<camunda:constraint name="min" config="1" />', '<camunda:constraint name="validator" config="com.acme.Check" />'),
        },
      ]),
    );
    await Then('a custom type and a validator class are refused at deploy naming the task', () => {
      const msgs = (wrong.details as { element: string; message: string }[]).filter((p) => p.element === 'Intake').map((p) => p.message).join(' | ');
      assert.match(msgs, /com\.acme\.MoneyType/);
      assert.match(msgs, /validator/);
    });
  } finally {
    await t.close();
  }
});

test('Given form keys outside the deployment (app:, embedded:app:, camunda-forms:app:, a URL), Then they deploy, are handed over as written and not validated', async () => {
  const t = await testEngine();
  try {
    await Given('the diagram deployed without any form', () => t.engine.deploy([{ name: 'external-forms.bpmn', content: fixture('forms-c8/external-forms.bpmn') }]));
    const { inst, task } = await openTask(t, 'external-forms');
    const seen: unknown[] = [];
    let current = task;
    for (;;) {
      const d = await t.engine.getTask(current.id, olga);
      seen.push(d.form);
      await t.engine.completeTask(current.id, { anything: [1, 'goes'] }, olga);
      const next = (await t.engine.getInstance(inst.id, admin)).openTasks[0];
      if (!next) break;
      current = next;
    }
    await Then('each task says format external, its key, validated false', () =>
      assert.equal(seen, [
        { format: 'external', key: 'app:forms/approve.html', validated: false },
        { format: 'external', key: 'embedded:app:forms/review.html', validated: false },
        { format: 'external', key: 'camunda-forms:app:forms/pay.form', validated: false },
        { format: 'external', key: 'https://forms.example.com/claims/close', validated: false },
      ]),
    );
    const unknown = await refusal(t.engine.deploy([{ name: 'x.bpmn', content: fixture('forms-c8/external-forms.bpmn').replace('id="external-forms"', 'id="x"').replace('app:forms/approve.html', 'no-such-form') }]));
    await And('a key that names no deployed form (and is not external) is still refused', () => assert.match(JSON.stringify(unknown.details), /no-such-form/));
  } finally {
    await t.close();
  }
});

test('Given .form files the server cannot validate, When deployed, Then the deployment is refused naming the file and the component', async () => {
  const t = await testEngine();
  try {
    const doc = JSON.parse(FORM);
    doc.components.push({ type: 'signature', id: 'Field_sign', key: 'signature', label: 'Sign' });
    doc.components[4].validate.pattern = '^POL-(\\d{6}$';
    doc.components[3].validate.max = '=limit';
    const err = await When('a form with an unknown keyed component, a malformed pattern and an expression limit is deployed', () => refusal(t.engine.deploy([{ name: 'forms/bad.form', content: JSON.stringify(doc) }])));
    await Then('each problem names the file and the component', () => {
      assert.is(err.code, 'BPMN_INVALID');
      const ps = err.details as { resource: string; element: string; message: string }[];
      assert.ok(ps.every((p) => p.resource === 'forms/bad.form'));
      assert.equal(ps.map((p) => p.element).sort(), ['Field_amount', 'Field_policy', 'Field_sign']);
      assert.match(ps.find((p) => p.element === 'Field_sign')!.message, /"signature"/);
      assert.match(ps.find((p) => p.element === 'Field_policy')!.message, /regular expression/);
    });
    const noId = await refusal(t.engine.deploy([{ name: 'anon.form', content: JSON.stringify({ ...doc, id: undefined, components: [] }) }]));
    assert.match(noId.message, /no "id"/);
    const asJson = await refusal(t.engine.deploy([{ name: 'forms/claim-decision.schema.json', content: FORM }]));
    await And('a Camunda form named .schema.json is refused with what to name it', () => assert.match(asJson.message, /name the file \.form/));
  } finally {
    await t.close();
  }
});

test('HTTP over a socket: multipart deploy of a .form and a Camunda 8 diagram, GET /api/forms/:key, GET /api/tasks/:id returns the form as stored, a 400 per field, then 200', async () => {
  const t = await testEngine();
  const app = await buildApp({ engine: t.engine });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${addr.port}/api`;
    const ana = (await t.engine.users.add({ name: 'ana', roles: ['analyst'], groups: [] })).token;
    const olgaToken = (await t.engine.users.add({ name: 'olga', roles: ['ops'], groups: ['adjusters'] })).token;
    await t.engine.grant({ group: 'adjusters', resourceType: 'process-definition', resourceId: 'claim-decision-c8', permissions: ['start'] }, admin);
    const call = (token: string, method: string, path: string, body?: unknown) =>
      fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });

    const form = new FormData();
    form.append('file', new Blob([FORM]), 'forms/claim-decision.form');
    form.append('file', new Blob([fixture('forms-c8/claim-decision-c8.bpmn')]), 'claim-decision-c8.bpmn');
    const dep = await fetch(`${base}/deployments`, { method: 'POST', headers: { authorization: `Bearer ${ana}` }, body: form });
    assert.is(dep.status, 201, await dep.clone().text());
    assert.equal((await dep.json()).forms, [{ formKey: 'claim-decision', version: 1, created: true }]);

    const listed = await call(ana, 'GET', '/forms/claim-decision');
    assert.is(listed.status, 200);
    const versions = (await listed.json()).versions;
    assert.equal(versions.map((v: any) => [v.version, v.resourceName]), [[1, 'forms/claim-decision.form']]);
    assert.equal(versions[0].schema, JSON.parse(FORM));

    const started = await call(olgaToken, 'POST', '/process-definitions/claim-decision-c8/start', { variables: {} });
    assert.is(started.status, 201, await started.clone().text());
    const taskId = (await started.json()).openTasks[0].id;
    const got = await call(olgaToken, 'GET', `/tasks/${taskId}`);
    assert.is(got.status, 200);
    const detail = await got.json();
    assert.is(detail.formKey, 'claim-decision');
    assert.is(detail.formSchema, null, 'formSchema stays the JSON Schema of JSON Schema forms');
    assert.equal(detail.form, { format: 'form-js', key: 'claim-decision', validated: true, dynamicOptions: true, schema: JSON.parse(FORM) });

    const bad = await call(olgaToken, 'POST', `/tasks/${taskId}/complete`, { variables: { ...GOOD, decision: 'maybe', policyNo: 'x', approvedAmount: -5, reason: undefined, payee: { iban: 'DE89370400440532013000' }, documents: undefined } });
    assert.is(bad.status, 400);
    const body = await bad.json();
    assert.is(body.code, 'VALIDATION_FAILED');
    assert.equal(body.details, [
      { field: 'decision', message: 'must be one of "approve", "reject"', keyword: 'enum' },
      { field: 'approvedAmount', message: 'must be at least 0', keyword: 'minimum' },
      { field: 'policyNo', message: 'must match the pattern ^POL-\\d{6}$', keyword: 'pattern' },
    ]);
    const missing = await call(olgaToken, 'POST', `/tasks/${taskId}/complete`, { variables: { decision: 'reject' } });
    assert.is(missing.status, 400);
    assert.equal((await missing.json()).details.map((d: any) => [d.field, d.keyword]), [
      ['rejectionReason', 'required'],
      ['approvedAmount', 'required'],
      ['policyNo', 'required'],
      ['payee.iban', 'required'],
    ]);
    const ok = await call(olgaToken, 'POST', `/tasks/${taskId}/complete`, { variables: GOOD });
    assert.is(ok.status, 200, await ok.clone().text());
    assert.is((await ok.json()).status, 'completed');
  } finally {
    await app.close();
    await t.close();
  }
});

/**
 * Debian's chromium (apt-get install -y chromium), driven by playwright-core: the scenario is skipped, saying so,
 * on a machine without it (CHROMIUM_PATH names another binary).
 */
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p)) ?? null;
if (!CHROMIUM) console.warn('camunda-forms: no chromium found (apt-get install -y chromium): the form-js-viewer rendering scenario is skipped');

(CHROMIUM ? test : test.skip)('In Chromium: the form GET /api/tasks/:id returns renders with @bpmn-io/form-js-viewer, and the viewer finds the required fields the server reports', async () => {
  const require = createRequire(import.meta.url);
  const { chromium } = await import('playwright-core');
  const esbuild = await import('esbuild');
  const t = await testEngine();
  const app = await buildApp({ engine: t.engine });
  let page: Server | null = null;
  const browser = await chromium.launch({ executablePath: CHROMIUM as string, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const apiPort = (app.server.address() as { port: number }).port;
    const token = (await t.engine.users.add({ name: 'olga', roles: ['ops'], groups: ['adjusters'] })).token;
    await t.engine.deploy([
      { name: 'forms/claim-decision.form', content: FORM },
      { name: 'claim-decision-c8.bpmn', content: fixture('forms-c8/claim-decision-c8.bpmn') },
    ]);
    const { task } = await openTask(t, 'claim-decision-c8', { shops: [{ label: 'Garage Dupont', value: 'dupont' }] });

    // the viewer as a web client bundles it: its ES module from node_modules, for the browser
    const bundle = await esbuild.build({ stdin: { contents: "export { Form } from '@bpmn-io/form-js-viewer';", resolveDir: process.cwd() }, bundle: true, format: 'iife', globalName: 'FormJs', platform: 'browser', write: false, logLevel: 'silent' });
    const css = readFileSync(require.resolve('@bpmn-io/form-js-viewer/dist/assets/form-js.css'), 'utf8');
    const html = `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/form-js.css"></head><body><div id="form"></div>
<script src="/viewer.js"></script>
<script>
(async () => {
  const res = await fetch('/api/tasks/${task.id}', { headers: { authorization: 'Bearer ${token}' } });
  const detail = await res.json();
  window.detailForm = { format: detail.form.format, validated: detail.form.validated };
  const form = new FormJs.Form({ container: document.getElementById('form') });
  await form.importSchema(detail.form.schema, detail.variables);
  window.viewer = form;
  window.rendered = true;
})().catch((e) => { window.renderError = String((e && e.stack) || e); });
</script></body></html>`;
    // one origin for the page and the API (the API has no CORS): /api/* is passed to insureflow as it is
    page = createServer(async (req, res) => {
      if (req.url?.startsWith('/api/')) {
        const upstream = await fetch(`http://127.0.0.1:${apiPort}${req.url}`, { headers: { authorization: String(req.headers.authorization ?? '') } });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      } else if (req.url === '/viewer.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle.outputFiles[0].text);
      } else if (req.url === '/form-js.css') {
        res.writeHead(200, { 'content-type': 'text/css' }).end(css);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' }).end(html);
      }
    });
    await new Promise<void>((resolve) => page!.listen(0, '127.0.0.1', resolve));
    const pagePort = (page.address() as { port: number }).port;

    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${pagePort}/`);
    await tab.waitForFunction(() => (window as any).rendered === true || (window as any).renderError !== undefined, undefined, { timeout: 60_000 });
    const failed = await tab.evaluate(() => (window as any).renderError ?? null);
    assert.is(failed, null, `the viewer failed: ${failed}`);
    assert.equal(await tab.evaluate(() => (window as any).detailForm), { format: 'form-js', validated: true });
    const labels = (await tab.locator('.fjs-form-field-label').allInnerTexts()).map((l) => l.replace(/\*/g, '').trim());
    for (const l of ['Decision', 'Approved amount', 'Policy number', 'Adjuster email', 'IBAN', 'Item', 'Repair shop']) assert.ok(labels.includes(l), `label ${l} in ${JSON.stringify(labels)}`);
    assert.is(await tab.locator('input[type=number], input[inputmode=decimal], input[inputmode=numeric]').count() >= 1, true, 'a number input');
    // the viewer's own validation of an empty form names the fields the server requires
    const clientErrors = await tab.evaluate(() => Object.keys((window as any).viewer.submit().errors).sort());
    const server = await refusal(t.engine.completeTask(task.id, {}, olga));
    const serverFields = (server.details as { field: string }[]).map((d) => d.field);
    for (const id of ['Field_decision', 'Field_amount', 'Field_policy', 'Field_iban']) assert.ok(clientErrors.some((k: string) => k.startsWith(id)), `${id} in ${clientErrors}`);
    assert.equal(serverFields, ['decision', 'approvedAmount', 'policyNo', 'payee.iban']);
  } finally {
    await browser.close();
    if (page) await new Promise((resolve) => page!.close(resolve));
    await app.close();
    await t.close();
  }
});

test.run();
