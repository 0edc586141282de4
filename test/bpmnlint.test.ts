/**
 * Analyst feedback (issue 11, section 5): deployments carry bpmnlint's findings as `warnings` (recommended rules,
 * plus bpmnlint-plugin-camunda-compat for the Camunda version a diagram was drawn for); they never block. Over the
 * engine, over HTTP (a real socket: the 201 and the 200 carry them), at start-up (only changed files are linted)
 * and with `insureflow lint` in a child process (exit codes 0/1/2, no database). Runs on SQLite, or PostgreSQL
 * with DATABASE_URL; the lint command opens no database either way.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDb, fixture, here, type TestDb } from './helpers.ts';
import { ManualClock } from '../src/engine/clock.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';
import { registerInsuranceDomain } from '../src/processes/index.ts';
import { readProcessDir } from '../src/server.ts';
import { buildApp } from '../src/http/app.ts';
import { bpmnLinter, compatConfigFor, lintBpmn } from '../src/definitions/lint.ts';
import { parseBpmn } from '../src/definitions/parse.ts';
import type { DeploymentLinter, DeploymentWarning } from '../src/engine/deployment.ts';

const repoRoot = join(here, '..');
const processesDir = join(repoRoot, 'processes');
const lintFixture = (name: string) => fixture(`lint/${name}`);
const PLAIN = lintFixture('plain-issues.bpmn');
const C7 = lintFixture('camunda7.bpmn');
const C8 = lintFixture('camunda8.bpmn');
const REFUSED = lintFixture('refused.bpmn');

/** The bpmnlint findings as `rule element` strings, sorted (no-bpmndi left out where a fixture has no drawing). */
const findings = (warnings: DeploymentWarning[], opts: { bpmndi?: boolean } = {}) =>
  warnings
    .filter((w) => w.source === 'bpmnlint' && (opts.bpmndi || w.rule !== 'no-bpmndi'))
    .map((w) => `${w.rule} ${w.element ?? '-'}`)
    .sort();

function newEngine(tdb: TestDb, lint: DeploymentLinter | undefined, logger?: { info(): void; warn(o: unknown, m?: string): void; error(): void }) {
  return new InsureflowEngine({ db: tdb.db, clock: new ManualClock('2026-01-05T09:00:00Z'), lint, ...(logger ? { logger } : {}) });
}

// ------------------------------------------------------------------------------------------ the linter

const unit = suite('bpmnlint: choosing the rules');

unit('the compat config follows the version Camunda Modeler wrote, else the dialect; none below the plugin oldest', async () => {
  assert.is(compatConfigFor('camunda-platform', '7.21.0'), 'camunda-platform-7-21');
  assert.is(compatConfigFor('camunda-platform', '7.17.0'), null, 'the plugin has no rules for Camunda 7.17');
  assert.is(compatConfigFor('camunda-platform', '7.99'), compatConfigFor('camunda-platform', '7.9999'), 'newer than known: the newest');
  assert.match(compatConfigFor('camunda-platform', '7.99') ?? '', /^camunda-platform-7-\d+$/);
  assert.is(compatConfigFor('camunda-cloud', '8.1.0'), 'camunda-cloud-8-1');
  assert.is(compatConfigFor('camunda-cloud', '8.6.3'), 'camunda-cloud-8-6');
  const c7 = await lintBpmn(await parseBpmn(C7));
  assert.equal([c7.target.platform, c7.target.compatConfig], ['camunda-platform', 'camunda-platform-7-21']);
  const c8 = await lintBpmn(await parseBpmn(C8));
  assert.equal([c8.target.platform, c8.target.compatConfig], ['camunda-cloud', 'camunda-cloud-8-1']);
  // without the modeler's attributes: the dialect's default version
  const bare = await lintBpmn(await parseBpmn(C7.replace(/ modeler:executionPlatform(Version)?="[^"]*"/g, '')));
  assert.equal([bare.target.platform, bare.target.compatConfig], ['camunda-platform', 'camunda-platform-7-22']);
  const plain = await lintBpmn(await parseBpmn(PLAIN));
  assert.equal([plain.target.platform, plain.target.extends], [null, ['bpmnlint:recommended']]);
  // a plain diagram that says it is for Camunda 7 gets the Camunda 7 rules
  const declared = await lintBpmn(await parseBpmn(PLAIN.replace('id="Defs_LintPlain"', 'xmlns:modeler="http://camunda.org/schema/modeler/1.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0" id="Defs_LintPlain"')));
  assert.is(declared.target.compatConfig, 'camunda-platform-7-20');
  assert.ok(declared.findings.some((f) => f.rule === 'camunda-compat/history-time-to-live' && f.element === 'lint-plain'));
});

unit('linting twice gives the same findings (bpmnlint rules keep state per Linter); a hand-written diagram is not "disconnected"', async () => {
  const once = await lintBpmn(await parseBpmn(PLAIN));
  const twice = await lintBpmn(await parseBpmn(PLAIN));
  assert.equal(twice.findings, once.findings);
  assert.not.ok(once.findings.some((f) => f.rule === 'no-duplicate-sequence-flows'));
  // refused.bpmn lists no incoming/outgoing: linted with the lists completed, so no no-disconnected / implicit start
  const refused = await lintBpmn(await parseBpmn(REFUSED));
  assert.equal(refused.findings.filter((f) => f.rule !== 'no-bpmndi').map((f) => `${f.rule} ${f.element}`).sort(), [
    'label-required Task_Unnamed',
    'no-complex-gateway Gateway_Complex',
    'superfluous-gateway Gateway_Complex',
  ]);
});

// ------------------------------------------------------------------------------------------ deploy (engine)

const deploy = suite<{ tdb: TestDb }>('bpmnlint: deploy');
deploy.before.each(async (ctx) => {
  ctx.tdb = await testDb();
});
deploy.after.each(async (ctx) => ctx.tdb.destroy());

deploy('a diagram with lint findings deploys and runs; the warnings name rule and element', async ({ tdb }) => {
  const engine = newEngine(tdb, bpmnLinter);
  const res = await engine.deploy([{ name: 'plain-issues.bpmn', content: PLAIN }]);
  assert.ok(res.created);
  assert.equal(findings(res.warnings), ['label-required Task_Unnamed', 'superfluous-gateway Gateway_Pointless']);
  const label = res.warnings.find((w) => w.rule === 'label-required')!;
  assert.equal(label, { resource: 'plain-issues.bpmn', element: 'Task_Unnamed', message: 'Element is missing label/name', source: 'bpmnlint', rule: 'label-required' });
  // no drawing at all: bpmnlint's no-bpmndi says so per element
  assert.ok(findings(res.warnings, { bpmndi: true }).includes('no-bpmndi Gateway_Pointless'));
  const inst = await engine.startInstance('lint-plain', {});
  assert.is((await engine.getInstance(inst.id)).status, 'completed');
  // deploying the same content again: unchanged, and the analyst still gets the findings
  const again = await engine.deploy([{ name: 'plain-issues.bpmn', content: PLAIN }]);
  assert.not.ok(again.created);
  assert.equal(findings(again.warnings), findings(res.warnings));
});

deploy('a Camunda 7 diagram gets camunda-platform compat warnings, a Camunda 8 one camunda-cloud ones for its version', async ({ tdb }) => {
  const engine = newEngine(tdb, bpmnLinter);
  const c7 = await engine.deploy([{ name: 'camunda7.bpmn', content: C7 }]);
  assert.ok(c7.created);
  assert.equal(findings(c7.warnings), ['camunda-compat/history-time-to-live lint-c7']);
  // the same diagram with the retention set has no finding at all
  const kept = await engine.deploy([{ name: 'camunda7.bpmn', content: C7.replace('isExecutable="true"', 'isExecutable="true" camunda:historyTimeToLive="30"') }]);
  assert.ok(kept.created);
  assert.equal(kept.warnings.filter((w) => w.source === 'bpmnlint'), []);

  const c8 = await engine.deploy([{ name: 'camunda8.bpmn', content: C8 }]);
  assert.ok(c8.created);
  const c8found = findings(c8.warnings);
  assert.ok(c8found.includes('camunda-compat/no-candidate-users Task_Review'), c8found.join('; '));
  assert.match(c8.warnings.find((w) => w.rule === 'camunda-compat/no-candidate-users')!.message, /candidateUsers.*8\.2/);
  assert.not.ok(c8found.some((f) => f.includes('history-time-to-live')), 'no Camunda 7 rule on a Camunda 8 diagram');
  // for Camunda 8.6 the candidate users are fine
  const c86 = await engine.deploy([{ name: 'camunda8.bpmn', content: C8.replace('executionPlatformVersion="8.1.0"', 'executionPlatformVersion="8.6.0"') }]);
  assert.ok(c86.created);
  assert.not.ok(findings(c86.warnings).some((f) => f.includes('no-candidate-users')), findings(c86.warnings).join('; '));
});

deploy('the shipped processes: each diagram gets only camunda-compat/history-time-to-live; an unchanged restart lints nothing', async ({ tdb }) => {
  const calls: string[] = [];
  const counting: DeploymentLinter = async (r) => {
    calls.push(r.name);
    return bpmnLinter(r);
  };
  const engine = newEngine(tdb, counting);
  registerInsuranceDomain(engine);
  const resources = await readProcessDir(processesDir);
  const first = await engine.deploy(resources, { source: 'startup', name: processesDir });
  assert.ok(first.created);
  // retention is the service's (the support table: accepted, no effect), so the diagrams do not set it
  assert.equal(findings(first.warnings, { bpmndi: true }), [
    'camunda-compat/history-time-to-live claims',
    'camunda-compat/history-time-to-live complaint',
    'camunda-compat/history-time-to-live consultation',
    'camunda-compat/history-time-to-live dispute',
    'camunda-compat/history-time-to-live policy-cancellation',
    'camunda-compat/history-time-to-live policy-change',
    'camunda-compat/history-time-to-live policy-renewal',
    'camunda-compat/history-time-to-live product-development',
    'camunda-compat/history-time-to-live sales',
  ]);
  assert.equal(calls.sort(), ['claims.bpmn', 'complaint.bpmn', 'consultation.bpmn', 'dispute.bpmn', 'policy-cancellation.bpmn', 'policy-change.bpmn', 'policy-renewal.bpmn', 'product-development.bpmn', 'sales.bpmn']);

  // a restart with the same folder: nothing new, nothing linted
  calls.length = 0;
  const restart = await newEngine(tdb, counting);
  registerInsuranceDomain(restart);
  const second = await restart.deploy(resources, { source: 'startup', name: processesDir });
  assert.not.ok(second.created);
  assert.equal(calls, []);
  assert.equal(findings(second.warnings), []);
  // one diagram changed: only that one is linted
  const changed = resources.map((r) => (r.name === 'sales.bpmn' ? { ...r, content: r.content.replace('</bpmn:definitions>', '<!-- changed -->\n</bpmn:definitions>') } : r));
  const third = await restart.deploy(changed, { source: 'startup', name: processesDir });
  assert.ok(third.created);
  assert.equal(calls, ['sales.bpmn']);
  assert.equal(findings(third.warnings), ['camunda-compat/history-time-to-live sales']);
});

deploy('lint never blocks: a failing linter leaves the deployment standing (logged); no linter, no lint warnings; a refusal stays a refusal', async ({ tdb }) => {
  const logged: string[] = [];
  const logger = { info() {}, error() {}, warn: (_o: unknown, m?: string) => void logged.push(m ?? '') };
  const broken = newEngine(tdb, async () => {
    throw new Error('boom');
  }, logger);
  const res = await broken.deploy([{ name: 'plain-issues.bpmn', content: PLAIN }]);
  assert.ok(res.created);
  assert.equal(findings(res.warnings), []);
  assert.ok(logged.some((m) => /linting a deployed diagram failed/.test(m)), logged.join('; '));

  const library = newEngine(tdb, undefined);
  const c7 = await library.deploy([{ name: 'camunda7.bpmn', content: C7 }]);
  assert.ok(c7.created);
  assert.equal(c7.warnings.filter((w) => w.source === 'bpmnlint'), []);

  const linted = newEngine(tdb, bpmnLinter);
  try {
    await linted.deploy([{ name: 'refused.bpmn', content: REFUSED }]);
    assert.unreachable('a complex gateway is refused');
  } catch (err: any) {
    assert.is(err.code, 'BPMN_INVALID');
    assert.ok((err.details as any[]).some((p) => p.element === 'Gateway_Complex'));
  }
});

// ------------------------------------------------------------------------------------------ HTTP (real socket)

const http = suite<{ tdb: TestDb }>('bpmnlint: POST /api/deployments');
http.before(async (ctx) => {
  ctx.tdb = await testDb();
});
http.after(async (ctx) => ctx.tdb.destroy());

http('the 201 and the 200 of a deployment carry the warnings (the response schema keeps them)', async ({ tdb }) => {
  const engine = newEngine(tdb, bpmnLinter);
  const token = (await engine.users.add({ name: 'ana', roles: ['analyst'], groups: [] })).token;
  const app = await buildApp({ engine });
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const address = app.server.address() as { port: number };
    const post = (body: string) =>
      fetch(`http://127.0.0.1:${address.port}/api/deployments`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' }, body });
    const created = await post(C8);
    assert.is(created.status, 201);
    const body = (await created.json()) as { definitions: { key: string }[]; warnings: DeploymentWarning[] };
    assert.equal(body.definitions.map((d) => d.key), ['lint-c8']);
    const w = body.warnings.find((x) => x.rule === 'camunda-compat/no-candidate-users');
    assert.ok(w, JSON.stringify(body.warnings));
    assert.equal({ ...w, message: '' }, { resource: 'Defs_LintC8.bpmn', element: 'Task_Review', message: '', source: 'bpmnlint', rule: 'camunda-compat/no-candidate-users' });
    const unchanged = await post(C8);
    assert.is(unchanged.status, 200);
    assert.equal(findings(((await unchanged.json()) as { warnings: DeploymentWarning[] }).warnings), findings(body.warnings));
  } finally {
    await app.close();
  }
});

// ------------------------------------------------------------------------------------------ insureflow lint

function runLint(args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'src', 'bin', 'insureflow.mjs'), 'lint', ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'silent', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const cli = suite<{ dir: string; env: Record<string, string>; dbFile: string }>('bpmnlint: insureflow lint');
cli.before((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'insureflow-lint-'));
  mkdirSync(join(ctx.dir, 'diagrams'));
  writeFileSync(join(ctx.dir, 'diagrams', 'plain-issues.bpmn'), PLAIN);
  writeFileSync(join(ctx.dir, 'diagrams', 'camunda7.bpmn'), C7);
  writeFileSync(join(ctx.dir, 'diagrams', 'camunda8.bpmn'), C8);
  writeFileSync(join(ctx.dir, 'refused.bpmn'), REFUSED);
  // no database: DATABASE_URL names a file in a folder that does not exist, and it must stay so
  ctx.dbFile = join(ctx.dir, 'nowhere', 'insureflow.sqlite');
  ctx.env = { DATABASE_URL: ctx.dbFile };
});

cli('warnings only: exit 0, per file the rules, elements and the Camunda version linted for', async ({ dir, env, dbFile }) => {
  const r = await runLint(['diagrams'], dir, env);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^plain-issues\.bpmn {2}deploys, \d+ warning\(s\); linted as plain BPMN/m);
  assert.match(r.stdout, /^ {2}warning {2}Task_Unnamed: Element is missing label\/name \(bpmnlint label-required\)$/m);
  assert.match(r.stdout, /^camunda7\.bpmn {2}deploys, \d+ warning\(s\); linted for Camunda 7\.21\.0 \(bpmnlint:recommended \+ camunda-compat\/camunda-platform-7-21\)$/m);
  assert.match(r.stdout, /lint-c7: Property <historyTimeToLive> .*\(bpmnlint camunda-compat\/history-time-to-live\)/);
  assert.match(r.stdout, /^camunda8\.bpmn {2}deploys, .*linted for Camunda 8\.1\.0 .*camunda-cloud-8-1/m);
  assert.match(r.stdout, /Task_Review: Property <candidateUsers> .*camunda-compat\/no-candidate-users/);
  assert.match(r.stdout, /^3 file\(s\): 0 error\(s\), \d+ warning\(s\)$/m);
  assert.not.ok(existsSync(dbFile), 'no database was created');
});

cli('a file that would be refused: exit 1 with the refusal; lint findings about the refused element are not repeated', async ({ dir, env }) => {
  const r = await runLint(['refused.bpmn', 'diagrams/plain-issues.bpmn'], dir, env);
  assert.is(r.code, 1, r.stderr + r.stdout);
  const block = r.stdout.split(/\n(?=\S)/).find((b) => b.startsWith('refused.bpmn'))!;
  assert.match(block, /^refused\.bpmn {2}would be refused: 1 error\(s\)/);
  assert.match(block, /^ {2}error {4}Gateway_Complex: .*complex gateway/im);
  assert.match(block, /^ {2}warning {2}Task_Unnamed: Element is missing label\/name \(bpmnlint label-required\)$/m);
  assert.not.match(block, /warning {2}Gateway_Complex/, 'the refusal already names the gateway');
  assert.match(r.stdout, /^diagrams\/plain-issues\.bpmn {2}deploys/m);
  assert.match(r.stdout, /the deployment would be refused/);
});

cli('the shipped processes folder: exit 0, one history-time-to-live warning per diagram, nothing else', async ({ env }) => {
  const r = await runLint([processesDir], repoRoot, env);
  assert.is(r.code, 0, r.stderr + r.stdout);
  // (the XML reader's own warnings, source parser, may come on top)
  assert.equal(r.stdout.match(/^ {2}warning .*\(bpmnlint .*$/gm)?.map((l) => l.replace(/:.*\(/, ' (')), [
    '  warning  claims (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  complaint (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  consultation (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  dispute (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  policy-cancellation (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  policy-change (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  policy-renewal (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  product-development (bpmnlint camunda-compat/history-time-to-live)',
    '  warning  sales (bpmnlint camunda-compat/history-time-to-live)',
  ]);
  assert.match(r.stdout, /: 0 error\(s\), \d+ warning\(s\)$/m);
});

cli('usage errors exit 2: no path, a missing path, an unknown option, a folder with nothing to lint', async ({ dir, env }) => {
  const none = await runLint([], dir, env);
  assert.is(none.code, 2);
  assert.match(none.stderr, /lint needs one or more files or folders/);
  const missing = await runLint(['nothere.bpmn'], dir, env);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /nothere\.bpmn: no such file or directory/);
  const option = await runLint(['--fix', 'refused.bpmn'], dir, env);
  assert.is(option.code, 2);
  assert.match(option.stderr, /no option --fix/);
  mkdirSync(join(dir, 'empty'), { recursive: true });
  const empty = await runLint(['empty'], dir, env);
  assert.is(empty.code, 2);
  assert.match(empty.stderr, /no \.bpmn, \.dmn, \.form or \.schema\.json file to lint/);
});

unit.run();
deploy.run();
http.run();
cli.run();
