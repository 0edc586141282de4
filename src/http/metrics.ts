/**
 * Prometheus metrics (issue 12, section 5) at GET /metrics, in the text exposition format (prom-client), on a
 * registry of the app's own (two apps in one process never share figures).
 *
 * Business and engine figures are read from the database when scraped (src/persistence/reports.ts), so they count
 * committed facts only: a transition that rolled back started, ended or breached nothing. Counters among them
 * (`_total`) are monotonic because the rows they count are never deleted. The HTTP latency histogram is measured
 * in this process by an onResponse hook (per process, reset at restart, as Prometheus expects of a counter).
 *
 * | metric | type | labels | what |
 * |---|---|---|---|
 * | insureflow_process_instances_started_total | counter | process | instances ever started, by process key |
 * | insureflow_process_instances_ended_total | counter | process, state | instances ended (completed, cancelled) |
 * | insureflow_process_instances | gauge | process, state | instances running now (active, incident) |
 * | insureflow_user_tasks_open | gauge | group | open user tasks by candidate group ("" when offered to no group; a task offered to two groups counts in both) |
 * | insureflow_jobs | gauge | type | durable jobs (timer, retry, timer-start, ...) |
 * | insureflow_jobs_due | gauge | type | jobs whose due time has passed (by the engine clock) |
 * | insureflow_jobs_failing | gauge | type | jobs whose last attempt failed (handler retries) |
 * | insureflow_incidents_open | gauge | process | open incidents |
 * | insureflow_external_tasks_open | gauge | topic | external tasks waiting for or held by a worker |
 * | insureflow_claims | gauge | status | claims by status (open, paid, closed, rejected) |
 * | insureflow_claims_sla_breached_total | counter | | claims whose 72-hour settlement deadline passed before payment |
 * | insureflow_http_request_duration_seconds | histogram | method, route, status_code | latency of every HTTP request, by route pattern (`(unmatched)` for a 404 without route) |
 *
 * Who may scrape: a bearer token (or Basic) of a user with role admin or auditor, or an ops user granted `read`
 * on report `metrics` (processes/authorizations.json grants it to the group monitoring): give Prometheus such a
 * user's token (`authorization: { credentials_file: ... }` in its scrape config).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InsureflowEngine } from '../persistence/knex-engine.ts';
import { ReportStore, type OperationsFigures } from '../persistence/reports.ts';

/** Bucket bounds of the latency histogram, in seconds. */
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Metrics {
  registry: Registry;
  started: Counter<'process'>;
  ended: Counter<'process' | 'state'>;
  running: Gauge<'process' | 'state'>;
  tasks: Gauge<'group'>;
  jobs: Gauge<'type'>;
  jobsDue: Gauge<'type'>;
  jobsFailing: Gauge<'type'>;
  incidents: Gauge<'process'>;
  external: Gauge<'topic'>;
  claims: Gauge<'status'>;
  slaBreached: Counter;
  http: Histogram<'method' | 'route' | 'status_code'>;
}

function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    started: new Counter({ name: 'insureflow_process_instances_started_total', help: 'Process instances started, by process key (committed starts)', labelNames: ['process'], registers }),
    ended: new Counter({ name: 'insureflow_process_instances_ended_total', help: 'Process instances ended, by process key and end state (completed, cancelled)', labelNames: ['process', 'state'], registers }),
    running: new Gauge({ name: 'insureflow_process_instances', help: 'Process instances running now, by process key and state (active, incident)', labelNames: ['process', 'state'], registers }),
    tasks: new Gauge({ name: 'insureflow_user_tasks_open', help: 'Open user tasks by candidate group ("" when offered to no group)', labelNames: ['group'], registers }),
    jobs: new Gauge({ name: 'insureflow_jobs', help: 'Durable jobs (timers, retries) by type', labelNames: ['type'], registers }),
    jobsDue: new Gauge({ name: 'insureflow_jobs_due', help: 'Jobs whose due time has passed, by type', labelNames: ['type'], registers }),
    jobsFailing: new Gauge({ name: 'insureflow_jobs_failing', help: 'Jobs whose last attempt failed, by type', labelNames: ['type'], registers }),
    incidents: new Gauge({ name: 'insureflow_incidents_open', help: 'Open incidents by process key', labelNames: ['process'], registers }),
    external: new Gauge({ name: 'insureflow_external_tasks_open', help: 'Open external tasks by topic', labelNames: ['topic'], registers }),
    claims: new Gauge({ name: 'insureflow_claims', help: 'Claims by status', labelNames: ['status'], registers }),
    slaBreached: new Counter({ name: 'insureflow_claims_sla_breached_total', help: 'Claims whose 72-hour settlement deadline passed before payment', registers }),
    http: new Histogram({ name: 'insureflow_http_request_duration_seconds', help: 'HTTP request latency by method, route pattern and status code', labelNames: ['method', 'route', 'status_code'], buckets: HTTP_BUCKETS, registers }),
  };
}

/** Replaces the database figures of the registry with `f` (synchronous: a scrape never shows half of two reads). */
function apply(m: Metrics, f: OperationsFigures): void {
  for (const metric of [m.started, m.ended, m.running, m.tasks, m.jobs, m.jobsDue, m.jobsFailing, m.incidents, m.external, m.claims, m.slaBreached]) metric.reset();
  const started = new Map<string, number>();
  for (const r of f.instances) {
    started.set(r.processKey, (started.get(r.processKey) ?? 0) + r.n);
    if (r.status === 'completed' || r.status === 'cancelled') m.ended.inc({ process: r.processKey, state: r.status }, r.n);
    else m.running.set({ process: r.processKey, state: r.status }, r.n);
  }
  for (const [process, n] of started) m.started.inc({ process }, n);
  for (const r of f.openTasks) m.tasks.set({ group: r.group ?? '' }, r.n);
  for (const r of f.jobs) {
    m.jobs.set({ type: r.type }, r.n);
    m.jobsDue.set({ type: r.type }, r.due);
    m.jobsFailing.set({ type: r.type }, r.failing);
  }
  for (const r of f.incidents) m.incidents.set({ process: r.processKey }, r.n);
  for (const r of f.externalTasks) m.external.set({ topic: r.topic }, r.n);
  let breached = 0;
  for (const r of f.claims) {
    m.claims.set({ status: r.status }, r.n);
    breached += r.slaBreached;
  }
  m.slaBreached.inc(breached);
}

/**
 * The latency hook (every request of the app, registered before the routes) and GET /metrics.
 * Call it once per app, before any other route is registered.
 */
export async function metricsRoutes(app: FastifyInstance, engine: InsureflowEngine): Promise<void> {
  const m = createMetrics();
  const reports = new ReportStore(engine.db);

  app.addHook('onResponse', async (req, reply) => {
    m.http.observe({ method: req.method, route: req.routeOptions.url ?? '(unmatched)', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  // the figures are read first and applied in one synchronous step, so concurrent scrapes never add up each
  // other's counts (as collect() callbacks that reset, await and increment would)
  const scrape = async (): Promise<string> => {
    apply(m, await reports.operationsFigures(engine.clock.now()));
    return m.registry.metrics();
  };

  app.get(
    '/metrics',
    {
      config: { roles: ['admin', 'auditor', 'ops'] },
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics (text exposition format 0.0.4): process instances, open tasks, jobs, incidents, claims SLA breaches, HTTP latency',
        response: { 200: { type: 'string' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' } },
      },
    },
    async (req, reply) => {
      await engine.authorize(req.actor, 'read', 'report', 'metrics');
      const text = await scrape();
      reply.type(m.registry.contentType);
      return text;
    },
  );
}
