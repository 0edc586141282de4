/**
 * `npm run bench`: speed figures on this machine, never asserted in tests.
 *  1. instances/s on a claims-like process: bare bpmn-engine in memory (cached definition) vs insureflow with
 *     persistence and history on SQLite, and the ratio;
 *  2. HTTP task completion at 32 concurrent clients (autocannon): completions/s, p50, p99;
 *  3. timer jobs fired per second with 10,000 due at once;
 *  4. the auditors' figures (verification throughput, reconstruction time) when the audit module is present.
 * Each figure is measured several times; min / median / max show the machine's noise.
 */
import { readFileSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Engine } from 'bpmn-engine';
import * as Elements from 'bpmn-elements';
import serializer, { TypeResolver } from 'moddle-context-serializer';
import autocannon from 'autocannon';
import { parseBpmn } from '../../src/definitions/parse.ts';
import { createEngineExpressions } from '../../src/engine/expressions.ts';
import { openDb, migrate } from '../../src/persistence/db.ts';
import { InsureflowEngine } from '../../src/persistence/knex-engine.ts';
import { ManualClock } from '../../src/engine/clock.ts';
import { buildApp } from '../../src/http/app.ts';

const here = dirname(fileURLToPath(import.meta.url));
const read = (f: string) => readFileSync(join(here, f), 'utf8');
const RUNS = 3;

const handlers = {
  register: async () => ({ registered: true }),
  screen: async (ctx: { variables: Record<string, unknown> }) => ({ score: Number(ctx.variables.amount) % 100 }),
  assess: async () => ({ assessed: true }),
};

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}
const f1 = (n: number) => n.toFixed(1);

async function bareEngine(n: number): Promise<number> {
  const parsed = await parseBpmn(read('claims-like.bpmn'));
  const sourceContext = serializer(parsed.moddleContext, TypeResolver(Elements as any));
  const expressions = createEngineExpressions();
  const extensions = {
    bind(activity: any) {
      const topic = activity.behaviour.topic as keyof typeof handlers | undefined;
      if (!topic) return;
      activity.behaviour.Service = function Service() {
        return {
          execute(msg: any, callback: (err: unknown, out?: unknown) => void) {
            handlers[topic]({ variables: activity.environment.variables }).then((out) => {
              Object.assign(activity.environment.variables, out);
              callback(null, out);
            }, callback);
          },
        };
      };
    },
  };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const engine = new Engine({ name: `b${i}`, sourceContext, expressions, extensions, settings: { enableDummyService: false } } as any);
    const end = engine.waitFor('end');
    await engine.execute({ variables: { amount: i } } as any);
    await end;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function tempEngine(clock?: ManualClock) {
  const dir = mkdtempSync(join(tmpdir(), 'insureflow-bench-'));
  const db = await openDb({ url: join(dir, 'bench.sqlite') });
  await migrate(db);
  const engine = new InsureflowEngine({ db, clock });
  for (const [name, fn] of Object.entries(handlers)) engine.registerHandler(name, fn as any);
  return { engine, db };
}

async function insureflow(n: number): Promise<number> {
  const { engine, db } = await tempEngine();
  await engine.deploy([{ name: 'claims-like.bpmn', content: read('claims-like.bpmn') }]);
  for (let i = 0; i < 20; i++) await engine.startInstance('bench-claim', { variables: { amount: i } });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await engine.startInstance('bench-claim', { variables: { amount: i } });
  const rate = n / ((performance.now() - t0) / 1000);
  await db.destroy();
  return rate;
}

async function httpCompletion(tasks: number): Promise<{ rps: number; p50: number; p99: number; non2xx: number }> {
  const { engine, db } = await tempEngine();
  await engine.deploy([{ name: 'user-task.bpmn', content: read('user-task.bpmn') }]);
  const { token } = await engine.users.add({ name: `bench-${randomUUID().slice(0, 6)}`, roles: ['ops'], groups: ['adjusters'] });
  const ids: string[] = [];
  for (let i = 0; i < tasks; i++) ids.push((await engine.startInstance('bench-task', {})).openTasks[0].id);
  const app = await buildApp({ engine });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 32,
    amount: tasks,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    requests: [{ method: 'POST', body: '{"variables":{}}', setupRequest: (req: any) => ({ ...req, path: `/api/tasks/${ids[next++]}/complete` }) }],
  });
  await app.close();
  await db.destroy();
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx };
}

async function timerJobs(count: number): Promise<number> {
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  const { engine, db } = await tempEngine(clock);
  await engine.deploy([{ name: 'timer.bpmn', content: read('timer.bpmn') }]);
  const seed = await engine.startInstance('bench-timer', {});
  // clone the waiting instance and its timer job: 10,000 instances due at the same moment
  const row = await db('process_instances').where({ id: seed.id }).first();
  const job = await db('jobs').where({ process_instance_id: seed.id }).first();
  for (let i = 0; i < count - 1; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - 1 - i) }, () => randomUUID());
    await db.transaction(async (trx) => {
      await trx('process_instances').insert(batch.map((id) => ({ ...row, id })));
      await trx('jobs').insert(batch.map((id) => ({ ...job, id: randomUUID(), process_instance_id: id })));
    });
  }
  clock.advance(3600_000 + 1);
  const t0 = performance.now();
  let fired = 0;
  for (;;) {
    const n = await engine.runDueJobs(200);
    if (!n) break;
    fired += n;
  }
  const rate = fired / ((performance.now() - t0) / 1000);
  const left = Number(((await db('jobs').count({ n: '*' }).first()) as any).n);
  await db.destroy();
  if (fired !== count || left !== 0) throw new Error(`timer bench: fired ${fired} of ${count}, ${left} left`);
  return rate;
}

async function main() {
  console.log(`insureflow bench — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'})`);
  const N = Number(process.env.BENCH_N ?? 300);
  await bareEngine(30);
  const bare: number[] = [];
  const ours: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    bare.push(await bareEngine(N));
    ours.push(await insureflow(N));
  }
  const b = stats(bare);
  const o = stats(ours);
  console.log(`\n1. claims-like process (7 elements, 3 service tasks, XOR), ${N} instances x ${RUNS} runs`);
  console.log(`   (a) bare bpmn-engine, in memory, cached definition: ${f1(b.median)} instances/s (min ${f1(b.min)}, max ${f1(b.max)})`);
  console.log(`   (b) insureflow, SQLite, state + history persisted:  ${f1(o.median)} instances/s (min ${f1(o.min)}, max ${f1(o.max)})`);
  console.log(`   ratio (b)/(a): ${(o.median / b.median).toFixed(2)} (target >= 0.8)`);

  const h: Awaited<ReturnType<typeof httpCompletion>>[] = [];
  for (let r = 0; r < RUNS; r++) h.push(await httpCompletion(Number(process.env.BENCH_TASKS ?? 1500)));
  const rps = stats(h.map((x) => x.rps));
  const p50 = stats(h.map((x) => x.p50));
  const p99 = stats(h.map((x) => x.p99));
  console.log(`\n2. HTTP task completion, 32 concurrent clients (autocannon), ${RUNS} runs`);
  console.log(`   completions/s: ${f1(rps.median)} (min ${f1(rps.min)}, max ${f1(rps.max)}); non-2xx: ${h.map((x) => x.non2xx).join(', ')}`);
  console.log(`   latency p50: ${p50.median} ms (min ${p50.min}, max ${p50.max}); p99: ${p99.median} ms (min ${p99.min}, max ${p99.max}) (target p99 < 30 ms)`);

  const timers: number[] = [];
  for (let r = 0; r < 2; r++) timers.push(await timerJobs(Number(process.env.BENCH_TIMERS ?? 10_000)));
  const tm = stats(timers);
  console.log(`\n3. timer jobs fired with 10,000 due at once, 2 runs: ${f1(tm.median)} jobs/s (min ${f1(tm.min)}, max ${f1(tm.max)})`);

  const auditBench = join(here, 'audit.ts');
  if (existsSync(auditBench)) {
    const mod = await import(auditBench);
    console.log('\n4. audit');
    const figures = await mod.benchAudit();
    for (const [k, v] of Object.entries(figures)) console.log(`   ${k}: ${typeof v === 'number' ? f1(v) : v}`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
