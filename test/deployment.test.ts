/**
 * Deployment is one atomic, idempotent operation, with the shipped processes/ folder: deploying it again creates
 * nothing (also after a restart, also over HTTP); a one-row DMN change deployed over HTTP or with the CLI is
 * version N+1 and new claims use it at once, while claims waiting on v1 finish with what their binding gave
 * them; a refused deployment leaves the definition, decision, form, deployment, resource and history tables
 * byte-for-byte unchanged; a start-up compares the folder with the previous start-up and never rolls back an
 * analyst's deployment; ?name= names a deployment, the content tells a resource's kind, form keys keep their
 * folders. Runs on SQLite, or PostgreSQL with DATABASE_URL (each suite in its own schema; the CLI child process
 * is pointed at it with a search_path option).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { domain, noIncidents, DAY, processesDir, type Domain } from './insurance.ts';
import { testEngine, onPostgres, TEST_DB_URL, admin, here, type TestEngine } from './helpers.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';
import { registerInsuranceDomain } from '../src/processes/index.ts';
import { readProcessDir, startupResources } from '../src/server.ts';
import { replayInstance } from '../src/audit/replay.ts';
import { formKeyOf, resourceKind } from '../src/engine/deployment.ts';

const repoRoot = join(here, '..');
const CLASSIFICATION = readFileSync(join(processesDir, 'decisions', 'claim-classification.dmn'), 'utf8');
/** One row changed: small claims are approved automatically up to 4,000 instead of 2,500. */
const CLASSIFICATION_V2 = CLASSIFICATION.replace(
  '<outputEntry id="ClaimClassification_Small_out2"><text>2500</text></outputEntry>',
  '<outputEntry id="ClaimClassification_Small_out2"><text>4000</text></outputEntry>',
);
/** Another row changed (v3). */
const CLASSIFICATION_V3 = CLASSIFICATION.replace(
  '<outputEntry id="ClaimClassification_Small_out2"><text>2500</text></outputEntry>',
  '<outputEntry id="ClaimClassification_Small_out2"><text>3000</text></outputEntry>',
);
/** Not deployable: a condition that is not FEEL. */
const CLASSIFICATION_BROKEN = CLASSIFICATION.replace('<inputEntry id="ClaimClassification_Small_in1"><text>&lt;= 10000</text>', '<inputEntry id="ClaimClassification_Small_in1"><text>&lt;= = 10000</text>');

const TABLES: [string, string][] = [
  ['process_definitions', 'id'],
  ['decision_definitions', 'id'],
  ['form_schemas', 'id'],
  ['deployments', 'id'],
  ['resources', 'id'],
  ['history_events', 'id'],
  ['jobs', 'id'],
];

/** Every row of the tables a deployment writes, in primary-key order: equal dumps mean nothing was written. */
async function dump(db: Knex): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const [table, key] of TABLES) out[table] = await db(table).orderBy(key).select('*');
  return JSON.stringify(out);
}

async function count(db: Knex, table: string, where: Record<string, unknown> = {}): Promise<number> {
  return Number(((await db(table).where(where).count({ n: '*' })) as any)[0].n);
}

function multipart(files: { name: string; content: string }[]) {
  const boundary = `----insureflow${randomBytes(6).toString('hex')}`;
  let body = '';
  for (const f of files) {
    body += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${f.name}"\r\nContent-Type: application/octet-stream\r\n\r\n${f.content}\r\n`;
  }
  body += `--${boundary}--\r\n`;
  return { payload: body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

async function deployHttp(d: Domain, body: { payload: string; headers: Record<string, string> } | string, query = '') {
  const res = await d.app.inject({
    method: 'POST',
    url: `/api/deployments${query}`,
    ...(typeof body === 'string' ? { payload: body, headers: { 'content-type': 'application/xml' } } : body),
    headers: { ...(typeof body === 'string' ? { 'content-type': 'application/xml' } : body.headers), authorization: `Bearer ${d.tokens.analyst}` },
  });
  return { status: res.statusCode, body: res.json() };
}

const lossDate = (d: Domain, daysAgo = 2) => new Date(d.t.clock.now() - daysAgo * DAY).toISOString().slice(0, 10);

/**
 * A water claim of 3,500 (payout 3,000 after the 500 deductible): manual review under v1 (limit 2,500), automatic
 * under v2 (4,000). Two claims with the same `daysAgo` are the same loss (a possible duplicate: never automatic).
 */
async function waterClaim(d: Domain, daysAgo = 2): Promise<{ claimNo: string; processInstanceId: string }> {
  const res = await d.call('cs', 'POST', '/api/claims', { channel: 'phone', lossDate: lossDate(d, daysAgo), description: 'Burst pipe in the kitchen', policyNo: d.demo.policies[0].policyNo, peril: 'water', claimedAmount: 3500 });
  assert.is(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function evaluations(d: Domain, instanceId: string, key = 'ClaimClassification') {
  const res = await d.call('analyst', 'GET', `/api/process-instances/${instanceId}/decisions`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return (res.body as any[]).filter((e) => e.decisionKey === key);
}

/** A fresh engine on the same database, as after a restart (empty caches), with the insurance handlers. */
function restarted(t: TestEngine): InsureflowEngine {
  const engine = new InsureflowEngine({ db: t.tdb.db, clock: t.clock });
  registerInsuranceDomain(engine);
  return engine;
}

// ------------------------------------------------------------------------------------------ the shipped folder

const shipped = suite<{ t: TestEngine; first: string }>('the shipped processes/ folder');
shipped.before(async (ctx) => {
  ctx.t = await testEngine();
  registerInsuranceDomain(ctx.t.engine);
});
shipped.after(async (ctx) => ctx.t.close());

shipped('a start-up deploys it once; a restart with unchanged files creates nothing; the same bundle again creates nothing', async ({ t }) => {
  const { name, resources } = await startupResources({ processesDir, processesDirExplicit: true });
  const first = await t.engine.deploy(resources, { source: 'startup', name });
  assert.ok(first.created && first.deploymentId);
  assert.equal(first.definitions.map((x) => [x.key, x.version, x.created]).sort(), [['claims', 1, true], ['complaint', 1, true], ['consultation', 1, true], ['dispute', 1, true], ['policy-cancellation', 1, true], ['policy-change', 1, true], ['policy-renewal', 1, true], ['product-development', 1, true], ['sales', 1, true]]);
  assert.is(first.decisions.length, 10);
  assert.ok(first.forms.some((f) => f.formKey === 'claims-manual-review' && f.created));
  assert.is(await count(t.tdb.db, 'deployments'), 1);
  const before = await dump(t.tdb.db);
  for (let i = 0; i < 3; i++) {
    const again = await restarted(t).deploy(resources, { source: 'startup', name });
    assert.equal([again.created, again.deploymentId], [false, null], `restart ${i + 1}`);
    assert.ok(again.definitions.every((x) => !x.created) && again.decisions.every((x) => !x.created) && again.forms.every((x) => !x.created));
  }
  const viaApi = await restarted(t).deploy(resources, { source: 'api', actor: admin });
  assert.equal([viaApi.created, viaApi.deploymentId], [false, null], 'per resource: unchanged content is no new version');
  assert.is(await dump(t.tdb.db), before, 'nothing written');
});

shipped('a deployment of the same keys racing another one takes the next version instead of failing', async ({ t }) => {
  const [a, b] = await Promise.all([
    t.engine.deploy([{ name: 'decisions/claim-classification.dmn', content: CLASSIFICATION_V2 }], { actor: admin }),
    restarted(t).deploy([{ name: 'decisions/claim-classification.dmn', content: CLASSIFICATION_V3 }], { actor: admin }),
  ]);
  assert.equal([a.decisions[0].version, b.decisions[0].version].sort(), [2, 3]);
  assert.equal((await t.tdb.db('decision_definitions').where({ decision_key: 'ClaimClassification' }).orderBy('version').select('version')).map((r: any) => Number(r.version)), [1, 2, 3]);
});

shipped('six deployments of one key at once (several engines on one database) each take the next version, none fails', async ({ t }) => {
  const before = (await t.tdb.db('decision_definitions').where({ decision_key: 'ClaimClassification' }).max({ v: 'version' }).first()) as { v: number };
  const variants = Array.from({ length: 6 }, (_, i) => CLASSIFICATION_V2.replace('</definitions>', `<!-- analyst change ${i} --></definitions>`));
  const outcomes = await Promise.allSettled(variants.map((content, i) => (i % 2 ? restarted(t) : t.engine).deploy([{ name: 'decisions/claim-classification.dmn', content }], { actor: admin })));
  assert.equal(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason)), []);
  const versions = outcomes.map((o) => (o as PromiseFulfilledResult<{ decisions: { version: number }[] }>).value.decisions[0].version).sort((a, b) => a - b);
  assert.equal(versions, Array.from({ length: 6 }, (_, i) => Number(before.v) + 1 + i));
});

shipped('timer start events: a new version replaces the jobs of the older ones, in the same transaction; none when it has none', async ({ t }) => {
  const timerXml = readFileSync(join(here, 'fixtures', 'cycle-start.bpmn'), 'utf8');
  t.engine.registerHandler('tick', () => ({}));
  const jobsOf = async () => (await t.tdb.db('jobs').where({ type: 'timer-start' }).orderBy('definition_id').select('definition_id')).map((r: any) => r.definition_id);
  const v1 = await t.engine.deploy([{ name: 'cycle.bpmn', content: timerXml }]);
  assert.equal(await jobsOf(), [v1.definitions[0].id]);
  const plain = timerXml.replace(/<bpmn:timerEventDefinition>.*<\/bpmn:timerEventDefinition>/, '');
  await t.engine.deploy([{ name: 'cycle.bpmn', content: plain }]);
  assert.equal(await jobsOf(), [], 'version 2 has no timer start event');
  const v3 = await t.engine.deploy([{ name: 'cycle.bpmn', content: timerXml.replace('R3/PT1H', 'R2/PT1H') }]);
  assert.equal(await jobsOf(), [v3.definitions[0].id]);
});

// ------------------------------------------------------------------------------------------ HTTP

const http = suite<{ d: Domain }>('a DMN change over HTTP');
http.before(async (ctx) => {
  ctx.d = await domain();
});
http.after(async (ctx) => ctx.d.close());

http('a refused deployment (a changed DMN with a broken diagram, or a broken DMN) stores nothing at all', async ({ d }) => {
  const before = await dump(d.t.tdb.db);
  const brokenBpmn = readFileSync(join(processesDir, 'claims.bpmn'), 'utf8').replace('camunda:type="external" camunda:topic="claims.register"', 'camunda:delegateExpression="${claimsNoSuchHandler}"');
  const bundle = await deployHttp(d, multipart([{ name: 'decisions/claim-classification.dmn', content: CLASSIFICATION_V2 }, { name: 'claims.bpmn', content: brokenBpmn }]));
  assert.is(bundle.status, 422, JSON.stringify(bundle.body));
  assert.is(bundle.body.code, 'BPMN_INVALID');
  assert.ok(bundle.body.details.some((p: any) => p.resource === 'claims.bpmn' && p.element === 'Task_RegisterClaim' && /claimsNoSuchHandler/.test(p.message)));
  const dmn = await deployHttp(d, CLASSIFICATION_BROKEN);
  assert.is(dmn.status, 422, JSON.stringify(dmn.body));
  assert.ok(dmn.body.details.some((p: any) => p.element === 'ClaimClassification_Small'), JSON.stringify(dmn.body.details));
  assert.is(await dump(d.t.tdb.db), before, 'no version, no deployment, no resource, no history event, no operation-log entry');
});

http('a one-row DMN change is version 2, used by new claims at once; claims waiting on v1 finish with what v1 gave them', async ({ d }) => {
  // Given a claim classified by v1 and waiting for its manual review (payout 3,000 > limit 2,500)
  const waiting = await waterClaim(d);
  const w = await d.instance(waiting.processInstanceId);
  assert.equal(w.activeActivities, ['Task_ManualReview']);
  assert.equal((await evaluations(d, waiting.processInstanceId)).map((e) => [e.decisionVersion, e.binding, e.result.autoApprovalLimit]), [[1, 'latest', 2500]]);

  // When an analyst deploys the changed table alone (the kind comes from the content; ?name= names the deployment)
  const res = await deployHttp(d, CLASSIFICATION_V2, '?name=raise-small-claim-limit');
  assert.is(res.status, 201, JSON.stringify(res.body));
  assert.equal([res.body.definitions, res.body.forms, res.body.decisions], [[], [], [{ decisionKey: 'ClaimClassification', version: 2, created: true }]]);
  const dep = await d.t.tdb.db('deployments').where({ id: res.body.deploymentId }).first();
  assert.equal([dep.name, dep.source, dep.deployed_by], ['raise-small-claim-limit', 'api', 'analyst']);
  assert.equal((await d.t.tdb.db('resources').where({ deployment_id: dep.id }).select('name', 'kind')).map((r: any) => [r.name, r.kind]), [['ClaimClassificationDefinitions.dmn', 'dmn']]);
  const again = await deployHttp(d, CLASSIFICATION_V2);
  assert.equal([again.status, again.body.created, again.body.deploymentId], [200, false, null], 'the same table again: nothing new');

  // Then a new claim uses v2 at once: approved automatically and paid
  const fresh = await waterClaim(d, 3);
  const f = await d.instance(fresh.processInstanceId);
  noIncidents(f);
  assert.is(f.status, 'completed');
  assert.equal((await evaluations(d, fresh.processInstanceId)).map((e) => [e.decisionVersion, e.result.autoApprovalLimit]), [[2, 4000]]);

  // and the claim that waited finishes with its v1 classification (its binding, latest, was evaluated at its start)
  await d.complete('adjuster', waiting.processInstanceId, 'Task_ManualReview', { reviewDecision: 'approve' });
  await d.advance(DAY);
  const done = await d.instance(waiting.processInstanceId);
  noIncidents(done);
  assert.is(done.status, 'completed');
  assert.is(done.variables.autoApprovalLimit, 2500);
  assert.equal((await evaluations(d, waiting.processInstanceId)).map((e) => e.decisionVersion), [1]);

  // the history names the version each time, and replay of both is consistent (each on its recorded version)
  for (const id of [waiting.processInstanceId, fresh.processInstanceId]) {
    const r = await replayInstance(d.t.tdb.db, id);
    assert.ok(r.consistent, JSON.stringify(r.divergence));
    assert.equal(r.notes, []);
  }
  const versions = await d.call('analyst', 'GET', '/api/decisions/ClaimClassification');
  assert.equal(versions.body.versions.map((v: any) => v.version), [1, 2]);
});

http('the resource kind comes from the content; form keys keep their folders', async ({ d }) => {
  const form = JSON.stringify({ type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } });
  const res = await deployHttp(d, multipart([{ name: 'forms/intake/triage.schema.json', content: form }, { name: 'fraud-rules', content: readFileSync(join(processesDir, 'decisions', 'fraud-indicators.dmn'), 'utf8').replace('FraudIndicators"', 'FraudIndicators" ') }]));
  assert.is(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.forms, [{ formKey: 'intake/triage', version: 1, created: true }]);
  assert.equal(res.body.decisions.map((x: any) => [x.decisionKey, x.version]), [['FraudIndicators', 2]]);
  const got = await d.call('analyst', 'GET', '/api/forms/intake/triage');
  assert.is(got.status, 200, JSON.stringify(got.body));
  assert.equal(got.body.versions[0].schema.required, ['reason']);
  const forbidden = await d.call('adjuster', 'GET', '/api/forms/intake/triage');
  assert.is(forbidden.status, 403);
  const unknown = await deployHttp(d, multipart([{ name: 'notes', content: 'hello' }]));
  assert.is(unknown.status, 422);
  assert.match(unknown.body.details[0].message, 'unknown resource type');
  // unit: kinds and keys
  assert.equal(
    [resourceKind('x', '<?xml version="1.0"?>\n<!-- c --><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'), resourceKind('x.xml', CLASSIFICATION), resourceKind('x', ' {"type":"object"}'), resourceKind('a.bpmn', ''), resourceKind('x', 'text')],
    ['bpmn', 'dmn', 'form', 'bpmn', null],
  );
  assert.equal([formKeyOf('forms/intake/triage.schema.json'), formKeyOf('processes/forms/claims.start.schema.json'), formKeyOf('review.schema.json'), formKeyOf('platforms/x.schema.json')], ['intake/triage', 'claims.start', 'review', 'x']);
});

// ------------------------------------------------------------------------------------------ start-up

const startup = suite<{ t: TestEngine; dir: string }>('start-up deployments');
startup.before(async (ctx) => {
  ctx.t = await testEngine();
  registerInsuranceDomain(ctx.t.engine);
  ctx.dir = join(mkdtempSync(join(tmpdir(), 'insureflow-processes-')), 'processes');
  cpSync(processesDir, ctx.dir, { recursive: true });
});
startup.after(async (ctx) => ctx.t.close());

async function latestVersion(db: Knex, key: string): Promise<number> {
  return Number(((await db('decision_definitions').where({ decision_key: key }).max({ v: 'version' })) as any)[0].v);
}

startup('a restart never rolls back an analyst deployment; a file changed in the folder is deployed, alone', async ({ t, dir }) => {
  const boot = async () => {
    const { name, resources } = await startupResources({ processesDir: dir, processesDirExplicit: true });
    return restarted(t).deploy(resources, { source: 'startup', name });
  };
  assert.ok((await boot()).created);
  // an analyst deploys ClaimClassification v2 over the API
  const http = await t.engine.deploy([{ name: 'claim-classification.dmn', content: CLASSIFICATION_V2 }], { actor: { name: 'ana', roles: ['analyst'], groups: [] }, source: 'api' });
  assert.equal(http.decisions, [{ decisionKey: 'ClaimClassification', version: 2, created: true }]);
  // restarts with the folder unchanged: nothing, and v2 stays the latest
  const before = await dump(t.tdb.db);
  for (let i = 0; i < 2; i++) {
    const r = await boot();
    assert.equal([r.created, r.deploymentId], [false, null]);
    assert.equal(r.decisions.find((x) => x.decisionKey === 'ClaimClassification'), { decisionKey: 'ClaimClassification', version: 1, created: false }, 'the folder holds v1');
  }
  assert.is(await dump(t.tdb.db), before);
  assert.is(await latestVersion(t.tdb.db, 'ClaimClassification'), 2);
  // a row changed in another table of the folder: that table is deployed, nothing else; v2 of the other stays
  const file = join(dir, 'decisions', 'fraud-indicators.dmn');
  writeFileSync(file, readFileSync(file, 'utf8').replace('FraudIndicators"', 'FraudIndicators" '));
  const changed = await boot();
  assert.ok(changed.created);
  assert.equal(changed.decisions.filter((x) => x.created), [{ decisionKey: 'FraudIndicators', version: 2, created: true }]);
  assert.ok(changed.definitions.every((x) => !x.created) && changed.forms.every((x) => !x.created));
  assert.is(await latestVersion(t.tdb.db, 'ClaimClassification'), 2);
  assert.equal((await t.tdb.db('resources').where({ deployment_id: changed.deploymentId }).select('name')).map((r: any) => r.name), ['decisions/fraud-indicators.dmn']);
  const event = (await t.tdb.db('history_events').where({ chain_id: 'deployments' }).orderBy('seq', 'desc').first()) as any;
  assert.equal(JSON.parse(event.data).decisions, [{ decisionKey: 'FraudIndicators', version: 2, created: true }]);
  // and again: nothing
  const after = await dump(t.tdb.db);
  assert.equal((await boot()).deploymentId, null);
  assert.is(await dump(t.tdb.db), after);
});

startup('the same folder written another way (relative, absolute, trailing slash, a symlink) is the same start-up: no rollback', async ({ t, dir }) => {
  const link = join(mkdtempSync(join(tmpdir(), 'insureflow-link-')), 'procs');
  symlinkSync(dir, link);
  const spellings = [dir, `${dir}/`, relative(process.cwd(), dir), link];
  const names = await Promise.all(spellings.map(async (d) => (await startupResources({ processesDir: d, processesDirExplicit: true })).name));
  assert.equal(new Set(names).size, 1, `one deployment name: ${names.join(' | ')}`);
  const latest = await latestVersion(t.tdb.db, 'ClaimClassification');
  for (const d of spellings) {
    const { name, resources } = await startupResources({ processesDir: d, processesDirExplicit: true });
    assert.is((await restarted(t).deploy(resources, { source: 'startup', name })).deploymentId, null, d);
  }
  // a start-up under a name never seen before (an older database, a moved checkout) rolls nothing back either
  const { resources } = await startupResources({ processesDir: dir, processesDirExplicit: true });
  const moved = await restarted(t).deploy(resources, { source: 'startup', name: '/somewhere/else/processes' });
  assert.is(moved.decisions.find((x) => x.decisionKey === 'ClaimClassification')?.created, false);
  assert.is(await latestVersion(t.tdb.db, 'ClaimClassification'), latest, 'the analyst version stays the latest');
});

startup('a missing or empty processes folder: a warning, or CONFIG_INVALID when it was set explicitly', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'insureflow-empty-'));
  for (const processesDir of [empty, join(empty, 'missing')]) {
    const soft = await startupResources({ processesDir, processesDirExplicit: false });
    assert.equal(soft.resources, []);
    assert.match(soft.warning ?? '', processesDir);
    try {
      await startupResources({ processesDir, processesDirExplicit: true });
      assert.unreachable('explicit: an error');
    } catch (err: any) {
      assert.is(err.code, 'CONFIG_INVALID');
      assert.match(err.message, 'INSUREFLOW_PROCESSES_DIR');
    }
  }
});

// ------------------------------------------------------------------------------------------ CLI

const cli = suite<{ d: Domain; url: string; dir: string }>('insureflow deploy');
cli.before(async (ctx) => {
  ctx.d = await domain();
  // the CLI child process opens the suite's database: the SQLite file, or the suite's PostgreSQL schema
  const schema = ctx.d.t.tdb.schema;
  ctx.url = onPostgres ? `${TEST_DB_URL}${TEST_DB_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}` : ctx.d.t.tdb.url;
  ctx.dir = mkdtempSync(join(tmpdir(), 'insureflow-cli-'));
});
cli.after(async (ctx) => ctx.d.close());

function runCli(url: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent' };
    const child = spawn(process.execPath, [join(repoRoot, 'src', 'bin', 'insureflow.mjs'), 'deploy', ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

cli('a DMN-only change is version 2 and new claims use it at once; unchanged says so; a refused one exits 1 with the reasons, nothing stored', async ({ d, url, dir }) => {
  mkdirSync(join(dir, 'decisions'), { recursive: true });
  writeFileSync(join(dir, 'decisions', 'claim-classification.dmn'), CLASSIFICATION_V2);
  // a sibling the CLI must not deploy
  writeFileSync(join(dir, 'decisions', 'other.dmn'), CLASSIFICATION_V3.replace(/ClaimClassification/g, 'OtherRule'));
  const first = await runCli(url, ['decisions/claim-classification.dmn'], dir);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, /decision ClaimClassification v2 created/);
  assert.match(first.stdout, /deployment [0-9a-f-]{36}/);
  assert.is(await count(d.t.tdb.db, 'decision_definitions', { decision_key: 'OtherRule' }), 0, 'only the file named');
  // the running engine uses it for the next claim, without a restart
  const claim = await waterClaim(d);
  assert.is((await d.instance(claim.processInstanceId)).status, 'completed');
  assert.equal((await evaluations(d, claim.processInstanceId)).map((e) => [e.decisionVersion, e.result.autoApprovalLimit]), [[2, 4000]]);

  const before = await dump(d.t.tdb.db);
  const same = await runCli(url, ['decisions/claim-classification.dmn'], dir);
  assert.is(same.code, 0, same.stderr);
  assert.match(same.stdout, /decision ClaimClassification v2 unchanged/);
  assert.match(same.stdout, /nothing changed/);
  writeFileSync(join(dir, 'broken.dmn'), CLASSIFICATION_BROKEN);
  const broken = await runCli(url, ['broken.dmn', 'decisions/claim-classification.dmn'], dir);
  assert.is(broken.code, 1);
  assert.match(broken.stderr, 'BPMN_INVALID');
  assert.match(broken.stderr, 'broken.dmn: ClaimClassification_Small:');
  assert.not.match(broken.stderr, /^\s+at /m, 'no stack trace');
  assert.is(await dump(d.t.tdb.db), before, 'nothing stored');

  // a folder: its contents, named relative to it (form keys keep their folders)
  mkdirSync(join(dir, 'bundle', 'forms', 'intake'), { recursive: true });
  writeFileSync(join(dir, 'bundle', 'forms', 'intake', 'triage.schema.json'), JSON.stringify({ type: 'object' }));
  const folder = await runCli(url, ['bundle'], dir);
  assert.is(folder.code, 0, folder.stderr);
  assert.match(folder.stdout, /form {5}intake\/triage v1 created/);
});

shipped.run();
http.run();
startup.run();
cli.run();
