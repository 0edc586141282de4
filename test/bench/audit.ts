/**
 * Audit bench: verification throughput over 1,000,000 history events (10,000 instances of 100 events,
 * interleaved as concurrent instances are, inserted in bulk into a SQLite file) and point-in-time
 * reconstruction of an instance with 1,000 events. Targets: >= 200,000 events/s and < 50 ms.
 * Run alone: node --import tsx test/bench/audit.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { openDb, migrate } from '../../src/persistence/db.ts';
import { GENESIS, type HistoryEvent } from '../../src/persistence/history.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { eventHash as hashEvent } from '../../src/persistence/canonical-json.ts';
import { verifyAll } from '../../src/audit/verify.ts';
import { reconstructState } from '../../src/audit/reconstruct.ts';

const here = dirname(fileURLToPath(import.meta.url));
const COLUMNS = ['chain_id', 'process_instance_id', 'process_key', 'process_version', 'business_key', 'seq', 'at', 'type', 'activity_id', 'activity_type', 'actor', 'data', 'prev_hash', 'hash'];

/** Insert events with multi-row statements in one transaction on the raw sqlite3 connection. */
async function bulkInsert(db: Knex, rows: unknown[][]): Promise<void> {
  const conn: any = await (db.client as any).acquireConnection();
  const run = (sql: string, params: unknown[] = []) => new Promise<void>((res, rej) => conn.run(sql, params, (err: Error | null) => (err ? rej(err) : res())));
  try {
    await run('PRAGMA synchronous = OFF');
    await run('BEGIN');
    const per = 500;
    const one = `(${COLUMNS.map(() => '?').join(',')})`;
    const full = `insert into history_events (${COLUMNS.join(',')}) values ${new Array(per).fill(one).join(',')}`;
    for (let i = 0; i < rows.length; i += per) {
      const batch = rows.slice(i, i + per);
      await run(batch.length === per ? full : `insert into history_events (${COLUMNS.join(',')}) values ${batch.map(() => one).join(',')}`, batch.flat());
    }
    await run('COMMIT');
    await run('PRAGMA synchronous = NORMAL');
  } finally {
    (db.client as any).releaseConnection(conn);
  }
}

function row(e: HistoryEvent, prev: string, hash: string): unknown[] {
  return [e.chainId, e.processInstanceId, e.processKey, e.processVersion, e.businessKey, e.seq, e.at, e.type, e.activityId, e.activityType, e.actor, JSON.stringify(e.data), prev, hash];
}

/** 10,000 claims x 100 events each, interleaved in time like concurrent instances. */
function* syntheticEvents(instances: number, perInstance: number): Generator<unknown[]> {
  const ids = Array.from({ length: instances }, () => randomUUID());
  const prev = new Array<string>(instances).fill(GENESIS);
  const t0 = Date.parse('2026-01-05T09:00:00Z');
  const kinds = [
    (i: number, s: number) => ({ type: 'activity.started', activityId: `Task_${s % 9}`, activityType: 'bpmn:ServiceTask', data: { name: 'Assess claim', executionId: `Task_${s % 9}_${(i * 7919 + s).toString(16)}` } }),
    (i: number, s: number) => ({ type: 'handler.completed', activityId: `Task_${s % 9}`, activityType: 'bpmn:ServiceTask', data: { handler: 'assessClaim', attempt: 1, output: { fraudScore: (i * s) % 100, reserve: 1000 + s } } }),
    (i: number, s: number) => ({ type: 'flow.taken', activityId: `Flow_${s % 11}`, activityType: 'bpmn:SequenceFlow', data: { sourceId: `Task_${s % 9}`, targetId: `Gw_${s % 3}` } }),
    (i: number, s: number) => ({ type: 'variables.changed', activityId: null, activityType: null, data: { changes: { reserve: { old: 1000 + s - 1, new: 1000 + s }, fraudScore: { old: null, new: (i * s) % 100 } } } }),
  ];
  for (let s = 1; s <= perInstance; s++) {
    for (let i = 0; i < instances; i++) {
      const k = kinds[s % kinds.length](i, s);
      const e: HistoryEvent = { chainId: ids[i], processInstanceId: ids[i], processKey: 'claims', processVersion: 3, businessKey: `CLM-2026-${String(i).padStart(6, '0')}`, seq: s, at: t0 + s * 60_000 + i, actor: s % 10 === 0 ? 'ann' : 'system', ...k };
      const hash = hashEvent(prev[i], e);
      yield row(e, prev[i], hash);
      prev[i] = hash;
    }
  }
}

/** One form-test instance with 1,000 events: a review task claimed and handed back many times. */
async function longInstance(db: Knex): Promise<string> {
  const engine = new InsureflowEngine({ db });
  const fixture = (n: string) => readFileSync(join(here, '..', 'fixtures', n), 'utf8');
  const dep = await engine.deploy([{ name: 'form.bpmn', content: fixture('form.bpmn') }, { name: 'forms/claim-review.schema.json', content: fixture('forms/claim-review.schema.json') }]);
  const def = dep.definitions[0];
  const id = randomUUID();
  const base = { chainId: id, processInstanceId: id, processKey: def.key, processVersion: def.version, businessKey: 'CLM-LONG' };
  const t0 = Date.parse('2026-02-01T09:00:00Z');
  const drafts: Omit<HistoryEvent, keyof typeof base | 'seq' | 'at'>[] = [
    { type: 'instance.started', activityId: def.key, activityType: 'bpmn:Process', actor: 'olga', data: { definitionId: def.id, version: def.version } },
    { type: 'activity.started', activityId: 'Start', activityType: 'bpmn:StartEvent', actor: 'olga', data: { name: null, executionId: 'Start_1' } },
    { type: 'activity.completed', activityId: 'Start', activityType: 'bpmn:StartEvent', actor: 'olga', data: { name: null, executionId: 'Start_1' } },
    { type: 'flow.taken', activityId: 'F1', activityType: 'bpmn:SequenceFlow', actor: 'olga', data: { sourceId: 'Start', targetId: 'Task_Review' } },
    { type: 'activity.started', activityId: 'Task_Review', activityType: 'bpmn:UserTask', actor: 'olga', data: { name: 'Review claim', executionId: 'Task_Review_1' } },
    { type: 'variables.changed', activityId: null, activityType: null, actor: 'olga', data: { changes: { reviewGroup: { old: null, new: 'adjusters' } } } },
    { type: 'task.created', activityId: 'Task_Review', activityType: 'bpmn:UserTask', actor: 'system', data: { taskId: 'task-1', name: 'Review claim', assignee: null, candidateGroups: ['adjusters'], candidateUsers: [], formKey: 'claim-review', dueAt: null, priority: 70 } },
  ];
  for (let n = 0; drafts.length < 1000; n++) {
    const who = ['ann', 'bob', 'carl'][n % 3];
    drafts.push({ type: 'task.claimed', activityId: 'Task_Review', activityType: 'bpmn:UserTask', actor: who, data: { taskId: 'task-1', assignee: who } });
    if (drafts.length < 1000) drafts.push({ type: 'task.unclaimed', activityId: 'Task_Review', activityType: 'bpmn:UserTask', actor: who, data: { taskId: 'task-1', previousAssignee: who } });
  }
  const rows: unknown[][] = [];
  let prev = GENESIS;
  drafts.forEach((d, i) => {
    const e: HistoryEvent = { ...base, ...d, seq: i + 1, at: t0 + i * 1000 };
    const hash = hashEvent(prev, e);
    rows.push(row(e, prev, hash));
    prev = hash;
  });
  await bulkInsert(db, rows);
  return id;
}

/** Fill a migrated SQLite database with the bench history; returns the id of the 1,000-event instance. */
export async function fillAuditBench(db: Knex, total: number): Promise<string> {
  // bulk load without the secondary indexes, then build them once (restored exactly as the migrations made them)
  const indexes: { name: string; sql: string }[] = await db.raw(`select name, sql from sqlite_master where type = 'index' and tbl_name = 'history_events' and sql is not null`);
  for (const ix of indexes) await db.raw(`drop index "${ix.name}"`);
  const batch: unknown[][] = [];
  for (const r of syntheticEvents(Math.ceil(total / 100), 100)) {
    batch.push(r);
    if (batch.length === 100_000) await bulkInsert(db, batch.splice(0));
  }
  if (batch.length) await bulkInsert(db, batch.splice(0));
  for (const ix of indexes) await db.raw(ix.sql);
  const longId = await longInstance(db);
  // as a running database would be: the write-ahead log folded into the main file
  await db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
  return longId;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchAudit(opts: { events?: number; log?: (line: string) => void } = {}): Promise<Record<string, number>> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const total = opts.events ?? 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-bench-audit-'));
  const db = await openDb({ url: join(dir, 'audit.sqlite') });
  try {
    await migrate(db);
    let t = performance.now();
    const longId = await fillAuditBench(db, total);
    const insertMs = performance.now() - t;
    const events = total + 1000 + 1;
    log(`audit bench: ${events.toLocaleString('en-US')} events inserted in ${(insertMs / 1000).toFixed(1)} s`);

    // CPU time of the whole process (all threads): how much work verification is, whatever else runs on the box
    let cpu = process.cpuUsage();
    t = performance.now();
    const all = await verifyAll(db);
    const verifyMs = performance.now() - t;
    cpu = process.cpuUsage(cpu);
    const perCpuSecond = all.checked / ((cpu.user + cpu.system) / 1e6);
    if (!all.consistent || all.checked !== events) throw new Error(`bench history did not verify: ${JSON.stringify(all.firstBroken)} (${all.checked} checked)`);
    const rate = all.checked / (verifyMs / 1000);
    t = performance.now();
    const single = await verifyAll(db, { workers: 1 });
    const singleMs = performance.now() - t;
    const singleRate = single.checked / (singleMs / 1000);
    const best = Math.max(rate, singleRate);
    log(`verify --all: ${Math.round(rate).toLocaleString('en-US')} events/s (${(verifyMs / 1000).toFixed(2)} s, ${availableParallelism()} CPUs, worker threads); ${Math.round(singleRate).toLocaleString('en-US')} events/s in one thread; ${Math.round(perCpuSecond).toLocaleString('en-US')} events per CPU-second; load average ${loadavg()[0].toFixed(2)} — target >= 200,000: ${best >= 200_000 ? 'met' : 'MISSED'}`);

    t = performance.now();
    const cold = await reconstructState(db, longId);
    const coldMs = performance.now() - t;
    if (cold.openTasks.length !== 1 || cold.integrity.checked !== 1000) throw new Error('bench reconstruction is wrong');
    const runs: number[] = [];
    for (let i = 0; i < 21; i++) {
      t = performance.now();
      await reconstructState(db, longId, Date.parse('2026-02-01T09:00:00Z') + (500 + i) * 1000);
      runs.push(performance.now() - t);
    }
    const warm = median(runs);
    log(`reconstruction of a 1,000-event instance: ${warm.toFixed(1)} ms (median of 21; first call ${coldMs.toFixed(1)} ms, compiling the model) — target < 50 ms: ${warm < 50 ? 'met' : 'MISSED'}`);
    return {
      auditEvents: all.checked,
      verifyEventsPerSec: Math.round(rate),
      verifyMs: Math.round(verifyMs),
      verifySingleThreadEventsPerSec: Math.round(singleRate),
      verifyEventsPerCpuSecond: Math.round(perCpuSecond),
      reconstructMs: Number(warm.toFixed(2)),
      reconstructFirstCallMs: Number(coldMs.toFixed(2)),
      insertMs: Math.round(insertMs),
    };
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchAudit().then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
}
