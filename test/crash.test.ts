/**
 * Crash safety: the real server as a child process on a temporary SQLite file, driven by parallel HTTP
 * clients and SIGKILLed at random moments several times; then the work is finished and the invariants
 * checked on the database. Bounded to about a minute.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { here, onPostgres } from './helpers.ts';
import { startServer, type ServerProcess } from './support/server.ts';
import { openDb } from '../src/persistence/db.ts';
import { rowToEvent, verifyChain } from '../src/persistence/history.ts';

const ROUNDS = 4;
const CLIENTS = 6;
const TOKEN = `crash-admin-${randomBytes(8).toString('hex')}`;

interface Ledger {
  acknowledgedStarts: Set<string>;
  acknowledgedCompletions: Set<string>;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any } | null> {
  try {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  } catch {
    return null; // the server died under us: the outcome is unknown
  }
}

async function client(server: ServerProcess, ledger: Ledger, until: number, n: number): Promise<void> {
  while (Date.now() < until) {
    const started = await call(server.base, 'POST', '/api/process-definitions/crash-test/start', { businessKey: `C${n}-${Date.now()}`, variables: { amount: 100 + n } });
    if (!started) return;
    assert.ok(started.status === 201, `start answered ${started.status}: ${JSON.stringify(started.json)}`);
    ledger.acknowledgedStarts.add(started.json.id);
    const tasks = await call(server.base, 'GET', `/api/tasks?processKey=crash-test&limit=20&offset=${n * 3}`);
    if (!tasks) return;
    for (const task of tasks.json.items.slice(0, 2)) {
      const done = await call(server.base, 'POST', `/api/tasks/${task.id}/complete`, { variables: { confirmedBy: `client-${n}` } });
      if (!done) return;
      if (done.status === 200) ledger.acknowledgedCompletions.add(task.id);
      else assert.ok(done.status === 409, `complete answered ${done.status}: ${JSON.stringify(done.json)}`);
    }
  }
}

test('SIGKILL at random moments loses no acknowledged work, duplicates nothing, pays once', async () => {
  if (onPostgres) return; // this suite is about the embedded SQLite file; the multi-node test covers PostgreSQL
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-crash-'));
  const processes = join(dir, 'processes');
  mkdirSync(processes);
  copyFileSync(join(here, 'fixtures', 'crash', 'crash.bpmn'), join(processes, 'crash.bpmn'));
  const env = {
    DATABASE_URL: join(dir, 'crash.sqlite'),
    INSUREFLOW_PROCESSES_DIR: processes,
    INSUREFLOW_ADMIN_TOKEN: TOKEN,
    INSUREFLOW_HANDLERS: join(here, 'fixtures', 'crash', 'handlers.ts'),
  };
  const ledger: Ledger = { acknowledgedStarts: new Set(), acknowledgedCompletions: new Set() };

  for (let round = 0; round < ROUNDS; round++) {
    const server = await startServer(env);
    const until = Date.now() + 1500 + Math.random() * 1500;
    const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(server, ledger, until + 5000, n)));
    await new Promise((r) => setTimeout(r, until - Date.now()));
    await server.kill('SIGKILL');
    await load;
  }

  // recovery: a fresh server finishes all the work
  const server = await startServer(env);
  try {
    for (let i = 0; i < 50; i++) {
      const open = await call(server.base, 'GET', '/api/tasks?processKey=crash-test&limit=200');
      assert.ok(open && open.status === 200);
      const jobs = await call(server.base, 'GET', '/api/jobs?type=retry');
      if (open!.json.total === 0 && jobs!.json.total === 0) break;
      for (const task of open!.json.items) {
        const done = await call(server.base, 'POST', `/api/tasks/${task.id}/complete`, { variables: { confirmedBy: 'recovery' } });
        assert.ok(done && (done.status === 200 || done.status === 409), JSON.stringify(done));
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    const stop = await server.kill('SIGTERM');
    assert.is(stop, 0, `graceful shutdown exits 0: ${server.output().slice(-500)}`);
  } finally {
    await server.kill('SIGKILL');
  }

  const db = await openDb({ url: env.DATABASE_URL });
  try {
    const instances = await db('process_instances').select('id', 'status', 'active_activities');
    const ids = new Set(instances.map((i: any) => i.id));
    assert.ok(ledger.acknowledgedStarts.size > 20, `enough load: ${ledger.acknowledgedStarts.size} starts`);
    for (const id of ledger.acknowledgedStarts) assert.ok(ids.has(id), `acknowledged start ${id} is in the database`);
    const stuck = instances.filter((i: any) => i.status !== 'completed');
    for (const i of stuck) {
      const jobs = await db('jobs').where({ process_instance_id: i.id });
      const open = await db('user_tasks').where({ process_instance_id: i.id });
      const hist = (await db('history_events').where({ chain_id: i.id }).orderBy('seq')).map((h: any) => `${h.type}:${h.activity_id ?? ''}`);
      console.error('stuck', i, jobs, open, hist.join(' '));
      break;
    }
    assert.is(stuck.length, 0, 'every instance finished: none stuck outside a wait state');

    const tasks = await db('user_tasks').select('id', 'process_instance_id', 'activity_id', 'status');
    for (const id of ledger.acknowledgedCompletions) {
      const t = tasks.find((x: any) => x.id === id);
      assert.ok(t && t.status === 'completed', `acknowledged completion ${id} is reflected`);
    }
    const perInstance = new Map<string, number>();
    for (const t of tasks) perInstance.set(t.process_instance_id, (perInstance.get(t.process_instance_id) ?? 0) + 1);
    for (const [id, n] of perInstance) assert.is(n, 1, `instance ${id} has one task row`);

    const payments = await db('test_ledger').select('process_instance_id');
    const paid = new Map<string, number>();
    for (const p of payments) paid.set(p.process_instance_id, (paid.get(p.process_instance_id) ?? 0) + 1);
    for (const i of instances) assert.is(paid.get(i.id), 1, `instance ${i.id} paid exactly once`);
    assert.is(payments.length, instances.length, 'no payment for an instance that was never committed');

    for (const i of instances) {
      const rows = await db('history_events').where({ chain_id: i.id }).orderBy('seq');
      const v = verifyChain(rows.map(rowToEvent));
      assert.ok(v.consistent, `history of ${i.id} verifies: ${JSON.stringify(v)}`);
    }
  } finally {
    await db.destroy();
  }
});

const TWO_SECONDS = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_Two" targetNamespace="http://insureflow.test">
  <bpmn:process id="two-seconds" name="Two-second deadline" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Answer" />
    <bpmn:userTask id="Task_Answer" name="Answer" camunda:candidateGroups="ops" />
    <bpmn:boundaryEvent id="Timer_Deadline" attachedToRef="Task_Answer">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT2S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Answer" targetRef="End_Answered" />
    <bpmn:sequenceFlow id="F3" sourceRef="Timer_Deadline" targetRef="Task_Late" />
    <bpmn:serviceTask id="Task_Late" name="Record lateness" camunda:type="external" camunda:topic="ledgerRemind" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Late" targetRef="End_Late" />
    <bpmn:endEvent id="End_Answered" />
    <bpmn:endEvent id="End_Late" />
  </bpmn:process>
</bpmn:definitions>`;

test('a 2-second boundary timer deployed over HTTP fires once after the server was killed before it was due', async () => {
  if (onPostgres) return;
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-timer-'));
  mkdirSync(join(dir, 'processes'));
  const env = {
    DATABASE_URL: join(dir, 'timer.sqlite'),
    INSUREFLOW_PROCESSES_DIR: join(here, 'fixtures', 'crash'), // an explicitly set empty folder is refused at start-up
    INSUREFLOW_ADMIN_TOKEN: TOKEN,
    INSUREFLOW_HANDLERS: join(here, 'fixtures', 'crash', 'handlers.ts'),
  };
  const first = await startServer(env);
  let id = '';
  try {
    const dep = await fetch(`${first.base}/api/deployments?name=two-seconds.bpmn`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/xml' }, body: TWO_SECONDS });
    assert.is(dep.status, 201);
    const started = await call(first.base, 'POST', '/api/process-definitions/two-seconds/start', {});
    assert.is(started!.status, 201);
    id = started!.json.id;
  } finally {
    await first.kill('SIGKILL'); // well before the timer is due
  }
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, Math.max(0, 2500 - (Date.now() - killedAt))));
  const second = await startServer(env);
  try {
    let inst: any = null;
    for (let i = 0; i < 50; i++) {
      inst = (await call(second.base, 'GET', `/api/process-instances/${id}`))!.json;
      if (inst.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.is(inst.status, 'completed', JSON.stringify(inst));
    const hist = (await call(second.base, 'GET', `/api/process-instances/${id}/history`))!.json as any[];
    assert.is(hist.filter((h) => h.type === 'timer.fired').length, 1, 'fired exactly once');
    assert.is(hist.filter((h) => h.type === 'activity.completed' && h.activityId === 'End_Late').length, 1, 'the timer path is taken once');
    assert.ok(hist.some((h) => h.type === 'task.cancelled' && h.activityId === 'Task_Answer'));
    await new Promise((r) => setTimeout(r, 600)); // a further scheduler tick changes nothing
    const again = (await call(second.base, 'GET', `/api/process-instances/${id}/history`))!.json as any[];
    assert.is(again.length, hist.length);
  } finally {
    await second.kill('SIGKILL');
  }
  const db = await openDb({ url: env.DATABASE_URL });
  try {
    const calls = await db('test_calls').where({ kind: 'remind', process_instance_id: id });
    assert.is(calls.length, 1, 'the timer-path handler ran once');
  } finally {
    await db.destroy();
  }
});

test.run();
