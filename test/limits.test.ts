/**
 * Acceptance of the limits of issue 10 (section 2) over real HTTP: the real server (src/cli.ts serve, started by
 * test/support/server.ts) on a fresh database of the configured kind, fed the diagrams that used to stall it:
 * a timer start cycle R/PT0S, 3,000 nested sub-processes, 10,000 tasks in a row (each refused at deploy, 422
 * naming the element), a self-looping plain task, a service task looping through an exclusive gateway and a
 * multi-instance service task over 100,000 items (each stopped with an incident), and an R/PT0S timer-start job
 * stored before the limit existed, after a restart (fires at most once a second).
 *
 * While each one is deployed or started, GET /health is polled without pause. Asserted: every /health answers
 * 200 and each operation ends as it must. How many /health answers came while an operation ran, and their
 * latencies, are printed for the record ([limits] lines), not asserted: they depend on the machine's load. The
 * event loop's turns inside long transitions are asserted deterministically in test/feature/limits.test.ts.
 *
 * The server runs with INSUREFLOW_MAX_TRANSITION_STEPS=2000 (set from the environment, as an operator would) to
 * keep the loops short; the default limits stay in force otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { onPostgres, TEST_DB_URL } from './helpers.ts';
import { startServer, type ServerProcess } from './support/server.ts';
import { openDb, migrate } from '../src/persistence/db.ts';
import { InsureflowEngine } from '../src/persistence/knex-engine.ts';
import { loadConfig } from '../src/config.ts';
import { InsureflowError } from '../src/errors.ts';
import { structureProblems } from '../src/definitions/limits.ts';

const TOKEN = `limits-admin-${randomBytes(8).toString('hex')}`;
const STEPS = 2_000;

// ------------------------------------------------------------------------------------------------ diagrams

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://insureflow.test/limits">`;
const doc = (id: string, body: string) => `${HEAD}<bpmn:process id="${id}" isExecutable="true">${body}</bpmn:process></bpmn:definitions>`;

const stormXml = doc('storm', `<bpmn:startEvent id="Every0s"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT0S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
  <bpmn:sequenceFlow id="f0" sourceRef="Every0s" targetRef="End"/><bpmn:endEvent id="End"/>`);

function nestedXml(depth: number) {
  let body = `<bpmn:startEvent id="s${depth}"/><bpmn:sequenceFlow id="f${depth}" sourceRef="s${depth}" targetRef="e${depth}"/><bpmn:endEvent id="e${depth}"/>`;
  for (let d = depth - 1; d >= 0; d--) {
    body = `<bpmn:startEvent id="s${d}"/><bpmn:sequenceFlow id="fa${d}" sourceRef="s${d}" targetRef="sub${d}"/><bpmn:subProcess id="sub${d}">${body}</bpmn:subProcess><bpmn:sequenceFlow id="fb${d}" sourceRef="sub${d}" targetRef="e${d}"/><bpmn:endEvent id="e${d}"/>`;
  }
  return doc('nested', body);
}

function chainXml(n: number) {
  const parts = ['<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t1"/>'];
  for (let i = 1; i <= n; i++) parts.push(`<bpmn:task id="t${i}"/><bpmn:sequenceFlow id="f${i}" sourceRef="t${i}" targetRef="${i === n ? 'end' : `t${i + 1}`}"/>`);
  parts.push('<bpmn:endEvent id="end"/>');
  return doc('ten-thousand', parts.join('\n'));
}

const selfLoopXml = doc('self-loop', '<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Spin"/><bpmn:task id="Spin"/><bpmn:sequenceFlow id="f1" sourceRef="Spin" targetRef="Spin"/>');

const serviceLoopXml = doc('service-loop', `<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Bump"/>
  <bpmn:serviceTask id="Bump" camunda:type="external" camunda:topic="bump"/><bpmn:sequenceFlow id="f1" sourceRef="Bump" targetRef="Again"/>
  <bpmn:exclusiveGateway id="Again" default="f3"/><bpmn:sequenceFlow id="f2" sourceRef="Again" targetRef="Bump"><bpmn:conditionExpression>=n &gt;= 0</bpmn:conditionExpression></bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="f3" sourceRef="Again" targetRef="End"/><bpmn:endEvent id="End"/>`);

const multiInstanceXml = doc('each-item', `<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="Each"/>
  <bpmn:serviceTask id="Each" camunda:type="external" camunda:topic="each"><bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="items" camunda:elementVariable="item"/></bpmn:serviceTask>
  <bpmn:sequenceFlow id="f1" sourceRef="Each" targetRef="End"/><bpmn:endEvent id="End"/>`);

const HANDLERS = `export function register(engine) {
  engine.registerHandler('bump', ({ variables }) => ({ n: Number(variables.n ?? 0) + 1 }));
  engine.registerHandler('each', () => ({}));
}
`;

// ------------------------------------------------------------------------------------------------ support

interface Sample {
  sentAt: number;
  answeredAt: number;
  status: number;
}

/** GET /health one request after the other, from start() to stop(). */
class HealthPoller {
  readonly samples: Sample[] = [];
  private on = true;
  private readonly loop: Promise<void>;
  constructor(base: string) {
    this.loop = (async () => {
      while (this.on) {
        const sentAt = performance.now();
        let status = -1;
        try {
          const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(60_000) });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          /* counted as a failure (-1) */
        }
        this.samples.push({ sentAt, answeredAt: performance.now(), status });
      }
    })();
  }
  async settled(n: number): Promise<void> {
    while (this.samples.length < n) await new Promise((r) => setTimeout(r, 5));
  }
  async stop(): Promise<Sample[]> {
    this.on = false;
    await this.loop;
    return this.samples;
  }
}

interface Observed<T> {
  result: T;
  ms: number;
  /** /health answers received while the operation ran (sent after it began, answered before its response) */
  during: Sample[];
  all: Sample[];
}

/** Runs `op` while /health is polled; a few polls before and after. */
async function whilePolled<T>(server: ServerProcess, label: string, op: () => Promise<T>): Promise<Observed<T>> {
  const poller = new HealthPoller(server.base);
  await poller.settled(3);
  const start = performance.now();
  const result = await op();
  const end = performance.now();
  const after = poller.samples.length;
  await poller.settled(after + 3);
  const all = await poller.stop();
  const during = all.filter((s) => s.sentAt >= start && s.answeredAt <= end);
  const latencies = all.map((s) => s.answeredAt - s.sentAt).sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  process.stdout.write(
    `\n  [limits] ${onPostgres ? 'postgres' : 'sqlite'} ${label}: ${(end - start).toFixed(0)} ms; /health ${all.length} answers (${during.length} during), ` +
      `latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms\n`,
  );
  assert.equal(all.filter((s) => s.status !== 200).map((s) => s.status), [], `${label}: every /health answered 200`);
  return { result, ms: end - start, during, all };
}

async function api(server: ServerProcess, method: 'GET' | 'POST', path: string, body?: string | object, contentType = 'application/json'): Promise<{ status: number; json: any }> {
  const res = await fetch(server.base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(300_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const deployXml = (server: ServerProcess, name: string, xml: string) => api(server, 'POST', `/api/deployments?name=${name}`, xml, 'application/xml');

async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (onPostgres) {
    const name = `t_${randomBytes(6).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: TEST_DB_URL, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${name}`);
    return {
      url: TEST_DB_URL.replace(/\/[^/?]*(\?.*)?$/, `/${name}`),
      async drop() {
        try {
          await admin.raw(`drop database if exists ${name} with (force)`);
        } finally {
          await admin.destroy();
        }
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-limits-db-'));
  return { url: join(dir, 'limits.sqlite'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * How many /health answers arrived while a long operation ran is printed, not asserted: it depends on the
 * machine's speed and load (a busy machine answered fewer), and no test here may. That the event loop gets a
 * turn inside long transitions is asserted deterministically in test/feature/limits.test.ts (a clock counting
 * event-loop turns); this test asserts that every /health answered 200 and that each operation ended as it must.
 */
function answeredWhileRunning(o: Observed<unknown>, label: string): void {
  process.stdout.write(`  [limits] ${label}: ${o.during.length} /health answers while it ran ${o.ms.toFixed(0)} ms\n`);
}

// ------------------------------------------------------------------------------------------------ the test

test('R/PT0S, 3,000 nested sub-processes, 10,000 tasks in a row are refused at deploy; loops and 100,000 items stop with an incident; /health answers throughout', async () => {
  const db = await freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-limits-'));
  let server: ServerProcess | null = null;
  try {
    writeFileSync(join(dir, 'handlers.mjs'), HANDLERS);
    const processes = join(dir, 'processes');
    mkdirSync(processes);
    writeFileSync(join(processes, 'ping.bpmn'), doc('ping', '<bpmn:startEvent id="Start"/><bpmn:sequenceFlow id="f0" sourceRef="Start" targetRef="End"/><bpmn:endEvent id="End"/>'));
    const env = {
      DATABASE_URL: db.url,
      INSUREFLOW_ADMIN_TOKEN: TOKEN,
      INSUREFLOW_PROCESSES_DIR: processes,
      INSUREFLOW_HANDLERS: join(dir, 'handlers.mjs'),
      INSUREFLOW_MAX_TRANSITION_STEPS: String(STEPS),
    };
    server = await startServer(env);
    const s = server;

    // ---- refused at deploy
    const storm = await whilePolled(s, 'deploy R/PT0S', () => deployXml(s, 'storm', stormXml));
    assert.is(storm.result.status, 422, JSON.stringify(storm.result.json));
    assert.is(storm.result.json.code, 'BPMN_INVALID');
    assert.equal(storm.result.json.details.map((p: any) => p.element), ['Every0s']);
    assert.match(storm.result.json.details[0].message, /INSUREFLOW_MIN_TIMER_CYCLE_MS/);

    const nested = await whilePolled(s, 'deploy 3,000 nested sub-processes', () => deployXml(s, 'nested', nestedXml(3000)));
    assert.is(nested.result.status, 422, JSON.stringify(nested.result.json).slice(0, 500));
    assert.equal(nested.result.json.details.map((p: any) => p.element), ['sub32', 'nested']);

    const long = await whilePolled(s, 'deploy 10,000 tasks in a row', () => deployXml(s, 'ten-thousand', chainXml(10_000)));
    assert.is(long.result.status, 422, JSON.stringify(long.result.json).slice(0, 500));
    assert.equal(long.result.json.details.map((p: any) => p.element), ['ten-thousand']);
    assert.match(long.result.json.details[0].message, /20,003 flow elements/);

    // ---- stopped with an incident
    for (const [name, xml] of [['self-loop', selfLoopXml], ['service-loop', serviceLoopXml], ['each-item', multiInstanceXml]] as const) {
      const res = await deployXml(s, name, xml);
      assert.is(res.status, 201, JSON.stringify(res.json));
    }
    const cases: [string, string, object, string][] = [
      ['start a self-looping plain task', 'self-loop', {}, 'Spin'],
      ['start a service task looping through a gateway', 'service-loop', { variables: { n: 0 } }, 'Bump'],
      ['start a multi-instance service task over 100,000 items', 'each-item', { variables: { items: Array.from({ length: 100_000 }, (_, i) => i) } }, 'Each'],
    ];
    for (const [label, key, body, activity] of cases) {
      const run = await whilePolled(s, label, () => api(s, 'POST', `/api/process-definitions/${key}/start`, body));
      assert.is(run.result.status, 201, JSON.stringify(run.result.json).slice(0, 500));
      assert.is(run.result.json.status, 'incident', label);
      const incidents = await api(s, 'GET', `/api/incidents?processInstanceId=${run.result.json.id}`);
      assert.equal(incidents.json.items.map((i: any) => i.activityId), [activity], label);
      assert.match(incidents.json.items[0].errorMessage, new RegExp(`INSUREFLOW_MAX_TRANSITION_STEPS = ${STEPS.toLocaleString('en-US')}`));
      answeredWhileRunning(run, label);
    }

    // ---- an R/PT0S timer-start job stored before the limit existed, after a restart
    await s.kill('SIGTERM');
    server = null;
    const direct = await openDb({ url: db.url });
    try {
      await migrate(direct);
      await new InsureflowEngine({ db: direct, limits: { minTimerCycleMs: 0 } }).deploy([{ name: 'storm.bpmn', content: stormXml }]);
    } finally {
      await direct.destroy();
    }
    server = await startServer(env);
    const restarted = server;
    const upAt = performance.now();
    const observed = await whilePolled(restarted, 'restart with a stored R/PT0S timer start (2 s)', () => new Promise((r) => setTimeout(r, 2_000)));
    const started = await api(restarted, 'GET', '/api/process-instances?key=storm&limit=100');
    const seconds = (performance.now() - upAt) / 1000;
    assert.ok(started.json.total >= 1, 'the overdue firing was made');
    assert.ok(started.json.total <= Math.ceil(seconds) + 1, `${started.json.total} instances in ${seconds.toFixed(1)} s: at most one a second`);
    answeredWhileRunning(observed, 'restart with R/PT0S');
  } finally {
    if (server) await server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});

test('limits from the environment: each variable sets its limit, a bad value stops the start with CONFIG_INVALID naming it', () => {
  const base = { DATABASE_URL: ':memory:' };
  assert.equal(loadConfig(base).limits, {});
  const set = loadConfig({ ...base, INSUREFLOW_MIN_TIMER_CYCLE_MS: '0', INSUREFLOW_MAX_NESTING_DEPTH: '8', INSUREFLOW_MAX_FLOW_ELEMENTS: '300', INSUREFLOW_MAX_TRANSITION_STEPS: '100', INSUREFLOW_MAX_TRANSITION_MS: '2500' });
  assert.equal(set.limits, { minTimerCycleMs: 0, maxNestingDepth: 8, maxFlowElements: 300, maxTransitionSteps: 100, maxTransitionMs: 2500 });
  for (const [name, value] of [['INSUREFLOW_MAX_TRANSITION_STEPS', '0'], ['INSUREFLOW_MAX_NESTING_DEPTH', 'ten'], ['INSUREFLOW_MIN_TIMER_CYCLE_MS', '-1'], ['INSUREFLOW_MAX_FLOW_ELEMENTS', '1.5']]) {
    try {
      loadConfig({ ...base, [name]: value });
      assert.unreachable(`${name}=${value} was accepted`);
    } catch (err) {
      assert.instance(err, InsureflowError);
      assert.is((err as InsureflowError).code, 'CONFIG_INVALID');
      assert.match((err as InsureflowError).message, name);
    }
  }
});

test('the structure scan reads the text as an XML parser would: comments, CDATA and other namespaces do not count; any prefix does', () => {
  const limits = { maxNestingDepth: 1, maxFlowElements: 3 };
  const other = `<?xml version="1.0"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:x="urn:x" id="D"><process id="P">
    <!-- <task id="c1"/><task id="c2"/><subProcess id="c3"><subProcess id="c4"/></subProcess> -->
    <documentation><![CDATA[<task id="d1"/><task id="d2"/>]]></documentation>
    <startEvent id="S"/><x:task id="x1"/><x:subProcess id="x2"><x:subProcess id="x3"/></x:subProcess>
    <subProcess id="Sub" name="a &gt; b"><task id="T"/></subProcess></process></definitions>`;
  assert.equal(structureProblems(other, limits), [], 'start event, sub-process and task: 3 elements, 1 level');
  const prefixed = other.replace('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"', 'xmlns="urn:y" xmlns:b="http://www.omg.org/spec/BPMN/20100524/MODEL"').replace(/<(\/?)(process|startEvent|subProcess|task)\b/g, '<$1b:$2');
  assert.equal(structureProblems(prefixed, limits), [], 'the same with a prefix');
  const deeper = prefixed.replace('<b:task id="T"/>', '<b:subProcess id="Inner"/>');
  assert.equal(structureProblems(deeper, limits).map((p) => p.element), ['Inner']);
  const bigger = prefixed.replace('<b:task id="T"/>', '<b:task id="T"/><b:task id="T2"/>');
  assert.equal(structureProblems(bigger, limits).map((p) => p.element), ['P']);
});

test.run();
